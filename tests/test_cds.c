/* test_cds.c -- the CDS Hooks request parser, its checks and the JSON writers.
 *
 * These run the protocol layer without a socket: a body is fed to the
 * streaming parser (in one piece and byte by byte, which must agree), then
 * checked against a service row, then the cards are written.  The HTTP
 * program (test_http.c) covers the same paths through the real server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cds/cds_internal.h"
#include "engine/limits.h"
#include "testutil.h"

static struct eng_arena *arena;

static int setup(void)
{
    arena = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    return arena ? 0 : -1;
}

static int teardown(void)
{
    eng_arena_free(arena);
    arena = NULL;
    return 0;
}

/* Parses body; piecewise feeds one byte at a time.  Returns the parser's
 * result and leaves the message in err. */
static int parse(const char *body, size_t len, int piecewise, struct cds_request *rq,
                 struct eng_error *err)
{
    struct cds_parser *p = cds_parser_new(arena, rq, err);
    if (!p)
        return -1;
    if (piecewise) {
        for (size_t i = 0; i < len; i++)
            if (cds_parser_feed(p, body + i, 1, err) < 0)
                return -1;
    } else if (cds_parser_feed(p, body, len, err) < 0) {
        return -1;
    }
    return cds_parser_finish(p, err);
}

static int parse_s(const char *body, struct cds_request *rq, struct eng_error *err)
{
    return parse(body, strlen(body), 0, rq, err);
}

static const struct cds_service *svc(const char *id)
{
    return cds_service_find(id, strlen(id));
}

/* Parses and checks; returns the HTTP status the server would answer. */
static int status_of(const char *service, const char *body, struct eng_error *err)
{
    struct cds_request rq;
    eng_error_clear(err);
    if (parse_s(body, &rq, err) < 0 || cds_request_check(&rq, svc(service), err) < 0)
        return err->http_status;
    return 200;
}

#define PV_CONTEXT "\"context\":{\"userId\":\"Practitioner/1\",\"patientId\":\"p1\"}"
#define UUID "\"hookInstance\":\"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea\""
#define PREFETCH                                                              \
    "\"prefetch\":{\"patient\":{\"resourceType\":\"Patient\",\"id\":\"p1\"},"  \
    "\"conditions\":null,\"observations\":null}"

static void test_example_parses_same_whole_and_bytewise(void)
{
    size_t len;
    char *body = tu_read_source_file("examples/mcrc-kras-mutant.order-select.json", &len);
    struct cds_request a, b;
    struct eng_error err;
    CU_ASSERT_EQUAL_FATAL(parse(body, len, 0, &a, &err), 0);
    CU_ASSERT_EQUAL_FATAL(parse(body, len, 1, &b, &err), 0);
    CU_ASSERT_STRING_EQUAL(a.hook, "order-select");
    CU_ASSERT_STRING_EQUAL(a.hook, b.hook);
    CU_ASSERT_STRING_EQUAL(a.patient_id, b.patient_id);
    CU_ASSERT_EQUAL(a.n_selections, 1);
    CU_ASSERT_EQUAL(a.patient.n_meds, b.patient.n_meds);
    CU_ASSERT_EQUAL(eng_patient_ras(&a.patient), ENG_GENE_MUTANT);
    CU_ASSERT_EQUAL(eng_patient_ras(&b.patient), ENG_GENE_MUTANT);
    CU_ASSERT(a.patient.cancers & ENG_CANCER_COLORECTAL);
    CU_ASSERT(a.patient.met_sites & ENG_SITE_LIVER);
    CU_ASSERT_EQUAL(a.draft_orders.top_type, FHIR_T_BUNDLE);
    CU_ASSERT_EQUAL(cds_request_check(&a, svc("mcrc-order-select"), &err), 0);
    int selected = 0;
    for (struct eng_med *m = a.patient.meds; m; m = m->next)
        selected += m->is_selected;
    CU_ASSERT_EQUAL(selected, 1);
    free(body);
}

static void test_valid_minimal_patient_view_is_accepted(void)
{
    struct eng_error err;
    CU_ASSERT_EQUAL(status_of("mcrc-patient-view",
                              "{\"hook\":\"patient-view\"," UUID "," PV_CONTEXT
                              "," PREFETCH "}", &err), 200);
}

static void test_unknown_fields_and_extensions_are_skipped(void)
{
    struct eng_error err;
    CU_ASSERT_EQUAL(status_of("mcrc-patient-view",
                              "{\"extension\":{\"a\":[1,{\"b\":[]}]},\"hook\":\"patient-view\","
                              UUID ",\"x\":[[[]]]," PV_CONTEXT "," PREFETCH "}", &err),
                    200);
}

struct bad_case {
    const char *service;
    const char *body;
    int status;
    const char *message_part;
};

