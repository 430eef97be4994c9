/* fhir.h -- reading FHIR R4 JSON resources, streamed, into patient facts.
 *
 * The CDS Hooks request parser (cds/) drives one JSON parse over the whole
 * request body.  When it reaches a value that holds FHIR data -- a prefetch
 * entry or context.draftOrders -- it calls fhir_reader_begin() and then
 * forwards every JSON event of that value to the reader, until the reader
 * says the value is complete.  No tree of the body is ever built.
 *
 * While a resource streams past, the reader keeps only the fields the
 * mapping needs (codes, values, status, ids) in a small flat record: each
 * string is matched by its path inside the resource ("code.coding.code",
 * "component.valueCodeableConcept.coding.code", ...), and paths that matter
 * to no rule are dropped on the spot.  A Bundle's `entry[].resource` is read
 * as a resource of its own.  When the outermost value closes, its resources
 * are mapped into the engine's patient model (engine/patient.h): cancers,
 * metastasis sites, KRAS/NRAS/BRAF, MMR/MSI, ECOG, medications and orders.
 * Field order inside a resource does not matter (resourceType may come
 * last), because mapping waits for the resource's closing brace.
 *
 * Everything is allocated from the request arena given at creation; the
 * reader holds no other memory.  It runs on the event-loop thread.
 */
#ifndef FHIR_FHIR_H
#define FHIR_FHIR_H

#include <stddef.h>

#include "../engine/base.h"
#include "../engine/patient.h"

/* Where a FHIR value came from, which decides how its resources count. */
enum fhir_origin {
    FHIR_FROM_PREFETCH,     /* clinical record: history and facts */
    FHIR_FROM_DRAFT_ORDERS  /* context.draftOrders: orders being placed */
};

/* Resource types the reader recognises, as bits. */
enum {
    FHIR_T_PATIENT = 1u << 0,
    FHIR_T_CONDITION = 1u << 1,
    FHIR_T_OBSERVATION = 1u << 2,
    FHIR_T_MEDICATION_STATEMENT = 1u << 3,
    FHIR_T_MEDICATION_REQUEST = 1u << 4,
    FHIR_T_BUNDLE = 1u << 5,
    FHIR_T_OPERATION_OUTCOME = 1u << 6,
    FHIR_T_OTHER = 1u << 7
};

/* What one FHIR value turned out to hold. */
struct fhir_value_info {
    unsigned top_type;  /* FHIR_T_* of the outermost resource, 0 if none */
    unsigned types;     /* FHIR_T_* of every resource inside it */
    int n_resources;
};

struct fhir_reader;

/* Creates a reader that writes facts into *patient.  Both live in arena a.
 * Returns NULL when the arena is exhausted. */
struct fhir_reader *fhir_reader_new(struct eng_arena *a,
                                    struct eng_patient *patient);

/* Starts a new FHIR value.  The next event forwarded must be the value's
 * start_map (the caller handles `null` itself and never begins a value for
 * it). */
void fhir_reader_begin(struct fhir_reader *r, enum fhir_origin origin);

/* JSON events of the current value.  Each returns 0 to go on, or -1 with err
 * filled (limit reached, arena exhausted).  Strings are not NUL-terminated
 * and are copied when kept. */
int fhir_on_start_map(struct fhir_reader *r, struct eng_error *err);
int fhir_on_end_map(struct fhir_reader *r, struct eng_error *err);
int fhir_on_start_array(struct fhir_reader *r, struct eng_error *err);
int fhir_on_end_array(struct fhir_reader *r, struct eng_error *err);
int fhir_on_key(struct fhir_reader *r, const char *s, size_t len,
                struct eng_error *err);
/* A scalar: string (is_string) or number/true/false/null as its JSON text. */
int fhir_on_scalar(struct fhir_reader *r, const char *s, size_t len,
                   int is_string, struct eng_error *err);

/* 1 when the value begun last is complete (its closing brace was seen). */
int fhir_reader_value_done(const struct fhir_reader *r);

/* What the value begun last held; valid once it is done. */
struct fhir_value_info fhir_reader_value_info(const struct fhir_reader *r);

/* Completes the facts that need the whole record (MMR from four protein
 * results).  Call once, after the last value. */
void fhir_reader_finish(struct fhir_reader *r);

/* Reads a FHIR JSON document (a resource or a Bundle) on its own, outside a
 * CDS Hooks request: for tests and tools.  Returns 0, or -1 with err. */
int fhir_read_json(struct eng_arena *a, const char *json, size_t len,
                   enum fhir_origin origin, struct eng_patient *patient,
                   struct fhir_value_info *info, struct eng_error *err)
    ENG_MUST_CHECK;

#endif
