/* test_fhir.c -- the FHIR reader and mapping, through fhir_read_json().
 *
 * Each test reads JSON (a fixture under tests/fixtures/fhir/ or a string
 * built here) into a fresh patient with an arena of ENG_LIMIT_ARENA_BYTES,
 * asserts the facts the engine will see, and frees the arena (LeakSanitizer
 * checks that nothing else was kept).  The JSON buffer is freed right after
 * the read, so any pointer the reader kept into it would be caught by
 * AddressSanitizer.
 *
 * Codes and their meaning come from /work/shared/fhir-terminology.md
 * sections 2.1-2.3.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base.h"
#include "engine/limits.h"
#include "engine/patient.h"
#include "fhir/fhir.h"
#include "tests/testutil.h"

#define LOINC "http://loinc.org"
#define SNOMED "http://snomed.info/sct"
#define ICD10 "http://hl7.org/fhir/sid/icd-10"
#define ICD10CM "http://hl7.org/fhir/sid/icd-10-cm"
#define RXNORM "http://www.nlm.nih.gov/research/umls/rxnorm"
#define ATC "http://www.whocc.no/atc"
#define FIXTURES "tests/fixtures/fhir/"

/* ======================================================================
 * Helpers
 * ==================================================================== */

struct doc {
    struct eng_arena *a;
    struct eng_patient p;
    struct fhir_value_info info;
    struct eng_error err;
    int rc;
};

static void doc_init(struct doc *d)
{
    memset(d, 0, sizeof *d);
    d->a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    if (!d->a) {
        fprintf(stderr, "out of memory in test\n");
        exit(2);
    }
    eng_patient_init(&d->p);
}

/* Reads len bytes of JSON (a malloc'ed copy, freed at once) into d. */
static int doc_read_n(struct doc *d, const char *json, size_t len,
                      enum fhir_origin o)
{
    char *copy = malloc(len ? len : 1);
    if (!copy) {
        fprintf(stderr, "out of memory in test\n");
        exit(2);
    }
    memcpy(copy, json, len);
    memset(&d->info, 0, sizeof d->info);
    eng_error_clear(&d->err);
    d->rc = fhir_read_json(d->a, copy, len, o, &d->p, &d->info, &d->err);
    memset(copy, 'X', len); /* nothing may point into the input */
    free(copy);
    return d->rc;
}

static int doc_read(struct doc *d, const char *json, enum fhir_origin o)
{
    return doc_read_n(d, json, strlen(json), o);
}

static int doc_file(struct doc *d, const char *name, enum fhir_origin o)
{
    char path[256];
    size_t len;
    snprintf(path, sizeof path, FIXTURES "%s", name);
    char *json = tu_read_source_file(path, &len);
    int rc = doc_read_n(d, json, len, o);
    free(json);
    if (rc != 0)
        fprintf(stderr, "\n    reading %s failed: %s\n", name, d->err.msg);
    return rc;
}

static void doc_free(struct doc *d)
{
    eng_arena_free(d->a);
    d->a = NULL;
}

/* A growable string for generated JSON. */
struct str {
    char *s;
    size_t len, cap;
};

static void s_add(struct str *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            fprintf(stderr, "out of memory in test\n");
            exit(2);
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void s_adds(struct str *b, const char *s)
{
    s_add(b, s, strlen(s));
}

static void s_rep(struct str *b, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        s_adds(b, s);
}

static void s_fill(struct str *b, char c, size_t n)
{
    char chunk[4096];
    memset(chunk, c, sizeof chunk);
    while (n) {
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        s_add(b, chunk, k);
        n -= k;
    }
}

static void s_printf(struct str *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void s_printf(struct str *b, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    s_add(b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* An Observation with a code and one value member (a JSON fragment such
 * as "\"valueInteger\": 2"). */
static void observation(struct str *b, const char *system, const char *code,
                        const char *value_member)
{
    s_printf(b,
             "{\"resourceType\": \"Observation\", \"status\": \"final\","
             " \"code\": {\"coding\": [{\"system\": \"%s\", \"code\": \"%s\"}]},"
             " %s}",
             system, code, value_member);
}

static int read_observation(struct doc *d, const char *system, const char *code,
                            const char *value_member)
{
    struct str b = {0};
    observation(&b, system, code, value_member);
    int rc = doc_read(d, b.s, FHIR_FROM_PREFETCH);
    free(b.s);
    return rc;
}

/* An Observation with a coded answer. */
static int read_coded(struct doc *d, const char *loinc, const char *answer)
{
    char v[256];
    snprintf(v, sizeof v,
             "\"valueCodeableConcept\": {\"coding\": [{\"system\": \"" LOINC
             "\", \"code\": \"%s\"}]}",
             answer);
    return read_observation(d, LOINC, loinc, v);
}

/* A Condition with a code and optionally a bodySite. */
static int read_condition(struct doc *d, const char *system, const char *code,
                          const char *body_site)
{
    struct str b = {0};
    s_printf(&b,
             "{\"resourceType\": \"Condition\", \"id\": \"c1\","
             " \"clinicalStatus\": {\"coding\": [{\"system\": "
             "\"http://terminology.hl7.org/CodeSystem/condition-clinical\","
             " \"code\": \"active\"}]},"
             " \"code\": {\"coding\": [{\"system\": \"%s\", \"code\": \"%s\"}]}",
             system, code);
    if (body_site)
        s_printf(&b,
                 ", \"bodySite\": [{\"coding\": [{\"system\": \"" SNOMED
                 "\", \"code\": \"%s\"}]}]",
                 body_site);
    s_adds(&b, "}");
    int rc = doc_read(d, b.s, FHIR_FROM_PREFETCH);
    free(b.s);
    return rc;
}

static const char *gene_name(enum eng_gene_status s)
{
    static const char *const n[] = {"unknown", "wildtype", "mutant", "conflict"};
    return (unsigned)s < 4 ? n[s] : "?";
}

static int med_has_ref(const struct eng_patient *p, const char *ref)
{
    for (const struct eng_med *m = p->meds; m; m = m->next)
        if (m->ref && strcmp(m->ref, ref) == 0)
            return 1;
    return 0;
}

static int med_has_coding(const struct eng_med *m, const char *system,
                          const char *code)
{
    for (int i = 0; i < m->n_codings; i++)
        if (m->codings[i].system && m->codings[i].code &&
            strcmp(m->codings[i].system, system) == 0 &&
            strcmp(m->codings[i].code, code) == 0)
            return 1;
    return 0;
}

/* ======================================================================
 * RAS: the three shapes
 * ==================================================================== */

static void test_gene_loinc_coded_present_absent(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "obs-kras-21702-6-present.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], ENG_GENE_MUTANT);
    CU_ASSERT_EQUAL(d.p.genes[ENG_NRAS], ENG_GENE_UNKNOWN);
    CU_ASSERT_EQUAL(d.p.genes[ENG_BRAF], ENG_GENE_UNKNOWN);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_MUTANT);
    CU_ASSERT_EQUAL(d.info.top_type, FHIR_T_OBSERVATION);
    CU_ASSERT_EQUAL(d.info.n_resources, 1);
    doc_free(&d);

    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "obs-kras-21702-6-absent.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], ENG_GENE_WILDTYPE);
    CU_ASSERT_EQUAL(d.p.genes[ENG_NRAS], ENG_GENE_UNKNOWN);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_UNKNOWN); /* NRAS missing */
    /* with an NRAS wild-type variant, RAS is wild-type */
    CU_ASSERT_EQUAL(doc_file(&d, "obs-variant-nras-absent.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_WILDTYPE);
    doc_free(&d);

    /* the other KRAS LOINC codes of terminology 2.1 are read the same way */
    static const char *const kras_codes[] = {"75974-6", "85509-8", "82535-6", NULL};
    for (int i = 0; kras_codes[i]; i++) {
        doc_init(&d);
        CU_ASSERT_EQUAL(read_coded(&d, kras_codes[i], "LA9633-4"), 0);
        CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], ENG_GENE_MUTANT);
        doc_free(&d);
    }
    /* BRAF 53844-7 goes to BRAF, not to RAS */
    doc_init(&d);
    CU_ASSERT_EQUAL(read_coded(&d, "53844-7", "LA9633-4"), 0);
    CU_ASSERT_EQUAL(d.p.genes[ENG_BRAF], ENG_GENE_MUTANT);
    CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], ENG_GENE_UNKNOWN);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_UNKNOWN);
    doc_free(&d);
}