static const struct bad_case bad_cases[] = {
    {"mcrc-patient-view", "{", 400, "malformed JSON"},
    {"mcrc-patient-view", "", 400, "empty"},
    {"mcrc-patient-view", "[]", 400, "must be a JSON object"},
    {"mcrc-patient-view", "{\"hook\":1}", 400, "'hook' must be a string"},
    {"mcrc-patient-view", "{\"hookInstance\":{}}", 400, "'hookInstance' must be a string"},
    {"mcrc-patient-view", "{\"context\":\"x\"}", 400, "'context' must be an object"},
    {"mcrc-patient-view", "{\"context\":{\"patientId\":5}}", 400,
     "'context.patientId' must be a string"},
    {"mcrc-patient-view", "{\"prefetch\":[]}", 400, "'prefetch' must be an object"},
    {"mcrc-patient-view", "{\"prefetch\":{\"p\":\"x\"}}", 400, "must be a FHIR resource or null"},
    {"mcrc-patient-view", "{\"prefetch\":{\"p\":{\"id\":\"x\"}}}", 400, "no resourceType"},
    {"mcrc-order-select", "{\"context\":{\"selections\":\"x\"}}", 400, "array of strings"},
    {"mcrc-order-select", "{\"context\":{\"selections\":[1]}}", 400, "array of strings"},
    {"mcrc-order-select", "{\"context\":{\"draftOrders\":[]}}", 400, "Bundle"},
    {"mcrc-patient-view", "{\"hook\":\"a\",\"hook\":\"b\"}", 400, "duplicate"},
    {"mcrc-patient-view", "{" UUID "," PV_CONTEXT "}", 400, "'hook'"},
    {"mcrc-patient-view", "{\"hook\":\"patient-view\"," PV_CONTEXT "}", 400, "hookInstance"},
    {"mcrc-patient-view", "{\"hook\":\"patient-view\",\"hookInstance\":\"abc\"," PV_CONTEXT "}",
     400, "UUID"},
    {"mcrc-patient-view", "{\"hook\":\"order-select\"," UUID "," PV_CONTEXT "}", 400,
     "does not match"},
    {"mcrc-patient-view", "{\"hook\":\"patient-view\"," UUID "}", 400, "'context'"},
    {"mcrc-patient-view", "{\"hook\":\"patient-view\"," UUID ",\"context\":{\"userId\":\"u\"}}",
     400, "context.patientId"},
    {"mcrc-patient-view",
     "{\"hook\":\"patient-view\"," UUID ",\"context\":{\"patientId\":\"p\"}}", 400,
     "context.userId"},
    {"mcrc-order-select", "{\"hook\":\"order-select\"," UUID "," PV_CONTEXT "}", 400,
     "context.selections"},
    {"mcrc-patient-view",
     "{\"hook\":\"patient-view\"," UUID "," PV_CONTEXT ",\"fhirAuthorization\":"
     "{\"access_token\":\"t\",\"token_type\":\"Bearer\",\"expires_in\":300,"
     "\"scope\":\"s\",\"subject\":\"c\"}}", 400, "without fhirServer"},
    {"mcrc-patient-view", "{\"hook\":\"patient-view\"," UUID "," PV_CONTEXT "}", 412,
     "prefetch 'patient'"},
    {"mcrc-patient-view",
     "{\"hook\":\"patient-view\"," UUID "," PV_CONTEXT ",\"prefetch\":{\"patient\":"
     "{\"resourceType\":\"Patient\"},\"observations\":null,\"conditions\":"
     "{\"resourceType\":\"OperationOutcome\"}}}", 412, "prefetch 'conditions'"},
};

static void test_bad_requests_get_the_right_status_and_message(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct eng_error err;
        int st = status_of(bad_cases[i].service, bad_cases[i].body, &err);
        if (st != bad_cases[i].status || !strstr(err.msg, bad_cases[i].message_part))
            fprintf(stderr, "case %zu: status %d, message '%s'\n", i, st, err.msg);
        CU_ASSERT_EQUAL(st, bad_cases[i].status);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, bad_cases[i].message_part));
    }
}

