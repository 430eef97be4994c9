/* service.c -- the one table of CDS services.
 *
 * Discovery (GET /cds-services) prints these rows and dispatch (POST
 * /cds-services/{id}) looks them up, so the two cannot disagree.  Each
 * service names the hook it answers, the guideline whose rules it runs and
 * the prefetch templates it asks the EHR for.
 */
#include <string.h>

#include "cds_internal.h"

#define PT "{{context.patientId}}"

static const struct cds_prefetch_template mcrc_prefetch[] = {
    {"patient", "Patient/" PT, FHIR_T_PATIENT, 1},
    {"conditions", "Condition?patient=" PT, FHIR_T_CONDITION, 1},
    {"observations", "Observation?patient=" PT, FHIR_T_OBSERVATION, 1},
    {"medications", "MedicationStatement?patient=" PT,
     FHIR_T_MEDICATION_STATEMENT, 0},
};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

const struct cds_service cds_services[] = {
    {"mcrc-patient-view", "patient-view",
     "Metastatic colorectal cancer: treatment guideline",
     "Shows the first-line options of the Danish national guideline for "
     "metastatic colorectal cancer for the patient's RAS status and ESMO "
     "group, with evidence grades and the guideline passage, and says which "
     "results (RAS, ESMO group) are missing to decide.",
     "mcrc", mcrc_prefetch, N(mcrc_prefetch)},
    {"mcrc-order-select", "order-select",
     "Metastatic colorectal cancer: order check",
     "Checks selected medication orders against the Danish national "
     "guideline for metastatic colorectal cancer: anti-EGFR antibodies "
     "(cetuximab, panitumumab) for a RAS-mutant tumour or one without a RAS "
     "result.",
     "mcrc", mcrc_prefetch, N(mcrc_prefetch)},
    {"mcrc-order-sign", "order-sign",
     "Metastatic colorectal cancer: order check at signing",
     "Checks every draft medication order being signed against the Danish "
     "national guideline for metastatic colorectal cancer: anti-EGFR "
     "antibodies for a RAS-mutant tumour or one without a RAS result.",
     "mcrc", mcrc_prefetch, N(mcrc_prefetch)},
};

const int cds_n_services = N(cds_services);

const struct cds_service *cds_service_find(const char *id, size_t len)
{
    for (int i = 0; i < cds_n_services; i++)
        if (strlen(cds_services[i].id) == len &&
            memcmp(cds_services[i].id, id, len) == 0)
            return &cds_services[i];
    return NULL;
}
