/* test_engine.c -- the engine through its public API (engine/base.h,
 * patient.h, rules.h, eval.h): the arena, patient facts, the rule loader's
 * checks, drug classification, evaluation, and one test per recommendation
 * ID of the bundled mCRC rules.
 *
 * Rule texts for the loader tests are built line by line in C so each
 * expected line number is counted by the builder, not by hand.  The
 * evaluation tests use tests/fixtures/engine/eval.rules and drugs-mini.tsv;
 * the mCRC tests load the bundled rules/drugs.tsv and rules/mcrc.rules.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base.h"
#include "engine/eval.h"
#include "engine/limits.h"
#include "engine/patient.h"
#include "engine/rules.h"
#include "tests/testutil.h"

#define RXNORM "http://www.nlm.nih.gov/research/umls/rxnorm"
#define ATC "http://www.whocc.no/atc"
#define TODAY "2024-06-01"

/* ======================================================================
 * Helpers
 * ==================================================================== */

/* A growable text built line by line; `lines` counts the lines added, so
 * the builder knows the number of every line it writes. */
struct text {
    char *s;
    size_t len, cap;
    int lines;
    const char *eol;
};

static void t_init(struct text *t)
{
    memset(t, 0, sizeof *t);
    t->eol = "\n";
}

static void t_raw(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            fprintf(stderr, "out of memory in test\n");
            exit(2);
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

/* Adds one line; returns its line number. */
static int t_line(struct text *t, const char *line)
{
    t_raw(t, line, strlen(line));
    t_raw(t, t->eol, strlen(t->eol));
    return ++t->lines;
}

static int t_linef(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int t_linef(struct text *t, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return t_line(t, buf);
}

static void t_free(struct text *t)
{
    free(t->s);
    t->s = NULL;
}

/* The lines of one valid rule, by key.  %s in the first is the name. */
static const char *const RULE_LINES[] = {
    "id: TEST-1",
    "guideline: test",
    "hooks: patient-view",
    "when: cancer has colorectal",
    "indicator: info",
    "grade: B",
    "source: Test guideline",
    "seed: seed-000.txt",
    "passage: A seed passage line",
    "summary: A short summary",
    "detail: A detail line",
    NULL};

/* Adds a valid rule named `name`.  The line whose key is `key` (e.g.
 * "grade") is replaced by `repl`, or by a blank line when repl is NULL;
 * *repl_line gets that line's number.  Returns the `rule:` line number. */
static int t_rule(struct text *t, const char *name, const char *key,
                  const char *repl, int *repl_line)
{
    int start = t_linef(t, "rule: %s", name);
    for (int i = 0; RULE_LINES[i]; i++) {
        const char *l = RULE_LINES[i];
        size_t kl = key ? strlen(key) : 0;
        if (key && strncmp(l, key, kl) == 0 && l[kl] == ':') {
            int n = t_line(t, repl ? repl : "");
            if (repl_line)
                *repl_line = n;
        } else {
            t_line(t, l);
        }
    }
    return start;
}

static char *read_fixture(const char *path, size_t *len)
{
    return tu_read_source_file(path, len);
}

/* A rule set with a drug table (from a source file) and rule texts;
 * NULL (with the message printed) when loading fails. */
static struct eng_ruleset *load_set(const char *drugs_path,
                                    const char *const *rule_paths)
{
    struct eng_error err = {0};
    struct eng_ruleset *rs = eng_ruleset_new(&err);
    if (!rs)
        return NULL;
    size_t len;
    char *buf = read_fixture(drugs_path, &len);
    int rc = eng_ruleset_add_drugs(rs, drugs_path, buf, len, &err);
    free(buf);
    for (int i = 0; rc == 0 && rule_paths[i]; i++) {
        buf = read_fixture(rule_paths[i], &len);
        rc = eng_ruleset_add_rules(rs, rule_paths[i], buf, len, &err);
        free(buf);
    }
    if (rc == 0)
        rc = eng_ruleset_finish(rs, &err);
    if (rc != 0) {
        fprintf(stderr, "loading rules failed: %s\n", err.msg);
        eng_ruleset_release(rs);
        return NULL;
    }
    return rs;
}

/* A new rule set with the mini drug table loaded from a C string. */
static const char DRUGS_MINI[] =
    "# mini drug table\n"
    "cetuximab\tanti-egfr\trxnorm\t318341\ttest source\n"
    "cetuximab\tanti-egfr\ttext\tcetuximab\ttest source\n"
    "fluorouracil\tfluoropyrimidine,chemotherapy\trxnorm\t4492\ttest source\n";

static struct eng_ruleset *new_set_with_drugs(void)
{
    struct eng_error err = {0};
    struct eng_ruleset *rs = eng_ruleset_new(&err);
    if (!rs)
        return NULL;
    if (eng_ruleset_add_drugs(rs, "drugs.tsv", DRUGS_MINI, strlen(DRUGS_MINI),
                              &err) != 0) {
        fprintf(stderr, "mini drug table failed: %s\n", err.msg);
        eng_ruleset_release(rs);
        return NULL;
    }
    return rs;
}

/* Loads `len` bytes of rule text as "t.rules" and checks it fails with a
 * message that starts exactly "t.rules:LINE: " and contains `needle` (when
 * not NULL). */
static void expect_rules_error_n(const char *text, size_t len, int line,
                                 const char *needle)
{
    struct eng_error err = {0};
    struct eng_ruleset *rs = new_set_with_drugs();
    CU_ASSERT_PTR_NOT_NULL(rs);
    if (!rs)
        return;
    int rc = eng_ruleset_add_rules(rs, "t.rules", text, len, &err);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "t.rules:%d: ", line);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_NOT_EQUAL(err.code, ENG_OK);
    int prefix_ok = strncmp(err.msg, prefix, strlen(prefix)) == 0 &&
                    strlen(err.msg) > strlen(prefix);
    int needle_ok = !needle || strstr(err.msg, needle) != NULL;
    CU_ASSERT_TRUE(prefix_ok);
    CU_ASSERT_TRUE(needle_ok);
    if (rc != -1 || !prefix_ok || !needle_ok)
        fprintf(stderr, "\n    expected \"%s...\"%s%s%s, got rc=%d \"%s\"\n",
                prefix, needle ? " containing \"" : "", needle ? needle : "",
                needle ? "\"" : "", rc, err.msg);
    eng_ruleset_release(rs);
}

static void expect_rules_error(const char *text, int line, const char *needle)
{
    expect_rules_error_n(text, strlen(text), line, needle);
}

/* Loads the text as "t.rules" and checks it is accepted; returns the number
 * of rules of guideline "test" (or -1 on a load failure). */
static int expect_rules_ok(const char *text, size_t len)
{
    struct eng_error err = {0};
    struct eng_ruleset *rs = new_set_with_drugs();
    if (!rs)
        return -1;
    int rc = eng_ruleset_add_rules(rs, "t.rules", text, len, &err);
    if (rc == 0)
        rc = eng_ruleset_finish(rs, &err);
    if (rc != 0)
        fprintf(stderr, "\n    expected the rules to load, got \"%s\"\n", err.msg);
    int n = rc == 0 ? eng_ruleset_count(rs, "test") : -1;
    eng_ruleset_release(rs);
    return n;
}

/* Adds a medication record to the patient (newest first, like the FHIR
 * layer does).  code/system may be NULL. */
static struct eng_med *add_med(struct eng_arena *a, struct eng_patient *p,
                               const char *text, const char *system,
                               const char *code, const char *display, int draft,
                               int selected, const char *ref)
{
    struct eng_med *m = eng_arena_calloc(a, sizeof *m);
    if (!m)
        return NULL;
    m->text = text;
    m->ref = ref;
    m->status = draft ? "draft" : "completed";
    m->is_draft_order = draft;
    m->is_selected = selected;
    if (system || code || display) {
        m->codings = eng_arena_calloc(a, sizeof *m->codings);
        if (!m->codings)
            return NULL;
        m->codings[0] = (struct eng_coding){system, code, display};
        m->n_codings = 1;
    }
    m->next = p->meds;
    p->meds = m;
    p->n_meds++;
    return m;
}

static int evaluate(struct eng_arena *a, const struct eng_ruleset *rs,
                    const char *guideline, const char *hook,
                    const struct eng_patient *p, struct eng_card_list *out)
{
    struct eng_error err = {0};
    struct eng_eval_input in = {
        .rules = rs, .guideline = guideline, .hook = hook, .patient = p,
        .today = TODAY};
    int rc = eng_evaluate(a, &in, out, &err);
    if (rc != 0)
        fprintf(stderr, "eng_evaluate failed: %s\n", err.msg);
    return rc;
}

static int count_cards(const struct eng_card_list *l, const char *rec_id)
{
    int n = 0;
    for (int i = 0; i < l->n; i++)
        n += l->cards[i].rec_id && strcmp(l->cards[i].rec_id, rec_id) == 0;
    return n;
}

static const struct eng_card *find_card(const struct eng_card_list *l,
                                        const char *rec_id)
{
    for (int i = 0; i < l->n; i++)
        if (l->cards[i].rec_id && strcmp(l->cards[i].rec_id, rec_id) == 0)
            return &l->cards[i];
    return NULL;
}

static int has_text(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* ======================================================================
 * Arena, buffer and errors
 * ==================================================================== */

static void test_arena_alignment(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    static const size_t sizes[] = {1, 3, 7, 16, 17, 100, 4000, 5000, 9000,
                                   1, 33, 2 * 1024 * 1024, 2, 65};
    enum { N = sizeof sizes / sizeof sizes[0] };
    unsigned char *ptrs[N];
    for (int i = 0; i < N; i++) {
        ptrs[i] = eng_arena_alloc(a, sizes[i]);
        CU_ASSERT_PTR_NOT_NULL(ptrs[i]);
        if (!ptrs[i])
            continue;
        CU_ASSERT_EQUAL((uintptr_t)ptrs[i] % 16, 0);
        memset(ptrs[i], 0x40 + i, sizes[i]);
    }
    /* No block overlaps another: each still holds its own fill byte. */
    for (int i = 0; i < N; i++) {
        if (!ptrs[i])
            continue;
        int intact = 1;
        for (size_t k = 0; k < sizes[i]; k++)
            intact &= ptrs[i][k] == (unsigned char)(0x40 + i);
        CU_ASSERT_TRUE(intact);
    }
    size_t total = 0;
    for (int i = 0; i < N; i++)
        total += sizes[i];
    CU_ASSERT_TRUE(eng_arena_used(a) >= total);
    eng_arena_free(a);
}

static void test_arena_calloc_zero_fills(void)
{
    struct eng_arena *a = eng_arena_new(1024 * 1024);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    for (size_t n = 1; n < 20000; n = n * 3 + 1) {
        unsigned char *p = eng_arena_calloc(a, n);
        CU_ASSERT_PTR_NOT_NULL(p);
        if (!p)
            break;
        int zero = 1;
        for (size_t k = 0; k < n; k++)
            zero &= p[k] == 0;
        CU_ASSERT_TRUE(zero);
        memset(p, 0xAB, n); /* dirty it for any later reuse */
    }
    eng_arena_free(a);
}

static void test_arena_ceiling_refuses_without_crash(void)
{
    struct eng_arena *a = eng_arena_new(4096);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NULL(eng_arena_alloc(a, 4097));
    CU_ASSERT_PTR_NULL(eng_arena_alloc(a, 100000));
    CU_ASSERT_PTR_NULL(eng_arena_alloc(a, SIZE_MAX));
    CU_ASSERT_PTR_NULL(eng_arena_alloc(a, SIZE_MAX - 8));
    CU_ASSERT_PTR_NULL(eng_arena_calloc(a, SIZE_MAX / 2));
    CU_ASSERT_PTR_NULL(eng_arena_strndup(a, "x", SIZE_MAX));
    /* A refusal leaves the arena usable for what still fits. */
    char *p = eng_arena_alloc(a, 1000);
    CU_ASSERT_PTR_NOT_NULL(p);
    if (p)
        memset(p, 1, 1000);
    /* Ask for more than can remain: refused, and the total never passes
     * the ceiling. */
    CU_ASSERT_PTR_NULL(eng_arena_alloc(a, 3500));
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CU_ASSERT_PTR_NULL(eng_arena_printf(a, "%s", big));
    CU_ASSERT_PTR_NULL(eng_arena_strdup(a, big));
    /* Fill up with small pieces until refused; the count stays bounded. */
    int pieces = 0;
    while (eng_arena_alloc(a, 16) && pieces < 10000)
        pieces++;
    CU_ASSERT_TRUE(pieces < 10000);
    CU_ASSERT_TRUE(eng_arena_used(a) <= 4096);
    CU_ASSERT_PTR_NULL(eng_arena_alloc(a, 1));
    eng_arena_free(a);
    eng_arena_free(NULL); /* accepted */
}

static int cleanup_log[8];
static int cleanup_n;

static void log_cleanup(void *arg)
{
    if (cleanup_n < 8)
        cleanup_log[cleanup_n++] = *(int *)arg;
}

static void test_arena_cleanups_run_in_reverse_order_at_free(void)
{
    static int ids[3] = {1, 2, 3};
    cleanup_n = 0;
    struct eng_arena *a = eng_arena_new(64 * 1024);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(eng_arena_on_free(a, log_cleanup, &ids[i]), 0);
    void *p = eng_arena_alloc(a, 100);
    CU_ASSERT_PTR_NOT_NULL(p);
    CU_ASSERT_EQUAL(cleanup_n, 0); /* nothing runs before the free */
    eng_arena_free(a);
    CU_ASSERT_EQUAL(cleanup_n, 3);
    CU_ASSERT_EQUAL(cleanup_log[0], 3);
    CU_ASSERT_EQUAL(cleanup_log[1], 2);
    CU_ASSERT_EQUAL(cleanup_log[2], 1);
}

static void test_arena_on_free_refused_at_ceiling_runs_nothing(void)
{
    static int id = 9;
    cleanup_n = 0;
    struct eng_arena *a = eng_arena_new(8); /* too small for any record */
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(eng_arena_on_free(a, log_cleanup, &id), -1);
    eng_arena_free(a);
    CU_ASSERT_EQUAL(cleanup_n, 0);
}

static void test_arena_strndup_strdup_printf(void)
{
    struct eng_arena *a = eng_arena_new(1024 * 1024);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    const char *src = "hello world";
    char *s = eng_arena_strndup(a, src, 5);
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s) {
        CU_ASSERT_STRING_EQUAL(s, "hello");
        CU_ASSERT_PTR_NOT_EQUAL(s, src);
    }
    char *e = eng_arena_strndup(a, src, 0);
    CU_ASSERT_PTR_NOT_NULL(e);
    if (e)
        CU_ASSERT_STRING_EQUAL(e, "");
    /* len bytes are copied even across an embedded NUL */
    char *z = eng_arena_strndup(a, "ab\0cd", 5);
    CU_ASSERT_PTR_NOT_NULL(z);
    if (z) {
        CU_ASSERT_EQUAL(memcmp(z, "ab\0cd", 5), 0);
        CU_ASSERT_EQUAL(z[5], '\0');
    }
    char *d = eng_arena_strdup(a, src);
    CU_ASSERT_PTR_NOT_NULL(d);
    if (d) {
        CU_ASSERT_STRING_EQUAL(d, src);
        CU_ASSERT_PTR_NOT_EQUAL(d, src);
    }
    CU_ASSERT_PTR_NULL(eng_arena_strdup(a, NULL));
    char *f = eng_arena_printf(a, "%s/%d-%c", "MedicationRequest", 42, 'x');
    CU_ASSERT_PTR_NOT_NULL(f);
    if (f)
        CU_ASSERT_STRING_EQUAL(f, "MedicationRequest/42-x");
    /* A printf result longer than the first chunk. */
    char *big = eng_arena_printf(a, "%09000d|", 7);
    CU_ASSERT_PTR_NOT_NULL(big);
    if (big) {
        CU_ASSERT_EQUAL(strlen(big), 9001);
        CU_ASSERT_EQUAL(big[8999], '7');
        CU_ASSERT_EQUAL(big[9000], '|');
    }
    eng_arena_free(a);
}

static void test_buf_appends_and_printf(void)
{
    struct eng_arena *a = eng_arena_new(1024 * 1024);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    struct eng_buf b;
    eng_buf_init(&b, a, 100000);
    eng_buf_adds(&b, "card");
    eng_buf_add(&b, ": xyz", 1); /* only the colon */
    eng_buf_printf(&b, " %d/%s", 3, "4");
    CU_ASSERT_FALSE(b.failed);
    CU_ASSERT_PTR_NOT_NULL(b.data);
    if (b.data)
        CU_ASSERT_STRING_EQUAL(b.data, "card: 3/4");
    CU_ASSERT_EQUAL(b.len, strlen("card: 3/4"));
    /* Growing far past the first capacity keeps every byte. */
    for (int i = 0; i < 2000; i++)
        eng_buf_printf(&b, "%04d", i);
    CU_ASSERT_FALSE(b.failed);
    CU_ASSERT_EQUAL(b.len, strlen("card: 3/4") + 2000 * 4);
    if (b.data && !b.failed)
        CU_ASSERT_EQUAL(memcmp(b.data + b.len - 4, "1999", 4), 0);
    eng_arena_free(a);
}

static void test_buf_failure_is_sticky_past_its_ceiling(void)
{
    struct eng_arena *a = eng_arena_new(1024 * 1024);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    struct eng_buf b;
    eng_buf_init(&b, a, 10);
    eng_buf_adds(&b, "12345");
    eng_buf_adds(&b, "67890"); /* exactly at the ceiling: allowed */
    CU_ASSERT_FALSE(b.failed);
    CU_ASSERT_EQUAL(b.len, 10);
    eng_buf_adds(&b, "x"); /* one past: fails */
    CU_ASSERT_TRUE(b.failed);
    CU_ASSERT_TRUE(b.len <= 10);
    size_t len = b.len;
    eng_buf_adds(&b, "");
    eng_buf_printf(&b, "%s", "");
    eng_buf_add(&b, "y", 1);
    CU_ASSERT_TRUE(b.failed); /* stays failed, even for empty appends */
    CU_ASSERT_EQUAL(b.len, len);

    /* The arena's ceiling fails the buffer the same way. */
    struct eng_arena *small = eng_arena_new(512);
    CU_ASSERT_PTR_NOT_NULL_FATAL(small);
    struct eng_buf c;
    eng_buf_init(&c, small, 1024 * 1024);
    char chunk[300];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 10; i++)
        eng_buf_add(&c, chunk, sizeof chunk);
    CU_ASSERT_TRUE(c.failed);
    CU_ASSERT_TRUE(c.len < 10 * sizeof chunk);
    eng_buf_adds(&c, "a");
    CU_ASSERT_TRUE(c.failed);
    eng_arena_free(small);
    eng_arena_free(a);
}

