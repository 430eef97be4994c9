/* map.c -- from FHIR resource records to the engine's patient facts.
 *
 * This file is where codes meet meaning: which SNOMED CT and ICD-10 codes
 * name a colorectal cancer or a liver metastasis, which LOINC codes carry a
 * KRAS, NRAS, BRAF, MSI or MMR result, and how a result's value reads as
 * mutant or wild-type.  The code lists come from ../shared/fhir-terminology.md
 * (sections 2.1-2.3); every list names its concept.  A value that cannot be
 * read leaves the fact unknown: the mapping never guesses.
 */
#include "fhir_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../engine/limits.h"

#define SYS_SNOMED "http://snomed.info/sct"
#define SYS_LOINC "http://loinc.org"
#define SYS_ICD10 "http://hl7.org/fhir/sid/icd-10"
#define SYS_ICD10CM "http://hl7.org/fhir/sid/icd-10-cm"
#define SYS_ONCOCDS_FACT "urn:oncocds:fact"

static int in_list(const char *code, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(code, *list) == 0)
            return 1;
    return 0;
}

static int is_system(const struct fhir_coding *c, const char *sys)
{
    return c->system && c->code && strcmp(c->system, sys) == 0;
}

static int is_icd10(const struct fhir_coding *c)
{
    return is_system(c, SYS_ICD10) || is_system(c, SYS_ICD10CM);
}

/* ---- conditions ------------------------------------------------------- */

/* Colorectal cancer: primary and subsite disorders (terminology §2.2). */
static const char *const snomed_colorectal[] = {
    "781382000", "1286877004", "363406005", "93761005", "269533000",
    "1701000119104", "363351006", "93984006", "254582000", "363414004",
    "363350007", "371977004", "363412000", "93683002", "363407001",
    "93826009", "363408006", "94105000", "363413005", "94072004",
    "363409003", "93771007", "363410008", "94006002", NULL};
static const char *const snomed_endometrial[] = {"254878006", "93781006",
                                                 "188192002", NULL};
static const char *const snomed_nsclc[] = {"254637007", "703228009", "703230006",
                                           "423121009", "1255725002", NULL};

static const struct {
    const char *snomed;
    const char *icd10; /* prefix */
    unsigned site;
} metastasis_codes[] = {
    {"94381002", "C78.7", ENG_SITE_LIVER},
    {"94391008", "C78.0", ENG_SITE_LUNG},
    {"94225005", "C79.3", ENG_SITE_BRAIN},
    {"94161006", "C79.7", ENG_SITE_ADRENAL},
    {"94222008", "C79.5", ENG_SITE_BONE},
};

/* Body structures that name a metastasis site when the condition code only
 * says "secondary malignant neoplasm" (128462008). */
static const struct {
    const char *snomed;
    unsigned site;
} body_sites[] = {
    {"10200004", ENG_SITE_LIVER},
    {"39607008", ENG_SITE_LUNG},
    {"23451007", ENG_SITE_ADRENAL},
};

static int icd_prefix(const char *code, const char *prefix)
{
    return strncmp(code, prefix, strlen(prefix)) == 0;
}

static unsigned cancer_of(const struct fhir_coding *c)
{
    if (is_system(c, SYS_SNOMED)) {
        if (in_list(c->code, snomed_colorectal))
            return ENG_CANCER_COLORECTAL;
        if (in_list(c->code, snomed_endometrial))
            return ENG_CANCER_ENDOMETRIAL;
        if (in_list(c->code, snomed_nsclc))
            return ENG_CANCER_NSCLC;
    } else if (is_icd10(c)) {
        if (icd_prefix(c->code, "C18") || icd_prefix(c->code, "C19") ||
            icd_prefix(c->code, "C20"))
            return ENG_CANCER_COLORECTAL;
        if (icd_prefix(c->code, "C54.1"))
            return ENG_CANCER_ENDOMETRIAL;
    }
    return 0;
}

/* Metastasis site of a condition code; ENG_SITE_OTHER for a secondary
 * neoplasm of another or unnamed site, 0 when not a metastasis. */
