/* limits.h -- every ceiling oncocds puts on its input, in one place.
 *
 * Each input the service accepts from the network or from a file has a hard
 * upper bound here, with the reason for its value.  Code that grows a buffer
 * or a list takes its ceiling from this file and fails cleanly (an error
 * code and a message, never a crash) when the ceiling is reached.  Changing a
 * value here is the only change needed to move a limit.
 */
#ifndef ENG_LIMITS_H
#define ENG_LIMITS_H

/* Largest request body accepted, in bytes.  A CDS Hooks call carries the
 * context and the prefetched FHIR data of one patient.  A heavy oncology
 * record (hundreds of observations and medication records) is well under
 * 2 MB of JSON; 8 MB leaves room for verbose EHRs while keeping one request
 * from pinning much memory.  Larger bodies get 413. */
#define ENG_LIMIT_BODY_BYTES (8u * 1024u * 1024u)

/* Largest header block accepted, in bytes.  A bearer JWT with an x5c chain is
 * the largest header an EHR sends us; 32 KB fits several. */
#define ENG_LIMIT_HEADER_BYTES (32u * 1024u)

/* Deepest JSON nesting accepted.  A FHIR resource inside a Bundle inside a
 * prefetch object inside the request rarely goes deeper than 15 levels;
 * 64 is generous and keeps the parser's state stack small and fixed. */
#define ENG_LIMIT_JSON_DEPTH 64

/* Longest single JSON string kept, in bytes.  Narrative XHTML (`text.div`)
 * can be long but is never kept; the strings we keep are codes, ids, dates
 * and display texts.  Longer strings we need (none today) are rejected with
 * 400 rather than truncated silently. */
#define ENG_LIMIT_STRING_BYTES (64u * 1024u)

/* Most FHIR resources read from one request (all prefetch entries and draft
 * orders together).  Each resource becomes a small record in the request
 * arena; 20,000 records is far more than any one patient's oncology data
 * and bounds the work the engine does per request. */
#define ENG_LIMIT_RESOURCES 20000

/* Most codings kept per resource.  A resource with more codings than this is
 * malformed or hostile; the extra codings are an error (400). */
#define ENG_LIMIT_CODINGS_PER_RESOURCE 256

/* Most cards in one response.  The EHR shows cards in a narrow panel; more
 * than 64 is noise.  The engine stops adding cards at this count and logs it. */
#define ENG_LIMIT_CARDS 64

/* Most bytes one request may take from its arena (parsed model, scratch and
 * response).  Parsing never needs more than a few times the body size. */
#define ENG_LIMIT_ARENA_BYTES (64u * 1024u * 1024u)

/* Largest rule or drug-table file loaded, in bytes, and most rules loaded in
 * total.  The bundled guidelines have about a hundred rules; the ceilings
 * stop a mistaken path (a log file, a binary) from being read whole. */
#define ENG_LIMIT_RULE_FILE_BYTES (4u * 1024u * 1024u)
#define ENG_LIMIT_RULES 4096

/* Most conditions (`when:` lines), detail lines, passages and override
 * reasons in one rule.  Rules are reviewed by clinicians line by line; a rule
 * longer than this should be split. */
#define ENG_LIMIT_RULE_LINES 64

/* Longest line in a rule file, in bytes.  Long passages are split into
 * several `passage:` lines. */
#define ENG_LIMIT_RULE_LINE_BYTES 4096

/* Card summary length: CDS Hooks 2.0 says "<140 characters". The loader
 * refuses a rule whose summary could exceed it. */
#define ENG_LIMIT_SUMMARY_CHARS 139

/* Most selections and draft orders read from one order-select or order-sign
 * context. */
#define ENG_LIMIT_ORDERS 256

#endif
