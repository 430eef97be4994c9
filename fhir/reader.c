/* reader.c -- streaming capture of FHIR resources into flat records.
 *
 * The reader keeps a stack of open JSON containers and the dotted path of
 * the current value inside its resource, array indexes left out
 * ("component.valueCodeableConcept.coding").  A scalar whose path is in the
 * field table is copied into the resource record; a map whose path ends in
 * ".coding" opens a coding record that its system/code/display fill.  A map
 * at "entry.resource" or "contained" starts a nested resource, whose paths
 * start afresh.  Everything else is skipped as it streams past, so memory is
 * proportional to the facts kept, not to the body.
 */
#include "fhir_internal.h"

#include <string.h>

#include "../engine/limits.h"

#define PATH_BYTES 256

struct container {
    unsigned short path_len; /* path length naming this container */
    unsigned short base;     /* where its resource's paths start */
    unsigned char is_map;
    unsigned char is_resource_root;
    unsigned char is_coding;
    int component;           /* index of the enclosing component, or -1 */
    struct fhir_resource *res;
};

struct fhir_reader {
    struct eng_arena *arena;
    struct eng_patient *patient;
    enum fhir_origin origin;
    struct container stack[ENG_LIMIT_JSON_DEPTH + 1];
    int depth;
    char path[PATH_BYTES];
    size_t path_len;
    int path_overflow;      /* depth at which the path stopped fitting */
    struct fhir_coding *coding;
    struct fhir_resource *top;
    int done;
    struct fhir_value_info info;
    int total_resources;
    unsigned mmr_intact;
};

static const struct {
    const char *path;
    enum fhir_field field;
} field_paths[] = {
    {"resourceType", FF_RESOURCE_TYPE},
    {"id", FF_ID},
    {"status", FF_STATUS},
    {"intent", FF_INTENT},
    {"birthDate", FF_BIRTH_DATE},
    {"code.text", FF_CODE_TEXT},
    {"valueString", FF_VALUE_STRING},
    {"valueInteger", FF_VALUE_INTEGER},
    {"valueCodeableConcept.text", FF_VALUE_TEXT},
    {"medicationCodeableConcept.text", FF_MED_TEXT},
    {"component.valueString", FF_COMP_VALUE_STRING},
    {"component.valueCodeableConcept.text", FF_COMP_VALUE_TEXT},
};

static const struct {
    const char *path; /* the CodeableConcept holding the coding array */
    enum fhir_coding_slot slot;
} coding_paths[] = {
    {"code", FC_CODE},
    {"valueCodeableConcept", FC_VALUE},
    {"component.code", FC_COMP_CODE},
    {"component.valueCodeableConcept", FC_COMP_VALUE},
    {"bodySite", FC_BODY_SITE},
    {"clinicalStatus", FC_CLINICAL_STATUS},
    {"verificationStatus", FC_VERIFICATION_STATUS},
    {"medicationCodeableConcept", FC_MEDICATION},
    {"interpretation", FC_INTERPRETATION},
};

static const struct {
    const char *name;
    unsigned type;
} resource_types[] = {
    {"Patient", FHIR_T_PATIENT},
    {"Condition", FHIR_T_CONDITION},
    {"Observation", FHIR_T_OBSERVATION},
    {"MedicationStatement", FHIR_T_MEDICATION_STATEMENT},
    {"MedicationRequest", FHIR_T_MEDICATION_REQUEST},
    {"Bundle", FHIR_T_BUNDLE},
    {"OperationOutcome", FHIR_T_OPERATION_OUTCOME},
};

struct fhir_reader *fhir_reader_new(struct eng_arena *a,
                                    struct eng_patient *patient)
{
    struct fhir_reader *r = eng_arena_calloc(a, sizeof *r);
    if (!r)
        return NULL;
    r->arena = a;
    r->patient = patient;
    r->done = 1;
    return r;
}

void fhir_reader_begin(struct fhir_reader *r, enum fhir_origin origin)
{
    r->origin = origin;
    r->depth = 0;
    r->path_len = 0;
    r->path_overflow = 0;
    r->coding = NULL;
    r->top = NULL;
    r->done = 0;
    memset(&r->info, 0, sizeof r->info);
}

int fhir_reader_value_done(const struct fhir_reader *r)
{
    return r->done;
}

struct fhir_value_info fhir_reader_value_info(const struct fhir_reader *r)
{
    return r->info;
}

void fhir_reader_finish(struct fhir_reader *r)
{
    fhir_map_finish(r->patient, r->mmr_intact);
}

/* ---- paths -------------------------------------------------------------- */

static struct container *top_container(struct fhir_reader *r)
{
    return r->depth > 0 ? &r->stack[r->depth - 1] : NULL;
}

/* The current path relative to the current resource, and its length. */
static const char *rel_path(const struct fhir_reader *r, size_t *len)
{
    size_t base = r->depth > 0 ? r->stack[r->depth - 1].base : 0;
    *len = r->path_len - base;
    return r->path + base;
}

static int rel_path_is(const struct fhir_reader *r, const char *s)
{
    size_t len;
    const char *p = rel_path(r, &len);
    return !r->path_overflow && len == strlen(s) && memcmp(p, s, len) == 0;
}