static unsigned metastasis_of(const struct fhir_coding *c)
{
    for (size_t i = 0; i < sizeof metastasis_codes / sizeof metastasis_codes[0]; i++) {
        if (is_system(c, SYS_SNOMED) && strcmp(c->code, metastasis_codes[i].snomed) == 0)
            return metastasis_codes[i].site;
        if (is_icd10(c) && icd_prefix(c->code, metastasis_codes[i].icd10))
            return metastasis_codes[i].site;
    }
    if (is_system(c, SYS_SNOMED) && strcmp(c->code, "128462008") == 0)
        return ENG_SITE_OTHER;
    if (is_icd10(c) && (icd_prefix(c->code, "C77") || icd_prefix(c->code, "C78") ||
                        icd_prefix(c->code, "C79")))
        return ENG_SITE_OTHER;
    return 0;
}

static unsigned body_site_of(const struct fhir_resource *res)
{
    unsigned sites = 0;
    for (const struct fhir_coding *c = res->codings; c; c = c->next) {
        if (c->slot != FC_BODY_SITE || !is_system(c, SYS_SNOMED))
            continue;
        for (size_t i = 0; i < sizeof body_sites / sizeof body_sites[0]; i++)
            if (strcmp(c->code, body_sites[i].snomed) == 0)
                sites |= body_sites[i].site;
    }
    return sites;
}

/* A record marked entered-in-error or refuted says nothing. */
static int condition_is_void(const struct fhir_resource *res)
{
    for (const struct fhir_coding *c = res->codings; c; c = c->next)
        if (c->slot == FC_VERIFICATION_STATUS && c->code &&
            (strcmp(c->code, "entered-in-error") == 0 ||
             strcmp(c->code, "refuted") == 0))
            return 1;
    return 0;
}

static void map_condition(struct eng_patient *p, const struct fhir_resource *res)
{
    if (condition_is_void(res))
        return;
    unsigned sites = 0;
    for (const struct fhir_coding *c = res->codings; c; c = c->next) {
        if (c->slot != FC_CODE)
            continue;
        p->cancers |= cancer_of(c);
        sites |= metastasis_of(c);
    }
    if (sites == ENG_SITE_OTHER && body_site_of(res))
        sites = body_site_of(res);
    if (sites) {
        p->met_sites |= sites;
        p->metastatic = 1;
    }
}

/* ---- observations ----------------------------------------------------- */

enum result_kind {
    RK_NONE,
    RK_GENE,      /* a gene-specific LOINC: the gene is known from the code */
    RK_RAS_PANEL, /* 81420-2: KRAS and NRAS together */
    RK_VARIANT,   /* 69548-6: the gene is in a component */
    RK_MSI,
    RK_MMR_PROTEIN,
    RK_ECOG,
    RK_ESMO_GROUP
};

static const struct {
    const char *loinc;
    enum result_kind kind;
    int arg; /* gene, or MMR protein bit */
} result_codes[] = {
    {"21702-6", RK_GENE, ENG_KRAS},  {"75974-6", RK_GENE, ENG_KRAS},
    {"85509-8", RK_GENE, ENG_KRAS},  {"82535-6", RK_GENE, ENG_KRAS},
    {"53844-7", RK_GENE, ENG_BRAF},  {"85299-6", RK_GENE, ENG_BRAF},
    {"81420-2", RK_RAS_PANEL, 0},    {"69548-6", RK_VARIANT, 0},
    {"81695-9", RK_MSI, 0},          {"43368-0", RK_MSI, 0},
    {"81691-8", RK_MMR_PROTEIN, 1},  {"81692-6", RK_MMR_PROTEIN, 2},
    {"81693-4", RK_MMR_PROTEIN, 4},  {"81694-2", RK_MMR_PROTEIN, 8},
    {"89247-1", RK_ECOG, 0},
};

