/* request.c -- the streaming parse and the checks of a CDS Hooks request.
 *
 * One yajl parse reads the body as it arrives.  A small stack of frames
 * says where the parser is in the envelope (top level, context, prefetch,
 * fhirAuthorization, selections); the key last seen in a frame decides what
 * the next value is.  Values that hold FHIR data (each prefetch entry and
 * context.draftOrders) are forwarded event by event to the FHIR reader,
 * which turns them into patient facts as they stream past.  Values we do not
 * read are skipped by counting their depth.  Wrong types end the parse at
 * once with a message naming the field.  yajl takes its memory from the
 * request arena.
 *
 * Once the body is parsed, cds_request_check() applies CDS Hooks 2.0: the
 * hook must match the service, hookInstance must be a UUID, each hook's
 * required context fields must be there, fhirAuthorization needs
 * fhirServer, and data the service needs must be in the prefetch (else 412).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yajl/yajl_parse.h>

#include "../engine/limits.h"
#include "cds_internal.h"

enum frame_kind { FR_TOP, FR_CONTEXT, FR_PREFETCH, FR_AUTH, FR_SELECTIONS };

struct frame {
    enum frame_kind kind;
    char key[48]; /* last key seen; longer keys are kept truncated + flagged */
    int key_long;
};

struct cds_parser {
    struct eng_arena *arena;
    struct cds_request *rq;
    yajl_handle yajl;
    struct fhir_reader *fhir;
    struct frame frames[8];
    int n_frames;
    int depth;         /* JSON nesting, all containers */
    int skip;          /* depth of a value being skipped, 0 when none */
    int in_fhir;       /* forwarding to the FHIR reader */
    const char *fhir_key; /* prefetch key of the FHIR value, NULL for orders */
    struct eng_error *err;
    struct eng_error fail;
    int failed;
    int seen_top_map;
    size_t bytes_fed;
};

/* ---- helpers ------------------------------------------------------------ */

#define P(ctx) ((struct cds_parser *)(ctx))
#define STR_(x) #x
#define STR(x) STR_(x)

/* Records the first failure and makes yajl stop. */
static int stop(struct cds_parser *p, int status, const char *fmt, const char *arg)
{
    if (!p->failed) {
        p->failed = 1;
        eng_error_set(&p->fail, status == 413 ? ENG_ERR_TOO_LARGE : ENG_ERR_INVALID,
                      status, fmt, arg);
    }
    return 0;
}

static struct frame *cur(struct cds_parser *p)
{
    return &p->frames[p->n_frames - 1];
}

static const char *frame_path(const struct frame *f)
{
    switch (f->kind) {
    case FR_CONTEXT: return "context.";
    case FR_PREFETCH: return "prefetch.";
    case FR_AUTH: return "fhirAuthorization.";
    default: return "";
    }
}

static int key_is(const struct frame *f, const char *k)
{
    return !f->key_long && strcmp(f->key, k) == 0;
}

/* A string value we keep: copied, NUL-checked, length-checked. */
static int keep(struct cds_parser *p, const unsigned char *s, size_t len,
                const char **slot)
{
    char name[96];
    struct frame *f = cur(p);
    snprintf(name, sizeof name, "%s%s", frame_path(f), f->key);
    if (*slot)
        return stop(p, 400, "duplicate field '%s'", name);
    if (len > ENG_LIMIT_STRING_BYTES)
        return stop(p, 400, "field '%s' is too long", name);
    if (memchr(s, '\0', len))
        return stop(p, 400, "field '%s' contains a NUL character", name);
    if (!(*slot = eng_arena_strndup(p->arena, (const char *)s, len)))
        return stop(p, 413, "%s", "request needs more memory than allowed");
    return 1;
}

static int wrong_type(struct cds_parser *p, const char *want)
{
    char msg[160];
    struct frame *f = cur(p);
    snprintf(msg, sizeof msg, "field '%s%s' must be %s", frame_path(f), f->key, want);
    return stop(p, 400, "%s", msg);
}