static int push(struct fhir_reader *r, int is_map, struct eng_error *err)
{
    if (r->depth >= ENG_LIMIT_JSON_DEPTH)
        return eng_error_set(err, ENG_ERR_TOO_LARGE, 400,
                             "JSON nested deeper than %d levels",
                             ENG_LIMIT_JSON_DEPTH);
    struct container *parent = top_container(r);
    struct container *c = &r->stack[r->depth++];
    memset(c, 0, sizeof *c);
    c->is_map = (unsigned char)is_map;
    c->path_len = (unsigned short)r->path_len;
    c->base = parent ? parent->base : 0;
    c->res = parent ? parent->res : NULL;
    c->component = parent ? parent->component : -1;
    return 0;
}

/* ---- resources ---------------------------------------------------------- */

static int start_resource(struct fhir_reader *r, struct container *c,
                          struct eng_error *err)
{
    if (++r->total_resources > ENG_LIMIT_RESOURCES)
        return eng_error_set(err, ENG_ERR_TOO_LARGE, 413,
                             "more than %d FHIR resources in one request",
                             ENG_LIMIT_RESOURCES);
    struct fhir_resource *res = eng_arena_calloc(r->arena, sizeof *res);
    if (!res)
        return eng_error_set(err, ENG_ERR_NOMEM, 413,
                             "request needs more memory than allowed");
    res->parent = c->res;
    c->res = res;
    c->is_resource_root = 1;
    c->component = -1;
    c->base = (unsigned short)r->path_len;
    if (!r->top)
        r->top = res;
    return 0;
}

static unsigned type_of(const char *name)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof resource_types / sizeof resource_types[0]; i++)
        if (strcmp(resource_types[i].name, name) == 0)
            return resource_types[i].type;
    return FHIR_T_OTHER;
}

static int map_tree(struct fhir_reader *r, struct fhir_resource *res,
                    struct eng_error *err)
{
    if (res->type == FHIR_T_BUNDLE) {
        /* children are newest first; restore document order */
        struct fhir_resource *rev = NULL, *c = res->children, *next;
        for (; c; c = next) {
            next = c->next_sibling;
            c->next_sibling = rev;
            rev = c;
        }
        res->children = rev;
        for (c = res->children; c; c = c->next_sibling)
            if (map_tree(r, c, err) < 0)
                return -1;
        return 0;
    }
    return fhir_map_resource(r->arena, r->patient, res, r->origin,
                             &r->mmr_intact, err);
}

static int end_resource(struct fhir_reader *r, struct fhir_resource *res,
                        int contained, struct eng_error *err)
{
    res->type = type_of(res->first[FF_RESOURCE_TYPE]);
    r->info.types |= res->type;
    r->info.n_resources++;
    if (res == r->top) {
        r->info.top_type = res->type;
        r->done = 1;
        return map_tree(r, res, err);
    }
    /* A Bundle entry joins its parent; contained resources are not read
     * yet (nothing in the first slice refers to them). */
    if (!contained && res->parent) {
        res->next_sibling = res->parent->children;
        res->parent->children = res;
    }
    return 0;
}

/* ---- events ------------------------------------------------------------- */

static int start_coding(struct fhir_reader *r, struct container *c)
{
    size_t len;
    const char *p = rel_path(r, &len);
    static const char suffix[] = ".coding";
    size_t sl = sizeof suffix - 1;
    if (r->path_overflow || len <= sl || memcmp(p + len - sl, suffix, sl) != 0)
        return 0;
    for (size_t i = 0; i < sizeof coding_paths / sizeof coding_paths[0]; i++) {
        const char *want = coding_paths[i].path;
        if (strlen(want) != len - sl || memcmp(p, want, len - sl) != 0)
            continue;
        struct fhir_resource *res = c->res;
        if (res->n_codings >= ENG_LIMIT_CODINGS_PER_RESOURCE)
            return -1;
        struct fhir_coding *cd = eng_arena_calloc(r->arena, sizeof *cd);
        if (!cd)
            return -1;
        cd->slot = coding_paths[i].slot;
        cd->component = c->component;
        cd->next = res->codings;
        res->codings = cd;
        res->n_codings++;
        c->is_coding = 1;
        r->coding = cd;
        return 0;
    }
    return 0;
}

int fhir_on_start_map(struct fhir_reader *r, struct eng_error *err)
{
    struct container *parent = top_container(r);
    int nested = parent && (rel_path_is(r, "entry.resource") ||
                            rel_path_is(r, "contained"));
    int is_component = parent && rel_path_is(r, "component");
    if (push(r, 1, err) < 0)
        return -1;
    struct container *c = top_container(r);
    if (!parent || nested) {
        return start_resource(r, c, err);
    }
    if (is_component)
        c->component = c->res->n_components++;
    if (start_coding(r, c) < 0)
        return eng_error_set(err, ENG_ERR_TOO_LARGE, 400,
                             "a FHIR resource has more than %d codings",
                             ENG_LIMIT_CODINGS_PER_RESOURCE);
    return 0;
}