static enum result_kind result_kind_of(const struct fhir_resource *res, int *arg)
{
    for (const struct fhir_coding *c = res->codings; c; c = c->next) {
        if (c->slot != FC_CODE)
            continue;
        if (is_system(c, SYS_ONCOCDS_FACT) && strcmp(c->code, "esmo-group") == 0)
            return RK_ESMO_GROUP;
        if (!is_system(c, SYS_LOINC))
            continue;
        for (size_t i = 0; i < sizeof result_codes / sizeof result_codes[0]; i++)
            if (strcmp(c->code, result_codes[i].loinc) == 0) {
                *arg = result_codes[i].arg;
                return result_codes[i].kind;
            }
    }
    return RK_NONE;
}

/* Answer codes that say "a mutation is there" / "none is there". */
static const char *const codes_mutant[] = {
    "LA9633-4", /* Present */ "LA6576-8", /* Positive */
    "10828004", /* SNOMED Positive */ "260373001", /* SNOMED Detected */ NULL};
static const char *const codes_wildtype[] = {
    "LA9634-2", /* Absent */ "LA6577-6", /* Negative */
    "260385009", /* SNOMED Negative */ "260415000", /* SNOMED Not detected */ NULL};

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

/* Reads free text conservatively: negative wording first, since "no
 * mutation detected" contains "mutation" and "detected". */
static enum eng_gene_status status_of_text(const char *t)
{
    static const char *const negative[] = {"wild", "not detected", "negative",
                                           "absent", "no mutation", "normal",
                                           "no variant", "not present",
                                           "not found", NULL};
    static const char *const positive[] = {"mutat", "positive", "present",
                                           "detected", "p.", "c.", NULL};
    if (!t)
        return ENG_GENE_UNKNOWN;
    if (strcasecmp(t, "wt") == 0)
        return ENG_GENE_WILDTYPE;
    if (contains_ci(t, "abnormal"))
        return ENG_GENE_UNKNOWN;
    for (int i = 0; negative[i]; i++)
        if (contains_ci(t, negative[i]))
            return ENG_GENE_WILDTYPE;
    for (int i = 0; positive[i]; i++)
        if (contains_ci(t, positive[i]))
            return ENG_GENE_MUTANT;
    return ENG_GENE_UNKNOWN;
}

/* Status from the value codings of `slot` (and component), else from text. */
static enum eng_gene_status value_status(const struct fhir_resource *res,
                                         enum fhir_coding_slot slot, int component,
                                         const char *text)
{
    for (const struct fhir_coding *c = res->codings; c; c = c->next) {
        if (c->slot != slot || c->component != component || !c->code)
            continue;
        if (in_list(c->code, codes_mutant))
            return ENG_GENE_MUTANT;
        if (in_list(c->code, codes_wildtype))
            return ENG_GENE_WILDTYPE;
    }
    enum eng_gene_status s = status_of_text(text);
    for (const struct fhir_coding *c = res->codings; c && s == ENG_GENE_UNKNOWN;
         c = c->next)
        if (c->slot == slot && c->component == component)
            s = status_of_text(c->display);
    return s;
}

static const char *first_text(const struct fhir_resource *res)
{
    return res->first[FF_VALUE_STRING] ? res->first[FF_VALUE_STRING]
                                       : res->first[FF_VALUE_TEXT];
}

/* The gene named by a gene-studied coding: HGNC id and symbol must agree
 * when both are given (public examples carry swapped ids). */
static int gene_of_coding(const struct fhir_coding *c)
{
    static const struct { const char *hgnc, *symbol; enum eng_gene g; } genes[] = {
        {"HGNC:6407", "KRAS", ENG_KRAS},
        {"HGNC:7989", "NRAS", ENG_NRAS},
        {"HGNC:1097", "BRAF", ENG_BRAF},
    };
    int by_id = -1, by_name = -1;
    for (size_t i = 0; i < sizeof genes / sizeof genes[0]; i++) {
        if (c->code && (strcmp(c->code, genes[i].hgnc) == 0 ||
                        strcmp(c->code, genes[i].symbol) == 0))
            by_id = (int)genes[i].g;
        if (c->display && strcasecmp(c->display, genes[i].symbol) == 0)
            by_name = (int)genes[i].g;
    }
    if (c->code && strncmp(c->code, "HGNC:", 5) == 0 && by_id < 0)
        return -1; /* another gene, whatever the display says */
    if (by_id >= 0 && by_name >= 0 && by_id != by_name)
        return -1;
    return by_id >= 0 ? by_id : by_name;
}