static void test_error_set_fills_and_returns_minus_one(void)
{
    struct eng_error err;
    eng_error_clear(&err);
    CU_ASSERT_EQUAL(err.code, ENG_OK);
    CU_ASSERT_STRING_EQUAL(err.msg, "");
    CU_ASSERT_EQUAL(eng_error_set(&err, ENG_ERR_INVALID, 400, "bad %s %d", "x", 7), -1);
    CU_ASSERT_EQUAL(err.code, ENG_ERR_INVALID);
    CU_ASSERT_EQUAL(err.http_status, 400);
    CU_ASSERT_STRING_EQUAL(err.msg, "bad x 7");
    CU_ASSERT_EQUAL(eng_error_set(NULL, ENG_ERR_IO, 0, "ignored"), -1);
    char longmsg[1000];
    memset(longmsg, 'm', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    CU_ASSERT_EQUAL(eng_error_set(&err, ENG_ERR_IO, 0, "%s", longmsg), -1);
    CU_ASSERT_EQUAL(strlen(err.msg), sizeof err.msg - 1); /* truncated, terminated */
    eng_error_clear(&err);
    CU_ASSERT_EQUAL(err.code, ENG_OK);
    CU_ASSERT_EQUAL(err.http_status, 0);
    CU_ASSERT_STRING_EQUAL(err.msg, "");
}

/* ======================================================================
 * Patient facts
 * ==================================================================== */

static const char *gene_name(enum eng_gene_status s)
{
    static const char *const n[] = {"unknown", "wildtype", "mutant", "conflict"};
    return (unsigned)s < 4 ? n[s] : "?";
}

/* The RAS rule as patient.h states it: mutant when either gene is mutant,
 * wild-type when both are wild-type, unknown otherwise; a conflict counts
 * as unknown. */
static enum eng_gene_status expected_ras(enum eng_gene_status k,
                                         enum eng_gene_status n)
{
    if (k == ENG_GENE_MUTANT || n == ENG_GENE_MUTANT)
        return ENG_GENE_MUTANT;
    if (k == ENG_GENE_WILDTYPE && n == ENG_GENE_WILDTYPE)
        return ENG_GENE_WILDTYPE;
    return ENG_GENE_UNKNOWN;
}

static void test_patient_init_sets_everything_unknown(void)
{
    struct eng_patient p;
    memset(&p, 0x5A, sizeof p);
    eng_patient_init(&p);
    CU_ASSERT_PTR_NULL(p.birth_date);
    CU_ASSERT_EQUAL(p.cancers, 0);
    CU_ASSERT_EQUAL(p.metastatic, 0);
    CU_ASSERT_EQUAL(p.met_sites, 0);
    for (int g = 0; g < ENG_GENE_COUNT; g++)
        CU_ASSERT_EQUAL(p.genes[g], ENG_GENE_UNKNOWN);
    CU_ASSERT_EQUAL(p.ras_panel, 0);
    CU_ASSERT_EQUAL(p.mmr, ENG_MMR_UNKNOWN);
    CU_ASSERT_EQUAL(p.ecog, -1);
    CU_ASSERT_EQUAL(p.esmo_group, -1);
    CU_ASSERT_EQUAL(p.medications_known, 0);
    CU_ASSERT_PTR_NULL(p.meds);
    CU_ASSERT_EQUAL(p.n_meds, 0);
    CU_ASSERT_EQUAL(eng_patient_ras(&p), ENG_GENE_UNKNOWN);
}

static void test_patient_ras_truth_table_kras_nras(void)
{
    static const enum eng_gene_status all[] = {ENG_GENE_UNKNOWN, ENG_GENE_WILDTYPE,
                                               ENG_GENE_MUTANT, ENG_GENE_CONFLICT};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            struct eng_patient p;
            eng_patient_init(&p);
            p.genes[ENG_KRAS] = all[i];
            p.genes[ENG_NRAS] = all[j];
            enum eng_gene_status got = eng_patient_ras(&p);
            enum eng_gene_status want = expected_ras(all[i], all[j]);
            CU_ASSERT_EQUAL(got, want);
            if (got != want)
                fprintf(stderr, "\n    KRAS %s + NRAS %s: RAS %s, expected %s",
                        gene_name(all[i]), gene_name(all[j]), gene_name(got),
                        gene_name(want));
            /* BRAF never decides RAS */
            p.genes[ENG_BRAF] = ENG_GENE_MUTANT;
            CU_ASSERT_EQUAL(eng_patient_ras(&p), got);
        }
}

static void test_patient_ras_panel(void)
{
    struct eng_patient p;

    eng_patient_init(&p); /* panel wild-type alone decides */
    p.ras_panel = 1;
    p.ras_panel_status = ENG_GENE_WILDTYPE;
    CU_ASSERT_EQUAL(eng_patient_ras(&p), ENG_GENE_WILDTYPE);

    eng_patient_init(&p); /* panel mutant alone decides */
    p.ras_panel = 1;
    p.ras_panel_status = ENG_GENE_MUTANT;
    CU_ASSERT_EQUAL(eng_patient_ras(&p), ENG_GENE_MUTANT);

    eng_patient_init(&p); /* panel wild-type + KRAS mutant: contradiction */
    p.ras_panel = 1;
    p.ras_panel_status = ENG_GENE_WILDTYPE;
    p.genes[ENG_KRAS] = ENG_GENE_MUTANT;
    CU_ASSERT_EQUAL(eng_patient_ras(&p), ENG_GENE_UNKNOWN);

    eng_patient_init(&p); /* panel wild-type + NRAS mutant: contradiction */
    p.ras_panel = 1;
    p.ras_panel_status = ENG_GENE_WILDTYPE;
    p.genes[ENG_NRAS] = ENG_GENE_MUTANT;
    CU_ASSERT_EQUAL(eng_patient_ras(&p), ENG_GENE_UNKNOWN);

    eng_patient_init(&p); /* panel wild-type agrees with KRAS wild-type */
    p.ras_panel = 1;
    p.ras_panel_status = ENG_GENE_WILDTYPE;
    p.genes[ENG_KRAS] = ENG_GENE_WILDTYPE;
    CU_ASSERT_EQUAL(eng_patient_ras(&p), ENG_GENE_WILDTYPE);

    eng_patient_init(&p); /* two panels that disagree */
    p.ras_panel = 1;
    p.ras_panel_status = ENG_GENE_CONFLICT;
    CU_ASSERT_EQUAL(eng_patient_ras(&p), ENG_GENE_UNKNOWN);

    eng_patient_init(&p); /* a status without ras_panel set is not a panel */
    p.ras_panel = 0;
    p.ras_panel_status = ENG_GENE_WILDTYPE;
    CU_ASSERT_EQUAL(eng_patient_ras(&p), ENG_GENE_UNKNOWN);
    p.ras_panel_status = ENG_GENE_MUTANT;
    CU_ASSERT_EQUAL(eng_patient_ras(&p), ENG_GENE_UNKNOWN);

    eng_patient_init(&p); /* KRAS wild-type alone is not RAS wild-type */
    p.genes[ENG_KRAS] = ENG_GENE_WILDTYPE;
    CU_ASSERT_EQUAL(eng_patient_ras(&p), ENG_GENE_UNKNOWN);
}

