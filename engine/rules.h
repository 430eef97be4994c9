/* rules.h -- guideline knowledge as data: rule files and the drug table.
 *
 * A rule set is everything the engine knows about the guidelines: the rules
 * (one per recommendation and hook situation) and the drug table that says
 * which codes name which drug and drug class.  It is parsed from text that
 * the caller has read from files (the engine does no I/O), checked line by
 * line, and kept in one long-lived arena owned by the rule set.  A rule set
 * is never changed after eng_ruleset_finish(); a reload builds a new one and
 * swaps it in, and requests hold a reference so the old set lives until the
 * last request using it ends.
 *
 * Rule file format (rules/README.md shows it with examples).  One `key: value`
 * per line; `#` starts a comment line; `rule:` starts a new rule.  Keys:
 *
 *   rule:       unique name, [a-z0-9-]+
 *   id:         recommendation ID from the guideline summary, [A-Z0-9-]+
 *   guideline:  guideline key the services select rules by, [a-z0-9-]+
 *   grade:      A | B | C | D | (+) | (++) | (+++) | (++++) | none
 *   grade-scale: how to read the grade, shown beside it (optional)
 *   source:     source label for the card (the guideline's name)
 *   seed:       the seed file the passage is from
 *   passage:    the seed text the rule rests on, in its language (1+ lines)
 *   hooks:      patient-view | order-select | order-sign, space-separated
 *   when:       one condition; all `when:` lines must hold (0+ lines)
 *   indicator:  info | warning | critical
 *   summary:    card summary, under 140 characters
 *   detail:     one line of the card's markdown detail (1+ lines); `{orders}`
 *               is replaced by the names of the orders the rule is about
 *   suggest:    remove CLASS -- suggest deleting the in-scope orders of
 *               drug class CLASS (order hooks only)
 *   suggest-label: the suggestion's label (required with suggest)
 *   override:   CODE | DISPLAY -- one override reason (0+ lines)
 *
 * Conditions are `FACT OP VALUE...`:
 *   cancer      set  of colorectal endometrial nsclc        has, lacks
 *   met_site    set  of liver lung brain adrenal bone other has, lacks
 *   metastatic  enum yes unknown                            =, !=, in
 *   kras nras braf  enum wildtype mutant conflict unknown   =, !=, in
 *   ras         enum wildtype mutant unknown                =, !=, in
 *   mmr         enum proficient deficient conflict unknown  =, !=, in
 *   ecog age esmo_group  integer or `unknown`      =, !=, in, <, <=, >, >=
 *   medication_history  enum known unknown                  =, !=, in
 *   order       set of drug names and classes in the orders in scope
 *               (selected orders for order-select, all drafts for order-sign)
 *   history     set of drug names and classes in the medication history
 * A comparison (<, <=, >, >=) with an unknown integer is false.
 *
 * Drug table format (rules/drugs.tsv): one entry per line,
 *   DRUG  CLASSES  SYSTEM  CODE  SOURCE...
 * where CLASSES is comma-separated, SYSTEM is rxnorm | atc | text, CODE is the
 * code (for `text`, a lower-case word matched in the medication's text or
 * display), and SOURCE (the rest of the line) says where the code was read.
 */
#ifndef ENG_RULES_H
#define ENG_RULES_H

#include "base.h"

struct eng_ruleset;

/* Creates an empty rule set.  Returns NULL (err filled) when out of memory.
 * The caller owns the result and releases it with eng_ruleset_release(). */
struct eng_ruleset *eng_ruleset_new(struct eng_error *err) ENG_MUST_CHECK;

/* Parses a drug table.  `name` is used in messages ("name:line: ...").  Must
 * come before the rule files, which are checked against it.  buf need not be
 * NUL-terminated and is not kept. */
int eng_ruleset_add_drugs(struct eng_ruleset *rs, const char *name,
                          const char *buf, size_t len, struct eng_error *err)
    ENG_MUST_CHECK;

/* Parses one rule file (format above).  On failure err->msg is
 * "name:line: what is wrong" and the rule set must be released. */
int eng_ruleset_add_rules(struct eng_ruleset *rs, const char *name,
                          const char *buf, size_t len, struct eng_error *err)
    ENG_MUST_CHECK;

/* Checks the whole set (at least one rule, unique rule names) and freezes
 * it. */
int eng_ruleset_finish(struct eng_ruleset *rs, struct eng_error *err)
    ENG_MUST_CHECK;

/* Reference counting: a new rule set has one reference, owned by its
 * creator.  Each request takes one for its lifetime. */
struct eng_ruleset *eng_ruleset_ref(struct eng_ruleset *rs);
void eng_ruleset_release(struct eng_ruleset *rs);

/* Number of rules, and of rules for one guideline key. */
int eng_ruleset_count(const struct eng_ruleset *rs, const char *guideline);

/* Classifies a coding (system URI and code) or a free text against the drug
 * table: adds to `names` the drug names and classes it matches, as an
 * array of at most `cap` strings owned by the rule set, NULL-terminated when
 * there is room.  Returns the number of names written. */
int eng_ruleset_classify(const struct eng_ruleset *rs, const char *system,
                         const char *code, const char *text,
                         const char **names, int cap);

#endif
