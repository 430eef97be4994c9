/* eval.c -- rule evaluation and card building.
 *
 * Evaluation has three steps.  First the patient's medications are
 * classified once against the drug table, giving two sets of drug names and
 * classes: what is being ordered (in scope for this hook) and what was given
 * before.  Then each rule of the guideline and hook is tested condition by
 * condition; facts are read straight from the patient struct.  Last, each
 * rule that holds becomes a card, and the cards are ordered by indicator.
 * The work is linear in rules x conditions plus medications x drug table.
 */
#include "rules_internal.h"

#include <string.h>

#define MED_MAX_NAMES 16

struct med_names {
    const struct eng_med *med;
    const char *names[MED_MAX_NAMES];
    int n;
    int in_scope; /* an order this hook checks */
};

struct eval_state {
    struct eng_arena *arena;
    const struct eng_eval_input *in;
    unsigned hook;
    struct med_names *meds;
    int n_meds;
    int age;
};

const char *eng_indicator_name(enum eng_indicator i)
{
    switch (i) {
    case ENG_CRITICAL: return "critical";
    case ENG_WARNING: return "warning";
    default: return "info";
    }
}

static unsigned hook_bit(const char *hook)
{
    if (strcmp(hook, "patient-view") == 0)
        return HOOK_PATIENT_VIEW;
    if (strcmp(hook, "order-select") == 0)
        return HOOK_ORDER_SELECT;
    if (strcmp(hook, "order-sign") == 0)
        return HOOK_ORDER_SIGN;
    return 0;
}

static int classify_meds(struct eval_state *st)
{
    const struct eng_patient *p = st->in->patient;
    st->meds = eng_arena_calloc(st->arena, sizeof *st->meds * (size_t)(p->n_meds + 1));
    if (!st->meds)
        return -1;
    for (const struct eng_med *m = p->meds; m; m = m->next) {
        struct med_names *mn = &st->meds[st->n_meds++];
        mn->med = m;
        if (m->is_draft_order)
            mn->in_scope = st->hook == HOOK_ORDER_SIGN ||
                           (st->hook == HOOK_ORDER_SELECT && m->is_selected);
        for (int c = 0; c < m->n_codings; c++)
            mn->n += eng_ruleset_classify(st->in->rules, m->codings[c].system,
                                          m->codings[c].code, NULL,
                                          mn->names + mn->n, MED_MAX_NAMES - mn->n);
        /* Free text is the fallback when no code was recognised. */
        for (int c = -1; c < m->n_codings && mn->n == 0; c++) {
            const char *text = c < 0 ? m->text : m->codings[c].display;
            if (!text)
                continue;
            char lower[256];
            size_t k = 0;
            for (; text[k] && k < sizeof lower - 1; k++)
                lower[k] = (char)(text[k] >= 'A' && text[k] <= 'Z' ? text[k] + 32 : text[k]);
            lower[k] = '\0';
            mn->n = eng_ruleset_classify(st->in->rules, NULL, NULL, lower,
                                         mn->names, MED_MAX_NAMES);
        }
    }
    return 0;
}

static int med_has(const struct med_names *mn, const char *name)
{
    for (int i = 0; i < mn->n; i++)
        if (mn->names[i] == name)
            return 1;
    return 0;
}

/* Whether any medication of the wanted kind carries `name`. */
static int set_has(const struct eval_state *st, int want_orders, const char *name)
{
    for (int i = 0; i < st->n_meds; i++) {
        const struct med_names *mn = &st->meds[i];
        int is_order = mn->in_scope;
        int is_history = !mn->med->is_draft_order;
        if ((want_orders ? is_order : is_history) && med_has(mn, name))
            return 1;
    }
    return 0;
}

static int int_fact(const struct eval_state *st, enum fact_id f)
{
    const struct eng_patient *p = st->in->patient;
    switch (f) {
    case FACT_METASTATIC: return p->metastatic ? 0 : 1;
    case FACT_KRAS: return (int)p->genes[ENG_KRAS];
    case FACT_NRAS: return (int)p->genes[ENG_NRAS];
    case FACT_BRAF: return (int)p->genes[ENG_BRAF];
    case FACT_RAS: return (int)eng_patient_ras(p);
    case FACT_MMR: return (int)p->mmr;
    case FACT_ECOG: return p->ecog;
    case FACT_AGE: return st->age;
    case FACT_ESMO_GROUP: return p->esmo_group;
    case FACT_MED_HISTORY: return p->medications_known ? 1 : 0;
    default: return -1;
    }
}