/* ---- FHIR forwarding ---------------------------------------------------- */

static int fhir_result(struct cds_parser *p, int rc)
{
    if (rc < 0) {
        p->failed = 1;
        p->fail = *p->err;
        return 0;
    }
    if (!fhir_reader_value_done(p->fhir))
        return 1;
    p->in_fhir = 0;
    struct fhir_value_info info = fhir_reader_value_info(p->fhir);
    if (!info.top_type)
        return stop(p, 400, "'%s' is not a FHIR resource (no resourceType)",
                    p->fhir_key ? p->fhir_key : "context.draftOrders");
    if (!p->fhir_key) {
        p->rq->draft_orders = info;
        p->rq->has_draft_orders = 1;
        return 1;
    }
    p->rq->prefetch->info = info;
    return 1;
}

static int begin_fhir(struct cds_parser *p, const char *prefetch_key)
{
    p->in_fhir = 1;
    p->fhir_key = prefetch_key;
    fhir_reader_begin(p->fhir, prefetch_key ? FHIR_FROM_PREFETCH
                                            : FHIR_FROM_DRAFT_ORDERS);
    return fhir_result(p, fhir_on_start_map(p->fhir, p->err));
}

/* Adds a prefetch entry for the current key; is_null for `null`. */
static int add_prefetch(struct cds_parser *p, int is_null)
{
    struct frame *f = cur(p);
    if (f->key_long)
        return stop(p, 400, "%s", "a prefetch key is too long");
    for (struct cds_prefetch_value *v = p->rq->prefetch; v; v = v->next)
        if (strcmp(v->key, f->key) == 0)
            return stop(p, 400, "duplicate prefetch key '%s'", f->key);
    struct cds_prefetch_value *v = eng_arena_calloc(p->arena, sizeof *v);
    if (!v || !(v->key = eng_arena_strdup(p->arena, f->key)))
        return stop(p, 413, "%s", "request needs more memory than allowed");
    v->is_null = is_null;
    v->next = p->rq->prefetch;
    p->rq->prefetch = v;
    return 1;
}

/* ---- value dispatch ----------------------------------------------------- */

enum value_type { V_NULL, V_BOOL, V_NUMBER, V_STRING, V_MAP, V_ARRAY };