static void test_patient_set_gene_conflict(void)
{
    struct eng_patient p;
    eng_patient_init(&p);
    eng_patient_set_gene(&p, ENG_KRAS, ENG_GENE_WILDTYPE);
    CU_ASSERT_EQUAL(p.genes[ENG_KRAS], ENG_GENE_WILDTYPE);
    eng_patient_set_gene(&p, ENG_KRAS, ENG_GENE_WILDTYPE); /* agreeing repeat */
    CU_ASSERT_EQUAL(p.genes[ENG_KRAS], ENG_GENE_WILDTYPE);
    eng_patient_set_gene(&p, ENG_KRAS, ENG_GENE_UNKNOWN); /* says nothing */
    CU_ASSERT_EQUAL(p.genes[ENG_KRAS], ENG_GENE_WILDTYPE);
    eng_patient_set_gene(&p, ENG_KRAS, ENG_GENE_MUTANT);
    CU_ASSERT_EQUAL(p.genes[ENG_KRAS], ENG_GENE_CONFLICT);
    eng_patient_set_gene(&p, ENG_KRAS, ENG_GENE_WILDTYPE); /* stays conflict */
    CU_ASSERT_EQUAL(p.genes[ENG_KRAS], ENG_GENE_CONFLICT);
    CU_ASSERT_EQUAL(p.genes[ENG_NRAS], ENG_GENE_UNKNOWN); /* other genes untouched */
    CU_ASSERT_EQUAL(p.genes[ENG_BRAF], ENG_GENE_UNKNOWN);

    eng_patient_set_gene(&p, ENG_NRAS, ENG_GENE_MUTANT);
    CU_ASSERT_EQUAL(p.genes[ENG_NRAS], ENG_GENE_MUTANT);
    eng_patient_set_gene(&p, ENG_GENE_COUNT, ENG_GENE_MUTANT); /* out of range: ignored */
    CU_ASSERT_EQUAL(p.genes[ENG_KRAS], ENG_GENE_CONFLICT);
    CU_ASSERT_EQUAL(p.genes[ENG_NRAS], ENG_GENE_MUTANT);
    CU_ASSERT_EQUAL(p.genes[ENG_BRAF], ENG_GENE_UNKNOWN);
}

static void test_patient_set_mmr_conflict(void)
{
    struct eng_patient p;
    eng_patient_init(&p);
    eng_patient_set_mmr(&p, ENG_MMR_UNKNOWN);
    CU_ASSERT_EQUAL(p.mmr, ENG_MMR_UNKNOWN);
    eng_patient_set_mmr(&p, ENG_MMR_DEFICIENT);
    CU_ASSERT_EQUAL(p.mmr, ENG_MMR_DEFICIENT);
    eng_patient_set_mmr(&p, ENG_MMR_DEFICIENT);
    CU_ASSERT_EQUAL(p.mmr, ENG_MMR_DEFICIENT);
    eng_patient_set_mmr(&p, ENG_MMR_UNKNOWN);
    CU_ASSERT_EQUAL(p.mmr, ENG_MMR_DEFICIENT);
    eng_patient_set_mmr(&p, ENG_MMR_PROFICIENT);
    CU_ASSERT_EQUAL(p.mmr, ENG_MMR_CONFLICT);
    eng_patient_set_mmr(&p, ENG_MMR_DEFICIENT);
    CU_ASSERT_EQUAL(p.mmr, ENG_MMR_CONFLICT);

    eng_patient_init(&p);
    eng_patient_set_mmr(&p, ENG_MMR_PROFICIENT);
    CU_ASSERT_EQUAL(p.mmr, ENG_MMR_PROFICIENT);
}

static int age_of(const char *birth, const char *today)
{
    struct eng_patient p;
    eng_patient_init(&p);
    p.birth_date = birth;
    return eng_patient_age(&p, today);
}

static void test_patient_age(void)
{
    /* full date: the day before, on and after the birthday */
    CU_ASSERT_EQUAL(age_of("1950-06-15", "2020-06-14"), 69);
    CU_ASSERT_EQUAL(age_of("1950-06-15", "2020-06-15"), 70);
    CU_ASSERT_EQUAL(age_of("1950-06-15", "2020-06-16"), 70);
    CU_ASSERT_EQUAL(age_of("1950-06-15", "2020-05-31"), 69);
    CU_ASSERT_EQUAL(age_of("1950-06-15", "2020-12-31"), 70);
    CU_ASSERT_EQUAL(age_of("2000-01-01", "2000-01-01"), 0);
    /* leap-day birth: not yet 24 on 28 February, 24 on 1 March */
    CU_ASSERT_EQUAL(age_of("2000-02-29", "2024-02-28"), 23);
    CU_ASSERT_EQUAL(age_of("2000-02-29", "2024-03-01"), 24);
    /* year only: the lower bound (born as late as 31 December) */
    CU_ASSERT_EQUAL(age_of("1950", "2020-06-15"), 69);
    CU_ASSERT_EQUAL(age_of("1950", "2020-12-31"), 70);
    CU_ASSERT_EQUAL(age_of("1950", "2020-01-01"), 69);
    /* year and month: born as late as the end of that month */
    CU_ASSERT_EQUAL(age_of("1950-06", "2020-06-15"), 69);
    CU_ASSERT_EQUAL(age_of("1950-06", "2020-07-01"), 70);
    /* missing or unreadable */
    CU_ASSERT_EQUAL(age_of(NULL, "2020-06-15"), -1);
    CU_ASSERT_EQUAL(age_of("", "2020-06-15"), -1);
    CU_ASSERT_EQUAL(age_of("garbage", "2020-06-15"), -1);
    CU_ASSERT_EQUAL(age_of("unknown-date", "2020-06-15"), -1);
    CU_ASSERT_EQUAL(age_of("1950-06-15", "garbage"), -1);
    CU_ASSERT_EQUAL(age_of("1950-06-15", NULL), -1);
    CU_ASSERT_EQUAL(age_of("2030-01-01", "2020-06-15"), -1); /* born in the future */
}

/* ======================================================================
 * Rule loader errors
 * ==================================================================== */

static void test_loader_valid_rule_loads(void)
{
    struct text t;
    t_init(&t);
    t_line(&t, "# one valid rule");
    t_rule(&t, "only-rule", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(expect_rules_ok(t.s, t.len), 1);
    t_free(&t);
}

static void test_loader_unknown_key_names_its_line(void)
{
    struct text t;
    t_init(&t);
    int line = 0;
    t_line(&t, "# header");
    t_line(&t, "");
    t_rule(&t, "r-one", "grade", "colour: blue", &line);
    t_line(&t, "grade: B");
    expect_rules_error(t.s, line, "colour");
    t_free(&t);
}

static void test_loader_unknown_fact_names_its_line(void)
{
    struct text t;
    t_init(&t);
    int line = 0;
    t_line(&t, "# header");
    t_rule(&t, "r-one", "when", "when: tumour_colour = red", &line);
    expect_rules_error(t.s, line, "tumour_colour");
    t_free(&t);
}

static void test_loader_bad_operator_for_fact_type(void)
{
    static const char *const bad[] = {
        "when: ecog has 1",            /* integer fact with a set operator */
        "when: cancer = colorectal",   /* set fact with =  */
        "when: ras < mutant",          /* enum fact with a comparison */
        "when: order = anti-egfr",     /* order is a set */
        "when: metastatic lacks yes",  /* enum fact with a set operator */
        "when: ras ~ mutant",          /* no such operator */
        NULL};
    for (int i = 0; bad[i]; i++) {
        struct text t;
        t_init(&t);
        int line = 0;
        t_line(&t, "");
        t_rule(&t, "r-one", "when", bad[i], &line);
        expect_rules_error(t.s, line, NULL);
        t_free(&t);
    }
}

static void test_loader_unknown_enum_value(void)
{
    static const struct { const char *line, *value; } bad[] = {
        {"when: ras = mutated", "mutated"},
        {"when: kras in wildtype positive", "positive"},
        {"when: cancer has breast", "breast"},
        {"when: met_site lacks kidney", "kidney"},
        {"when: mmr = msi-h", "msi-h"},
        {"when: metastatic = no", "no"},
        {"when: ras = conflict", "conflict"}, /* ras has no conflict value */
        {"when: ecog > many", "many"},
        {NULL, NULL}};
    for (int i = 0; bad[i].line; i++) {
        struct text t;
        t_init(&t);
        int line = 0;
        t_line(&t, "# x");
        t_line(&t, "# y");
        t_rule(&t, "r-one", "when", bad[i].line, &line);
        expect_rules_error(t.s, line, bad[i].value);
        t_free(&t);
    }
}

static void test_loader_unknown_drug_class_in_order_has(void)
{
    struct text t;
    t_init(&t);
    int line = 0;
    t_rule(&t, "r-one", "hooks", "hooks: order-sign", NULL);
    line = t_line(&t, "when: order has anti-vegf"); /* not in the mini table */
    expect_rules_error(t.s, line, "anti-vegf");
    t_free(&t);

    /* the same name is accepted once the drug table has it */
    t_init(&t);
    t_rule(&t, "r-one", "hooks", "hooks: order-sign", NULL);
    t_line(&t, "when: order has anti-egfr");
    t_line(&t, "when: history has cetuximab");
    CU_ASSERT_EQUAL(expect_rules_ok(t.s, t.len), 1);
    t_free(&t);
}

static void test_loader_summary_of_140_characters_refused(void)
{
    char s139[200], s140[200];
    memset(s139, 's', 139);
    s139[139] = '\0';
    memset(s140, 's', 140);
    s140[140] = '\0';

    struct text t;
    t_init(&t);
    int line = 0;
    t_line(&t, "# long summary");
    char l[300];
    snprintf(l, sizeof l, "summary: %s", s140);
    t_rule(&t, "r-long", "summary", l, &line);
    expect_rules_error(t.s, line, "summary");
    t_free(&t);

    /* 139 characters is the most allowed, counted in characters: 139
     * two-byte letters (278 bytes) pass. */
    t_init(&t);
    snprintf(l, sizeof l, "summary: %s", s139);
    t_rule(&t, "r-ok", "summary", l, NULL);
    CU_ASSERT_EQUAL(expect_rules_ok(t.s, t.len), 1);
    t_free(&t);

    char wide[600] = "summary: ";
    for (int i = 0; i < 139; i++)
        strcat(wide, "\xc3\xa6"); /* æ */
    t_init(&t);
    t_rule(&t, "r-wide", "summary", wide, NULL);
    CU_ASSERT_EQUAL(expect_rules_ok(t.s, t.len), 1);
    t_free(&t);
}

static void test_loader_missing_required_key_names_rule_start_line(void)
{
    static const char *const keys[] = {"id",     "guideline", "grade",
                                       "source", "seed",      "summary",
                                       "hooks",  "indicator", "passage",
                                       "detail", NULL};
    for (int i = 0; keys[i]; i++) {
        /* broken rule between two good ones: detected when the next rule
         * opens, reported at its own start */
        struct text t;
        t_init(&t);
        t_line(&t, "# rules");
        t_rule(&t, "good-first", NULL, NULL, NULL);
        t_line(&t, "");
        int start = t_rule(&t, "broken", keys[i], NULL, NULL);
        t_line(&t, "");
        t_rule(&t, "good-last", NULL, NULL, NULL);
        char needle[32];
        snprintf(needle, sizeof needle, "%s:", keys[i]);
        expect_rules_error(t.s, start, needle);
        t_free(&t);

        /* broken rule last in the file: detected at the end */
        t_init(&t);
        t_rule(&t, "good-first", NULL, NULL, NULL);
        start = t_rule(&t, "broken", keys[i], NULL, NULL);
        t_line(&t, "# trailing comment");
        expect_rules_error(t.s, start, needle);
        t_free(&t);
    }
}

static void test_loader_duplicate_rule_name(void)
{
    struct text t;
    t_init(&t);
    t_rule(&t, "same-name", NULL, NULL, NULL);
    t_rule(&t, "other-name", NULL, NULL, NULL);
    int dup = t_rule(&t, "same-name", NULL, NULL, NULL);
    expect_rules_error(t.s, dup, "same-name");
    t_free(&t);

    /* across two files: the second file's line is named */
    struct eng_error err = {0};
    struct eng_ruleset *rs = new_set_with_drugs();
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    struct text a, b;
    t_init(&a);
    t_init(&b);
    t_rule(&a, "shared-name", NULL, NULL, NULL);
    t_line(&b, "# second file");
    int line = t_rule(&b, "shared-name", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(eng_ruleset_add_rules(rs, "a.rules", a.s, a.len, &err), 0);
    CU_ASSERT_EQUAL(eng_ruleset_add_rules(rs, "b.rules", b.s, b.len, &err), -1);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "b.rules:%d: ", line);
    CU_ASSERT_EQUAL(strncmp(err.msg, prefix, strlen(prefix)), 0);
    CU_ASSERT_TRUE(has_text(err.msg, "shared-name"));
    eng_ruleset_release(rs);
    t_free(&a);
    t_free(&b);
}

static void test_loader_bad_grade(void)
{
    static const char *const bad[] = {"grade: E", "grade: a", "grade: (+++++)",
                                      "grade: 1A", "grade:", NULL};
    for (int i = 0; bad[i]; i++) {
        struct text t;
        t_init(&t);
        int line = 0;
        t_line(&t, "#");
        t_rule(&t, "r-grade", "grade", bad[i], &line);
        expect_rules_error(t.s, line, NULL);
        t_free(&t);
    }
    /* every grade the format lists is accepted */
    static const char *const good[] = {"grade: A", "grade: B", "grade: C",
                                       "grade: D", "grade: (+)", "grade: (++)",
                                       "grade: (+++)", "grade: (++++)",
                                       "grade: none", NULL};
    for (int i = 0; good[i]; i++) {
        struct text t;
        t_init(&t);
        t_rule(&t, "r-grade", "grade", good[i], NULL);
        CU_ASSERT_EQUAL(expect_rules_ok(t.s, t.len), 1);
        t_free(&t);
    }
}

static void test_loader_suggest_without_label(void)
{
    struct text t;
    t_init(&t);
    t_line(&t, "# suggest");
    t_rule(&t, "good-first", NULL, NULL, NULL);
    int start = t_rule(&t, "r-suggest", "hooks", "hooks: order-sign", NULL);
    t_line(&t, "when: order has anti-egfr");
    t_line(&t, "suggest: remove anti-egfr");
    expect_rules_error(t.s, start, "suggest-label");
    t_free(&t);

    /* with the label it loads */
    t_init(&t);
    t_rule(&t, "r-suggest", "hooks", "hooks: order-sign", NULL);
    t_line(&t, "when: order has anti-egfr");
    t_line(&t, "suggest: remove anti-egfr");
    t_line(&t, "suggest-label: Remove the order");
    CU_ASSERT_EQUAL(expect_rules_ok(t.s, t.len), 1);
    t_free(&t);
}

static void test_loader_suggest_on_patient_view_refused(void)
{
    struct text t;
    t_init(&t);
    t_line(&t, "# suggest on patient-view");
    int start = t_rule(&t, "r-suggest", "hooks", "hooks: order-sign patient-view", NULL);
    int sline = t_line(&t, "suggest: remove anti-egfr");
    t_line(&t, "suggest-label: Remove the order");
    /* the message may name the rule or the suggest: line */
    struct eng_error err = {0};
    struct eng_ruleset *rs = new_set_with_drugs();
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    CU_ASSERT_EQUAL(eng_ruleset_add_rules(rs, "t.rules", t.s, t.len, &err), -1);
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "t.rules:%d: ", start);
    snprintf(p2, sizeof p2, "t.rules:%d: ", sline);
    CU_ASSERT_TRUE(strncmp(err.msg, p1, strlen(p1)) == 0 ||
                   strncmp(err.msg, p2, strlen(p2)) == 0);
    CU_ASSERT_TRUE(has_text(err.msg, "patient-view"));
    eng_ruleset_release(rs);
    t_free(&t);
}

