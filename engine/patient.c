/* patient.c -- setting and deriving patient facts. */
#include "patient.h"

#include <stdio.h>
#include <string.h>

void eng_patient_init(struct eng_patient *p)
{
    memset(p, 0, sizeof *p);
    p->ecog = -1;
    p->esmo_group = -1;
}

static enum eng_gene_status merge_status(enum eng_gene_status old,
                                         enum eng_gene_status new_)
{
    if (new_ == ENG_GENE_UNKNOWN || old == new_)
        return old;
    if (old == ENG_GENE_UNKNOWN)
        return new_;
    return ENG_GENE_CONFLICT;
}

void eng_patient_set_gene(struct eng_patient *p, enum eng_gene g,
                          enum eng_gene_status s)
{
    if ((unsigned)g >= ENG_GENE_COUNT)
        return;
    p->genes[g] = merge_status(p->genes[g], s);
}

void eng_patient_set_mmr(struct eng_patient *p, enum eng_mmr_status s)
{
    if (s == ENG_MMR_UNKNOWN || p->mmr == s)
        return;
    p->mmr = p->mmr == ENG_MMR_UNKNOWN ? s : ENG_MMR_CONFLICT;
}

enum eng_gene_status eng_patient_ras(const struct eng_patient *p)
{
    enum eng_gene_status k = p->genes[ENG_KRAS], n = p->genes[ENG_NRAS];
    enum eng_gene_status panel =
        p->ras_panel ? p->ras_panel_status : ENG_GENE_UNKNOWN;
    /* A conflicting result decides nothing, but does not hide a definite
     * mutation found in the other gene. */
    if (k == ENG_GENE_CONFLICT)
        k = ENG_GENE_UNKNOWN;
    if (n == ENG_GENE_CONFLICT)
        n = ENG_GENE_UNKNOWN;
    if (panel == ENG_GENE_CONFLICT)
        panel = ENG_GENE_UNKNOWN;
    if (k == ENG_GENE_MUTANT || n == ENG_GENE_MUTANT || panel == ENG_GENE_MUTANT) {
        /* A mutant single-gene result contradicted by a wild-type panel is a
         * conflict, not a decision. */
        if (panel == ENG_GENE_WILDTYPE)
            return ENG_GENE_UNKNOWN;
        return ENG_GENE_MUTANT;
    }
    if (panel == ENG_GENE_WILDTYPE)
        return ENG_GENE_WILDTYPE;
    if (k == ENG_GENE_WILDTYPE && n == ENG_GENE_WILDTYPE)
        return ENG_GENE_WILDTYPE;
    return ENG_GENE_UNKNOWN;
}

int eng_patient_age(const struct eng_patient *p, const char *today)
{
    int by, bm = 0, bd = 0, ty, tm, td;
    if (!p->birth_date || !today)
        return -1;
    if (sscanf(today, "%4d-%2d-%2d", &ty, &tm, &td) != 3)
        return -1;
    int n = sscanf(p->birth_date, "%4d-%2d-%2d", &by, &bm, &bd);
    if (n < 1 || by < 1800 || by > ty)
        return -1;
    if (n < 2) /* year only: the youngest the patient can be */
        bm = 12, bd = 31;
    else if (n < 3)
        bd = 31;
    int age = ty - by;
    if (tm < bm || (tm == bm && td < bd))
        age--;
    return age < 0 ? -1 : age;
}