static int push_frame(struct cds_parser *p, enum frame_kind kind)
{
    struct frame *f = &p->frames[p->n_frames++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    return 1;
}

static int skip_value(struct cds_parser *p, enum value_type t)
{
    if (t == V_MAP || t == V_ARRAY)
        p->skip = 1;
    return 1;
}

static int top_value(struct cds_parser *p, enum value_type t,
                     const unsigned char *s, size_t len)
{
    struct cds_request *rq = p->rq;
    struct frame *f = cur(p);
    const char **str = key_is(f, "hook")           ? &rq->hook
                       : key_is(f, "hookInstance") ? &rq->hook_instance
                       : key_is(f, "fhirServer")   ? &rq->fhir_server
                                                   : NULL;
    if (str)
        return t == V_STRING ? keep(p, s, len, str) : wrong_type(p, "a string");
    if (key_is(f, "context")) {
        if (t != V_MAP)
            return wrong_type(p, "an object");
        if (rq->has_context)
            return stop(p, 400, "%s", "duplicate field 'context'");
        rq->has_context = 1;
        return push_frame(p, FR_CONTEXT);
    }
    if (key_is(f, "prefetch") || key_is(f, "fhirAuthorization")) {
        int pre = key_is(f, "prefetch");
        if (t == V_NULL)
            return 1; /* treated as absent */
        if (t != V_MAP)
            return wrong_type(p, "an object");
        int *flag = pre ? &rq->has_prefetch : &rq->has_fhir_authorization;
        if (*flag)
            return stop(p, 400, "duplicate field '%s'", f->key);
        *flag = 1;
        return push_frame(p, pre ? FR_PREFETCH : FR_AUTH);
    }
    return skip_value(p, t); /* extension and fields of later versions */
}

static int context_value(struct cds_parser *p, enum value_type t,
                         const unsigned char *s, size_t len)
{
    struct cds_request *rq = p->rq;
    struct frame *f = cur(p);
    const char **str = key_is(f, "userId")        ? &rq->user_id
                       : key_is(f, "patientId")   ? &rq->patient_id
                       : key_is(f, "encounterId") ? &rq->encounter_id
                                                  : NULL;
    if (str)
        return t == V_STRING ? keep(p, s, len, str) : wrong_type(p, "a string");
    if (key_is(f, "selections")) {
        if (t != V_ARRAY)
            return wrong_type(p, "an array of strings");
        if (rq->has_selections)
            return stop(p, 400, "%s", "duplicate field 'context.selections'");
        rq->has_selections = 1;
        rq->selections = eng_arena_alloc(p->arena, sizeof *rq->selections *
                                                       ENG_LIMIT_ORDERS);
        if (!rq->selections)
            return stop(p, 413, "%s", "request needs more memory than allowed");
        return push_frame(p, FR_SELECTIONS);
    }
    if (key_is(f, "draftOrders")) {
        if (t != V_MAP)
            return wrong_type(p, "a FHIR Bundle object");
        if (rq->has_draft_orders)
            return stop(p, 400, "%s", "duplicate field 'context.draftOrders'");
        return begin_fhir(p, NULL);
    }
    return skip_value(p, t);
}

static int auth_value(struct cds_parser *p, enum value_type t,
                      const unsigned char *s, size_t len)
{
    struct cds_auth *a = &p->rq->auth;
    struct frame *f = cur(p);
    const char **str = key_is(f, "access_token") ? &a->access_token
                       : key_is(f, "token_type") ? &a->token_type
                       : key_is(f, "scope")      ? &a->scope
                       : key_is(f, "subject")    ? &a->subject
                       : key_is(f, "patient")    ? &a->patient
                                                 : NULL;
    if (str)
        return t == V_STRING ? keep(p, s, len, str) : wrong_type(p, "a string");
    if (key_is(f, "expires_in")) {
        if (t != V_NUMBER)
            return wrong_type(p, "a number");
        a->has_expires_in = 1;
        return 1;
    }
    return skip_value(p, t);
}

static int selection_value(struct cds_parser *p, enum value_type t,
                           const unsigned char *s, size_t len)
{
    struct cds_request *rq = p->rq;
    if (t != V_STRING)
        return stop(p, 400, "%s", "field 'context.selections' must be an array of strings");
    if (rq->n_selections == ENG_LIMIT_ORDERS)
        return stop(p, 413, "%s", "too many selections");
    const char *v = NULL;
    if (!keep(p, s, len, &v))
        return 0;
    rq->selections[rq->n_selections++] = v;
    return 1;
}

static int prefetch_value(struct cds_parser *p, enum value_type t)
{
    if (t == V_NULL)
        return add_prefetch(p, 1);
    if (t != V_MAP)
        return stop(p, 400, "prefetch '%s' must be a FHIR resource or null",
                    cur(p)->key);
    if (!add_prefetch(p, 0))
        return 0;
    return begin_fhir(p, p->rq->prefetch->key);
}

/* A value (scalar or container start) arrived in the current frame. */
static int on_value(struct cds_parser *p, enum value_type t,
                    const unsigned char *s, size_t len)
{
    if (p->n_frames == 0) {
        if (t != V_MAP)
            return stop(p, 400, "%s", "the request body must be a JSON object");
        p->seen_top_map = 1;
        return push_frame(p, FR_TOP);
    }
    switch (cur(p)->kind) {
    case FR_TOP: return top_value(p, t, s, len);
    case FR_CONTEXT: return context_value(p, t, s, len);
    case FR_AUTH: return auth_value(p, t, s, len);
    case FR_SELECTIONS: return selection_value(p, t, s, len);
    case FR_PREFETCH: return prefetch_value(p, t);
    }
    return 0;
}

/* ---- yajl callbacks ----------------------------------------------------- */

static int scalar(void *ctx, enum value_type t, const char *s, size_t len)
{
    struct cds_parser *p = P(ctx);
    if (p->in_fhir)
        return fhir_result(p, fhir_on_scalar(p->fhir, s, len, t == V_STRING, p->err));
    if (p->skip)
        return 1;
    return on_value(p, t, (const unsigned char *)s, len);
}

static int cb_null(void *ctx) { return scalar(ctx, V_NULL, "null", 4); }
static int cb_bool(void *ctx, int b)
{
    return scalar(ctx, V_BOOL, b ? "true" : "false", b ? 4 : 5);
}
static int cb_number(void *ctx, const char *s, size_t len)
{
    return scalar(ctx, V_NUMBER, s, len);
}
static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    if (!eng_utf8_valid((const char *)s, len))
        return stop(P(ctx), 400, "%s", "invalid UTF-8 in a string");
    return scalar(ctx, V_STRING, (const char *)s, len);
}