static void test_loader_invalid_utf8_bytes(void)
{
    static const char *const bad[] = {
        "passage: caf\xff",            /* byte never valid in UTF-8 */
        "passage: \x80 lone continuation",
        "passage: cut short \xc3",     /* sequence ends with the line */
        "passage: \xc3( bad continuation",
        "passage: \xe2\x82 short three-byte",
        "passage: \xc1\xbf overlong two-byte",
        "passage: ctrl \x01 char",     /* control characters are not text */
        NULL};
    for (int i = 0; bad[i]; i++) {
        struct text t;
        t_init(&t);
        int line = 0;
        t_line(&t, "# utf-8");
        t_rule(&t, "r-utf", "passage", bad[i], &line);
        expect_rules_error(t.s, line, NULL);
        t_free(&t);
    }
    /* a NUL byte inside a line */
    struct text t;
    t_init(&t);
    int line = 0;
    t_rule(&t, "r-nul", "passage", "passage: before", &line);
    memcpy(strstr(t.s, "before"), "bef\0re", 6);
    expect_rules_error_n(t.s, t.len, line, NULL);
    t_free(&t);
    /* valid multi-byte text, including 4-byte sequences, loads */
    t_init(&t);
    t_rule(&t, "r-ok", "passage",
           "passage: \xc3\xa6\xc3\xb8\xc3\xa5 \xe2\x80\xa2 \xf0\x9f\x98\x80", NULL);
    CU_ASSERT_EQUAL(expect_rules_ok(t.s, t.len), 1);
    t_free(&t);
}

static void test_loader_rejects_surrogates_overlongs_and_above_u10ffff(void)
{
    static const char *const bad[] = {
        "passage: \xed\xa0\x80 UTF-16 surrogate U+D800",
        "passage: \xe0\x80\xaf overlong three-byte",
        "passage: \xf0\x80\x80\xaf overlong four-byte",
        "passage: \xf4\x90\x80\x80 above U+10FFFF",
        NULL};
    for (int i = 0; bad[i]; i++) {
        struct text t;
        t_init(&t);
        int line = 0;
        t_line(&t, "# strict utf-8");
        t_rule(&t, "r-utf", "passage", bad[i], &line);
        expect_rules_error(t.s, line, NULL);
        t_free(&t);
    }
}

static void test_loader_over_long_line(void)
{
    char *longline = malloc(ENG_LIMIT_RULE_LINE_BYTES + 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(longline);
    strcpy(longline, "passage: ");
    size_t n = strlen(longline);
    memset(longline + n, 'p', ENG_LIMIT_RULE_LINE_BYTES + 500);
    longline[n + ENG_LIMIT_RULE_LINE_BYTES + 500] = '\0';
    struct text t;
    t_init(&t);
    int line = 0;
    t_line(&t, "# long");
    t_rule(&t, "r-long", "passage", longline, &line);
    expect_rules_error(t.s, line, NULL);
    t_free(&t);

    /* a long line well inside the limit is fine */
    longline[ENG_LIMIT_RULE_LINE_BYTES - 200] = '\0';
    t_init(&t);
    t_rule(&t, "r-long", "passage", longline, NULL);
    CU_ASSERT_EQUAL(expect_rules_ok(t.s, t.len), 1);
    t_free(&t);
    free(longline);
}

static void test_loader_key_before_rule(void)
{
    struct text t;
    t_init(&t);
    t_line(&t, "# no rule yet");
    t_line(&t, "");
    int line = t_line(&t, "when: cancer has colorectal");
    t_rule(&t, "r-one", NULL, NULL, NULL);
    expect_rules_error(t.s, line, "rule");
    t_free(&t);

    t_init(&t);
    line = t_line(&t, "id: TEST-1");
    expect_rules_error(t.s, line, NULL);
    t_free(&t);
}

static void test_loader_line_without_colon(void)
{
    struct text t;
    t_init(&t);
    int line = 0;
    t_rule(&t, "r-one", "detail", "detail A detail line without colon", &line);
    expect_rules_error(t.s, line, NULL);
    t_free(&t);
}

static void test_loader_blank_lines_and_comments_accepted(void)
{
    struct text t;
    t_init(&t);
    t_line(&t, "# a comment");
    t_line(&t, "");
    t_line(&t, "   ");
    t_line(&t, "\t");
    t_line(&t, "rule: r-one");
    t_line(&t, "  # indented comment inside a rule");
    t_line(&t, "id: TEST-1");
    t_line(&t, "");
    for (int i = 1; RULE_LINES[i]; i++) {
        t_line(&t, RULE_LINES[i]);
        t_line(&t, "# between");
        t_line(&t, "");
    }
    t_line(&t, "# last");
    t_raw(&t, "# a final comment without newline",
          strlen("# a final comment without newline"));
    CU_ASSERT_EQUAL(expect_rules_ok(t.s, t.len), 1);
    t_free(&t);

    /* an empty file and a comment-only file add nothing and do not fail */
    static const char comments[] = "# only\n\n   # comments\n";
    struct eng_error err = {0};
    struct eng_ruleset *rs = new_set_with_drugs();
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    CU_ASSERT_EQUAL(eng_ruleset_add_rules(rs, "e.rules", "", 0, &err), 0);
    CU_ASSERT_EQUAL(eng_ruleset_add_rules(rs, "c.rules", comments, strlen(comments), &err), 0);
    CU_ASSERT_EQUAL(eng_ruleset_count(rs, NULL), 0);
    eng_ruleset_release(rs);
}

static void test_loader_crlf_accepted_and_stripped(void)
{
    struct text t;
    t_init(&t);
    t.eol = "\r\n";
    t_line(&t, "# windows line ends");
    t_line(&t, "");
    t_rule(&t, "r-crlf", NULL, NULL, NULL);
    struct eng_error err = {0};
    struct eng_ruleset *rs = new_set_with_drugs();
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    CU_ASSERT_EQUAL(eng_ruleset_add_rules(rs, "t.rules", t.s, t.len, &err), 0);
    CU_ASSERT_EQUAL(eng_ruleset_finish(rs, &err), 0);
    CU_ASSERT_EQUAL(eng_ruleset_count(rs, "test"), 1);
    /* no value keeps the carriage return */
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    eng_patient_init(&p);
    p.cancers = ENG_CANCER_COLORECTAL;
    struct eng_card_list out;
    CU_ASSERT_EQUAL(evaluate(a, rs, "test", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(out.n, 1);
    if (out.n == 1) {
        CU_ASSERT_STRING_EQUAL(out.cards[0].summary, "A short summary");
        CU_ASSERT_STRING_EQUAL(out.cards[0].rec_id, "TEST-1");
        CU_ASSERT_STRING_EQUAL(out.cards[0].source_label, "Test guideline");
        CU_ASSERT_PTR_NULL(strchr(out.cards[0].detail, '\r'));
    }
    eng_arena_free(a);
    eng_ruleset_release(rs);
    t_free(&t);
}

static void test_loader_finish_with_zero_rules_fails(void)
{
    struct eng_error err = {0};
    struct eng_ruleset *rs = new_set_with_drugs();
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    CU_ASSERT_EQUAL(eng_ruleset_finish(rs, &err), -1);
    CU_ASSERT_NOT_EQUAL(err.code, ENG_OK);
    CU_ASSERT_NOT_EQUAL(err.msg[0], '\0');
    eng_ruleset_release(rs);
}

static void test_loader_drug_table_errors_name_their_line(void)
{
    static const struct { const char *line; } bad[] = {
        {"cetuximab\tanti-egfr\tsnomed\t123\tsource"},  /* unknown system */
        {"cetuximab\tanti-egfr\trxnorm\t318341"},        /* no source */
        {"Cetuximab\tanti-egfr\trxnorm\t318341\tsrc"},   /* upper-case drug */
        {"cetuximab\tAnti-EGFR\trxnorm\t318341\tsrc"},   /* upper-case class */
        {"cetuximab\tanti-egfr\ttext\tCetuximab\tsrc"},  /* upper-case text code */
        {NULL}};
    for (int i = 0; bad[i].line; i++) {
        struct text t;
        t_init(&t);
        t_line(&t, "# drugs");
        t_line(&t, "fluorouracil\tchemotherapy\trxnorm\t4492\tsource");
        int line = t_line(&t, bad[i].line);
        struct eng_error err = {0};
        struct eng_ruleset *rs = eng_ruleset_new(&err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
        CU_ASSERT_EQUAL(eng_ruleset_add_drugs(rs, "d.tsv", t.s, t.len, &err), -1);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "d.tsv:%d: ", line);
        CU_ASSERT_EQUAL(strncmp(err.msg, prefix, strlen(prefix)), 0);
        eng_ruleset_release(rs);
        t_free(&t);
    }
}

static void test_loader_refuses_changes_after_finish(void)
{
    struct text t;
    t_init(&t);
    t_rule(&t, "r-one", NULL, NULL, NULL);
    struct eng_error err = {0};
    struct eng_ruleset *rs = new_set_with_drugs();
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    CU_ASSERT_EQUAL(eng_ruleset_add_rules(rs, "t.rules", t.s, t.len, &err), 0);
    CU_ASSERT_EQUAL(eng_ruleset_finish(rs, &err), 0);
    t_free(&t);
    t_init(&t);
    t_rule(&t, "r-two", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(eng_ruleset_add_rules(rs, "u.rules", t.s, t.len, &err), -1);
    CU_ASSERT_EQUAL(eng_ruleset_add_drugs(rs, "d.tsv", DRUGS_MINI, strlen(DRUGS_MINI), &err), -1);
    CU_ASSERT_EQUAL(eng_ruleset_count(rs, NULL), 1);
    /* references: the set lives until the last one is released */
    CU_ASSERT_PTR_EQUAL(eng_ruleset_ref(rs), rs);
    eng_ruleset_release(rs);
    CU_ASSERT_EQUAL(eng_ruleset_count(rs, "test"), 1); /* still alive (ASan checks) */
    eng_ruleset_release(rs);
    t_free(&t);
}

static void test_bundled_rules_load(void)
{
    struct eng_error err = {0};
    struct eng_ruleset *rs = eng_ruleset_new(&err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    size_t dlen, rlen;
    char *drugs = tu_read_source_file("rules/drugs.tsv", &dlen);
    char *rules = tu_read_source_file("rules/mcrc.rules", &rlen);
    int rc = eng_ruleset_add_drugs(rs, "drugs.tsv", drugs, dlen, &err);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc)
        fprintf(stderr, "\n    %s\n", err.msg);
    rc = eng_ruleset_add_rules(rs, "mcrc.rules", rules, rlen, &err);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc)
        fprintf(stderr, "\n    %s\n", err.msg);
    CU_ASSERT_EQUAL(eng_ruleset_finish(rs, &err), 0);
    /* every `rule:` line of the file became a rule of guideline mcrc */
    int rule_lines = 0;
    for (const char *s = rules; s; s = strchr(s, '\n')) {
        if (*s == '\n')
            s++;
        rule_lines += strncmp(s, "rule:", 5) == 0;
    }
    CU_ASSERT_TRUE(eng_ruleset_count(rs, "mcrc") > 0);
    CU_ASSERT_EQUAL(eng_ruleset_count(rs, "mcrc"), rule_lines);
    CU_ASSERT_EQUAL(eng_ruleset_count(rs, NULL), rule_lines);
    CU_ASSERT_EQUAL(eng_ruleset_count(rs, "no-such-guideline"), 0);
    free(drugs);
    free(rules);
    eng_ruleset_release(rs);
}

/* ======================================================================
 * Drug classification (bundled drug table)
 * ==================================================================== */

static struct eng_ruleset *bundled; /* rules/drugs.tsv + rules/mcrc.rules */

static int bundled_init(void)
{
    static const char *const files[] = {"rules/mcrc.rules", NULL};
    bundled = load_set("rules/drugs.tsv", files);
    return bundled ? 0 : 1;
}

static int bundled_cleanup(void)
{
    eng_ruleset_release(bundled);
    bundled = NULL;
    return 0;
}

static int names_have(const char **names, int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], want) == 0)
            return 1;
    return 0;
}

