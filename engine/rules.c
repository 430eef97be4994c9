/* rules.c -- loading and checking rule files and the drug table.
 *
 * Both formats are line-oriented so that an error can name its file and line
 * and a clinician can review a rule line by line.  The parser reads one line
 * at a time into a bounded buffer, splits `key: value`, and fills the rule
 * being built; a rule is checked as a whole when the next `rule:` line or the
 * end of the file closes it.  Every check failure stops the load with
 * "file:line: what is wrong".
 */
#include "rules_internal.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cancer_syms[] = {"colorectal", "endometrial", "nsclc", NULL};
static const char *const site_syms[] = {"liver", "lung",  "brain", "adrenal",
                                        "bone",  "other", NULL};
static const char *const metastatic_syms[] = {"yes", "unknown", NULL};
static const char *const gene_syms[] = {"unknown", "wildtype", "mutant", "conflict", NULL};
static const char *const ras_syms[] = {"unknown", "wildtype", "mutant", NULL};
static const char *const mmr_syms[] = {"unknown", "proficient", "deficient",
                                       "conflict", NULL};
static const char *const history_syms[] = {"unknown", "known", NULL};

/* Enum symbol order matches enum eng_gene_status / eng_mmr_status so the
 * evaluator can compare indexes directly. */
const char *const *const eng_fact_symbols[FACT_COUNT] = {
    [FACT_CANCER] = cancer_syms,   [FACT_MET_SITE] = site_syms,
    [FACT_METASTATIC] = metastatic_syms, [FACT_KRAS] = gene_syms,
    [FACT_NRAS] = gene_syms,       [FACT_BRAF] = gene_syms,
    [FACT_RAS] = ras_syms,         [FACT_MMR] = mmr_syms,
    [FACT_MED_HISTORY] = history_syms,
};

static const struct {
    const char *name;
    enum fact_kind kind;
} fact_defs[FACT_COUNT] = {
    [FACT_CANCER] = {"cancer", FACT_SET},
    [FACT_MET_SITE] = {"met_site", FACT_SET},
    [FACT_METASTATIC] = {"metastatic", FACT_ENUM},
    [FACT_KRAS] = {"kras", FACT_ENUM},
    [FACT_NRAS] = {"nras", FACT_ENUM},
    [FACT_BRAF] = {"braf", FACT_ENUM},
    [FACT_RAS] = {"ras", FACT_ENUM},
    [FACT_MMR] = {"mmr", FACT_ENUM},
    [FACT_ECOG] = {"ecog", FACT_INT},
    [FACT_AGE] = {"age", FACT_INT},
    [FACT_ESMO_GROUP] = {"esmo_group", FACT_INT},
    [FACT_MED_HISTORY] = {"medication_history", FACT_ENUM},
    [FACT_ORDER] = {"order", FACT_SET},
    [FACT_HISTORY] = {"history", FACT_SET},
};

/* ---- rule set lifetime ------------------------------------------------ */

struct eng_ruleset *eng_ruleset_new(struct eng_error *err)
{
    struct eng_ruleset *rs = calloc(1, sizeof *rs);
    if (rs)
        rs->arena = eng_arena_new(64u * 1024u * 1024u);
    if (!rs || !rs->arena) {
        free(rs);
        eng_error_set(err, ENG_ERR_NOMEM, 500, "out of memory creating rule set");
        return NULL;
    }
    rs->refs = 1;
    return rs;
}

struct eng_ruleset *eng_ruleset_ref(struct eng_ruleset *rs)
{
    if (rs)
        rs->refs++;
    return rs;
}

void eng_ruleset_release(struct eng_ruleset *rs)
{
    if (!rs || --rs->refs > 0)
        return;
    eng_arena_free(rs->arena);
    free(rs);
}

int eng_ruleset_count(const struct eng_ruleset *rs, const char *guideline)
{
    int n = 0;
    for (int i = 0; i < rs->n_rules; i++)
        if (!guideline || strcmp(rs->rules[i]->guideline, guideline) == 0)
            n++;
    return n;
}