static int set_fact_has(const struct eval_state *st, const struct cond *c)
{
    const struct eng_patient *p = st->in->patient;
    switch (c->fact) {
    case FACT_CANCER: return (p->cancers >> c->ints[0]) & 1u;
    case FACT_MET_SITE: return (p->met_sites >> c->ints[0]) & 1u;
    case FACT_ORDER: return set_has(st, 1, c->names[0]);
    case FACT_HISTORY: return set_has(st, 0, c->names[0]);
    default: return 0;
    }
}

static int cond_holds(const struct eval_state *st, const struct cond *c)
{
    if (c->op == OP_HAS)
        return set_fact_has(st, c);
    if (c->op == OP_LACKS)
        return !set_fact_has(st, c);
    int v = int_fact(st, c->fact);
    int is_int = c->fact == FACT_ECOG || c->fact == FACT_AGE ||
                 c->fact == FACT_ESMO_GROUP;
    switch (c->op) {
    case OP_EQ: return v == c->ints[0];
    case OP_NE: return v != c->ints[0];
    case OP_IN:
        for (int i = 0; i < c->n_values; i++)
            if (v == c->ints[i])
                return 1;
        return 0;
    default: break;
    }
    if (is_int && v == INT_UNKNOWN)
        return 0;
    switch (c->op) {
    case OP_LT: return v < c->ints[0];
    case OP_LE: return v <= c->ints[0];
    case OP_GT: return v > c->ints[0];
    case OP_GE: return v >= c->ints[0];
    default: return 0;
    }
}

static int rule_holds(const struct eval_state *st, const struct rule *ru)
{
    for (int i = 0; i < ru->n_conds; i++)
        if (!cond_holds(st, &ru->conds[i]))
            return 0;
    return 1;
}

/* Whether an in-scope order is one the rule is about: it carries the
 * suggested class or a name from one of the rule's `order has` conditions. */
static int order_is_about(const struct rule *ru, const struct med_names *mn)
{
    if (!mn->in_scope)
        return 0;
    if (ru->suggest_class && med_has(mn, ru->suggest_class))
        return 1;
    for (int i = 0; i < ru->n_conds; i++)
        if (ru->conds[i].fact == FACT_ORDER && ru->conds[i].op == OP_HAS &&
            med_has(mn, ru->conds[i].names[0]))
            return 1;
    return 0;
}

static const char *med_label(const struct eng_med *m)
{
    if (m->text)
        return m->text;
    for (int i = 0; i < m->n_codings; i++)
        if (m->codings[i].display)
            return m->codings[i].display;
    for (int i = 0; i < m->n_codings; i++)
        if (m->codings[i].code)
            return m->codings[i].code;
    return "unnamed medication";
}

static void add_orders_text(struct eval_state *st, const struct rule *ru,
                            struct eng_buf *b)
{
    int n = 0;
    for (int i = 0; i < st->n_meds; i++) {
        if (!order_is_about(ru, &st->meds[i]))
            continue;
        eng_buf_adds(b, n++ ? ", " : "");
        eng_buf_adds(b, med_label(st->meds[i].med));
    }
    if (n == 0)
        eng_buf_adds(b, "the order");
}

/* Appends one detail line, expanding {orders}. */
static void add_detail_line(struct eval_state *st, const struct rule *ru,
                            struct eng_buf *b, const char *line)
{
    const char *tag = "{orders}";
    const char *hit;
    while ((hit = strstr(line, tag))) {
        eng_buf_add(b, line, (size_t)(hit - line));
        add_orders_text(st, ru, b);
        line = hit + strlen(tag);
    }
    eng_buf_adds(b, line);
    eng_buf_adds(b, "\n");
}