static void test_classify_rxnorm_cetuximab(void)
{
    const char *names[16];
    int n = eng_ruleset_classify(bundled, RXNORM, "318341", NULL, names, 16);
    CU_ASSERT_TRUE(n >= 2);
    CU_ASSERT_TRUE(names_have(names, n, "cetuximab"));
    CU_ASSERT_TRUE(names_have(names, n, "anti-egfr"));
    CU_ASSERT_FALSE(names_have(names, n, "panitumumab"));
    CU_ASSERT_FALSE(names_have(names, n, "anti-vegf"));
    /* the same code under another system is not cetuximab */
    CU_ASSERT_EQUAL(eng_ruleset_classify(bundled, ATC, "318341", NULL, names, 16), 0);
    CU_ASSERT_EQUAL(eng_ruleset_classify(bundled, "http://snomed.info/sct", "318341",
                                         NULL, names, 16), 0);
}

static void test_classify_atc_current_and_pre_2022_cetuximab(void)
{
    const char *names[16];
    int n = eng_ruleset_classify(bundled, ATC, "L01FE01", NULL, names, 16);
    CU_ASSERT_TRUE(names_have(names, n, "anti-egfr"));
    CU_ASSERT_TRUE(names_have(names, n, "cetuximab"));
    n = eng_ruleset_classify(bundled, ATC, "L01XC06", NULL, names, 16);
    CU_ASSERT_TRUE(names_have(names, n, "anti-egfr"));
    CU_ASSERT_TRUE(names_have(names, n, "cetuximab"));
    /* the German ATC system is accepted too */
    n = eng_ruleset_classify(bundled, "http://fhir.de/CodeSystem/bfarm/atc", "L01FE01",
                             NULL, names, 16);
    CU_ASSERT_TRUE(names_have(names, n, "anti-egfr"));
    /* bevacizumab's old code is anti-VEGF, not anti-EGFR */
    n = eng_ruleset_classify(bundled, ATC, "L01XC07", NULL, names, 16);
    CU_ASSERT_TRUE(names_have(names, n, "anti-vegf"));
    CU_ASSERT_FALSE(names_have(names, n, "anti-egfr"));
}

static void test_classify_text_cetuximab(void)
{
    const char *names[16];
    int n = eng_ruleset_classify(bundled, NULL, NULL, "cetuximab 5 mg/ml", names, 16);
    CU_ASSERT_TRUE(names_have(names, n, "anti-egfr"));
    CU_ASSERT_TRUE(names_have(names, n, "cetuximab"));
    n = eng_ruleset_classify(bundled, NULL, NULL, "paracetamol 500 mg", names, 16);
    CU_ASSERT_EQUAL(n, 0);
}

static void test_classify_unknown_code_gives_no_names(void)
{
    const char *names[16];
    CU_ASSERT_EQUAL(eng_ruleset_classify(bundled, RXNORM, "999999999", NULL, names, 16), 0);
    CU_ASSERT_EQUAL(eng_ruleset_classify(bundled, ATC, "N02BE01", NULL, names, 16), 0);
    CU_ASSERT_EQUAL(eng_ruleset_classify(bundled, NULL, NULL, NULL, names, 16), 0);
    /* ophthalmic aflibercept (S01LA05) must not count as anti-VEGF */
    CU_ASSERT_EQUAL(eng_ruleset_classify(bundled, ATC, "S01LA05", NULL, names, 16), 0);
}

static void test_classify_respects_cap(void)
{
    const char *names[4] = {"sentinel-0", "sentinel-1", "sentinel-2", "sentinel-3"};
    /* fluorouracil has a name and two classes: three names, cap 1 */
    int n = eng_ruleset_classify(bundled, RXNORM, "4492", NULL, names, 1);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_STRING_EQUAL(names[1], "sentinel-1"); /* nothing written past cap */
    CU_ASSERT_STRING_EQUAL(names[2], "sentinel-2");
    n = eng_ruleset_classify(bundled, RXNORM, "4492", NULL, names, 0);
    CU_ASSERT_EQUAL(n, 0);
}

static void test_classify_output_is_null_terminated_as_documented(void)
{
    const char *names[16];
    for (int i = 0; i < 16; i++)
        names[i] = "sentinel";
    int n = eng_ruleset_classify(bundled, RXNORM, "318341", NULL, names, 16);
    CU_ASSERT_TRUE(n > 0 && n < 16);
    if (n > 0 && n < 16)
        CU_ASSERT_PTR_NULL(names[n]);
}

/* ======================================================================
 * Evaluation (tests/fixtures/engine/eval.rules)
 * ==================================================================== */

static struct eng_ruleset *evalset;

static int eval_init(void)
{
    static const char *const files[] = {"tests/fixtures/engine/eval.rules", NULL};
    evalset = load_set("tests/fixtures/engine/drugs-mini.tsv", files);
    return evalset ? 0 : 1;
}

static int eval_cleanup(void)
{
    eng_ruleset_release(evalset);
    evalset = NULL;
    return 0;
}

static void test_eval_cards_sorted_critical_warning_info_file_order_kept(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    eng_patient_init(&p);
    p.cancers = ENG_CANCER_COLORECTAL;
    p.ecog = 3;
    p.genes[ENG_KRAS] = ENG_GENE_MUTANT;
    struct eng_card_list out;
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "sort", "patient-view", &p, &out), 0);
    static const char *const want[] = {"T-SORT-CRIT", "T-SORT-WARN", "T-SORT-ZETA",
                                       "T-SORT-ALPHA"};
    CU_ASSERT_EQUAL(out.n, 4);
    CU_ASSERT_FALSE(out.truncated);
    for (int i = 0; i < 4 && i < out.n; i++) {
        CU_ASSERT_STRING_EQUAL(out.cards[i].rec_id, want[i]);
        if (i)
            CU_ASSERT_TRUE(out.cards[i - 1].indicator <= out.cards[i].indicator);
    }
    if (out.n == 4) {
        CU_ASSERT_EQUAL(out.cards[0].indicator, ENG_CRITICAL);
        CU_ASSERT_EQUAL(out.cards[1].indicator, ENG_WARNING);
        CU_ASSERT_EQUAL(out.cards[2].indicator, ENG_INFO);
        CU_ASSERT_EQUAL(out.cards[3].indicator, ENG_INFO);
        CU_ASSERT_STRING_EQUAL(out.cards[2].rule_name, "sort-zeta-info");
        CU_ASSERT_STRING_EQUAL(out.cards[3].rule_name, "sort-alpha-info");
    }
    CU_ASSERT_STRING_EQUAL(eng_indicator_name(ENG_CRITICAL), "critical");
    CU_ASSERT_STRING_EQUAL(eng_indicator_name(ENG_WARNING), "warning");
    CU_ASSERT_STRING_EQUAL(eng_indicator_name(ENG_INFO), "info");

    /* drop the warning condition: the others keep their order */
    p.ecog = 0;
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "sort", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(out.n, 3);
    if (out.n == 3) {
        CU_ASSERT_STRING_EQUAL(out.cards[0].rec_id, "T-SORT-CRIT");
        CU_ASSERT_STRING_EQUAL(out.cards[1].rec_id, "T-SORT-ZETA");
        CU_ASSERT_STRING_EQUAL(out.cards[2].rec_id, "T-SORT-ALPHA");
    }
    eng_arena_free(a);
}

static void test_eval_hook_filtering(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    eng_patient_init(&p);
    p.cancers = ENG_CANCER_COLORECTAL;
    p.ecog = 3;
    p.genes[ENG_KRAS] = ENG_GENE_MUTANT;
    struct eng_card_list out;
    /* order-sign: only the rule that lists order-sign */
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "sort", "order-sign", &p, &out), 0);
    CU_ASSERT_EQUAL(out.n, 1);
    CU_ASSERT_EQUAL(count_cards(&out, "T-SORT-CRIT"), 1);
    /* order-select: only the unconditional order-select rule */
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "sort", "order-select", &p, &out), 0);
    CU_ASSERT_EQUAL(out.n, 1);
    CU_ASSERT_EQUAL(count_cards(&out, "T-SORT-SELECT"), 1);
    /* patient-view never shows the order-select rule */
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "sort", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-SORT-SELECT"), 0);
    /* an unknown hook matches no rule */
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "sort", "encounter-start", &p, &out), 0);
    CU_ASSERT_EQUAL(out.n, 0);
    eng_arena_free(a);
}

static void test_eval_guideline_filtering(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    eng_patient_init(&p);
    p.cancers = ENG_CANCER_COLORECTAL;
    struct eng_card_list out;
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "sort", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-OTHER"), 0);
    CU_ASSERT_TRUE(out.n > 0);
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "other", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(out.n, 1);
    CU_ASSERT_EQUAL(count_cards(&out, "T-OTHER"), 1);
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "no-such-guideline", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(out.n, 0);
    eng_arena_free(a);
}

static void test_eval_int_comparisons_false_when_unknown(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    eng_patient_init(&p); /* ecog and age unknown */
    struct eng_card_list out;
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "unknown", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ECOG-LT2"), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ECOG-GE2"), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-AGE-LT200"), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-AGE-GE70"), 0);
    /* once known, exactly one side of each comparison holds */
    p.ecog = 1;
    p.birth_date = "1950-06-15"; /* 73 on TODAY */
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "unknown", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ECOG-LT2"), 1);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ECOG-GE2"), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-AGE-LT200"), 1);
    CU_ASSERT_EQUAL(count_cards(&out, "T-AGE-GE70"), 1);
    p.ecog = 2;
    p.birth_date = "1954-06-02"; /* 69 on TODAY, 70 the day after */
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "unknown", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ECOG-LT2"), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ECOG-GE2"), 1);
    CU_ASSERT_EQUAL(count_cards(&out, "T-AGE-GE70"), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-AGE-LT200"), 1);
    p.ecog = 0; /* ecog 0 is a value, not unknown */
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "unknown", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ECOG-LT2"), 1);
    eng_arena_free(a);
}