static void test_gene_loinc_text_only(void)
{
    static const struct {
        const char *file;
        enum eng_gene_status want;
    } cases[] = {
        {"obs-kras-text-p-g12d.json", ENG_GENE_MUTANT},
        {"obs-kras-text-no-mutation.json", ENG_GENE_WILDTYPE},
        {"obs-kras-text-wild-type.json", ENG_GENE_WILDTYPE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct doc d;
        doc_init(&d);
        CU_ASSERT_EQUAL(doc_file(&d, cases[i].file, FHIR_FROM_PREFETCH), 0);
        CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], cases[i].want);
        if (d.p.genes[ENG_KRAS] != cases[i].want)
            fprintf(stderr, "\n    %s: KRAS %s, expected %s", cases[i].file,
                    gene_name(d.p.genes[ENG_KRAS]), gene_name(cases[i].want));
        doc_free(&d);
    }
}

static void test_gene_text_without_a_result_is_never_wildtype(void)
{
    /* Lab wording for "no usable result".  Reading any of these as
     * wild-type would make a patient look eligible for anti-EGFR. */
    static const char *const texts[] = {
        "No result: insufficient tumour material",
        "No DNA could be extracted",
        "No amplification",
        "Failed",
        "Test not performed",
        "Indeterminate",
        "Not evaluable",
        "Abnormal",
        NULL};
    int wrong = 0;
    for (int i = 0; texts[i]; i++) {
        struct doc d;
        doc_init(&d);
        char v[256];
        snprintf(v, sizeof v, "\"valueString\": \"%s\"", texts[i]);
        CU_ASSERT_EQUAL(read_observation(&d, LOINC, "21702-6", v), 0);
        if (d.p.genes[ENG_KRAS] == ENG_GENE_WILDTYPE) {
            fprintf(stderr, "\n    \"%s\" read as KRAS wild-type", texts[i]);
            wrong++;
        }
        doc_free(&d);
    }
    CU_ASSERT_EQUAL(wrong, 0);
}

static void test_variant_69548_6_gene_in_component(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "obs-variant-kras-present.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], ENG_GENE_MUTANT);
    CU_ASSERT_EQUAL(d.p.genes[ENG_NRAS], ENG_GENE_UNKNOWN);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_MUTANT);
    doc_free(&d);

    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "obs-variant-nras-absent.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.genes[ENG_NRAS], ENG_GENE_WILDTYPE);
    CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], ENG_GENE_UNKNOWN);
    doc_free(&d);
}

static void test_variant_read_when_component_precedes_value(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "obs-variant-kras-component-first.json",
                             FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.info.top_type, FHIR_T_OBSERVATION);
    CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], ENG_GENE_MUTANT);
    CU_ASSERT_EQUAL(d.p.genes[ENG_NRAS], ENG_GENE_UNKNOWN);
    doc_free(&d);
}

static void test_variant_mislabeled_hgnc_id_sets_no_gene(void)
{
    /* HGNC:6342 is KIT; the display "NRAS" must not win */
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "obs-variant-mislabeled-hgnc.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.genes[ENG_NRAS], ENG_GENE_UNKNOWN);
    CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], ENG_GENE_UNKNOWN);
    CU_ASSERT_EQUAL(d.p.genes[ENG_BRAF], ENG_GENE_UNKNOWN);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_UNKNOWN);
    doc_free(&d);
}

static void test_ras_panel_81420_2(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "obs-ras-panel-81420-2-absent.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_TRUE(d.p.ras_panel);
    CU_ASSERT_EQUAL(d.p.ras_panel_status, ENG_GENE_WILDTYPE);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_WILDTYPE);
    /* a KRAS mutation on top contradicts the panel: unknown */
    CU_ASSERT_EQUAL(doc_file(&d, "obs-kras-21702-6-present.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_UNKNOWN);
    doc_free(&d);

    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "obs-ras-panel-81420-2-present.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_TRUE(d.p.ras_panel);
    CU_ASSERT_EQUAL(d.p.ras_panel_status, ENG_GENE_MUTANT);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_MUTANT);
    doc_free(&d);

    /* a panel without a readable value is no panel */
    doc_init(&d);
    CU_ASSERT_EQUAL(read_observation(&d, LOINC, "81420-2", "\"valueString\": \"pending\""), 0);
    CU_ASSERT_FALSE(d.p.ras_panel);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_UNKNOWN);
    doc_free(&d);
}