static const char *build_detail(struct eval_state *st, const struct rule *ru)
{
    struct eng_buf b;
    eng_buf_init(&b, st->arena, 64u * 1024u);
    for (int i = 0; i < ru->n_details; i++)
        add_detail_line(st, ru, &b, ru->details[i]);
    if (strcmp(ru->grade, "none") == 0)
        eng_buf_adds(&b, "\n**Grade:** not graded in the guideline");
    else
        eng_buf_printf(&b, "\n**Grade:** %s", ru->grade);
    if (ru->grade_scale)
        eng_buf_printf(&b, " (%s)", ru->grade_scale);
    eng_buf_printf(&b, "  \n**Recommendation:** %s  \n**Source:** %s, `%s`:\n",
                   ru->id, ru->source, ru->seed);
    for (int i = 0; i < ru->n_passages; i++)
        eng_buf_printf(&b, "\n> %s", ru->passages[i]);
    return b.failed ? NULL : b.data;
}

static int build_suggestion(struct eval_state *st, const struct rule *ru,
                            struct eng_card *card)
{
    int n = 0;
    for (int i = 0; i < st->n_meds; i++)
        n += order_is_about(ru, &st->meds[i]) && st->meds[i].med->ref;
    if (!ru->suggest_class || n == 0)
        return 0;
    struct eng_suggestion *s = eng_arena_calloc(st->arena, sizeof *s);
    struct eng_action *acts = eng_arena_calloc(st->arena, sizeof *acts * (size_t)n);
    if (!s || !acts)
        return -1;
    s->label = ru->suggest_label;
    s->actions = acts;
    for (int i = 0; i < st->n_meds; i++) {
        const struct eng_med *m = st->meds[i].med;
        if (!order_is_about(ru, &st->meds[i]) || !m->ref)
            continue;
        struct eng_action *a = &acts[s->n_actions++];
        a->type = "delete";
        a->resource_id = m->ref;
        a->description = eng_arena_printf(st->arena, "Remove the draft order %s",
                                          med_label(m));
        if (!a->description)
            return -1;
    }
    card->suggestions = s;
    card->n_suggestions = 1;
    return 0;
}

static int build_card(struct eval_state *st, const struct rule *ru,
                      struct eng_card *card)
{
    memset(card, 0, sizeof *card);
    card->indicator = ru->indicator;
    card->summary = ru->summary;
    card->source_label = ru->source;
    card->rec_id = ru->id;
    card->rule_name = ru->name;
    card->override_reasons = ru->overrides;
    card->n_override_reasons = ru->n_overrides;
    if (!(card->detail = build_detail(st, ru)))
        return -1;
    return build_suggestion(st, ru, card);
}

int eng_evaluate(struct eng_arena *a, const struct eng_eval_input *in,
                 struct eng_card_list *out, struct eng_error *err)
{
    struct eval_state st = {.arena = a, .in = in, .hook = hook_bit(in->hook)};
    const struct eng_ruleset *rs = in->rules;
    memset(out, 0, sizeof *out);
    st.age = eng_patient_age(in->patient, in->today);
    if (classify_meds(&st) < 0)
        goto nomem;
    /* Which rules hold, in file order. */
    const struct rule **held = eng_arena_alloc(a, sizeof *held * (size_t)(rs->n_rules + 1));
    int n_held = 0;
    if (!held)
        goto nomem;
    for (int i = 0; i < rs->n_rules; i++) {
        const struct rule *ru = rs->rules[i];
        if ((ru->hooks & st.hook) && strcmp(ru->guideline, in->guideline) == 0 &&
            rule_holds(&st, ru))
            held[n_held++] = ru;
    }
    int n = n_held < ENG_LIMIT_CARDS ? n_held : ENG_LIMIT_CARDS;
    out->truncated = n_held > n;
    out->cards = eng_arena_alloc(a, sizeof *out->cards * (size_t)(n + 1));
    if (!out->cards)
        goto nomem;
    /* Stable order by indicator: critical, warning, info. */
    for (int ind = ENG_CRITICAL; ind <= ENG_INFO && out->n < n; ind++)
        for (int i = 0; i < n_held && out->n < n; i++)
            if ((int)held[i]->indicator == ind &&
                build_card(&st, held[i], &out->cards[out->n++]) < 0)
                goto nomem;
    return 0;
nomem:
    return eng_error_set(err, ENG_ERR_NOMEM, 500,
                         "out of memory while building cards");
}