static void test_eval_equals_unknown(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    eng_patient_init(&p);
    struct eng_card_list out;
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "unknown", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ESMO-UNK"), 1);
    CU_ASSERT_EQUAL(count_cards(&out, "T-RAS-UNK"), 1);
    CU_ASSERT_EQUAL(count_cards(&out, "T-MEDHX-UNK"), 1);
    p.esmo_group = 0; /* group 0 is known */
    p.genes[ENG_KRAS] = ENG_GENE_WILDTYPE;
    p.genes[ENG_NRAS] = ENG_GENE_WILDTYPE;
    p.medications_known = 1;
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "unknown", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ESMO-UNK"), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-RAS-UNK"), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-MEDHX-UNK"), 0);
    /* a conflict counts as unknown for `ras` */
    p.genes[ENG_KRAS] = ENG_GENE_CONFLICT;
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "unknown", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-RAS-UNK"), 1);
    eng_arena_free(a);
}

static void test_eval_order_has_respects_scope(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    struct eng_card_list out;

    /* a draft that is not selected: not in scope for order-select */
    eng_patient_init(&p);
    struct eng_med *d = add_med(a, &p, "Cetuximab 500 mg", RXNORM, "318341", NULL,
                                1, 0, "MedicationRequest/d1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-select", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ORDER"), 0);
    /* selected: in scope for order-select */
    d->is_selected = 1;
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-select", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ORDER"), 1);
    /* order-sign: every draft counts, selected or not */
    d->is_selected = 0;
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-sign", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ORDER"), 1);
    /* a draft is not history */
    CU_ASSERT_EQUAL(count_cards(&out, "T-HISTORY"), 0);

    /* history only: never an order, in any hook, even if marked selected */
    eng_patient_init(&p);
    struct eng_med *h = add_med(a, &p, "Cetuximab (2019)", RXNORM, "318341", NULL,
                                0, 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    p.medications_known = 1;
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-sign", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ORDER"), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-HISTORY"), 1);
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-select", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ORDER"), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-HISTORY"), 1);
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-HISTORY"), 1);
    eng_arena_free(a);
}

static void test_eval_history_has_ignores_drafts(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    struct eng_card_list out;
    eng_patient_init(&p);
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Cetuximab 500 mg", RXNORM, "318341",
                                   NULL, 1, 1, "MedicationRequest/d1"));
    p.medications_known = 1;
    static const char *const hooks[] = {"patient-view", "order-select", "order-sign"};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", hooks[i], &p, &out), 0);
        CU_ASSERT_EQUAL(count_cards(&out, "T-HISTORY"), 0);
    }
    /* a history record of a different drug class does not count either */
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Fluorouracil", RXNORM, "4492", NULL, 0,
                                   0, NULL));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-HISTORY"), 0);
    eng_arena_free(a);
}

static void test_eval_text_fallback_is_case_insensitive(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    struct eng_card_list out;
    eng_patient_init(&p); /* text only, capitalised */
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "CETUXIMAB infusion", NULL, NULL, NULL, 1,
                                   1, "MedicationRequest/t1"));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-sign", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ORDER"), 1);
    eng_patient_init(&p); /* a display with an unrecognised code */
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, NULL, "urn:local:drugs", "X-17",
                                   "Cetuximab 5 mg/mL", 1, 1, "MedicationRequest/t2"));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-sign", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ORDER"), 1);
    eng_patient_init(&p); /* an unrelated drug */
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Paracetamol 1 g", NULL, NULL, NULL, 1, 1,
                                   "MedicationRequest/t3"));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-sign", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ORDER"), 0);
    eng_arena_free(a);
}

static void test_eval_orders_expansion_names_matching_orders(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    struct eng_card_list out;
    eng_patient_init(&p);
    p.medications_known = 1;
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Cetuximab (2019)", RXNORM, "318341",
                                   NULL, 0, 0, NULL));
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Cetuximab 500 mg IV", RXNORM, "318341",
                                   NULL, 1, 0, "MedicationRequest/d1"));
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Fluorouracil 400 mg/m2", RXNORM, "4492",
                                   NULL, 1, 0, "MedicationRequest/d2"));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-sign", &p, &out), 0);
    const struct eng_card *c = find_card(&out, "T-ORDER");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_TRUE(has_text(c->detail, "Ordered: Cetuximab 500 mg IV."));
    CU_ASSERT_FALSE(has_text(c->detail, "Fluorouracil"));
    CU_ASSERT_FALSE(has_text(c->detail, "2019"));
    CU_ASSERT_FALSE(has_text(c->detail, "{orders}"));
    CU_ASSERT_TRUE(has_text(c->detail, "- Second line without tag."));
    const struct eng_card *f = find_card(&out, "T-ORDER-5FU");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_TRUE(has_text(f->detail, "Ordered: Fluorouracil 400 mg/m2."));
    CU_ASSERT_FALSE(has_text(f->detail, "Cetuximab"));
    CU_ASSERT_EQUAL(f->n_suggestions, 0);
    /* critical before warning */
    CU_ASSERT_TRUE(c < f);
    eng_arena_free(a);
}

static void test_eval_suggestion_one_delete_action_per_draft_with_ref(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    struct eng_card_list out;
    eng_patient_init(&p);
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Cetuximab (2019)", RXNORM, "318341",
                                   NULL, 0, 0, NULL)); /* history: no action */
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Cetuximab 500 mg", RXNORM, "318341",
                                   NULL, 1, 0, "MedicationRequest/d1"));
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Panitumumab 6 mg/kg", NULL, NULL, NULL,
                                   1, 0, "MedicationRequest/d2"));
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Fluorouracil", RXNORM, "4492", NULL, 1,
                                   0, "MedicationRequest/d3")); /* other class */
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "cetuximab without reference", NULL, NULL,
                                   NULL, 1, 0, NULL)); /* no ref: no action */
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-sign", &p, &out), 0);
    const struct eng_card *c = find_card(&out, "T-ORDER");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(count_cards(&out, "T-ORDER"), 1);
    CU_ASSERT_EQUAL_FATAL(c->n_suggestions, 1);
    const struct eng_suggestion *s = &c->suggestions[0];
    CU_ASSERT_STRING_EQUAL(s->label, "Remove the anti-EGFR order");
    CU_ASSERT_EQUAL(s->n_actions, 2);
    int seen_d1 = 0, seen_d2 = 0;
    for (int i = 0; i < s->n_actions; i++) {
        CU_ASSERT_STRING_EQUAL(s->actions[i].type, "delete");
        CU_ASSERT_PTR_NOT_NULL(s->actions[i].description);
        seen_d1 += strcmp(s->actions[i].resource_id, "MedicationRequest/d1") == 0;
        seen_d2 += strcmp(s->actions[i].resource_id, "MedicationRequest/d2") == 0;
    }
    CU_ASSERT_EQUAL(seen_d1, 1);
    CU_ASSERT_EQUAL(seen_d2, 1);
    /* every matching order is named, with or without a reference */
    CU_ASSERT_TRUE(has_text(c->detail, "Cetuximab 500 mg"));
    CU_ASSERT_TRUE(has_text(c->detail, "Panitumumab 6 mg/kg"));
    CU_ASSERT_TRUE(has_text(c->detail, "cetuximab without reference"));
    CU_ASSERT_FALSE(has_text(c->detail, "Fluorouracil"));

    /* order-select: only the selected draft gets an action */
    eng_patient_init(&p);
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Cetuximab 500 mg", RXNORM, "318341",
                                   NULL, 1, 1, "MedicationRequest/sel"));
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Panitumumab 6 mg/kg", NULL, NULL, NULL,
                                   1, 0, "MedicationRequest/unsel"));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-select", &p, &out), 0);
    c = find_card(&out, "T-ORDER");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL_FATAL(c->n_suggestions, 1);
    CU_ASSERT_EQUAL_FATAL(c->suggestions[0].n_actions, 1);
    CU_ASSERT_STRING_EQUAL(c->suggestions[0].actions[0].resource_id,
                           "MedicationRequest/sel");
    CU_ASSERT_FALSE(has_text(c->detail, "Panitumumab"));

    /* a rule without suggest: yields no suggestion */
    CU_ASSERT_EQUAL(count_cards(&out, "T-ORDER-5FU"), 0);
    eng_arena_free(a);
}

static void test_eval_override_reasons_carried_with_display(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    struct eng_card_list out;
    eng_patient_init(&p);
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Cetuximab", RXNORM, "318341", NULL, 1, 1,
                                   "MedicationRequest/d1"));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "order-sign", &p, &out), 0);
    const struct eng_card *c = find_card(&out, "T-ORDER");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL_FATAL(c->n_override_reasons, 2);
    CU_ASSERT_STRING_EQUAL(c->override_reasons[0].code, "ras-result-disputed");
    CU_ASSERT_STRING_EQUAL(c->override_reasons[0].display, "RAS result disputed");
    CU_ASSERT_STRING_EQUAL(c->override_reasons[1].code, "mdt-decision");
    CU_ASSERT_STRING_EQUAL(c->override_reasons[1].display, "MDT decision documented");
    /* a rule without override: lines has none */
    p.medications_known = 1;
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Cetuximab", RXNORM, "318341", NULL, 0, 0, NULL));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "orders", "patient-view", &p, &out), 0);
    const struct eng_card *h = find_card(&out, "T-HISTORY");
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_EQUAL(h->n_override_reasons, 0);
    eng_arena_free(a);
}

static void test_eval_detail_has_grade_id_seed_and_passages_as_quotes(void)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    struct eng_card_list out;
    eng_patient_init(&p);
    p.cancers = ENG_CANCER_COLORECTAL;
    CU_ASSERT_EQUAL_FATAL(evaluate(a, evalset, "sort", "patient-view", &p, &out), 0);
    const struct eng_card *c = find_card(&out, "T-SORT-ZETA");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->summary, "Colorectal cancer recorded (zeta, first info rule)");
    CU_ASSERT_STRING_EQUAL(c->source_label, "Test guideline T");
    CU_ASSERT_STRING_EQUAL(c->rule_name, "sort-zeta-info");
    const char *d = c->detail;
    CU_ASSERT_TRUE(has_text(d, "Zeta detail line one."));
    CU_ASSERT_TRUE(has_text(d, "- Zeta detail line two."));
    CU_ASSERT_TRUE(has_text(d, "(+++)"));
    CU_ASSERT_TRUE(has_text(d, "plus grades of test guideline T"));
    CU_ASSERT_TRUE(has_text(d, "T-SORT-ZETA"));
    CU_ASSERT_TRUE(has_text(d, "seed-t-001.txt"));
    CU_ASSERT_TRUE(has_text(d, "> First seed line, quoted verbatim."));
    CU_ASSERT_TRUE(has_text(d, "> Second seed line: \xc3\xa6\xc3\xb8\xc3\xa5 \xe2\x80\xa2 also quoted."));
    /* the detail lines come before the quoted passage */
    const char *one = strstr(d, "Zeta detail line one.");
    const char *q = strstr(d, "> First seed line");
    CU_ASSERT_TRUE(one && q && one < q);
    /* each passage line is its own quote line */
    CU_ASSERT_TRUE(has_text(d, "\n> First seed line, quoted verbatim."));
    CU_ASSERT_TRUE(has_text(d, "\n> Second seed line"));
    eng_arena_free(a);
}

static void test_eval_stops_at_card_limit_keeping_critical(void)
{
    struct text t;
    t_init(&t);
    int total = ENG_LIMIT_CARDS + 6;
    for (int i = 0; i < total; i++) {
        int last = i == total - 1;
        t_linef(&t, "rule: many-%d", i);
        t_linef(&t, "id: MANY-%d", i);
        t_line(&t, "guideline: many");
        t_line(&t, "hooks: patient-view");
        t_line(&t, last ? "indicator: critical" : "indicator: info");
        t_line(&t, "grade: none");
        t_line(&t, "source: S");
        t_line(&t, "seed: s.txt");
        t_line(&t, "passage: P");
        t_linef(&t, "summary: Card %d", i);
        t_line(&t, "detail: D");
    }
    struct eng_error err = {0};
    struct eng_ruleset *rs = new_set_with_drugs();
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    CU_ASSERT_EQUAL(eng_ruleset_add_rules(rs, "many.rules", t.s, t.len, &err), 0);
    CU_ASSERT_EQUAL(eng_ruleset_finish(rs, &err), 0);
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_patient p;
    eng_patient_init(&p);
    struct eng_card_list out;
    CU_ASSERT_EQUAL(evaluate(a, rs, "many", "patient-view", &p, &out), 0);
    CU_ASSERT_EQUAL(out.n, ENG_LIMIT_CARDS);
    CU_ASSERT_TRUE(out.truncated);
    if (out.n > 0) {
        char want[32];
        snprintf(want, sizeof want, "MANY-%d", total - 1);
        CU_ASSERT_STRING_EQUAL(out.cards[0].rec_id, want);
        CU_ASSERT_EQUAL(out.cards[0].indicator, ENG_CRITICAL);
        CU_ASSERT_STRING_EQUAL(out.cards[1].rec_id, "MANY-0");
    }
    eng_arena_free(a);
    eng_ruleset_release(rs);
    t_free(&t);
}