/* Grows an arena array of pointers or structs: *items has *cap slots of
 * `size` bytes; on return it has room for one more. */
static int grow(struct eng_arena *a, void **items, int *cap, int n, size_t size)
{
    if (n < *cap)
        return 0;
    int ncap = *cap ? *cap * 2 : 32;
    void *p = eng_arena_alloc(a, (size_t)ncap * size);
    if (!p)
        return -1;
    if (n)
        memcpy(p, *items, (size_t)n * size);
    *items = p;
    *cap = ncap;
    return 0;
}

/* ---- line reading ------------------------------------------------------ */

struct line_reader {
    const char *name;
    const char *buf;
    size_t len, pos;
    int lineno;
    char line[ENG_LIMIT_RULE_LINE_BYTES];
};

/* Valid UTF-8 with no control characters but tab. */
static int text_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 && s[i] != '\t')
            return 0;
    return eng_utf8_valid((const char *)s, n);
}

/* Reads the next line without its end-of-line into r->line.  Returns 1 for
 * a line, 0 at the end, -1 (err filled) for a bad line. */
static int read_line(struct line_reader *r, struct eng_error *err)
{
    if (r->pos >= r->len)
        return 0;
    const char *start = r->buf + r->pos;
    const char *nl = memchr(start, '\n', r->len - r->pos);
    size_t n = nl ? (size_t)(nl - start) : r->len - r->pos;
    r->pos += n + (nl ? 1 : 0);
    r->lineno++;
    if (n && start[n - 1] == '\r')
        n--;
    if (n >= sizeof r->line)
        return eng_error_set(err, ENG_ERR_TOO_LARGE, 0,
                             "%s:%d: line longer than %u bytes", r->name,
                             r->lineno, (unsigned)sizeof r->line - 1);
    if (memchr(start, '\0', n) || !text_ok((const unsigned char *)start, n))
        return eng_error_set(err, ENG_ERR_SYNTAX, 0,
                             "%s:%d: not valid UTF-8 text", r->name, r->lineno);
    memcpy(r->line, start, n);
    r->line[n] = '\0';
    return 1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static int is_blank_or_comment(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0' || *s == '#';
}

/* Splits the next whitespace-separated word off *s. NULL at the end. */
static char *next_word(char **s)
{
    char *p = *s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return NULL;
    char *w = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if (*p)
        *p++ = '\0';
    *s = p;
    return w;
}

static int matches_charset(const char *s, const char *extra, int upper)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isdigit(c) || strchr(extra, c) || (upper ? isupper(c) : islower(c)))
            continue;
        return 0;
    }
    return 1;
}

/* ---- drug table -------------------------------------------------------- */

static const char *intern_name(struct eng_ruleset *rs, const char *s)
{
    for (int i = 0; i < rs->n_names; i++)
        if (strcmp(rs->names[i], s) == 0)
            return rs->names[i];
    if (grow(rs->arena, (void **)&rs->names, &rs->cap_names, rs->n_names,
             sizeof *rs->names) < 0)
        return NULL;
    const char *copy = eng_arena_strdup(rs->arena, s);
    if (copy)
        rs->names[rs->n_names++] = copy;
    return copy;
}

static const char *find_name(const struct eng_ruleset *rs, const char *s)
{
    for (int i = 0; i < rs->n_names; i++)
        if (strcmp(rs->names[i], s) == 0)
            return rs->names[i];
    return NULL;
}