/* ======================================================================
 * Bundles and what is ignored
 * ==================================================================== */

static void test_bundle_any_field_order_nested_contained_ignored(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "bundle-mixed-order.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.info.top_type, FHIR_T_BUNDLE);
    unsigned want = FHIR_T_BUNDLE | FHIR_T_PATIENT | FHIR_T_CONDITION | FHIR_T_OBSERVATION;
    CU_ASSERT_EQUAL(d.info.types & want, want);
    CU_ASSERT_EQUAL(d.info.types & FHIR_T_MEDICATION_REQUEST, 0);
    /* Patient with resourceType last; _birthDate's extension ignored */
    CU_ASSERT_PTR_NOT_NULL(d.p.birth_date);
    if (d.p.birth_date)
        CU_ASSERT_STRING_EQUAL(d.p.birth_date, "1961-03-09");
    /* Condition with resourceType last */
    CU_ASSERT_EQUAL(d.p.cancers, ENG_CANCER_COLORECTAL);
    /* refuted liver metastasis and contained bone metastasis: not read */
    CU_ASSERT_EQUAL(d.p.metastatic, 0);
    CU_ASSERT_EQUAL(d.p.met_sites, 0);
    /* KRAS: the entered-in-error "Present" is ignored (no conflict), the
     * nested Bundle's "Absent" is read; NRAS from the nested variant */
    CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], ENG_GENE_WILDTYPE);
    CU_ASSERT_EQUAL(d.p.genes[ENG_NRAS], ENG_GENE_WILDTYPE);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_WILDTYPE);
    /* contained BRAF observation: not read; its container is */
    CU_ASSERT_EQUAL(d.p.genes[ENG_BRAF], ENG_GENE_UNKNOWN);
    CU_ASSERT_EQUAL(d.p.ecog, 1);
    doc_free(&d);
}