static int open_container(void *ctx, enum value_type t)
{
    struct cds_parser *p = P(ctx);
    if (++p->depth > ENG_LIMIT_JSON_DEPTH)
        return stop(p, 400, "JSON nested deeper than %s levels",
                    STR(ENG_LIMIT_JSON_DEPTH));
    if (p->in_fhir)
        return fhir_result(p, t == V_MAP ? fhir_on_start_map(p->fhir, p->err)
                                         : fhir_on_start_array(p->fhir, p->err));
    if (p->skip) {
        p->skip++;
        return 1;
    }
    return on_value(p, t, NULL, 0);
}

static int close_container(void *ctx, enum value_type t)
{
    struct cds_parser *p = P(ctx);
    p->depth--;
    if (p->in_fhir)
        return fhir_result(p, t == V_MAP ? fhir_on_end_map(p->fhir, p->err)
                                         : fhir_on_end_array(p->fhir, p->err));
    if (p->skip) {
        p->skip--;
        return 1;
    }
    p->n_frames--;
    return 1;
}

static int cb_start_map(void *ctx) { return open_container(ctx, V_MAP); }
static int cb_end_map(void *ctx) { return close_container(ctx, V_MAP); }
static int cb_start_array(void *ctx) { return open_container(ctx, V_ARRAY); }
static int cb_end_array(void *ctx) { return close_container(ctx, V_ARRAY); }

static int cb_key(void *ctx, const unsigned char *s, size_t len)
{
    struct cds_parser *p = P(ctx);
    if (!eng_utf8_valid((const char *)s, len))
        return stop(p, 400, "%s", "invalid UTF-8 in a key");
    if (p->in_fhir)
        return fhir_result(p, fhir_on_key(p->fhir, (const char *)s, len, p->err));
    if (p->skip)
        return 1;
    struct frame *f = cur(p);
    f->key_long = len >= sizeof f->key;
    size_t n = f->key_long ? sizeof f->key - 1 : len;
    memcpy(f->key, s, n);
    f->key[n] = '\0';
    if (memchr(f->key, '\0', n))
        f->key_long = 1; /* an embedded NUL never matches a field name */
    return 1;
}

static const yajl_callbacks callbacks = {
    cb_null, cb_bool, NULL, NULL, cb_number, cb_string, cb_start_map,
    cb_key,  cb_end_map, cb_start_array, cb_end_array};

/* ---- public ------------------------------------------------------------- */

