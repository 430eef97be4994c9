/* json.c -- reading a FHIR JSON document on its own (tests and tools).
 *
 * The service never uses this path: there the CDS Hooks request parser
 * forwards events to the reader.  Here a yajl parser drives the same reader
 * directly, so tests exercise exactly the code the service runs.
 */
#include <yajl/yajl_parse.h>

#include "fhir.h"

struct doc {
    struct fhir_reader *r;
    struct eng_error *err;
    int failed;
};

#define DOC(ctx) ((struct doc *)(ctx))
#define FORWARD(call)                                                         \
    do {                                                                      \
        if ((call) < 0) {                                                     \
            DOC(ctx)->failed = 1;                                             \
            return 0;                                                         \
        }                                                                     \
        return 1;                                                             \
    } while (0)

static int on_null(void *ctx)
{
    FORWARD(fhir_on_scalar(DOC(ctx)->r, "null", 4, 0, DOC(ctx)->err));
}
static int on_bool(void *ctx, int b)
{
    FORWARD(fhir_on_scalar(DOC(ctx)->r, b ? "true" : "false", b ? 4 : 5, 0,
                           DOC(ctx)->err));
}
static int on_number(void *ctx, const char *s, size_t len)
{
    FORWARD(fhir_on_scalar(DOC(ctx)->r, s, len, 0, DOC(ctx)->err));
}
static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    FORWARD(fhir_on_scalar(DOC(ctx)->r, (const char *)s, len, 1, DOC(ctx)->err));
}
static int on_start_map(void *ctx)
{
    FORWARD(fhir_on_start_map(DOC(ctx)->r, DOC(ctx)->err));
}
static int on_key(void *ctx, const unsigned char *s, size_t len)
{
    FORWARD(fhir_on_key(DOC(ctx)->r, (const char *)s, len, DOC(ctx)->err));
}
static int on_end_map(void *ctx)
{
    FORWARD(fhir_on_end_map(DOC(ctx)->r, DOC(ctx)->err));
}
static int on_start_array(void *ctx)
{
    FORWARD(fhir_on_start_array(DOC(ctx)->r, DOC(ctx)->err));
}
static int on_end_array(void *ctx)
{
    FORWARD(fhir_on_end_array(DOC(ctx)->r, DOC(ctx)->err));
}

static const yajl_callbacks doc_callbacks = {
    on_null, on_bool, NULL, NULL, on_number, on_string, on_start_map,
    on_key,  on_end_map, on_start_array, on_end_array};

int fhir_read_json(struct eng_arena *a, const char *json, size_t len,
                   enum fhir_origin origin, struct eng_patient *patient,
                   struct fhir_value_info *info, struct eng_error *err)
{
    struct doc d = {.r = fhir_reader_new(a, patient), .err = err};
    if (!d.r)
        return eng_error_set(err, ENG_ERR_NOMEM, 500, "out of memory");
    yajl_handle h = yajl_alloc(&doc_callbacks, NULL, &d);
    if (!h)
        return eng_error_set(err, ENG_ERR_NOMEM, 500, "out of memory");
    fhir_reader_begin(d.r, origin);
    yajl_status st = yajl_parse(h, (const unsigned char *)json, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    int rc = 0;
    if (d.failed) {
        rc = -1;
    } else if (st != yajl_status_ok) {
        unsigned char *msg = yajl_get_error(h, 0, NULL, 0);
        rc = eng_error_set(err, ENG_ERR_SYNTAX, 400, "malformed JSON: %s",
                           msg ? (const char *)msg : "parse error");
        yajl_free_error(h, msg);
    } else if (!fhir_reader_value_done(d.r)) {
        rc = eng_error_set(err, ENG_ERR_INVALID, 400, "not a FHIR resource");
    }
    yajl_free(h);
    if (rc == 0) {
        fhir_reader_finish(d.r);
        if (info)
            *info = fhir_reader_value_info(d.r);
    }
    return rc;
}