static int parse_drug_line(struct eng_ruleset *rs, struct line_reader *r,
                           struct eng_error *err)
{
    char *s = r->line;
    char *drug = next_word(&s), *classes = next_word(&s);
    char *system = next_word(&s), *code = next_word(&s);
    char *source = trim(s);
    if (!drug || !classes || !system || !code || !*source)
        return eng_error_set(err, ENG_ERR_SYNTAX, 0,
                             "%s:%d: expected DRUG CLASSES SYSTEM CODE SOURCE",
                             r->name, r->lineno);
    if (!matches_charset(drug, "-", 0))
        return eng_error_set(err, ENG_ERR_INVALID, 0,
                             "%s:%d: drug name '%s' must be [a-z0-9-]", r->name,
                             r->lineno, drug);
    if (grow(rs->arena, (void **)&rs->drugs, &rs->cap_drugs, rs->n_drugs,
             sizeof *rs->drugs) < 0)
        goto nomem;
    struct drug_entry *d = &rs->drugs[rs->n_drugs];
    memset(d, 0, sizeof *d);
    if (strcmp(system, "rxnorm") == 0)
        d->system = DRUG_RXNORM;
    else if (strcmp(system, "atc") == 0)
        d->system = DRUG_ATC;
    else if (strcmp(system, "text") == 0)
        d->system = DRUG_TEXT;
    else
        return eng_error_set(err, ENG_ERR_INVALID, 0,
                             "%s:%d: system '%s' is not rxnorm, atc or text",
                             r->name, r->lineno, system);
    if (d->system == DRUG_TEXT && !matches_charset(code, "- ", 0))
        return eng_error_set(err, ENG_ERR_INVALID, 0,
                             "%s:%d: a text code must be lower-case", r->name,
                             r->lineno);
    if (!(d->drug = intern_name(rs, drug)) ||
        !(d->code = eng_arena_strdup(rs->arena, code)))
        goto nomem;
    for (char *c = strtok(classes, ","); c; c = strtok(NULL, ",")) {
        if (!matches_charset(c, "-", 0))
            return eng_error_set(err, ENG_ERR_INVALID, 0,
                                 "%s:%d: class '%s' must be [a-z0-9-]", r->name,
                                 r->lineno, c);
        if (d->n_classes == DRUG_MAX_CLASSES)
            return eng_error_set(err, ENG_ERR_TOO_LARGE, 0,
                                 "%s:%d: more than %d classes", r->name,
                                 r->lineno, DRUG_MAX_CLASSES);
        if (!(d->classes[d->n_classes++] = intern_name(rs, c)))
            goto nomem;
    }
    rs->n_drugs++;
    return 0;
nomem:
    return eng_error_set(err, ENG_ERR_NOMEM, 0, "%s:%d: out of memory", r->name,
                         r->lineno);
}

int eng_ruleset_add_drugs(struct eng_ruleset *rs, const char *name,
                          const char *buf, size_t len, struct eng_error *err)
{
    struct line_reader r = {.name = name, .buf = buf, .len = len};
    int rc;
    if (rs->frozen)
        return eng_error_set(err, ENG_ERR_INVALID, 0, "rule set is frozen");
    if (len > ENG_LIMIT_RULE_FILE_BYTES)
        return eng_error_set(err, ENG_ERR_TOO_LARGE, 0, "%s: larger than %u bytes",
                             name, ENG_LIMIT_RULE_FILE_BYTES);
    while ((rc = read_line(&r, err)) == 1) {
        if (is_blank_or_comment(r.line))
            continue;
        if (parse_drug_line(rs, &r, err) < 0)
            return -1;
    }
    return rc;
}

int eng_ruleset_classify(const struct eng_ruleset *rs, const char *system,
                         const char *code, const char *text,
                         const char **names, int cap)
{
    int n = 0;
    enum drug_system want = DRUG_TEXT;
    int by_code = 0;
    if (system && code) {
        if (strcmp(system, "http://www.nlm.nih.gov/research/umls/rxnorm") == 0)
            want = DRUG_RXNORM, by_code = 1;
        else if (strcmp(system, "http://www.whocc.no/atc") == 0 ||
                 strcmp(system, "http://fhir.de/CodeSystem/bfarm/atc") == 0)
            want = DRUG_ATC, by_code = 1;
    }
    for (int i = 0; i < rs->n_drugs; i++) {
        const struct drug_entry *d = &rs->drugs[i];
        int hit;
        if (by_code)
            hit = d->system == want && strcmp(d->code, code) == 0;
        else
            hit = d->system == DRUG_TEXT && text && strstr(text, d->code);
        if (!hit)
            continue;
        const char *add[1 + DRUG_MAX_CLASSES];
        int k = 0;
        add[k++] = d->drug;
        for (int c = 0; c < d->n_classes; c++)
            add[k++] = d->classes[c];
        for (int j = 0; j < k; j++) {
            int seen = 0;
            for (int m = 0; m < n; m++)
                seen |= names[m] == add[j];
            if (!seen && n < cap)
                names[n++] = add[j];
        }
    }
    if (n < cap)
        names[n] = NULL;
    return n;
}