static void test_eval_fails_cleanly_when_arena_exhausted(void)
{
    struct eng_arena *a = eng_arena_new(256);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    struct eng_patient p;
    eng_patient_init(&p);
    p.cancers = ENG_CANCER_COLORECTAL;
    p.ecog = 3;
    p.genes[ENG_KRAS] = ENG_GENE_MUTANT;
    struct eng_card_list out;
    struct eng_error err = {0};
    struct eng_eval_input in = {.rules = evalset, .guideline = "sort",
                                .hook = "patient-view", .patient = &p,
                                .today = TODAY};
    CU_ASSERT_EQUAL(eng_evaluate(a, &in, &out, &err), -1);
    CU_ASSERT_EQUAL(err.code, ENG_ERR_NOMEM);
    eng_arena_free(a);
}

/* ======================================================================
 * Bundled mCRC rules: one test per recommendation ID
 * ==================================================================== */

enum ras_case { RAS_UNKNOWN, RAS_WT, RAS_MUT };

/* A metastatic colorectal cancer patient with the given RAS status and
 * ESMO group (-1 = unknown). */
static void mcrc_patient(struct eng_patient *p, enum ras_case ras, int esmo)
{
    eng_patient_init(p);
    p->cancers = ENG_CANCER_COLORECTAL;
    p->metastatic = 1;
    p->met_sites = ENG_SITE_LIVER;
    p->esmo_group = esmo;
    p->birth_date = "1955-03-01";
    p->ecog = 1;
    if (ras == RAS_WT) {
        p->genes[ENG_KRAS] = ENG_GENE_WILDTYPE;
        p->genes[ENG_NRAS] = ENG_GENE_WILDTYPE;
    } else if (ras == RAS_MUT) {
        p->genes[ENG_KRAS] = ENG_GENE_MUTANT;
        p->genes[ENG_NRAS] = ENG_GENE_WILDTYPE;
    }
}

/* Cards with topic code `id` for the patient at the hook. */
static int mcrc_count(const struct eng_patient *p, const char *hook, const char *id)
{
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_card_list out;
    int n = -1;
    if (a && evaluate(a, bundled, "mcrc", hook, p, &out) == 0) {
        n = count_cards(&out, id);
        for (int i = 0; i < out.n; i++) /* every card is complete */
            if (!out.cards[i].summary || !out.cards[i].detail ||
                !out.cards[i].source_label || !has_text(out.cards[i].detail, out.cards[i].rec_id))
                n = -2;
    }
    eng_arena_free(a);
    return n;
}

static int pv(const struct eng_patient *p, const char *id)
{
    return mcrc_count(p, "patient-view", id);
}

/* The usual negatives for a metastatic-CRC first-line rule. */
static void expect_silent_when_not_mcrc(enum ras_case ras, int esmo, const char *id)
{
    struct eng_patient p;
    mcrc_patient(&p, ras, esmo);
    CU_ASSERT_TRUE(pv(&p, id) >= 1); /* sanity: the base patient triggers */
    p.cancers = ENG_CANCER_NSCLC;    /* not colorectal */
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    mcrc_patient(&p, ras, esmo);
    p.metastatic = 0; /* not metastatic */
    p.met_sites = 0;
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    mcrc_patient(&p, ras, esmo);
    p.cancers = 0; /* nothing known */
    p.metastatic = 0;
    CU_ASSERT_EQUAL(pv(&p, id), 0);
}

static void test_mcrc_ras_1(void)
{
    const char *id = "MCRC-RAS-1";
    struct eng_patient p;
    /* patient-view: RAS-mutant and RAS-unknown patients get a card */
    mcrc_patient(&p, RAS_MUT, 1);
    CU_ASSERT_EQUAL(pv(&p, id), 1);
    mcrc_patient(&p, RAS_UNKNOWN, 1);
    CU_ASSERT_EQUAL(pv(&p, id), 1);
    p.genes[ENG_KRAS] = ENG_GENE_WILDTYPE; /* KRAS alone is not enough */
    CU_ASSERT_EQUAL(pv(&p, id), 1);
    /* silent for RAS wild-type */
    mcrc_patient(&p, RAS_WT, 1);
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    expect_silent_when_not_mcrc(RAS_MUT, 1, id);

    /* order-sign: an anti-EGFR draft for a RAS-mutant patient is critical,
     * with a suggestion to delete it */
    struct eng_arena *a = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    struct eng_card_list out;
    mcrc_patient(&p, RAS_MUT, 1);
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Erbitux 5 mg/mL", ATC, "L01XC06",
                                   "cetuximab", 1, 0, "MedicationRequest/o1"));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, bundled, "mcrc", "order-sign", &p, &out), 0);
    const struct eng_card *c = find_card(&out, id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->indicator, ENG_CRITICAL);
    CU_ASSERT_EQUAL(c->n_suggestions, 1);
    if (c->n_suggestions == 1 && c->suggestions[0].n_actions == 1)
        CU_ASSERT_STRING_EQUAL(c->suggestions[0].actions[0].resource_id,
                               "MedicationRequest/o1");
    CU_ASSERT_TRUE(has_text(c->detail, "Erbitux 5 mg/mL"));
    CU_ASSERT_TRUE(c->n_override_reasons > 0);
    /* RAS unknown: still a card at ordering */
    mcrc_patient(&p, RAS_UNKNOWN, 1);
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, NULL, RXNORM, "263034", "panitumumab", 1,
                                   1, "MedicationRequest/o2"));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, bundled, "mcrc", "order-select", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, id), 1);
    /* RAS wild-type with the same order: silent */
    mcrc_patient(&p, RAS_WT, 1);
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Erbitux", ATC, "L01FE01", NULL, 1, 1,
                                   "MedicationRequest/o3"));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, bundled, "mcrc", "order-sign", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, id), 0);
    /* RAS-mutant with a non-EGFR order: silent at ordering */
    mcrc_patient(&p, RAS_MUT, 1);
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Bevacizumab", ATC, "L01FG01", NULL, 1, 1,
                                   "MedicationRequest/o4"));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, bundled, "mcrc", "order-sign", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, id), 0);
    /* RAS-mutant with cetuximab only in the history: silent at ordering */
    mcrc_patient(&p, RAS_MUT, 1);
    p.medications_known = 1;
    CU_ASSERT_PTR_NOT_NULL(add_med(a, &p, "Cetuximab", RXNORM, "318341", NULL, 0, 0, NULL));
    CU_ASSERT_EQUAL_FATAL(evaluate(a, bundled, "mcrc", "order-sign", &p, &out), 0);
    CU_ASSERT_EQUAL(count_cards(&out, id), 0);
    eng_arena_free(a);
}

static void test_mcrc_fact_esmo_group(void)
{
    const char *id = "MCRC-FACT-ESMO-GROUP";
    struct eng_patient p;
    mcrc_patient(&p, RAS_WT, -1);
    CU_ASSERT_EQUAL(pv(&p, id), 1);
    for (int g = 0; g <= 3; g++) {
        mcrc_patient(&p, RAS_WT, g);
        CU_ASSERT_EQUAL(pv(&p, id), 0);
    }
    expect_silent_when_not_mcrc(RAS_UNKNOWN, -1, id);
}

/* G12-WT-n: RAS wild-type, ESMO group 1, 2 or unknown. */
static void check_g12_wt(const char *id)
{
    struct eng_patient p;
    for (int g = 1; g <= 2; g++) {
        mcrc_patient(&p, RAS_WT, g);
        CU_ASSERT_EQUAL(pv(&p, id), 1);
    }
    mcrc_patient(&p, RAS_WT, -1);
    CU_ASSERT_EQUAL(pv(&p, id), 1);
    /* panel wild-type counts as RAS wild-type */
    mcrc_patient(&p, RAS_UNKNOWN, 1);
    p.ras_panel = 1;
    p.ras_panel_status = ENG_GENE_WILDTYPE;
    CU_ASSERT_EQUAL(pv(&p, id), 1);
    /* silent: RAS-mutant, RAS unknown, NRAS mutant, ESMO 0 and 3 */
    mcrc_patient(&p, RAS_MUT, 1);
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    mcrc_patient(&p, RAS_UNKNOWN, 1);
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    mcrc_patient(&p, RAS_WT, 1);
    p.genes[ENG_NRAS] = ENG_GENE_MUTANT;
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    mcrc_patient(&p, RAS_WT, 0);
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    mcrc_patient(&p, RAS_WT, 3);
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    /* patient-view only */
    mcrc_patient(&p, RAS_WT, 1);
    CU_ASSERT_EQUAL(mcrc_count(&p, "order-sign", id), 0);
    expect_silent_when_not_mcrc(RAS_WT, 1, id);
}

/* G12-MUT-n: RAS-mutant, ESMO group 1, 2 or unknown. */
static void check_g12_mut(const char *id)
{
    struct eng_patient p;
    for (int g = 1; g <= 2; g++) {
        mcrc_patient(&p, RAS_MUT, g);
        CU_ASSERT_EQUAL(pv(&p, id), 1);
    }
    mcrc_patient(&p, RAS_MUT, -1);
    CU_ASSERT_EQUAL(pv(&p, id), 1);
    mcrc_patient(&p, RAS_WT, 2); /* NRAS mutant alone makes RAS-mutant */
    p.genes[ENG_NRAS] = ENG_GENE_MUTANT;
    CU_ASSERT_EQUAL(pv(&p, id), 1);
    /* silent: RAS wild-type, RAS unknown, ESMO 0 and 3 */
    mcrc_patient(&p, RAS_WT, 1);
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    mcrc_patient(&p, RAS_UNKNOWN, 1);
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    mcrc_patient(&p, RAS_MUT, 0);
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    mcrc_patient(&p, RAS_MUT, 3);
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    expect_silent_when_not_mcrc(RAS_MUT, 2, id);
}

/* G3-1..4: ESMO group 3 or unknown, any RAS status. */
static void check_g3_any_ras(const char *id)
{
    struct eng_patient p;
    static const enum ras_case all[] = {RAS_UNKNOWN, RAS_WT, RAS_MUT};
    for (int i = 0; i < 3; i++) {
        mcrc_patient(&p, all[i], 3);
        CU_ASSERT_EQUAL(pv(&p, id), 1);
        mcrc_patient(&p, all[i], -1);
        CU_ASSERT_EQUAL(pv(&p, id), 1);
        for (int g = 0; g <= 2; g++) {
            mcrc_patient(&p, all[i], g);
            CU_ASSERT_EQUAL(pv(&p, id), 0);
        }
    }
    expect_silent_when_not_mcrc(RAS_MUT, 3, id);
}

static void test_mcrc_g12_wt_1(void) { check_g12_wt("MCRC-G12-WT-1"); }
static void test_mcrc_g12_wt_2(void) { check_g12_wt("MCRC-G12-WT-2"); }
static void test_mcrc_g12_wt_3(void) { check_g12_wt("MCRC-G12-WT-3"); }
static void test_mcrc_g12_wt_4(void) { check_g12_wt("MCRC-G12-WT-4"); }
static void test_mcrc_g12_mut_1(void) { check_g12_mut("MCRC-G12-MUT-1"); }
static void test_mcrc_g12_mut_2(void) { check_g12_mut("MCRC-G12-MUT-2"); }
static void test_mcrc_g12_mut_3(void) { check_g12_mut("MCRC-G12-MUT-3"); }
static void test_mcrc_g3_1(void) { check_g3_any_ras("MCRC-G3-1"); }
static void test_mcrc_g3_2(void) { check_g3_any_ras("MCRC-G3-2"); }
static void test_mcrc_g3_3(void) { check_g3_any_ras("MCRC-G3-3"); }
static void test_mcrc_g3_4(void) { check_g3_any_ras("MCRC-G3-4"); }