/* Genomics Reporting variant: gene in component 48018-6, present/absent in
 * the Observation value. */
static void map_variant(struct eng_patient *p, const struct fhir_resource *res)
{
    int comp = -2, gene = -1;
    for (const struct fhir_coding *c = res->codings; c; c = c->next)
        if (c->slot == FC_COMP_CODE && is_system(c, SYS_LOINC) &&
            strcmp(c->code, "48018-6") == 0)
            comp = c->component;
    if (comp == -2)
        return;
    for (const struct fhir_coding *c = res->codings; c; c = c->next)
        if (c->slot == FC_COMP_VALUE && c->component == comp) {
            int g = gene_of_coding(c);
            if (g >= 0 && gene >= 0 && g != gene)
                return; /* two genes in one variant: unreadable */
            if (g >= 0)
                gene = g;
        }
    if (gene < 0)
        return;
    eng_patient_set_gene(p, (enum eng_gene)gene,
                         value_status(res, FC_VALUE, -1, first_text(res)));
}

static void map_msi(struct eng_patient *p, const struct fhir_resource *res)
{
    for (const struct fhir_coding *c = res->codings; c; c = c->next) {
        if (c->slot != FC_VALUE || !c->code)
            continue;
        if (strcmp(c->code, "LA26203-2") == 0) /* MSI-H */
            eng_patient_set_mmr(p, ENG_MMR_DEFICIENT);
        else if (strcmp(c->code, "LA14122-8") == 0) /* Stable (MSS) */
            eng_patient_set_mmr(p, ENG_MMR_PROFICIENT);
        /* MSI-L, Instable and Indeterminate are left unknown: the guideline
         * speaks of dMMR/MSI-H vs pMMR/MSS only. */
    }
}

static void map_mmr_protein(struct eng_patient *p, const struct fhir_resource *res,
                            int bit, unsigned *intact)
{
    for (const struct fhir_coding *c = res->codings; c; c = c->next) {
        if (c->slot != FC_VALUE || !c->code)
            continue;
        if (strcmp(c->code, "LA26198-4") == 0) /* loss of nuclear expression */
            eng_patient_set_mmr(p, ENG_MMR_DEFICIENT);
        else if (strcmp(c->code, "LA26197-6") == 0) /* intact */
            *intact |= (unsigned)bit;
    }
}

static int small_int(const char *s, int lo, int hi)
{
    char *end;
    if (!s)
        return -1;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return -1;
    return (int)v;
}

static void map_ecog(struct eng_patient *p, const struct fhir_resource *res)
{
    static const char *const answers[] = {"LA9622-7", "LA9623-5", "LA9624-3",
                                          "LA9625-0", "LA9626-8", "LA9627-6", NULL};
    int v = small_int(res->first[FF_VALUE_INTEGER], 0, 5);
    for (const struct fhir_coding *c = res->codings; c && v < 0; c = c->next)
        if ((c->slot == FC_VALUE || c->slot == FC_INTERPRETATION) && c->code)
            for (int i = 0; answers[i]; i++)
                if (strcmp(c->code, answers[i]) == 0)
                    v = i;
    if (v >= 0)
        p->ecog = v;
}

static int observation_is_void(const struct fhir_resource *res)
{
    const char *st = res->first[FF_STATUS];
    return st && (strcmp(st, "entered-in-error") == 0 ||
                  strcmp(st, "cancelled") == 0);
}

