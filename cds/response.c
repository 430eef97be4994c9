/* response.c -- JSON out: discovery, cards and errors.
 *
 * Writers use yajl_gen with the request arena as its allocator.  Every
 * yajl_gen call goes through one macro that records the first failure
 * (a sticky error flag), so the card writer reads as a list of fields and
 * checks once at the end.  CDS Hooks forbids null and empty values, so
 * optional fields are left out rather than written empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>

#include "cds_internal.h"

struct out {
    yajl_gen g;
    int failed;
};

#define G(o, call)                                                            \
    do {                                                                      \
        if (!(o)->failed && (call) != yajl_gen_status_ok)                     \
            (o)->failed = 1;                                                  \
    } while (0)

static void str(struct out *o, const char *s)
{
    G(o, yajl_gen_string(o->g, (const unsigned char *)s, strlen(s)));
}

static void field(struct out *o, const char *key, const char *value)
{
    if (!value || !*value)
        return;
    str(o, key);
    str(o, value);
}

static int out_init(struct out *o, struct eng_arena *a)
{
    yajl_alloc_funcs af = cds_yajl_arena_funcs(a);
    memset(o, 0, sizeof *o);
    o->g = yajl_gen_alloc(&af);
    if (!o->g)
        return -1;
    yajl_gen_config(o->g, yajl_gen_validate_utf8, 1);
    return 0;
}

static const char *out_take(struct out *o, struct eng_arena *a, size_t *len)
{
    const unsigned char *buf;
    size_t n;
    if (o->failed || yajl_gen_get_buf(o->g, &buf, &n) != yajl_gen_status_ok)
        return NULL;
    /* The buffer is arena memory already; copy it so the generator's
     * internals are not relied upon after this call. */
    char *copy = eng_arena_strndup(a, (const char *)buf, n);
    if (copy)
        *len = n;
    return copy;
}

/* ---- discovery ---------------------------------------------------------- */

const char *cds_discovery_json(struct eng_arena *a, size_t *len)
{
    struct out o;
    if (out_init(&o, a) < 0)
        return NULL;
    G(&o, yajl_gen_map_open(o.g));
    str(&o, "services");
    G(&o, yajl_gen_array_open(o.g));
    for (int i = 0; i < cds_n_services; i++) {
        const struct cds_service *s = &cds_services[i];
        G(&o, yajl_gen_map_open(o.g));
        field(&o, "hook", s->hook);
        field(&o, "id", s->id);
        field(&o, "title", s->title);
        field(&o, "description", s->description);
        if (s->n_prefetch) {
            str(&o, "prefetch");
            G(&o, yajl_gen_map_open(o.g));
            for (int k = 0; k < s->n_prefetch; k++)
                field(&o, s->prefetch[k].key, s->prefetch[k].query);
            G(&o, yajl_gen_map_close(o.g));
        }
        G(&o, yajl_gen_map_close(o.g));
    }
    G(&o, yajl_gen_array_close(o.g));
    G(&o, yajl_gen_map_close(o.g));
    return out_take(&o, a, len);
}

/* ---- cards -------------------------------------------------------------- */

static void coding(struct out *o, const struct eng_coding *c)
{
    G(o, yajl_gen_map_open(o->g));
    field(o, "system", c->system);
    field(o, "code", c->code);
    field(o, "display", c->display);
    G(o, yajl_gen_map_close(o->g));
}

static void suggestion(struct out *o, struct eng_arena *a,
                       const struct eng_suggestion *s)
{
    G(o, yajl_gen_map_open(o->g));
    field(o, "label", s->label);
    field(o, "uuid", cds_uuid_new(a));
    str(o, "actions");
    G(o, yajl_gen_array_open(o->g));
    for (int i = 0; i < s->n_actions; i++) {
        G(o, yajl_gen_map_open(o->g));
        field(o, "type", s->actions[i].type);
        field(o, "description", s->actions[i].description);
        field(o, "resourceId", s->actions[i].resource_id);
        G(o, yajl_gen_map_close(o->g));
    }
    G(o, yajl_gen_array_close(o->g));
    G(o, yajl_gen_map_close(o->g));
}

