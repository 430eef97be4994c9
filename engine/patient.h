/* patient.h -- the facts the engine reasons over, for one patient and one call.
 *
 * The FHIR layer (fhir/) reads resources and writes what they say here: the
 * cancer, metastasis sites, gene results, performance status, medications
 * given and medications being ordered.  The engine never sees FHIR.  Every
 * fact can be unknown, and unknown is the default: a zeroed struct is a
 * patient about whom nothing is known, and rules treat "unknown" as a value
 * of its own rather than as "no".
 *
 * Medications are kept with their codings, not yet classified: which drug
 * class a code belongs to is guideline knowledge, held in the rule set's drug
 * table (rules/drugs.tsv) and applied by the engine at evaluation.
 *
 * All pointers point into the request arena that the patient came from.
 */
#ifndef ENG_PATIENT_H
#define ENG_PATIENT_H

#include "base.h"

/* A gene result or a derived biomarker status. */
enum eng_gene_status {
    ENG_GENE_UNKNOWN = 0,
    ENG_GENE_WILDTYPE,
    ENG_GENE_MUTANT,
    ENG_GENE_CONFLICT /* two results disagree; treated as unknown by rules */
};

enum eng_mmr_status {
    ENG_MMR_UNKNOWN = 0,
    ENG_MMR_PROFICIENT, /* pMMR / MSS */
    ENG_MMR_DEFICIENT,  /* dMMR / MSI-H */
    ENG_MMR_CONFLICT
};

/* Cancer types, as a bit set: a patient may have more than one. */
enum {
    ENG_CANCER_COLORECTAL = 1u << 0,
    ENG_CANCER_ENDOMETRIAL = 1u << 1,
    ENG_CANCER_NSCLC = 1u << 2
};

/* Metastasis sites, as a bit set. */
enum {
    ENG_SITE_LIVER = 1u << 0,
    ENG_SITE_LUNG = 1u << 1,
    ENG_SITE_BRAIN = 1u << 2,
    ENG_SITE_ADRENAL = 1u << 3,
    ENG_SITE_BONE = 1u << 4,
    ENG_SITE_OTHER = 1u << 5
};

enum eng_gene { ENG_KRAS = 0, ENG_NRAS, ENG_BRAF, ENG_GENE_COUNT };

/* One coding as it arrived (system and code may be NULL). */
struct eng_coding {
    const char *system;
    const char *code;
    const char *display;
};

/* A medication record: given (history) or ordered (draft order). */
struct eng_med {
    struct eng_med *next;
    const char *ref;       /* "MedicationRequest/<id>" for orders, or NULL */
    const char *text;      /* medicationCodeableConcept.text, or NULL */
    const char *status;    /* FHIR status code, or NULL */
    struct eng_coding *codings;
    int n_codings;
    int is_draft_order;    /* from context.draftOrders */
    int is_selected;       /* named in context.selections (order-select) */
};

struct eng_patient {
    const char *birth_date; /* "YYYY", "YYYY-MM" or "YYYY-MM-DD", or NULL */
    unsigned cancers;       /* ENG_CANCER_* */
    int metastatic;         /* 1 when any distant metastasis is recorded */
    unsigned met_sites;     /* ENG_SITE_* */
    enum eng_gene_status genes[ENG_GENE_COUNT];
    int ras_panel;          /* a KRAS+NRAS result (81420-2) was read */
    enum eng_gene_status ras_panel_status;
    enum eng_mmr_status mmr;
    int ecog;               /* 0..5, -1 unknown */
    int esmo_group;         /* 0..3, -1 unknown */
    int medications_known;  /* medication history was supplied (maybe empty) */
    struct eng_med *meds;   /* history and orders, newest first */
    int n_meds;
};

/* Sets every fact of p to unknown. */
void eng_patient_init(struct eng_patient *p);

/* Records a gene result; two different definite results make the gene
 * ENG_GENE_CONFLICT. */
void eng_patient_set_gene(struct eng_patient *p, enum eng_gene g,
                          enum eng_gene_status s);

/* Records an MMR/MSI result, with the same conflict rule. */
void eng_patient_set_mmr(struct eng_patient *p, enum eng_mmr_status s);

/* RAS status: wild-type only when both KRAS and NRAS are wild-type (or a
 * KRAS+NRAS panel says wild-type), mutant when either is mutant, unknown
 * otherwise (conflicts count as unknown). */
enum eng_gene_status eng_patient_ras(const struct eng_patient *p);

/* Age in whole years on `today` ("YYYY-MM-DD"), or -1 when the birth date is
 * missing or unreadable.  A year-only birth date gives the lower bound. */
int eng_patient_age(const struct eng_patient *p, const char *today);

#endif
