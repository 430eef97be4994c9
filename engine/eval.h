/* eval.h -- evaluating the rules for one patient and one hook into cards.
 *
 * eng_evaluate() walks the rules of one guideline that apply to one hook,
 * tests each rule's conditions against the patient's facts, and builds a
 * card for each rule that holds.  Cards come back sorted critical, then
 * warning, then info, and in rule-file order within an indicator.  The card
 * detail is assembled from the rule: its text, the grade on the guideline's
 * own scale, the source and the seed passage it rests on.
 *
 * The engine fills everything but the card uuid, which the protocol layer
 * adds (the engine has no source of randomness: it does no I/O).
 *
 * All output is allocated from the caller's arena.
 */
#ifndef ENG_EVAL_H
#define ENG_EVAL_H

#include "base.h"
#include "patient.h"
#include "rules.h"

enum eng_indicator { ENG_CRITICAL = 0, ENG_WARNING = 1, ENG_INFO = 2 };

/* The system URI of the Coding in card.source.topic; its code is the
 * recommendation ID. */
#define ENG_TOPIC_SYSTEM "urn:oncocds:recommendation"

struct eng_action {
    const char *type;        /* "delete" */
    const char *description;
    const char *resource_id; /* "MedicationRequest/<id>" */
};

struct eng_suggestion {
    const char *label;
    struct eng_action *actions;
    int n_actions;
};

struct eng_card {
    enum eng_indicator indicator;
    const char *summary;
    const char *detail;       /* GitHub-flavoured markdown */
    const char *source_label;
    const char *rec_id;       /* source.topic.code */
    const char *rule_name;    /* for logs and feedback; not patient data */
    struct eng_suggestion *suggestions; /* 0 or 1 today */
    int n_suggestions;
    const struct eng_coding *override_reasons;
    int n_override_reasons;
};

struct eng_eval_input {
    const struct eng_ruleset *rules;
    const char *guideline;  /* guideline key, e.g. "mcrc" */
    const char *hook;       /* "patient-view", "order-select", "order-sign" */
    const struct eng_patient *patient;
    const char *today;      /* "YYYY-MM-DD", for ages */
};

struct eng_card_list {
    struct eng_card *cards;
    int n;
    int truncated; /* more rules held than ENG_LIMIT_CARDS allows */
};

/* Evaluates and fills out.  Fails only when the arena is exhausted. */
int eng_evaluate(struct eng_arena *a, const struct eng_eval_input *in,
                 struct eng_card_list *out, struct eng_error *err)
    ENG_MUST_CHECK;

/* The indicator's name as CDS Hooks spells it. */
const char *eng_indicator_name(enum eng_indicator i);

#endif