/* ---- rule parsing ------------------------------------------------------ */

struct rule_parser {
    struct eng_ruleset *rs;
    struct line_reader *r;
    struct rule *cur;
    struct eng_error *err;
};

static int fail(struct rule_parser *p, const char *what)
{
    return eng_error_set(p->err, ENG_ERR_INVALID, 0, "%s:%d: %s", p->r->name,
                         p->r->lineno, what);
}

static int find_symbol(const char *const *syms, const char *w)
{
    for (int i = 0; syms && syms[i]; i++)
        if (strcmp(syms[i], w) == 0)
            return i;
    return -1;
}

static int parse_op(const char *w, enum cond_op *op)
{
    static const struct { const char *s; enum cond_op op; } ops[] = {
        {"=", OP_EQ},  {"!=", OP_NE}, {"in", OP_IN},  {"has", OP_HAS},
        {"lacks", OP_LACKS}, {"<", OP_LT}, {"<=", OP_LE}, {">", OP_GT},
        {">=", OP_GE},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].s, w) == 0) {
            *op = ops[i].op;
            return 0;
        }
    return -1;
}

static int op_fits_kind(enum cond_op op, enum fact_kind kind)
{
    switch (kind) {
    case FACT_SET: return op == OP_HAS || op == OP_LACKS;
    case FACT_ENUM: return op == OP_EQ || op == OP_NE || op == OP_IN;
    case FACT_INT: return op != OP_HAS && op != OP_LACKS;
    }
    return 0;
}

static int parse_value(struct rule_parser *p, struct cond *c, const char *w)
{
    enum fact_kind kind = fact_defs[c->fact].kind;
    int i = c->n_values;
    char msg[200];
    if (kind == FACT_INT) {
        char *end;
        long v;
        if (strcmp(w, "unknown") == 0) {
            if (c->op != OP_EQ && c->op != OP_NE && c->op != OP_IN)
                return fail(p, "only =, != and in can compare with unknown");
            c->ints[i] = INT_UNKNOWN;
            return 0;
        }
        v = strtol(w, &end, 10);
        if (*end || end == w || v < 0 || v > 200) {
            snprintf(msg, sizeof msg, "'%s' is not a whole number 0-200 or unknown", w);
            return fail(p, msg);
        }
        c->ints[i] = (int)v;
        return 0;
    }
    if (c->fact == FACT_ORDER || c->fact == FACT_HISTORY) {
        if (!(c->names[i] = find_name(p->rs, w))) {
            snprintf(msg, sizeof msg,
                     "'%s' is no drug or class in the drug table", w);
            return fail(p, msg);
        }
        return 0;
    }
    int sym = find_symbol(eng_fact_symbols[c->fact], w);
    if (sym < 0) {
        snprintf(msg, sizeof msg, "'%s' is not a value of %s", w,
                 fact_defs[c->fact].name);
        return fail(p, msg);
    }
    c->ints[i] = sym;
    return 0;
}