static void test_birthdate_primitive_extension_ignored(void)
{
    struct doc d;
    doc_init(&d); /* only the extension: no birth date */
    CU_ASSERT_EQUAL(doc_read(&d,
        "{\"resourceType\": \"Patient\", \"id\": \"p\", \"_birthDate\": {\"extension\": "
        "[{\"url\": \"http://hl7.org/fhir/StructureDefinition/data-absent-reason\","
        " \"valueCode\": \"unknown\"}]}}", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_PTR_NULL(d.p.birth_date);
    CU_ASSERT_EQUAL(d.info.top_type, FHIR_T_PATIENT);
    doc_free(&d);

    doc_init(&d); /* extension before the value */
    CU_ASSERT_EQUAL(doc_read(&d,
        "{\"_birthDate\": {\"id\": \"x\", \"extension\": [{\"url\": "
        "\"http://hl7.org/fhir/StructureDefinition/patient-birthTime\","
        " \"valueDateTime\": \"1944-02-01T10:00:00Z\"}]},"
        " \"birthDate\": \"1944-02-01\", \"resourceType\": \"Patient\"}",
        FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_PTR_NOT_NULL(d.p.birth_date);
    if (d.p.birth_date)
        CU_ASSERT_STRING_EQUAL(d.p.birth_date, "1944-02-01");
    doc_free(&d);
}

static void test_voided_observation_and_condition_ignored(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_read(&d,
        "{\"resourceType\": \"Observation\", \"status\": \"entered-in-error\","
        " \"code\": {\"coding\": [{\"system\": \"" LOINC "\", \"code\": \"89247-1\"}]},"
        " \"valueInteger\": 3}", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.ecog, -1);
    CU_ASSERT_EQUAL(doc_read(&d,
        "{\"resourceType\": \"Observation\", \"status\": \"cancelled\","
        " \"code\": {\"coding\": [{\"system\": \"" LOINC "\", \"code\": \"21702-6\"}]},"
        " \"valueString\": \"KRAS p.G12V\"}", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], ENG_GENE_UNKNOWN);
    static const char *const void_status[] = {"refuted", "entered-in-error", NULL};
    for (int i = 0; void_status[i]; i++) {
        struct str b = {0};
        s_printf(&b,
                 "{\"resourceType\": \"Condition\", \"verificationStatus\": {\"coding\":"
                 " [{\"system\": \"http://terminology.hl7.org/CodeSystem/condition-ver-status\","
                 " \"code\": \"%s\"}]}, \"code\": {\"coding\": [{\"system\": \"" SNOMED
                 "\", \"code\": \"363406005\"}, {\"system\": \"" SNOMED
                 "\", \"code\": \"94381002\"}]}}",
                 void_status[i]);
        CU_ASSERT_EQUAL(doc_read(&d, b.s, FHIR_FROM_PREFETCH), 0);
        free(b.s);
    }
    CU_ASSERT_EQUAL(d.p.cancers, 0);
    CU_ASSERT_EQUAL(d.p.metastatic, 0);
    CU_ASSERT_EQUAL(d.p.met_sites, 0);
    doc_free(&d);
}

static void test_contradicting_kras_results_conflict_ras_unknown(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "bundle-kras-contradicting.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.genes[ENG_KRAS], ENG_GENE_CONFLICT);
    CU_ASSERT_EQUAL(d.p.genes[ENG_NRAS], ENG_GENE_WILDTYPE);
    CU_ASSERT_EQUAL(eng_patient_ras(&d.p), ENG_GENE_UNKNOWN);
    CU_ASSERT_EQUAL(d.info.n_resources, 4); /* the Bundle and its three entries */
    doc_free(&d);
}

/* ======================================================================
 * Conditions
 * ==================================================================== */

static void test_conditions_colorectal(void)
{
    static const struct { const char *system, *code; } crc[] = {
        {SNOMED, "363406005"}, {ICD10, "C18.7"}, {ICD10CM, "C20"},
        {SNOMED, "93984006"}, {ICD10, "C19"}, {ICD10CM, "C18.9"},
    };
    for (size_t i = 0; i < sizeof crc / sizeof crc[0]; i++) {
        struct doc d;
        doc_init(&d);
        CU_ASSERT_EQUAL(read_condition(&d, crc[i].system, crc[i].code, NULL), 0);
        CU_ASSERT_EQUAL(d.p.cancers, ENG_CANCER_COLORECTAL);
        CU_ASSERT_EQUAL(d.p.metastatic, 0);
        CU_ASSERT_EQUAL(d.p.met_sites, 0);
        if (d.p.cancers != ENG_CANCER_COLORECTAL)
            fprintf(stderr, "\n    %s %s not read as colorectal", crc[i].system, crc[i].code);
        CU_ASSERT_EQUAL(d.info.top_type, FHIR_T_CONDITION);
        doc_free(&d);
    }
}

static void test_conditions_liver_metastasis(void)
{
    static const struct { const char *system, *code, *body; } liver[] = {
        {SNOMED, "94381002", NULL},
        {ICD10, "C78.7", NULL},
        {ICD10CM, "C78.7", NULL},
        {SNOMED, "128462008", "10200004"}, /* secondary neoplasm + liver structure */
    };
    for (size_t i = 0; i < sizeof liver / sizeof liver[0]; i++) {
        struct doc d;
        doc_init(&d);
        CU_ASSERT_EQUAL(read_condition(&d, liver[i].system, liver[i].code, liver[i].body), 0);
        CU_ASSERT_EQUAL(d.p.metastatic, 1);
        CU_ASSERT_TRUE(d.p.met_sites & ENG_SITE_LIVER);
        CU_ASSERT_EQUAL(d.p.met_sites & ENG_SITE_BONE, 0);
        CU_ASSERT_EQUAL(d.p.cancers, 0); /* a metastasis names no primary */
        if (!(d.p.met_sites & ENG_SITE_LIVER))
            fprintf(stderr, "\n    %s %s not read as liver", liver[i].system, liver[i].code);
        doc_free(&d);
    }
    /* 94222008 is bone, not liver (terminology 2.2 warns about this) */
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(read_condition(&d, SNOMED, "94222008", NULL), 0);
    CU_ASSERT_EQUAL(d.p.metastatic, 1);
    CU_ASSERT_TRUE(d.p.met_sites & ENG_SITE_BONE);
    CU_ASSERT_EQUAL(d.p.met_sites & ENG_SITE_LIVER, 0);
    doc_free(&d);
    /* 128462008 without a bodySite: metastatic, site other */
    doc_init(&d);
    CU_ASSERT_EQUAL(read_condition(&d, SNOMED, "128462008", NULL), 0);
    CU_ASSERT_EQUAL(d.p.metastatic, 1);
    CU_ASSERT_EQUAL(d.p.met_sites & ENG_SITE_LIVER, 0);
    CU_ASSERT_TRUE(d.p.met_sites & ENG_SITE_OTHER);
    doc_free(&d);
}

static void test_conditions_unrelated_code_sets_nothing(void)
{
    static const struct { const char *system, *code; } other[] = {
        {SNOMED, "38341003"},   /* hypertension */
        {ICD10, "I10"},
        {ICD10, "D12.6"},       /* benign neoplasm of colon */
        {"http://example.org/local", "C18.7"}, /* right code, unknown system */
        {ICD10, "363406005"},   /* SNOMED code under the ICD system */
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        struct doc d;
        doc_init(&d);
        CU_ASSERT_EQUAL(read_condition(&d, other[i].system, other[i].code, NULL), 0);
        CU_ASSERT_EQUAL(d.p.cancers, 0);
        CU_ASSERT_EQUAL(d.p.metastatic, 0);
        CU_ASSERT_EQUAL(d.p.met_sites, 0);
        doc_free(&d);
    }
}

/* ======================================================================
 * MSI/MMR, ECOG, ESMO group
 * ==================================================================== */

static void test_msi_81695_9(void)
{
    static const struct { const char *answer; enum eng_mmr_status want; } cases[] = {
        {"LA26203-2", ENG_MMR_DEFICIENT},  /* MSI-H */
        {"LA14122-8", ENG_MMR_PROFICIENT}, /* MSS */
        {"LA26202-4", ENG_MMR_UNKNOWN},    /* MSI-L: not a dMMR/pMMR result */
        {"LA11884-6", ENG_MMR_UNKNOWN},    /* indeterminate */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct doc d;
        doc_init(&d);
        CU_ASSERT_EQUAL(read_coded(&d, "81695-9", cases[i].answer), 0);
        CU_ASSERT_EQUAL(d.p.mmr, cases[i].want);
        doc_free(&d);
    }
    /* MSI-H after MSS: conflict */
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(read_coded(&d, "81695-9", "LA14122-8"), 0);
    CU_ASSERT_EQUAL(read_coded(&d, "81695-9", "LA26203-2"), 0);
    CU_ASSERT_EQUAL(d.p.mmr, ENG_MMR_CONFLICT);
    doc_free(&d);
}

static void test_mmr_ihc_four_intact_proficient_one_lost_deficient(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "bundle-mmr-ihc-four-intact.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.mmr, ENG_MMR_PROFICIENT);
    doc_free(&d);

    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "bundle-mmr-ihc-pms2-lost.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.mmr, ENG_MMR_DEFICIENT);
    doc_free(&d);

    /* three of four proteins intact prove nothing */
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "bundle-mmr-ihc-three-intact.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.mmr, ENG_MMR_UNKNOWN);
    doc_free(&d);
}

static void test_ecog_from_integer_and_answer_code(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(read_observation(&d, LOINC, "89247-1", "\"valueInteger\": 2"), 0);
    CU_ASSERT_EQUAL(d.p.ecog, 2);
    doc_free(&d);

    doc_init(&d);
    CU_ASSERT_EQUAL(read_coded(&d, "89247-1", "LA9624-3"), 0);
    CU_ASSERT_EQUAL(d.p.ecog, 2);
    doc_free(&d);

    doc_init(&d);
    CU_ASSERT_EQUAL(read_coded(&d, "89247-1", "LA9622-7"), 0);
    CU_ASSERT_EQUAL(d.p.ecog, 0);
    doc_free(&d);

    /* out of range and unreadable values leave ECOG unknown */
    static const char *const bad[] = {"\"valueInteger\": 9", "\"valueInteger\": -1",
                                      "\"valueString\": \"2\"", NULL};
    for (int i = 0; bad[i]; i++) {
        doc_init(&d);
        CU_ASSERT_EQUAL(read_observation(&d, LOINC, "89247-1", bad[i]), 0);
        CU_ASSERT_EQUAL(d.p.ecog, -1);
        doc_free(&d);
    }
    /* an integer under another code is not ECOG */
    doc_init(&d);
    CU_ASSERT_EQUAL(read_observation(&d, LOINC, "89243-0", "\"valueInteger\": 2"), 0);
    CU_ASSERT_EQUAL(d.p.ecog, -1);
    doc_free(&d);
}

static void test_esmo_group_from_oncocds_fact(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(read_observation(&d, "urn:oncocds:fact", "esmo-group",
                                     "\"valueInteger\": 2"), 0);
    CU_ASSERT_EQUAL(d.p.esmo_group, 2);
    doc_free(&d);

    doc_init(&d);
    CU_ASSERT_EQUAL(read_observation(&d, "urn:oncocds:fact", "esmo-group",
                                     "\"valueInteger\": 0"), 0);
    CU_ASSERT_EQUAL(d.p.esmo_group, 0);
    doc_free(&d);

    doc_init(&d); /* out of range */
    CU_ASSERT_EQUAL(read_observation(&d, "urn:oncocds:fact", "esmo-group",
                                     "\"valueInteger\": 7"), 0);
    CU_ASSERT_EQUAL(d.p.esmo_group, -1);
    doc_free(&d);

    doc_init(&d); /* the code under another system */
    CU_ASSERT_EQUAL(read_observation(&d, LOINC, "esmo-group", "\"valueInteger\": 2"), 0);
    CU_ASSERT_EQUAL(d.p.esmo_group, -1);
    doc_free(&d);
}

/* ======================================================================
 * Medications
 * ==================================================================== */

static void test_medication_statement_is_history_with_codings(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "bundle-medication-statements.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_TRUE(d.p.medications_known);
    CU_ASSERT_EQUAL(d.p.n_meds, 1); /* the entered-in-error one is skipped */
    CU_ASSERT_TRUE(d.info.types & FHIR_T_MEDICATION_STATEMENT);
    const struct eng_med *m = d.p.meds;
    CU_ASSERT_PTR_NOT_NULL(m);
    if (m) {
        CU_ASSERT_PTR_NULL(m->next);
        CU_ASSERT_FALSE(m->is_draft_order);
        CU_ASSERT_FALSE(m->is_selected);
        CU_ASSERT_PTR_NULL(m->ref);
        CU_ASSERT_EQUAL(m->n_codings, 2);
        CU_ASSERT_TRUE(med_has_coding(m, RXNORM, "318341"));
        CU_ASSERT_TRUE(med_has_coding(m, ATC, "L01FE01"));
        CU_ASSERT_FALSE(med_has_coding(m, RXNORM, "263034"));
        int display = 0;
        for (int i = 0; i < m->n_codings; i++)
            display += m->codings[i].display && strcmp(m->codings[i].display, "cetuximab") == 0;
        CU_ASSERT_EQUAL(display, 1);
        CU_ASSERT_PTR_NOT_NULL(m->text);
        if (m->text)
            CU_ASSERT_STRING_EQUAL(m->text, "Erbitux 5 mg/mL infusion");
        CU_ASSERT_PTR_NOT_NULL(m->status);
        if (m->status)
            CU_ASSERT_STRING_EQUAL(m->status, "completed");
    }
    doc_free(&d);
}

static void test_draft_order_medication_requests(void)
{
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "bundle-draft-orders.json", FHIR_FROM_DRAFT_ORDERS), 0);
    CU_ASSERT_EQUAL(d.p.n_meds, 2); /* entered-in-error and ServiceRequest skipped */
    CU_ASSERT_FALSE(d.p.medications_known); /* orders are not history */
    int drafts = 0;
    for (const struct eng_med *m = d.p.meds; m; m = m->next) {
        drafts += m->is_draft_order;
        CU_ASSERT_FALSE(m->is_selected); /* selection is the CDS layer's job */
    }
    CU_ASSERT_EQUAL(drafts, 2);
    CU_ASSERT_TRUE(med_has_ref(&d.p, "MedicationRequest/mr-1"));
    CU_ASSERT_TRUE(med_has_ref(&d.p, "MedicationRequest/mr-2"));
    CU_ASSERT_FALSE(med_has_ref(&d.p, "MedicationRequest/mr-eie"));
    CU_ASSERT_FALSE(med_has_ref(&d.p, "MedicationRequest/not-the-request-id"));
    for (const struct eng_med *m = d.p.meds; m; m = m->next)
        if (m->ref && strcmp(m->ref, "MedicationRequest/mr-1") == 0) {
            CU_ASSERT_TRUE(med_has_coding(m, RXNORM, "318341"));
            CU_ASSERT_PTR_NOT_NULL(m->text);
            if (m->text)
                CU_ASSERT_STRING_EQUAL(m->text, "Cetuximab 500 mg/m2 IV");
        }
    doc_free(&d);

    /* the same requests read as prefetch are history, not orders */
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_file(&d, "bundle-draft-orders.json", FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.p.n_meds, 2);
    CU_ASSERT_TRUE(d.p.medications_known);
    for (const struct eng_med *m = d.p.meds; m; m = m->next)
        CU_ASSERT_FALSE(m->is_draft_order);
    doc_free(&d);
}

/* ======================================================================
 * Hostile input
 * ==================================================================== */

static void expect_refused(struct doc *d, const char *what)
{
    CU_ASSERT_EQUAL(d->rc, -1);
    CU_ASSERT_NOT_EQUAL(d->err.code, ENG_OK);
    CU_ASSERT_NOT_EQUAL(d->err.msg[0], '\0');
    if (d->rc != -1)
        fprintf(stderr, "\n    %s was accepted", what);
}

static void test_hostile_deep_nesting_refused(void)
{
    enum { DEEP = 100000 };
    struct str b = {0};
    s_adds(&b, "{\"resourceType\": \"Observation\", \"extension\": ");
    s_fill(&b, '[', DEEP);
    s_fill(&b, ']', DEEP);
    s_adds(&b, "}");
    struct doc d;
    doc_init(&d);
    doc_read_n(&d, b.s, b.len, FHIR_FROM_PREFETCH);
    expect_refused(&d, "100,000 nested arrays");
    CU_ASSERT_TRUE(d.err.code == ENG_ERR_TOO_LARGE || d.err.code == ENG_ERR_SYNTAX);
    doc_free(&d);
    free(b.s);

    memset(&b, 0, sizeof b);
    s_rep(&b, "{\"a\": ", DEEP);
    s_adds(&b, "1");
    s_fill(&b, '}', DEEP);
    doc_init(&d);
    doc_read_n(&d, b.s, b.len, FHIR_FROM_PREFETCH);
    expect_refused(&d, "100,000 nested maps");
    CU_ASSERT_TRUE(d.err.code == ENG_ERR_TOO_LARGE || d.err.code == ENG_ERR_SYNTAX);
    doc_free(&d);
    free(b.s);

    /* unbalanced: deep and never closed */
    memset(&b, 0, sizeof b);
    s_adds(&b, "{\"x\": ");
    s_fill(&b, '[', DEEP);
    doc_init(&d);
    doc_read_n(&d, b.s, b.len, FHIR_FROM_PREFETCH);
    expect_refused(&d, "100,000 unclosed arrays");
    doc_free(&d);
    free(b.s);
}

static void test_hostile_nesting_limit_boundary(void)
{
    /* the root map plus ENG_LIMIT_JSON_DEPTH - 1 arrays is the deepest
     * accepted; one more level is refused */
    for (int extra = 0; extra <= 1; extra++) {
        int arrays = ENG_LIMIT_JSON_DEPTH - 1 + extra;
        struct str b = {0};
        s_adds(&b, "{\"extension\": ");
        s_fill(&b, '[', (size_t)arrays);
        s_fill(&b, ']', (size_t)arrays);
        s_adds(&b, ", \"resourceType\": \"Patient\", \"birthDate\": \"1950-01-01\"}");
        struct doc d;
        doc_init(&d);
        doc_read_n(&d, b.s, b.len, FHIR_FROM_PREFETCH);
        if (extra == 0) {
            CU_ASSERT_EQUAL(d.rc, 0);
            CU_ASSERT_PTR_NOT_NULL(d.p.birth_date);
        } else {
            expect_refused(&d, "one level past ENG_LIMIT_JSON_DEPTH");
            CU_ASSERT_EQUAL(d.err.code, ENG_ERR_TOO_LARGE);
        }
        doc_free(&d);
        free(b.s);
    }
}

static void test_hostile_non_object_top_level_refused(void)
{
    static const char *const bad[] = {
        "[{\"resourceType\": \"Patient\", \"birthDate\": \"1950-01-01\"}]",
        "[]",
        "\"Patient\"",
        "42",
        "true",
        "null",
        "",
        "   ",
        NULL};
    for (int i = 0; bad[i]; i++) {
        struct doc d;
        doc_init(&d);
        doc_read(&d, bad[i], FHIR_FROM_PREFETCH);
        expect_refused(&d, bad[i]);
        CU_ASSERT_PTR_NULL(d.p.birth_date);
        doc_free(&d);
    }
}

static void test_hostile_truncated_and_trailing_json_refused(void)
{
    static const char *const bad[] = {
        "{\"resourceType\": \"Patient\", \"birthDate\": \"19",
        "{\"resourceType\": \"Patient\", \"birthDate\": \"1950-01-01\"",
        "{\"resourceType\": \"Patient\", \"birthDate\": ",
        "{\"resourceType\": \"Patient\",}",
        "{\"resourceType\": \"Patient\"} {\"resourceType\": \"Patient\"}",
        "{\"resourceType\": \"Patient\"} x",
        "{\"resourceType\" \"Patient\"}",
        "{'resourceType': 'Patient'}",
        NULL};
    for (int i = 0; bad[i]; i++) {
        struct doc d;
        doc_init(&d);
        doc_read(&d, bad[i], FHIR_FROM_PREFETCH);
        expect_refused(&d, bad[i]);
        doc_free(&d);
    }
}

static void test_hostile_invalid_utf8_refused(void)
{
    static const char *const bad[] = {
        /* in a kept string */
        "{\"resourceType\": \"Patient\", \"id\": \"p\xff\xfe\"}",
        "{\"resourceType\": \"Observation\", \"valueString\": \"KRAS \xc3\"}",
        /* in a string that is skipped */
        "{\"resourceType\": \"Patient\", \"text\": {\"div\": \"<div>\xfe</div>\"}}",
        /* in a key */
        "{\"resourceType\": \"Patient\", \"na\x80me\": 1}",
        NULL};
    for (int i = 0; bad[i]; i++) {
        struct doc d;
        doc_init(&d);
        doc_read(&d, bad[i], FHIR_FROM_PREFETCH);
        char what[64];
        snprintf(what, sizeof what, "invalid UTF-8 case %d", i);
        expect_refused(&d, what);
        doc_free(&d);
    }
}

static void test_hostile_surrogates_and_overlongs_in_kept_strings_refused(void)
{
    /* Strings the reader keeps can reach a card (an order's text is named
     * in the detail), so they must be valid UTF-8 in the strict sense:
     * no UTF-16 surrogates, no overlong forms. */
    static const char *const bad[] = {
        "{\"resourceType\": \"Patient\", \"id\": \"p\xed\xa0\x80\"}",
        "{\"resourceType\": \"Observation\", \"valueString\": \"KRAS \xc0\xaf\"}",
        "{\"resourceType\": \"MedicationRequest\", \"medicationCodeableConcept\":"
        " {\"text\": \"Cetuximab \xe0\x80\xaf\"}}",
        "{\"resourceType\": \"Condition\", \"code\": {\"coding\": [{\"system\": \""
        SNOMED "\", \"code\": \"363406005\", \"display\": \"x\xf4\x90\x80\x80\"}]}}",
        NULL};
    for (int i = 0; bad[i]; i++) {
        struct doc d;
        doc_init(&d);
        doc_read(&d, bad[i], FHIR_FROM_PREFETCH);
        char what[64];
        snprintf(what, sizeof what, "strict UTF-8 case %d", i);
        expect_refused(&d, what);
        doc_free(&d);
    }
}

/* A resource with `n` codings in code.coding. */
static char *many_codings(int n, size_t *len)
{
    struct str b = {0};
    s_adds(&b, "{\"resourceType\": \"Observation\", \"status\": \"final\", \"code\": {\"coding\": [");
    for (int i = 0; i < n; i++)
        s_printf(&b, "%s{\"system\": \"urn:x\", \"code\": \"c%d\"}", i ? ", " : "", i);
    s_adds(&b, "]}, \"valueInteger\": 1}");
    *len = b.len;
    return b.s;
}

static void test_hostile_too_many_codings_refused(void)
{
    size_t len;
    char *json = many_codings(ENG_LIMIT_CODINGS_PER_RESOURCE + 1, &len);
    struct doc d;
    doc_init(&d);
    doc_read_n(&d, json, len, FHIR_FROM_PREFETCH);
    expect_refused(&d, "too many codings");
    CU_ASSERT_EQUAL(d.err.code, ENG_ERR_TOO_LARGE);
    doc_free(&d);
    free(json);

    /* exactly the limit is fine */
    json = many_codings(ENG_LIMIT_CODINGS_PER_RESOURCE, &len);
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_read_n(&d, json, len, FHIR_FROM_PREFETCH), 0);
    doc_free(&d);
    free(json);

    /* the limit is per resource: two resources under it each pass */
    struct str b = {0};
    s_adds(&b, "{\"resourceType\": \"Bundle\", \"entry\": [");
    for (int r = 0; r < 2; r++) {
        json = many_codings(ENG_LIMIT_CODINGS_PER_RESOURCE - 10, &len);
        s_printf(&b, "%s{\"resource\": ", r ? ", " : "");
        s_add(&b, json, len);
        s_adds(&b, "}");
        free(json);
    }
    s_adds(&b, "]}");
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_read_n(&d, b.s, b.len, FHIR_FROM_PREFETCH), 0);
    doc_free(&d);
    free(b.s);
}