static void map_observation(struct eng_patient *p, const struct fhir_resource *res,
                            unsigned *mmr_intact)
{
    int arg = 0;
    if (observation_is_void(res))
        return;
    switch (result_kind_of(res, &arg)) {
    case RK_GENE:
        eng_patient_set_gene(p, (enum eng_gene)arg,
                             value_status(res, FC_VALUE, -1, first_text(res)));
        break;
    case RK_RAS_PANEL: {
        enum eng_gene_status s = value_status(res, FC_VALUE, -1, first_text(res));
        if (s != ENG_GENE_UNKNOWN) {
            p->ras_panel_status = p->ras_panel && p->ras_panel_status != s
                                      ? ENG_GENE_CONFLICT : s;
            p->ras_panel = 1;
        }
        break;
    }
    case RK_VARIANT: map_variant(p, res); break;
    case RK_MSI: map_msi(p, res); break;
    case RK_MMR_PROTEIN: map_mmr_protein(p, res, arg, mmr_intact); break;
    case RK_ECOG: map_ecog(p, res); break;
    case RK_ESMO_GROUP: {
        int g = small_int(res->first[FF_VALUE_INTEGER], 0, 3);
        if (g >= 0)
            p->esmo_group = g;
        break;
    }
    case RK_NONE: break;
    }
}

void fhir_map_finish(struct eng_patient *p, unsigned mmr_intact)
{
    if (mmr_intact == 0xFu)
        eng_patient_set_mmr(p, ENG_MMR_PROFICIENT);
}

/* ---- medications ------------------------------------------------------ */

static int map_medication(struct eng_arena *a, struct eng_patient *p,
                          const struct fhir_resource *res, enum fhir_origin origin,
                          struct eng_error *err)
{
    const char *st = res->first[FF_STATUS];
    int draft = origin == FHIR_FROM_DRAFT_ORDERS;
    if (st && strcmp(st, "entered-in-error") == 0)
        return 0;
    if (draft && res->type != FHIR_T_MEDICATION_REQUEST)
        return 0;
    if (p->n_meds >= ENG_LIMIT_RESOURCES)
        return eng_error_set(err, ENG_ERR_TOO_LARGE, 413, "too many medications");
    struct eng_med *m = eng_arena_calloc(a, sizeof *m);
    int n = 0;
    for (const struct fhir_coding *c = res->codings; c; c = c->next)
        n += c->slot == FC_MEDICATION;
    if (!m || (n && !(m->codings = eng_arena_calloc(a, sizeof *m->codings * (size_t)n))))
        goto nomem;
    for (const struct fhir_coding *c = res->codings; c; c = c->next)
        if (c->slot == FC_MEDICATION)
            m->codings[m->n_codings++] =
                (struct eng_coding){c->system, c->code, c->display};
    m->text = res->first[FF_MED_TEXT];
    m->status = st;
    m->is_draft_order = draft;
    if (draft && res->first[FF_ID] &&
        !(m->ref = eng_arena_printf(a, "MedicationRequest/%s", res->first[FF_ID])))
        goto nomem;
    m->next = p->meds;
    p->meds = m;
    p->n_meds++;
    if (!draft)
        p->medications_known = 1;
    return 0;
nomem:
    return eng_error_set(err, ENG_ERR_NOMEM, 413,
                         "request needs more memory than allowed");
}

int fhir_map_resource(struct eng_arena *a, struct eng_patient *p,
                      const struct fhir_resource *res, enum fhir_origin origin,
                      unsigned *mmr_intact, struct eng_error *err)
{
    if (origin == FHIR_FROM_DRAFT_ORDERS)
        return map_medication(a, p, res, origin, err);
    switch (res->type) {
    case FHIR_T_PATIENT:
        if (res->first[FF_BIRTH_DATE])
            p->birth_date = res->first[FF_BIRTH_DATE];
        return 0;
    case FHIR_T_CONDITION: map_condition(p, res); return 0;
    case FHIR_T_OBSERVATION: map_observation(p, res, mmr_intact); return 0;
    case FHIR_T_MEDICATION_STATEMENT:
    case FHIR_T_MEDICATION_REQUEST: return map_medication(a, p, res, origin, err);
    default: return 0;
    }
}