static int parse_when(struct rule_parser *p, char *v)
{
    struct rule *ru = p->cur;
    char msg[200];
    if (ru->n_conds == ENG_LIMIT_RULE_LINES)
        return fail(p, "too many when: lines");
    struct cond *c = &ru->conds[ru->n_conds];
    memset(c, 0, sizeof *c);
    char *fact = next_word(&v), *op = next_word(&v);
    if (!fact || !op)
        return fail(p, "expected FACT OP VALUE");
    int f;
    for (f = 0; f < FACT_COUNT; f++)
        if (strcmp(fact_defs[f].name, fact) == 0)
            break;
    if (f == FACT_COUNT) {
        snprintf(msg, sizeof msg, "unknown fact '%s'", fact);
        return fail(p, msg);
    }
    c->fact = (enum fact_id)f;
    if (parse_op(op, &c->op) < 0 || !op_fits_kind(c->op, fact_defs[f].kind)) {
        snprintf(msg, sizeof msg, "operator '%s' cannot be used with %s", op, fact);
        return fail(p, msg);
    }
    for (char *w; (w = next_word(&v));) {
        if (c->n_values == COND_MAX_VALUES)
            return fail(p, "too many values");
        if (parse_value(p, c, w) < 0)
            return -1;
        c->n_values++;
    }
    if (c->n_values == 0)
        return fail(p, "expected a value");
    if (c->n_values > 1 && c->op != OP_IN)
        return fail(p, "several values need the 'in' operator");
    ru->n_conds++;
    return 0;
}

static int parse_hooks(struct rule_parser *p, char *v)
{
    for (char *w; (w = next_word(&v));) {
        if (strcmp(w, "patient-view") == 0)
            p->cur->hooks |= HOOK_PATIENT_VIEW;
        else if (strcmp(w, "order-select") == 0)
            p->cur->hooks |= HOOK_ORDER_SELECT;
        else if (strcmp(w, "order-sign") == 0)
            p->cur->hooks |= HOOK_ORDER_SIGN;
        else
            return fail(p, "hooks are patient-view, order-select, order-sign");
    }
    if (!p->cur->hooks)
        return fail(p, "hooks: needs at least one hook");
    return 0;
}

static int parse_indicator(struct rule_parser *p, const char *v)
{
    static const char *const names[] = {"critical", "warning", "info"};
    for (int i = 0; i < 3; i++)
        if (strcmp(v, names[i]) == 0) {
            p->cur->indicator = (enum eng_indicator)i;
            p->cur->has_indicator = 1;
            return 0;
        }
    return fail(p, "indicator is info, warning or critical");
}

static int parse_grade(struct rule_parser *p, const char *v)
{
    static const char *const grades[] = {"A",   "B",    "C",     "D",      "(+)",
                                         "(++)", "(+++)", "(++++)", "none", NULL};
    if (find_symbol(grades, v) < 0)
        return fail(p, "grade is A, B, C, D, (+), (++), (+++), (++++) or none");
    return 0;
}

/* Counts characters (code points) of UTF-8 text. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int parse_suggest(struct rule_parser *p, char *v)
{
    char *verb = next_word(&v), *cls = next_word(&v);
    if (!verb || strcmp(verb, "remove") != 0 || !cls || next_word(&v))
        return fail(p, "suggest: expects 'remove CLASS'");
    if (!(p->cur->suggest_class = find_name(p->rs, cls)))
        return fail(p, "suggest: names no drug or class in the drug table");
    return 0;
}

static int parse_override(struct rule_parser *p, char *v)
{
    struct rule *ru = p->cur;
    char *bar = strchr(v, '|');
    if (!bar)
        return fail(p, "override: expects 'CODE | DISPLAY'");
    *bar = '\0';
    char *code = trim(v), *display = trim(bar + 1);
    if (!matches_charset(code, "-", 0) || !*display)
        return fail(p, "override: code must be [a-z0-9-] and display non-empty");
    if (ru->n_overrides == ENG_LIMIT_RULE_LINES)
        return fail(p, "too many override: lines");
    struct eng_coding *o = &ru->overrides[ru->n_overrides];
    o->system = "urn:oncocds:override-reason";
    if (!(o->code = eng_arena_strdup(p->rs->arena, code)) ||
        !(o->display = eng_arena_strdup(p->rs->arena, display)))
        return fail(p, "out of memory");
    ru->n_overrides++;
    return 0;
}

/* Stores a single-valued text field, refusing a second occurrence. */
static int set_once(struct rule_parser *p, const char **slot, const char *key,
                    const char *v)
{
    char msg[100];
    if (*slot) {
        snprintf(msg, sizeof msg, "%s: given twice", key);
        return fail(p, msg);
    }
    if (!*v) {
        snprintf(msg, sizeof msg, "%s: is empty", key);
        return fail(p, msg);
    }
    if (!(*slot = eng_arena_strdup(p->rs->arena, v)))
        return fail(p, "out of memory");
    return 0;
}