static void card(struct out *o, struct eng_arena *a, const struct eng_card *c)
{
    const char *uuid = cds_uuid_new(a);
    if (!uuid)
        o->failed = 1;
    G(o, yajl_gen_map_open(o->g));
    field(o, "uuid", uuid);
    field(o, "summary", c->summary);
    field(o, "detail", c->detail);
    field(o, "indicator", eng_indicator_name(c->indicator));
    str(o, "source");
    G(o, yajl_gen_map_open(o->g));
    field(o, "label", c->source_label);
    str(o, "topic");
    coding(o, &(struct eng_coding){ENG_TOPIC_SYSTEM, c->rec_id, c->rec_id});
    G(o, yajl_gen_map_close(o->g));
    if (c->n_suggestions) {
        str(o, "suggestions");
        G(o, yajl_gen_array_open(o->g));
        for (int i = 0; i < c->n_suggestions; i++)
            suggestion(o, a, &c->suggestions[i]);
        G(o, yajl_gen_array_close(o->g));
        field(o, "selectionBehavior", "at-most-one");
    }
    if (c->n_override_reasons) {
        str(o, "overrideReasons");
        G(o, yajl_gen_array_open(o->g));
        for (int i = 0; i < c->n_override_reasons; i++)
            coding(o, &c->override_reasons[i]);
        G(o, yajl_gen_array_close(o->g));
    }
    G(o, yajl_gen_map_close(o->g));
}

const char *cds_cards_json(struct eng_arena *a, const struct eng_card_list *cards,
                           size_t *len)
{
    struct out o;
    if (out_init(&o, a) < 0)
        return NULL;
    G(&o, yajl_gen_map_open(o.g));
    str(&o, "cards");
    G(&o, yajl_gen_array_open(o.g));
    for (int i = 0; i < cards->n; i++)
        card(&o, a, &cards->cards[i]);
    G(&o, yajl_gen_array_close(o.g));
    G(&o, yajl_gen_map_close(o.g));
    return out_take(&o, a, len);
}

/* ---- errors ------------------------------------------------------------- */

static const char *status_name(int status)
{
    switch (status) {
    case 400: return "bad request";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 412: return "precondition failed";
    case 413: return "payload too large";
    case 415: return "unsupported media type";
    case 500: return "internal error";
    default: return "error";
    }
}

const char *cds_error_json(struct eng_arena *a, int status, const char *msg,
                           size_t *len)
{
    static const char fallback[] = "{\"error\":\"error\",\"message\":\"out of memory\"}";
    struct out o;
    const char *s = NULL;
    if (a && out_init(&o, a) == 0) {
        G(&o, yajl_gen_map_open(o.g));
        field(&o, "error", status_name(status));
        field(&o, "message", msg);
        G(&o, yajl_gen_map_close(o.g));
        s = out_take(&o, a, len);
    }
    if (!s) {
        *len = sizeof fallback - 1;
        s = fallback;
    }
    return s;
}

/* ---- uuid --------------------------------------------------------------- */

/* xoshiro256** seeded once from /dev/urandom: card and suggestion ids need
 * uniqueness, not secrecy. */
static uint64_t rng_state[4];
static int rng_seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    uint64_t *s = rng_state;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void rng_seed(void)
{
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(rng_state, 1, sizeof rng_state, f) : 0;
    if (f)
        fclose(f);
    if (got != sizeof rng_state) {
        /* No urandom: fall back to addresses and time; still unique enough
         * for card ids within one process. */
        rng_state[0] = (uint64_t)(uintptr_t)&got ^ 0x9E3779B97F4A7C15ull;
        rng_state[1] = (uint64_t)time(NULL);
        rng_state[2] = 0xD1B54A32D192ED03ull;
        rng_state[3] = 0x8CB92BA72F3D8DD7ull;
    }
    rng_seeded = 1;
}

const char *cds_uuid_new(struct eng_arena *a)
{
    if (!rng_seeded)
        rng_seed();
    uint64_t hi = rng_next(), lo = rng_next();
    hi = (hi & ~0xF000ull) | 0x4000ull;                  /* version 4 */
    lo = (lo & ~(3ull << 62)) | (2ull << 62);            /* variant 10 */
    return eng_arena_printf(a, "%08x-%04x-%04x-%04x-%012llx",
                            (unsigned)(hi >> 32), (unsigned)(hi >> 16) & 0xFFFF,
                            (unsigned)hi & 0xFFFF, (unsigned)(lo >> 48),
                            (unsigned long long)(lo & 0xFFFFFFFFFFFFull));
}