static void test_deep_nesting_is_refused_not_recursed(void)
{
    size_t n = 100000;
    char *body = malloc(2 * n + 1);
    struct eng_error err;
    struct cds_request rq;
    for (size_t i = 0; i < n; i++) {
        body[i] = '[';
        body[n + i] = ']';
    }
    body[2 * n] = '\0';
    CU_ASSERT_EQUAL(parse_s("{\"extension\":1}", &rq, &err), 0);
    /* nested inside a skipped field, inside prefetch, and at top level */
    const char *prefixes[] = {"", "{\"extension\":", "{\"prefetch\":{\"a\":{\"b\":"};
    for (size_t k = 0; k < 3; k++) {
        struct eng_arena *a2 = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
        struct cds_parser *p = cds_parser_new(a2, &rq, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        int rc = cds_parser_feed(p, prefixes[k], strlen(prefixes[k]), &err);
        if (rc == 0)
            rc = cds_parser_feed(p, body, 2 * n, &err);
        CU_ASSERT_EQUAL(rc, -1);
        CU_ASSERT_EQUAL(err.http_status, 400);
        eng_arena_free(a2);
    }
    free(body);
}

static void test_invalid_utf8_is_refused(void)
{
    struct cds_request rq;
    struct eng_error err;
    CU_ASSERT_EQUAL(parse_s("{\"hook\":\"patient-\xff\"}", &rq, &err), -1);
    CU_ASSERT_EQUAL(err.http_status, 400);
}

static void test_truncated_body_is_refused_at_every_cut(void)
{
    size_t len;
    char *body = tu_read_source_file("examples/mcrc-kras-mutant.patient-view.json", &len);
    for (size_t cut = 0; cut < len; cut += 97) {
        struct cds_request rq;
        struct eng_error err;
        struct eng_arena *a2 = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
        struct cds_parser *p = cds_parser_new(a2, &rq, &err);
        int rc = cds_parser_feed(p, body, cut, &err);
        if (rc == 0)
            rc = cds_parser_finish(p, &err);
        CU_ASSERT_EQUAL(rc, -1);
        eng_arena_free(a2);
    }
    free(body);
}

static void test_cards_json_has_required_fields(void)
{
    struct eng_coding reasons[] = {{"urn:x", "a", "Reason A"}};
    struct eng_action act = {"delete", "Remove it", "MedicationRequest/m1"};
    struct eng_suggestion sug = {"Remove", &act, 1};
    struct eng_card card = {ENG_CRITICAL, "Summary", "Detail", "Source", "MCRC-RAS-1",
                            "r1", &sug, 1, reasons, 1};
    struct eng_card_list list = {&card, 1, 0};
    size_t len;
    const char *json = cds_cards_json(arena, &list, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    const char *want[] = {"\"cards\":[{\"uuid\":\"", "\"indicator\":\"critical\"",
                          "\"topic\":{\"system\":\"" ENG_TOPIC_SYSTEM "\",\"code\":\"MCRC-RAS-1\"",
                          "\"type\":\"delete\"", "\"resourceId\":\"MedicationRequest/m1\"",
                          "\"selectionBehavior\":\"at-most-one\"",
                          "\"overrideReasons\":[{\"system\":\"urn:x\",\"code\":\"a\",\"display\":\"Reason A\"}]"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(json, want[i]));
    CU_ASSERT_PTR_NULL(strstr(json, "null"));
    CU_ASSERT_PTR_NULL(strstr(json, "\"\""));
}

static void test_empty_cards_is_an_empty_array(void)
{
    struct eng_card_list list = {NULL, 0, 0};
    size_t len;
    const char *json = cds_cards_json(arena, &list, &len);
    CU_ASSERT_STRING_EQUAL(json, "{\"cards\":[]}");
}

static void test_uuids_are_v4_and_distinct(void)
{
    const char *a = cds_uuid_new(arena), *b = cds_uuid_new(arena);
    CU_ASSERT_EQUAL(strlen(a), 36);
    CU_ASSERT_EQUAL(a[14], '4');
    CU_ASSERT(strchr("89ab", a[19]) != NULL);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

static void test_discovery_lists_every_service_row(void)
{
    size_t len;
    const char *json = cds_discovery_json(arena, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    for (int i = 0; i < cds_n_services; i++) {
        char id[128];
        snprintf(id, sizeof id, "\"id\":\"%s\"", cds_services[i].id);
        CU_ASSERT_PTR_NOT_NULL(strstr(json, id));
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "{{context.patientId}}"));
}

static void test_error_json_escapes_message(void)
{
    size_t len;
    const char *json = cds_error_json(arena, 400, "bad \"quote\"", &len);
    CU_ASSERT_STRING_EQUAL(json, "{\"error\":\"bad request\",\"message\":\"bad \\\"quote\\\"\"}");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("cds request and response", setup, teardown);
    TU_ADD(s, "an example parses the same whole and byte by byte",
           test_example_parses_same_whole_and_bytewise);
    TU_ADD(s, "a minimal valid patient-view is accepted",
           test_valid_minimal_patient_view_is_accepted);
    TU_ADD(s, "unknown fields and extensions are skipped",
           test_unknown_fields_and_extensions_are_skipped);
    TU_ADD(s, "bad requests get the right status and message",
           test_bad_requests_get_the_right_status_and_message);
    TU_ADD(s, "100,000-deep nesting is refused, not recursed",
           test_deep_nesting_is_refused_not_recursed);
    TU_ADD(s, "invalid UTF-8 is refused", test_invalid_utf8_is_refused);
    TU_ADD(s, "a truncated body is refused at every cut",
           test_truncated_body_is_refused_at_every_cut);
    TU_ADD(s, "cards JSON has the required fields and no null or empty values",
           test_cards_json_has_required_fields);
    TU_ADD(s, "no cards is an empty cards array", test_empty_cards_is_an_empty_array);
    TU_ADD(s, "card uuids are version 4 and distinct", test_uuids_are_v4_and_distinct);
    TU_ADD(s, "discovery lists every service row", test_discovery_lists_every_service_row);
    TU_ADD(s, "error JSON escapes the message", test_error_json_escapes_message);
    return tu_run();
}