static int add_line(struct rule_parser *p, const char **lines, int *n,
                    const char *v)
{
    if (*n == ENG_LIMIT_RULE_LINES)
        return fail(p, "too many lines of this kind");
    if (!(lines[*n] = eng_arena_strdup(p->rs->arena, v)))
        return fail(p, "out of memory");
    (*n)++;
    return 0;
}

/* Checks a finished rule; `line` is where it started. */
static int check_rule(struct rule_parser *p)
{
    struct rule *ru = p->cur;
    char msg[200];
    static const struct { size_t off; const char *key; } required[] = {
        {offsetof(struct rule, id), "id"},
        {offsetof(struct rule, guideline), "guideline"},
        {offsetof(struct rule, grade), "grade"},
        {offsetof(struct rule, source), "source"},
        {offsetof(struct rule, seed), "seed"},
        {offsetof(struct rule, summary), "summary"},
    };
    int line = p->r->lineno;
    p->r->lineno = ru->line;
    int rc = -1;
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (!*(const char **)((const char *)ru + required[i].off)) {
            snprintf(msg, sizeof msg, "rule '%s' has no %s:", ru->name,
                     required[i].key);
            fail(p, msg);
            goto out;
        }
    }
    snprintf(msg, sizeof msg, "rule '%s' ", ru->name);
    if (!ru->hooks)
        fail(p, strcat(msg, "has no hooks:"));
    else if (!ru->has_indicator)
        fail(p, strcat(msg, "has no indicator:"));
    else if (ru->n_passages == 0)
        fail(p, strcat(msg, "has no passage: from its seed"));
    else if (ru->n_details == 0)
        fail(p, strcat(msg, "has no detail:"));
    else if (ru->suggest_class && !ru->suggest_label)
        fail(p, strcat(msg, "has suggest: without suggest-label:"));
    else if (ru->suggest_class && (ru->hooks & HOOK_PATIENT_VIEW))
        fail(p, strcat(msg, "suggests removing orders on patient-view"));
    else
        rc = 0;
out:
    p->r->lineno = line;
    return rc;
}

static int close_rule(struct rule_parser *p)
{
    if (!p->cur)
        return 0;
    if (check_rule(p) < 0)
        return -1;
    struct eng_ruleset *rs = p->rs;
    if (rs->n_rules == ENG_LIMIT_RULES)
        return fail(p, "too many rules");
    if (grow(rs->arena, (void **)&rs->rules, &rs->cap_rules, rs->n_rules,
             sizeof *rs->rules) < 0)
        return fail(p, "out of memory");
    rs->rules[rs->n_rules++] = p->cur;
    p->cur = NULL;
    return 0;
}

static int open_rule(struct rule_parser *p, const char *name)
{
    if (close_rule(p) < 0)
        return -1;
    if (!matches_charset(name, "-", 0))
        return fail(p, "rule: name must be [a-z0-9-]");
    for (int i = 0; i < p->rs->n_rules; i++)
        if (strcmp(p->rs->rules[i]->name, name) == 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "rule '%s' already defined at %s:%d",
                     name, p->rs->rules[i]->file, p->rs->rules[i]->line);
            return fail(p, msg);
        }
    struct rule *ru = eng_arena_calloc(p->rs->arena, sizeof *ru);
    if (!ru || !(ru->name = eng_arena_strdup(p->rs->arena, name)) ||
        !(ru->file = eng_arena_strdup(p->rs->arena, p->r->name)))
        return fail(p, "out of memory");
    ru->line = p->r->lineno;
    p->cur = ru;
    return 0;
}

