/* fhir_internal.h -- the flat resource records shared by reader.c and map.c.
 * Private to fhir/: never include it from another directory. */
#ifndef FHIR_INTERNAL_H
#define FHIR_INTERNAL_H

#include "fhir.h"

/* Scalar fields kept from a resource, by path. */
enum fhir_field {
    FF_RESOURCE_TYPE,
    FF_ID,
    FF_STATUS,
    FF_INTENT,
    FF_BIRTH_DATE,
    FF_CODE_TEXT,
    FF_VALUE_STRING,
    FF_VALUE_INTEGER,
    FF_VALUE_TEXT,       /* valueCodeableConcept.text */
    FF_MED_TEXT,         /* medicationCodeableConcept.text */
    FF_COMP_VALUE_STRING,
    FF_COMP_VALUE_TEXT,
    FF_COUNT
};

/* Where a coding sits in its resource. */
enum fhir_coding_slot {
    FC_CODE,
    FC_VALUE,
    FC_COMP_CODE,
    FC_COMP_VALUE,
    FC_BODY_SITE,
    FC_CLINICAL_STATUS,
    FC_VERIFICATION_STATUS,
    FC_MEDICATION,
    FC_INTERPRETATION
};

struct fhir_scalar {
    struct fhir_scalar *next;
    enum fhir_field field;
    int component; /* component index for FF_COMP_*, else -1 */
    const char *value;
};

struct fhir_coding {
    struct fhir_coding *next;
    enum fhir_coding_slot slot;
    int component;
    const char *system, *code, *display;
};

struct fhir_resource {
    struct fhir_resource *parent;
    struct fhir_resource *children; /* Bundle entries, in reverse order */
    struct fhir_resource *next_sibling;
    unsigned type; /* FHIR_T_* */
    const char *first[FF_COUNT]; /* first value seen of each field */
    struct fhir_scalar *scalars;  /* every kept value, newest first */
    struct fhir_coding *codings;  /* newest first */
    int n_codings;
    int n_components;
};

/* Maps one complete resource (not a Bundle) into the patient. */
int fhir_map_resource(struct eng_arena *a, struct eng_patient *p,
                      const struct fhir_resource *res, enum fhir_origin origin,
                      unsigned *mmr_intact, struct eng_error *err);

/* Completes MMR from the four protein results (bits 1..4 of mmr_intact). */
void fhir_map_finish(struct eng_patient *p, unsigned mmr_intact);

#endif