struct cds_parser *cds_parser_new(struct eng_arena *a, struct cds_request *out,
                                  struct eng_error *err)
{
    struct cds_parser *p = eng_arena_calloc(a, sizeof *p);
    yajl_alloc_funcs af = cds_yajl_arena_funcs(a);
    memset(out, 0, sizeof *out);
    eng_patient_init(&out->patient);
    if (!p || !(p->fhir = fhir_reader_new(a, &out->patient)) ||
        !(p->yajl = yajl_alloc(&callbacks, &af, p))) {
        eng_error_set(err, ENG_ERR_NOMEM, 500, "out of memory");
        return NULL;
    }
    p->arena = a;
    p->rq = out;
    p->err = &p->fail;
    return p;
}

static int parse_status(struct cds_parser *p, yajl_status st,
                        const char *buf, size_t len, struct eng_error *err)
{
    if (p->failed) {
        *err = p->fail;
        return -1;
    }
    if (st == yajl_status_ok)
        return 0;
    unsigned char *msg = yajl_get_error(p->yajl, 0, (const unsigned char *)buf, len);
    const char *m = msg ? (const char *)msg : "parse error";
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    eng_error_set(err, ENG_ERR_SYNTAX, 400, "malformed JSON: %.*s", (int)n, m);
    if (msg)
        yajl_free_error(p->yajl, msg);
    return -1;
}

int cds_parser_feed(struct cds_parser *p, const char *buf, size_t len,
                    struct eng_error *err)
{
    p->bytes_fed += len;
    yajl_status st = yajl_parse(p->yajl, (const unsigned char *)buf, len);
    return parse_status(p, st, buf, len, err);
}

int cds_parser_finish(struct cds_parser *p, struct eng_error *err)
{
    if (p->bytes_fed == 0)
        return eng_error_set(err, ENG_ERR_SYNTAX, 400, "the request body is empty");
    yajl_status st = yajl_complete_parse(p->yajl);
    if (parse_status(p, st, NULL, 0, err) < 0)
        return -1;
    if (!p->seen_top_map)
        return eng_error_set(err, ENG_ERR_SYNTAX, 400, "the request body is empty");
    fhir_reader_finish(p->fhir);
    return 0;
}

/* ---- checks ------------------------------------------------------------- */

static int is_uuid(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++) {
        char c = s[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                  (c >= 'A' && c <= 'F');
        if (shape[i] == '-' ? c != '-' : !hex)
            return 0;
    }
    return 1;
}

static int require(const char *v, const char *name, struct eng_error *err)
{
    if (v && *v)
        return 0;
    return eng_error_set(err, ENG_ERR_INVALID, 400,
                         "missing required field '%s'", name);
}

static int check_envelope(const struct cds_request *rq,
                          const struct cds_service *svc, struct eng_error *err)
{
    if (require(rq->hook, "hook", err) < 0 ||
        require(rq->hook_instance, "hookInstance", err) < 0)
        return -1;
    if (strcmp(rq->hook, svc->hook) != 0)
        return eng_error_set(err, ENG_ERR_INVALID, 400,
                             "hook '%.64s' does not match service '%s', which "
                             "answers '%s'", rq->hook, svc->id, svc->hook);
    if (!is_uuid(rq->hook_instance))
        return eng_error_set(err, ENG_ERR_INVALID, 400,
                             "hookInstance must be a UUID");
    if (!rq->has_context)
        return eng_error_set(err, ENG_ERR_INVALID, 400,
                             "missing required field 'context'");
    if (rq->fhir_server && strncmp(rq->fhir_server, "https://", 8) != 0 &&
        strncmp(rq->fhir_server, "http://", 7) != 0)
        return eng_error_set(err, ENG_ERR_INVALID, 400,
                             "fhirServer must be an http(s) URL");
    if (rq->has_fhir_authorization) {
        const struct cds_auth *a = &rq->auth;
        if (!rq->fhir_server)
            return eng_error_set(err, ENG_ERR_INVALID, 400,
                                 "fhirAuthorization was given without fhirServer");
        if (require(a->access_token, "fhirAuthorization.access_token", err) < 0 ||
            require(a->token_type, "fhirAuthorization.token_type", err) < 0 ||
            require(a->scope, "fhirAuthorization.scope", err) < 0 ||
            require(a->subject, "fhirAuthorization.subject", err) < 0)
            return -1;
        if (!a->has_expires_in)
            return eng_error_set(err, ENG_ERR_INVALID, 400,
                                 "missing required field 'fhirAuthorization.expires_in'");
        if (strcasecmp(a->token_type, "Bearer") != 0)
            return eng_error_set(err, ENG_ERR_INVALID, 400,
                                 "fhirAuthorization.token_type must be 'Bearer'");
    }
    return 0;
}