static int parse_key(struct rule_parser *p, const char *key, char *v)
{
    struct rule *ru = p->cur;
    if (strcmp(key, "rule") == 0)
        return open_rule(p, v);
    if (!ru)
        return fail(p, "expected 'rule:' first");
    if (strcmp(key, "id") == 0) {
        if (!matches_charset(v, "-", 1))
            return fail(p, "id: must be [A-Z0-9-]");
        return set_once(p, &ru->id, key, v);
    }
    if (strcmp(key, "guideline") == 0) {
        if (!matches_charset(v, "-", 0))
            return fail(p, "guideline: must be [a-z0-9-]");
        return set_once(p, &ru->guideline, key, v);
    }
    if (strcmp(key, "grade") == 0)
        return parse_grade(p, v) < 0 ? -1 : set_once(p, &ru->grade, key, v);
    if (strcmp(key, "grade-scale") == 0)
        return set_once(p, &ru->grade_scale, key, v);
    if (strcmp(key, "source") == 0)
        return set_once(p, &ru->source, key, v);
    if (strcmp(key, "seed") == 0)
        return set_once(p, &ru->seed, key, v);
    if (strcmp(key, "summary") == 0) {
        if (utf8_chars(v) > ENG_LIMIT_SUMMARY_CHARS)
            return fail(p, "summary: must be under 140 characters");
        return set_once(p, &ru->summary, key, v);
    }
    if (strcmp(key, "suggest-label") == 0)
        return set_once(p, &ru->suggest_label, key, v);
    if (strcmp(key, "passage") == 0)
        return add_line(p, ru->passages, &ru->n_passages, v);
    if (strcmp(key, "detail") == 0)
        return add_line(p, ru->details, &ru->n_details, v);
    if (strcmp(key, "hooks") == 0)
        return parse_hooks(p, v);
    if (strcmp(key, "when") == 0)
        return parse_when(p, v);
    if (strcmp(key, "indicator") == 0)
        return parse_indicator(p, v);
    if (strcmp(key, "suggest") == 0)
        return ru->suggest_class ? fail(p, "suggest: given twice")
                                 : parse_suggest(p, v);
    if (strcmp(key, "override") == 0)
        return parse_override(p, v);
    char msg[200];
    snprintf(msg, sizeof msg, "unknown key '%s'", key);
    return fail(p, msg);
}

int eng_ruleset_add_rules(struct eng_ruleset *rs, const char *name,
                          const char *buf, size_t len, struct eng_error *err)
{
    struct line_reader *r = calloc(1, sizeof *r);
    struct rule_parser p = {.rs = rs, .r = r, .err = err};
    int rc = -1;
    if (!r)
        return eng_error_set(err, ENG_ERR_NOMEM, 0, "out of memory");
    *r = (struct line_reader){.name = name, .buf = buf, .len = len};
    if (rs->frozen) {
        eng_error_set(err, ENG_ERR_INVALID, 0, "rule set is frozen");
        goto out;
    }
    if (len > ENG_LIMIT_RULE_FILE_BYTES) {
        eng_error_set(err, ENG_ERR_TOO_LARGE, 0, "%s: larger than %u bytes",
                      name, ENG_LIMIT_RULE_FILE_BYTES);
        goto out;
    }
    int more;
    while ((more = read_line(r, err)) == 1) {
        if (is_blank_or_comment(r->line))
            continue;
        char *colon = strchr(r->line, ':');
        if (!colon) {
            fail(&p, "expected 'key: value'");
            goto out;
        }
        *colon = '\0';
        if (parse_key(&p, trim(r->line), trim(colon + 1)) < 0)
            goto out;
    }
    if (more < 0)
        goto out;
    rc = close_rule(&p);
out:
    free(r);
    return rc;
}

int eng_ruleset_finish(struct eng_ruleset *rs, struct eng_error *err)
{
    if (rs->n_rules == 0)
        return eng_error_set(err, ENG_ERR_INVALID, 0, "no rules were loaded");
    rs->frozen = 1;
    return 0;
}