static void test_mcrc_g3_5(void)
{
    const char *id = "MCRC-G3-5";
    struct eng_patient p;
    mcrc_patient(&p, RAS_WT, 3);
    CU_ASSERT_EQUAL(pv(&p, id), 1);
    mcrc_patient(&p, RAS_WT, -1);
    CU_ASSERT_EQUAL(pv(&p, id), 1);
    mcrc_patient(&p, RAS_MUT, 3);
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    mcrc_patient(&p, RAS_UNKNOWN, 3);
    CU_ASSERT_EQUAL(pv(&p, id), 0);
    for (int g = 0; g <= 2; g++) {
        mcrc_patient(&p, RAS_WT, g);
        CU_ASSERT_EQUAL(pv(&p, id), 0);
    }
    expect_silent_when_not_mcrc(RAS_WT, 3, id);
}

/* Every recommendation ID in mcrc.rules has a test in this file. */
static void test_mcrc_every_rule_id_is_tested_here(void)
{
    static const char *const tested[] = {
        "MCRC-RAS-1", "MCRC-FACT-ESMO-GROUP", "MCRC-G12-WT-1", "MCRC-G12-WT-2",
        "MCRC-G12-WT-3", "MCRC-G12-WT-4", "MCRC-G12-MUT-1", "MCRC-G12-MUT-2",
        "MCRC-G12-MUT-3", "MCRC-G3-1", "MCRC-G3-2", "MCRC-G3-3", "MCRC-G3-4",
        "MCRC-G3-5", NULL};
    size_t len;
    char *rules = tu_read_source_file("rules/mcrc.rules", &len);
    int untested = 0;
    for (char *s = rules; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(s, "id:", 3) == 0) {
            char *v = s + 3;
            while (*v == ' ')
                v++;
            int found = 0;
            for (int i = 0; tested[i]; i++)
                found |= strcmp(tested[i], v) == 0;
            if (!found) {
                fprintf(stderr, "\n    no test for %s", v);
                untested++;
            }
        }
        s = nl ? nl + 1 : NULL;
    }
    CU_ASSERT_EQUAL(untested, 0);
    free(rules);
}

/* ======================================================================
 * Registration
 * ==================================================================== */

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s;

    s = CU_add_suite("arena", NULL, NULL);
    TU_ADD(s, "arena_alloc returns 16-byte aligned, non-overlapping blocks", test_arena_alignment);
    TU_ADD(s, "arena_calloc zero-fills", test_arena_calloc_zero_fills);
    TU_ADD(s, "arena refuses past its ceiling with NULL, no crash, stays usable", test_arena_ceiling_refuses_without_crash);
    TU_ADD(s, "arena_on_free cleanups run at free, last registered first", test_arena_cleanups_run_in_reverse_order_at_free);
    TU_ADD(s, "arena_on_free refused at the ceiling registers and runs nothing", test_arena_on_free_refused_at_ceiling_runs_nothing);
    TU_ADD(s, "arena strndup/strdup/printf copy and terminate", test_arena_strndup_strdup_printf);
    TU_ADD(s, "eng_buf appends, printf and grows keeping every byte", test_buf_appends_and_printf);
    TU_ADD(s, "eng_buf failure past its ceiling (or the arena's) is sticky", test_buf_failure_is_sticky_past_its_ceiling);
    TU_ADD(s, "eng_error_set fills code/status/message and returns -1", test_error_set_fills_and_returns_minus_one);

    s = CU_add_suite("patient", NULL, NULL);
    TU_ADD(s, "eng_patient_init makes every fact unknown", test_patient_init_sets_everything_unknown);
    TU_ADD(s, "RAS truth table: KRAS x NRAS unknown/wildtype/mutant/conflict", test_patient_ras_truth_table_kras_nras);
    TU_ADD(s, "RAS from the 81420-2 panel; panel wild-type + KRAS mutant is unknown", test_patient_ras_panel);
    TU_ADD(s, "set_gene: two different definite results make a conflict", test_patient_set_gene_conflict);
    TU_ADD(s, "set_mmr: two different definite results make a conflict", test_patient_set_mmr_conflict);
    TU_ADD(s, "age: full date around the birthday, year-only lower bound, garbage -1", test_patient_age);

    s = CU_add_suite("rule loader", NULL, NULL);
    TU_ADD(s, "a valid rule loads", test_loader_valid_rule_loads);
    TU_ADD(s, "unknown key: error names its line", test_loader_unknown_key_names_its_line);
    TU_ADD(s, "unknown fact: error names its line", test_loader_unknown_fact_names_its_line);
    TU_ADD(s, "operator that does not fit the fact's type: error names its line", test_loader_bad_operator_for_fact_type);
    TU_ADD(s, "unknown enum or set value: error names its line and the value", test_loader_unknown_enum_value);
    TU_ADD(s, "order has CLASS not in the drug table: error names its line", test_loader_unknown_drug_class_in_order_has);
    TU_ADD(s, "summary of 140+ characters refused at its line; 139 (multi-byte) accepted", test_loader_summary_of_140_characters_refused);
    TU_ADD(s, "missing required key: error names the rule's start line and the key", test_loader_missing_required_key_names_rule_start_line);
    TU_ADD(s, "duplicate rule name (same file and across files) refused at its line", test_loader_duplicate_rule_name);
    TU_ADD(s, "bad grade refused at its line; every listed grade accepted", test_loader_bad_grade);
    TU_ADD(s, "suggest without suggest-label refused at the rule's line", test_loader_suggest_without_label);
    TU_ADD(s, "suggest on a patient-view rule refused", test_loader_suggest_on_patient_view_refused);
    TU_ADD(s, "invalid UTF-8, control and NUL bytes refused at their line", test_loader_invalid_utf8_bytes);
    TU_ADD(s, "UTF-8 surrogates, overlong forms and code points above U+10FFFF refused", test_loader_rejects_surrogates_overlongs_and_above_u10ffff);
    TU_ADD(s, "over-long line refused at its line; long line inside the limit accepted", test_loader_over_long_line);
    TU_ADD(s, "a key before any rule: line refused at its line", test_loader_key_before_rule);
    TU_ADD(s, "a line without key: value refused at its line", test_loader_line_without_colon);
    TU_ADD(s, "blank lines, comments and indented comments accepted", test_loader_blank_lines_and_comments_accepted);
    TU_ADD(s, "CRLF line ends accepted and no value keeps the CR", test_loader_crlf_accepted_and_stripped);
    TU_ADD(s, "eng_ruleset_finish with zero rules fails", test_loader_finish_with_zero_rules_fails);
    TU_ADD(s, "drug table errors name file and line", test_loader_drug_table_errors_name_their_line);
    TU_ADD(s, "a finished rule set refuses more files; references keep it alive", test_loader_refuses_changes_after_finish);
    TU_ADD(s, "bundled drugs.tsv + mcrc.rules load; every rule: line counted under mcrc", test_bundled_rules_load);

    s = CU_add_suite("classify (bundled drugs.tsv)", bundled_init, bundled_cleanup);
    TU_ADD(s, "RxNorm 318341 is cetuximab and anti-egfr, only under the RxNorm system", test_classify_rxnorm_cetuximab);
    TU_ADD(s, "ATC L01FE01 and pre-2022 L01XC06 are anti-egfr", test_classify_atc_current_and_pre_2022_cetuximab);
    TU_ADD(s, "text 'cetuximab 5 mg/ml' is anti-egfr", test_classify_text_cetuximab);
    TU_ADD(s, "unknown codes (and ophthalmic aflibercept) give no names", test_classify_unknown_code_gives_no_names);
    TU_ADD(s, "classify writes at most cap names", test_classify_respects_cap);
    TU_ADD(s, "classify NULL-terminates its output as rules.h documents", test_classify_output_is_null_terminated_as_documented);

    s = CU_add_suite("evaluate (fixtures/engine/eval.rules)", eval_init, eval_cleanup);
    TU_ADD(s, "cards sorted critical, warning, info; file order kept within an indicator", test_eval_cards_sorted_critical_warning_info_file_order_kept);
    TU_ADD(s, "only rules listing the hook are evaluated", test_eval_hook_filtering);
    TU_ADD(s, "only rules of the requested guideline are evaluated", test_eval_guideline_filtering);
    TU_ADD(s, "integer comparisons are false when the fact is unknown", test_eval_int_comparisons_false_when_unknown);
    TU_ADD(s, "= unknown holds for unknown esmo_group, ras, medication_history only", test_eval_equals_unknown);
    TU_ADD(s, "order has: selected drafts on order-select, all drafts on order-sign, never history", test_eval_order_has_respects_scope);
    TU_ADD(s, "history has ignores draft orders", test_eval_history_has_ignores_drafts);
    TU_ADD(s, "text and display fallback classify case-insensitively", test_eval_text_fallback_is_case_insensitive);
    TU_ADD(s, "{orders} names exactly the orders the rule is about", test_eval_orders_expansion_names_matching_orders);
    TU_ADD(s, "suggest: one suggestion, one delete action per matching draft with a ref", test_eval_suggestion_one_delete_action_per_draft_with_ref);
    TU_ADD(s, "override reasons carried through with code and display", test_eval_override_reasons_carried_with_display);
    TU_ADD(s, "detail has the grade, scale, ID, seed file and each passage line as a > quote", test_eval_detail_has_grade_id_seed_and_passages_as_quotes);
    TU_ADD(s, "cards stop at ENG_LIMIT_CARDS, truncated set, critical kept first", test_eval_stops_at_card_limit_keeping_critical);
    TU_ADD(s, "an exhausted arena fails evaluation with ENG_ERR_NOMEM, no crash", test_eval_fails_cleanly_when_arena_exhausted);

    s = CU_add_suite("mcrc.rules", bundled_init, bundled_cleanup);
    TU_ADD(s, "MCRC-RAS-1: triggers for RAS-mutant/unknown (patient-view) and anti-EGFR drafts (orders); silent for RAS wild-type, non-EGFR or history-only", test_mcrc_ras_1);
    TU_ADD(s, "MCRC-FACT-ESMO-GROUP: triggers for unknown ESMO group; silent for groups 0-3", test_mcrc_fact_esmo_group);
    TU_ADD(s, "MCRC-G12-WT-1: triggers for RAS wild-type ESMO 1/2/unknown; silent for RAS-mutant/unknown, ESMO 0/3, non-metastatic, non-colorectal", test_mcrc_g12_wt_1);
    TU_ADD(s, "MCRC-G12-WT-2: triggers for RAS wild-type ESMO 1/2/unknown; silent for RAS-mutant/unknown, ESMO 0/3, non-metastatic, non-colorectal", test_mcrc_g12_wt_2);
    TU_ADD(s, "MCRC-G12-WT-3: triggers for RAS wild-type ESMO 1/2/unknown; silent for RAS-mutant/unknown, ESMO 0/3, non-metastatic, non-colorectal", test_mcrc_g12_wt_3);
    TU_ADD(s, "MCRC-G12-WT-4: triggers for RAS wild-type ESMO 1/2/unknown; silent for RAS-mutant/unknown, ESMO 0/3, non-metastatic, non-colorectal", test_mcrc_g12_wt_4);
    TU_ADD(s, "MCRC-G12-MUT-1: triggers for RAS-mutant ESMO 1/2/unknown; silent for RAS wild-type/unknown, ESMO 0/3, non-metastatic, non-colorectal", test_mcrc_g12_mut_1);
    TU_ADD(s, "MCRC-G12-MUT-2: triggers for RAS-mutant ESMO 1/2/unknown; silent for RAS wild-type/unknown, ESMO 0/3, non-metastatic, non-colorectal", test_mcrc_g12_mut_2);
    TU_ADD(s, "MCRC-G12-MUT-3: triggers for RAS-mutant ESMO 1/2/unknown; silent for RAS wild-type/unknown, ESMO 0/3, non-metastatic, non-colorectal", test_mcrc_g12_mut_3);
    TU_ADD(s, "MCRC-G3-1: triggers for ESMO 3/unknown, any RAS; silent for ESMO 0-2, non-metastatic, non-colorectal", test_mcrc_g3_1);
    TU_ADD(s, "MCRC-G3-2: triggers for ESMO 3/unknown, any RAS; silent for ESMO 0-2, non-metastatic, non-colorectal", test_mcrc_g3_2);
    TU_ADD(s, "MCRC-G3-3: triggers for ESMO 3/unknown, any RAS; silent for ESMO 0-2, non-metastatic, non-colorectal", test_mcrc_g3_3);
    TU_ADD(s, "MCRC-G3-4: triggers for ESMO 3/unknown, any RAS; silent for ESMO 0-2, non-metastatic, non-colorectal", test_mcrc_g3_4);
    TU_ADD(s, "MCRC-G3-5: triggers for RAS wild-type ESMO 3/unknown; silent for RAS-mutant/unknown, ESMO 0-2, non-metastatic, non-colorectal", test_mcrc_g3_5);
    TU_ADD(s, "every id: in mcrc.rules has a test here", test_mcrc_every_rule_id_is_tested_here);

    return tu_run();
}
