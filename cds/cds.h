/* cds.h -- the CDS Hooks 2.0 service: HTTP, protocol and the path to cards.
 *
 * A request travels through this module in reading order:
 *   http.c      libevent's evhttp accepts it, routes it by method and path,
 *               answers CORS preflights, discovery and /healthz, and enforces
 *               the size and content-type rules;
 *   request.c   one streaming yajl parse of the body reads the CDS Hooks
 *               envelope and hands every FHIR value to fhir/ as it streams;
 *               then the hook's required context and prefetch are checked;
 *   service.c   the service table: discovery and dispatch read the same rows;
 *   response.c  the engine's cards become the JSON response.
 * Each request has one arena (engine/base.h) that holds everything it
 * allocates and is freed once when the reply is sent or the client hangs up.
 *
 * The server runs on one event-loop thread.  Rules are loaded from a
 * directory at start and on SIGHUP; a reload that fails keeps the old rules.
 */
#ifndef CDS_CDS_H
#define CDS_CDS_H

#include "../engine/base.h"
#include "../engine/rules.h"

struct event_base;
struct cds_server;

enum cds_log_level { CDS_LOG_ERROR = 0, CDS_LOG_WARN, CDS_LOG_INFO, CDS_LOG_DEBUG };

struct cds_options {
    const char *listen_host; /* "127.0.0.1" */
    int listen_port;         /* 8080; 0 picks a free port */
    const char *rules_dir;   /* directory of *.rules and drugs.tsv */
    enum cds_log_level log_level;
};

/* Loads every *.rules file and drugs.tsv from dir into a new rule set.
 * Returns NULL with err->msg "file:line: what is wrong" on any problem.
 * The caller owns the result (eng_ruleset_release). */
struct eng_ruleset *cds_rules_load(const char *dir, struct eng_error *err)
    ENG_MUST_CHECK;

/* Creates the server on base and starts listening.  The rule set reference
 * is taken over by the server.  Returns NULL with err filled (bind failed,
 * no memory); rules are then released. */
struct cds_server *cds_server_new(struct event_base *base,
                                  const struct cds_options *opt,
                                  struct eng_ruleset *rules,
                                  struct eng_error *err) ENG_MUST_CHECK;

/* The port actually bound (useful with listen_port 0). */
int cds_server_port(const struct cds_server *s);

/* Reloads the rules from the configured directory.  On failure the old rules
 * stay in force and -1 is returned with err filled. */
int cds_server_reload(struct cds_server *s, struct eng_error *err);

/* Stops listening, and releases the server and its rules.  Requests still
 * in flight are cancelled by evhttp.  NULL is accepted. */
void cds_server_free(struct cds_server *s);

/* Logging: one line to stderr, prefixed with time and level.  Messages
 * above the configured level are dropped.  Never pass patient data at
 * CDS_LOG_INFO or below. */
void cds_log_set_level(enum cds_log_level level);
void cds_log(enum cds_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