static void test_hostile_kept_string_over_limit_refused(void)
{
    /* valueString is kept: one byte over the limit is refused */
    struct str b = {0};
    s_adds(&b, "{\"resourceType\": \"Observation\", \"code\": {\"coding\": [{\"system\": \""
               LOINC "\", \"code\": \"21702-6\"}]}, \"valueString\": \"");
    s_fill(&b, 'w', ENG_LIMIT_STRING_BYTES + 1);
    s_adds(&b, "\"}");
    struct doc d;
    doc_init(&d);
    doc_read_n(&d, b.s, b.len, FHIR_FROM_PREFETCH);
    expect_refused(&d, "a kept string over ENG_LIMIT_STRING_BYTES");
    CU_ASSERT_EQUAL(d.err.code, ENG_ERR_TOO_LARGE);
    doc_free(&d);
    free(b.s);

    /* a coding's code is kept too */
    memset(&b, 0, sizeof b);
    s_adds(&b, "{\"resourceType\": \"Condition\", \"code\": {\"coding\": [{\"system\": \""
               SNOMED "\", \"code\": \"");
    s_fill(&b, '1', ENG_LIMIT_STRING_BYTES + 1);
    s_adds(&b, "\"}]}}");
    doc_init(&d);
    doc_read_n(&d, b.s, b.len, FHIR_FROM_PREFETCH);
    expect_refused(&d, "a kept code over ENG_LIMIT_STRING_BYTES");
    doc_free(&d);
    free(b.s);

    /* exactly at the limit is accepted */
    memset(&b, 0, sizeof b);
    s_adds(&b, "{\"resourceType\": \"Observation\", \"valueString\": \"");
    s_fill(&b, 'w', ENG_LIMIT_STRING_BYTES);
    s_adds(&b, "\"}");
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_read_n(&d, b.s, b.len, FHIR_FROM_PREFETCH), 0);
    doc_free(&d);
    free(b.s);
}