int fhir_on_start_array(struct fhir_reader *r, struct eng_error *err)
{
    if (r->depth == 0)
        return eng_error_set(err, ENG_ERR_INVALID, 400,
                             "a FHIR value must be a JSON object");
    return push(r, 0, err);
}

static void pop(struct fhir_reader *r)
{
    struct container *c = &r->stack[--r->depth];
    r->path_len = c->path_len;
    if (r->path_overflow > r->depth)
        r->path_overflow = 0;
    if (c->is_coding)
        r->coding = NULL;
}

int fhir_on_end_map(struct fhir_reader *r, struct eng_error *err)
{
    struct container *c = top_container(r);
    if (!c)
        return eng_error_set(err, ENG_ERR_SYNTAX, 400, "unbalanced JSON");
    int root = c->is_resource_root;
    struct fhir_resource *res = c->res;
    /* A resource's root container sits at its parent's "contained" path
     * when it is a contained resource. */
    int contained = 0;
    if (root && r->depth >= 2) {
        size_t base = r->stack[r->depth - 2].base;
        size_t len = c->base - base;
        contained = len == 9 && memcmp(r->path + base, "contained", 9) == 0;
    }
    pop(r);
    return root ? end_resource(r, res, contained, err) : 0;
}

int fhir_on_end_array(struct fhir_reader *r, struct eng_error *err)
{
    if (!top_container(r))
        return eng_error_set(err, ENG_ERR_SYNTAX, 400, "unbalanced JSON");
    pop(r);
    return 0;
}

int fhir_on_key(struct fhir_reader *r, const char *s, size_t len,
                struct eng_error *err)
{
    struct container *c = top_container(r);
    (void)err;
    r->path_len = c->path_len;
    if (r->path_overflow == r->depth)
        r->path_overflow = 0; /* a sibling of the key that did not fit */
    if (r->path_overflow)
        return 0;
    size_t sep = r->path_len > c->base ? 1 : 0;
    if (r->path_len + sep + len >= PATH_BYTES) {
        r->path_overflow = r->depth; /* deeper than any path we keep */
        return 0;
    }
    if (sep)
        r->path[r->path_len++] = '.';
    memcpy(r->path + r->path_len, s, len);
    r->path_len += len;
    return 0;
}

static int keep_string(struct fhir_reader *r, const char *s, size_t len,
                       const char **out, struct eng_error *err)
{
    if (len > ENG_LIMIT_STRING_BYTES)
        return eng_error_set(err, ENG_ERR_TOO_LARGE, 400,
                             "a FHIR string is longer than %u bytes",
                             ENG_LIMIT_STRING_BYTES);
    if (memchr(s, '\0', len) || !eng_utf8_valid(s, len))
        return eng_error_set(err, ENG_ERR_INVALID, 400,
                             "a FHIR string is not valid UTF-8 text");
    if (!(*out = eng_arena_strndup(r->arena, s, len)))
        return eng_error_set(err, ENG_ERR_NOMEM, 413,
                             "request needs more memory than allowed");
    return 0;
}

static int coding_scalar(struct fhir_reader *r, const char *s, size_t len,
                         struct eng_error *err)
{
    size_t plen;
    const char *p = rel_path(r, &plen);
    const char *key = p + plen;
    while (key > p && key[-1] != '.')
        key--;
    size_t klen = (size_t)(p + plen - key);
    if (klen == 6 && memcmp(key, "system", 6) == 0)
        return keep_string(r, s, len, &r->coding->system, err);
    if (klen == 4 && memcmp(key, "code", 4) == 0)
        return keep_string(r, s, len, &r->coding->code, err);
    if (klen == 7 && memcmp(key, "display", 7) == 0)
        return keep_string(r, s, len, &r->coding->display, err);
    return 0;
}

int fhir_on_scalar(struct fhir_reader *r, const char *s, size_t len,
                   int is_string, struct eng_error *err)
{
    struct container *c = top_container(r);
    if (!c)
        return eng_error_set(err, ENG_ERR_INVALID, 400,
                             "a FHIR value must be a JSON object");
    if (r->path_overflow)
        return 0;
    if (c->is_coding && r->coding)
        return is_string ? coding_scalar(r, s, len, err) : 0;
    size_t plen;
    const char *p = rel_path(r, &plen);
    for (size_t i = 0; i < sizeof field_paths / sizeof field_paths[0]; i++) {
        const char *want = field_paths[i].path;
        if (strlen(want) != plen || memcmp(p, want, plen) != 0)
            continue;
        struct fhir_resource *res = c->res;
        struct fhir_scalar *sc = eng_arena_calloc(r->arena, sizeof *sc);
        if (!sc)
            return eng_error_set(err, ENG_ERR_NOMEM, 413,
                                 "request needs more memory than allowed");
        if (keep_string(r, s, len, &sc->value, err) < 0)
            return -1;
        sc->field = field_paths[i].field;
        sc->component = c->component;
        sc->next = res->scalars;
        res->scalars = sc;
        if (!res->first[sc->field])
            res->first[sc->field] = sc->value;
        return 0;
    }
    return 0;
}
