/* cds_internal.h -- declarations shared by the files of cds/.
 * Private to cds/: never include it from another directory. */
#ifndef CDS_INTERNAL_H
#define CDS_INTERNAL_H

#include <stddef.h>
#include <yajl/yajl_common.h>

#include "../engine/eval.h"
#include "../engine/patient.h"
#include "../fhir/fhir.h"
#include "cds.h"

/* ---- service table (service.c) ---------------------------------------- */

struct cds_prefetch_template {
    const char *key;
    const char *query;     /* FHIR query with CDS Hooks prefetch tokens */
    unsigned resource_type; /* FHIR_T_* the query returns */
    int required;          /* 412 when neither given nor fetchable */
};

struct cds_service {
    const char *id;
    const char *hook;
    const char *title;
    const char *description;
    const char *guideline; /* rule guideline key */
    const struct cds_prefetch_template *prefetch;
    int n_prefetch;
};

extern const struct cds_service cds_services[];
extern const int cds_n_services;

/* The service with this id, or NULL. */
const struct cds_service *cds_service_find(const char *id, size_t len);

/* ---- request (request.c) ---------------------------------------------- */

struct cds_prefetch_value {
    struct cds_prefetch_value *next;
    const char *key;
    int is_null;
    struct fhir_value_info info;
};

struct cds_auth {
    const char *access_token, *token_type, *scope, *subject, *patient;
    int has_expires_in;
};

struct cds_request {
    const char *hook, *hook_instance, *fhir_server;
    int has_context, has_prefetch, has_fhir_authorization;
    struct cds_auth auth;
    const char *user_id, *patient_id, *encounter_id;
    int has_selections, has_draft_orders;
    const char **selections;
    int n_selections;
    struct fhir_value_info draft_orders;
    struct cds_prefetch_value *prefetch; /* newest first */
    struct eng_patient patient;
};

struct cds_parser;

/* Starts a streaming parse of a request body into *out (arena-owned). */
struct cds_parser *cds_parser_new(struct eng_arena *a, struct cds_request *out,
                                  struct eng_error *err) ENG_MUST_CHECK;

/* Feeds the next piece of the body. */
int cds_parser_feed(struct cds_parser *p, const char *buf, size_t len,
                    struct eng_error *err) ENG_MUST_CHECK;

/* Ends the parse; fails on truncated JSON. */
int cds_parser_finish(struct cds_parser *p, struct eng_error *err)
    ENG_MUST_CHECK;

/* Checks the parsed request against the service: hook, hookInstance, the
 * hook's context fields, fhirAuthorization, and the prefetch it needs (412).
 * Marks the selected draft orders. */
int cds_request_check(struct cds_request *rq, const struct cds_service *svc,
                      struct eng_error *err) ENG_MUST_CHECK;

/* ---- yajl memory (yajl_arena.c) ---------------------------------------- */

/* Allocator functions that give yajl (parser and generator) memory from the
 * arena a; frees are no-ops, the arena releases everything at once. */
yajl_alloc_funcs cds_yajl_arena_funcs(struct eng_arena *a);

/* ---- JSON output (response.c) ----------------------------------------- */

/* The discovery document, in the arena; NULL when out of memory. */
const char *cds_discovery_json(struct eng_arena *a, size_t *len);

/* The cards response, in the arena; NULL when out of memory.  Fills each
 * card's uuid. */
const char *cds_cards_json(struct eng_arena *a, const struct eng_card_list *cards,
                           size_t *len);

/* An error body {"error": status-name, "message": msg}; never fails (falls
 * back to a static body). */
const char *cds_error_json(struct eng_arena *a, int status, const char *msg,
                           size_t *len);

/* A random (version 4) UUID in canonical text form, in the arena. */
const char *cds_uuid_new(struct eng_arena *a);

#endif