static void test_hostile_huge_unkept_string_is_fine(void)
{
    struct str b = {0};
    s_adds(&b, "{\"resourceType\": \"Patient\", \"text\": {\"status\": \"generated\","
               " \"div\": \"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">");
    s_fill(&b, 'n', 1024 * 1024);
    s_adds(&b, "</div>\"}, \"birthDate\": \"1950-01-01\"}");
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_read_n(&d, b.s, b.len, FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_PTR_NOT_NULL(d.p.birth_date);
    if (d.p.birth_date)
        CU_ASSERT_STRING_EQUAL(d.p.birth_date, "1950-01-01");
    /* nothing of the 1 MB was kept */
    CU_ASSERT_TRUE(eng_arena_used(d.a) < 256 * 1024);
    doc_free(&d);
    free(b.s);
}

static void test_hostile_long_key_does_not_hide_later_keys(void)
{
    /* an unknown key longer than any path the reader keeps, followed by
     * the fields that matter */
    struct str b = {0};
    s_adds(&b, "{\"");
    s_fill(&b, 'k', 1000);
    s_adds(&b, "\": {\"a\": 1}, \"resourceType\": \"Patient\", \"birthDate\": \"1950-01-01\"}");
    struct doc d;
    doc_init(&d);
    CU_ASSERT_EQUAL(doc_read_n(&d, b.s, b.len, FHIR_FROM_PREFETCH), 0);
    CU_ASSERT_EQUAL(d.info.top_type, FHIR_T_PATIENT);
    CU_ASSERT_PTR_NOT_NULL(d.p.birth_date);
    doc_free(&d);
    free(b.s);
}

static void test_hostile_too_many_resources_refused(void)
{
    struct str b = {0};
    s_adds(&b, "{\"resourceType\": \"Bundle\", \"entry\": [");
    for (int i = 0; i < ENG_LIMIT_RESOURCES + 1; i++)
        s_adds(&b, i ? ", {\"resource\": {}}" : "{\"resource\": {}}");
    s_adds(&b, "]}");
    struct doc d;
    doc_init(&d);
    doc_read_n(&d, b.s, b.len, FHIR_FROM_PREFETCH);
    expect_refused(&d, "more than ENG_LIMIT_RESOURCES resources");
    CU_ASSERT_EQUAL(d.err.code, ENG_ERR_TOO_LARGE);
    doc_free(&d);
    free(b.s);
}

static void test_hostile_small_arena_fails_cleanly(void)
{
    size_t len;
    char *json = tu_read_source_file(FIXTURES "bundle-mixed-order.json", &len);
    int refused = 0;
    /* every small ceiling either reads the whole bundle or fails with an
     * error; none crashes or leaks */
    for (size_t ceiling = 64; ceiling <= 64 * 1024; ceiling *= 2) {
        struct eng_arena *a = eng_arena_new(ceiling);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        struct eng_patient p;
        struct eng_error err = {0};
        eng_patient_init(&p);
        int rc = fhir_read_json(a, json, len, FHIR_FROM_PREFETCH, &p, NULL, &err);
        if (rc != 0) {
            refused++;
            CU_ASSERT_EQUAL(rc, -1);
            CU_ASSERT_NOT_EQUAL(err.code, ENG_OK);
        }
        CU_ASSERT_TRUE(eng_arena_used(a) <= ceiling);
        eng_arena_free(a);
    }
    CU_ASSERT_TRUE(refused > 0);
    free(json);
}

/* ======================================================================
 * Registration
 * ==================================================================== */

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s;

    s = CU_add_suite("RAS shapes", NULL, NULL);
    TU_ADD(s, "gene-specific LOINC (21702-6 ...) with LA9633-4/LA9634-2 sets KRAS mutant/wild-type", test_gene_loinc_coded_present_absent);
    TU_ADD(s, "gene-specific LOINC text only: 'KRAS p.G12D' mutant, 'No mutation detected' and 'wild type' wild-type", test_gene_loinc_text_only);
    TU_ADD(s, "free text without a result ('No result', 'Failed', 'Abnormal' ...) never reads as wild-type", test_gene_text_without_a_result_is_never_wildtype);
    TU_ADD(s, "69548-6 variant: gene from component 48018-6 (HGNC:6407 KRAS, HGNC:7989 NRAS), Present/Absent", test_variant_69548_6_gene_in_component);
    TU_ADD(s, "69548-6 variant read the same when component precedes valueCodeableConcept", test_variant_read_when_component_precedes_value);
    TU_ADD(s, "mislabeled gene (HGNC:6342 displayed 'NRAS') sets no gene", test_variant_mislabeled_hgnc_id_sets_no_gene);
    TU_ADD(s, "81420-2 KRAS+NRAS panel sets ras_panel; panel wild-type + KRAS mutant is unknown", test_ras_panel_81420_2);

    s = CU_add_suite("bundles", NULL, NULL);
    TU_ADD(s, "Bundle: any field order, nested Bundle read, contained not mapped, voided entries ignored", test_bundle_any_field_order_nested_contained_ignored);
    TU_ADD(s, "_birthDate primitive extension ignored, in either order", test_birthdate_primitive_extension_ignored);
    TU_ADD(s, "entered-in-error/cancelled Observations and refuted/entered-in-error Conditions ignored", test_voided_observation_and_condition_ignored);
    TU_ADD(s, "two contradicting KRAS results: KRAS conflict, RAS unknown", test_contradicting_kras_results_conflict_ras_unknown);

    s = CU_add_suite("conditions", NULL, NULL);
    TU_ADD(s, "SNOMED 363406005, ICD-10 C18.7, ICD-10-CM C20 (and C19, C18.9, 93984006) are colorectal", test_conditions_colorectal);
    TU_ADD(s, "94381002, C78.7 and 128462008 + bodySite 10200004 are liver metastases; 94222008 is bone", test_conditions_liver_metastasis);
    TU_ADD(s, "unrelated codes and right codes under wrong systems set nothing", test_conditions_unrelated_code_sets_nothing);

    s = CU_add_suite("biomarkers and status", NULL, NULL);
    TU_ADD(s, "MSI 81695-9: LA26203-2 dMMR, LA14122-8 pMMR, MSI-L unknown, MSI-H after MSS conflict", test_msi_81695_9);
    TU_ADD(s, "MMR IHC: four intact proficient, PMS2 lost deficient, three intact unknown", test_mmr_ihc_four_intact_proficient_one_lost_deficient);
    TU_ADD(s, "ECOG 89247-1 via valueInteger 2 and via LA9624-3 is 2; out of range unknown", test_ecog_from_integer_and_answer_code);
    TU_ADD(s, "ESMO group from urn:oncocds:fact esmo-group valueInteger; out of range unknown", test_esmo_group_from_oncocds_fact);

    s = CU_add_suite("medications", NULL, NULL);
    TU_ADD(s, "MedicationStatement in prefetch: history med with codings, medications_known; entered-in-error skipped", test_medication_statement_is_history_with_codings);
    TU_ADD(s, "MedicationRequest in draft orders: is_draft_order, ref MedicationRequest/<id>; entered-in-error skipped", test_draft_order_medication_requests);

    s = CU_add_suite("hostile input", NULL, NULL);
    TU_ADD(s, "100,000-deep arrays and maps refused (TOO_LARGE or SYNTAX), no crash", test_hostile_deep_nesting_refused);
    TU_ADD(s, "nesting of exactly ENG_LIMIT_JSON_DEPTH accepted, one more refused", test_hostile_nesting_limit_boundary);
    TU_ADD(s, "array, scalar or empty top-level value refused", test_hostile_non_object_top_level_refused);
    TU_ADD(s, "truncated, malformed and trailing JSON refused", test_hostile_truncated_and_trailing_json_refused);
    TU_ADD(s, "invalid UTF-8 in kept and skipped strings and keys refused", test_hostile_invalid_utf8_refused);
    TU_ADD(s, "surrogates, overlong forms and code points above U+10FFFF in kept strings refused", test_hostile_surrogates_and_overlongs_in_kept_strings_refused);
    TU_ADD(s, "more than ENG_LIMIT_CODINGS_PER_RESOURCE codings refused with a message; the limit itself accepted", test_hostile_too_many_codings_refused);
    TU_ADD(s, "a kept string over ENG_LIMIT_STRING_BYTES refused; at the limit accepted", test_hostile_kept_string_over_limit_refused);
    TU_ADD(s, "a 1 MB text.div (not kept) is read without keeping it", test_hostile_huge_unkept_string_is_fine);
    TU_ADD(s, "a key longer than the path buffer does not hide the keys after it", test_hostile_long_key_does_not_hide_later_keys);
    TU_ADD(s, "more than ENG_LIMIT_RESOURCES resources refused", test_hostile_too_many_resources_refused);
    TU_ADD(s, "small arena ceilings fail cleanly, never pass the ceiling", test_hostile_small_arena_fails_cleanly);

    return tu_run();
}
