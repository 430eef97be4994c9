/* rules_internal.h -- the parsed form of rules, shared by rules.c and eval.c.
 * Private to engine/: never include it from another directory. */
#ifndef ENG_RULES_INTERNAL_H
#define ENG_RULES_INTERNAL_H

#include "eval.h"
#include "limits.h"
#include "rules.h"

enum fact_kind { FACT_SET, FACT_ENUM, FACT_INT };

enum fact_id {
    FACT_CANCER,
    FACT_MET_SITE,
    FACT_METASTATIC,
    FACT_KRAS,
    FACT_NRAS,
    FACT_BRAF,
    FACT_RAS,
    FACT_MMR,
    FACT_ECOG,
    FACT_AGE,
    FACT_ESMO_GROUP,
    FACT_MED_HISTORY,
    FACT_ORDER,
    FACT_HISTORY,
    FACT_COUNT
};

enum cond_op { OP_EQ, OP_NE, OP_IN, OP_HAS, OP_LACKS, OP_LT, OP_LE, OP_GT, OP_GE };

#define COND_MAX_VALUES 8
#define INT_UNKNOWN (-1)

/* One `when:` line.  Values are symbol indexes (enum and bit-set facts),
 * integers (INT_UNKNOWN for `unknown`), or interned drug names. */
struct cond {
    enum fact_id fact;
    enum cond_op op;
    int n_values;
    int ints[COND_MAX_VALUES];
    const char *names[COND_MAX_VALUES];
};

enum { HOOK_PATIENT_VIEW = 1, HOOK_ORDER_SELECT = 2, HOOK_ORDER_SIGN = 4 };

struct rule {
    const char *file;
    int line;
    const char *name, *id, *guideline, *grade, *grade_scale, *source, *seed;
    const char *summary, *suggest_class, *suggest_label;
    unsigned hooks;
    int has_indicator;
    enum eng_indicator indicator;
    int n_passages, n_details, n_conds, n_overrides;
    const char *passages[ENG_LIMIT_RULE_LINES];
    const char *details[ENG_LIMIT_RULE_LINES];
    struct cond conds[ENG_LIMIT_RULE_LINES];
    struct eng_coding overrides[ENG_LIMIT_RULE_LINES];
};

enum drug_system { DRUG_RXNORM, DRUG_ATC, DRUG_TEXT };

#define DRUG_MAX_CLASSES 8

struct drug_entry {
    const char *drug;
    const char *classes[DRUG_MAX_CLASSES];
    int n_classes;
    enum drug_system system;
    const char *code;
};

struct eng_ruleset {
    struct eng_arena *arena;
    int refs;
    int frozen;
    struct rule **rules;
    int n_rules, cap_rules;
    struct drug_entry *drugs;
    int n_drugs, cap_drugs;
    const char **names; /* every drug name and class, interned */
    int n_names, cap_names;
};

/* The symbol tables of enum and set facts, indexed by enum fact_id. */
extern const char *const *const eng_fact_symbols[FACT_COUNT];

#endif