static int check_context(const struct cds_request *rq, struct eng_error *err)
{
    int orders = strcmp(rq->hook, "order-select") == 0 ||
                 strcmp(rq->hook, "order-sign") == 0;
    if (require(rq->user_id, "context.userId", err) < 0 ||
        require(rq->patient_id, "context.patientId", err) < 0)
        return -1;
    if (strcmp(rq->hook, "order-select") == 0 &&
        (!rq->has_selections || rq->n_selections == 0))
        return eng_error_set(err, ENG_ERR_INVALID, 400,
                             "missing required field 'context.selections' "
                             "(a non-empty array of order references)");
    if (orders && !rq->has_draft_orders)
        return eng_error_set(err, ENG_ERR_INVALID, 400,
                             "missing required field 'context.draftOrders'");
    if (orders && rq->draft_orders.top_type != FHIR_T_BUNDLE)
        return eng_error_set(err, ENG_ERR_INVALID, 400,
                             "context.draftOrders must be a FHIR Bundle");
    return 0;
}

/* Whether the prefetch supplies a template: under its own key (null means
 * "no data", which counts), or as resources of its type under any key. */
static int prefetch_supplies(const struct cds_request *rq,
                             const struct cds_prefetch_template *t)
{
    for (const struct cds_prefetch_value *v = rq->prefetch; v; v = v->next) {
        if (v->info.top_type == FHIR_T_OPERATION_OUTCOME)
            continue; /* the EHR could not get this data */
        if (strcmp(v->key, t->key) == 0 || (v->info.types & t->resource_type))
            return 1;
    }
    return 0;
}

static void mark_selected(struct cds_request *rq)
{
    for (struct eng_med *m = rq->patient.meds; m; m = m->next) {
        if (!m->is_draft_order || !m->ref)
            continue;
        const char *id = strchr(m->ref, '/') + 1;
        for (int i = 0; i < rq->n_selections; i++)
            if (strcmp(rq->selections[i], m->ref) == 0 ||
                strcmp(rq->selections[i], id) == 0)
                m->is_selected = 1;
    }
}

int cds_request_check(struct cds_request *rq, const struct cds_service *svc,
                      struct eng_error *err)
{
    if (check_envelope(rq, svc, err) < 0 || check_context(rq, err) < 0)
        return -1;
    for (int i = 0; i < svc->n_prefetch; i++) {
        const struct cds_prefetch_template *t = &svc->prefetch[i];
        int supplied = prefetch_supplies(rq, t);
        if (supplied && t->resource_type == FHIR_T_MEDICATION_STATEMENT)
            rq->patient.medications_known = 1;
        if (supplied || !t->required)
            continue;
        if (rq->fhir_server)
            return eng_error_set(err, ENG_ERR_UNAVAILABLE, 412,
                                 "prefetch '%s' (%s) is missing; fetching it "
                                 "from fhirServer is not supported yet",
                                 t->key, t->query);
        return eng_error_set(err, ENG_ERR_UNAVAILABLE, 412,
                             "prefetch '%s' (%s) is missing and the request "
                             "has no fhirServer to fetch it from",
                             t->key, t->query);
    }
    mark_selected(rq);
    return 0;
}
