/* main.c -- the oncocds process: options, rules, signals, the event loop.
 *
 * Start-up loads the rules (a bad file stops the start with file:line), binds
 * the listener and runs the libevent loop on this one thread.  SIGHUP reloads
 * the rules atomically (a bad reload keeps the old set and logs why).
 * SIGTERM and SIGINT end the loop, and everything is freed before exit, so a
 * leak checker at exit reports real leaks only.
 */
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/rules.h"
#include "cds.h"

#ifndef ONCOCDS_RULES_DIR
#define ONCOCDS_RULES_DIR "rules"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: oncocds [options]\n"
            "  --listen HOST:PORT   address to listen on (default 127.0.0.1:8080;\n"
            "                       port 0 picks a free port, printed at start)\n"
            "  --rules DIR          directory with drugs.tsv and *.rules\n"
            "                       (default %s)\n"
            "  --log-level LEVEL    error, warn, info (default) or debug\n"
            "  --check-rules        load and check the rules, then exit\n"
            "  --help               this text\n"
            "Signals: SIGHUP reloads the rules; SIGTERM/SIGINT stop the service.\n",
            ONCOCDS_RULES_DIR);
}

static int parse_listen(const char *arg, struct cds_options *o, char *host,
                        size_t cap)
{
    const char *colon = strrchr(arg, ':');
    char *end;
    if (!colon || (size_t)(colon - arg) >= cap)
        return -1;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return -1;
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = '\0';
    if (host[0] == '[') { /* [::1]:8080 */
        size_t n = strlen(host);
        if (n < 2 || host[n - 1] != ']')
            return -1;
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    o->listen_host = host;
    o->listen_port = (int)port;
    return 0;
}

static int parse_level(const char *s, enum cds_log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum cds_log_level)i;
            return 0;
        }
    return -1;
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    cds_log(CDS_LOG_INFO, "signal %d: stopping", (int)sig);
    event_base_loopexit(arg, NULL);
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
    struct eng_error err = {0};
    (void)sig;
    (void)what;
    if (cds_server_reload(arg, &err) < 0)
        cds_log(CDS_LOG_ERROR, "rules reload failed, keeping the old rules: %s",
                err.msg);
    else
        cds_log(CDS_LOG_INFO, "rules reloaded");
}

int main(int argc, char **argv)
{
    static char host[256] = "127.0.0.1";
    struct cds_options o = {host, 8080, ONCOCDS_RULES_DIR, CDS_LOG_INFO};
    int check_only = 0;
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"rules", required_argument, NULL, 'r'},
        {"log-level", required_argument, NULL, 'v'},
        {"check-rules", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 'l':
            if (parse_listen(optarg, &o, host, sizeof host) < 0) {
                fprintf(stderr, "oncocds: --listen wants HOST:PORT, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'r': o.rules_dir = optarg; break;
        case 'v':
            if (parse_level(optarg, &o.log_level) < 0) {
                fprintf(stderr, "oncocds: unknown log level '%s'\n", optarg);
                return 2;
            }
            break;
        case 'c': check_only = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    cds_log_set_level(o.log_level);

    struct eng_error err = {0};
    struct eng_ruleset *rules = cds_rules_load(o.rules_dir, &err);
    if (!rules) {
        fprintf(stderr, "oncocds: rules not loaded: %s\n", err.msg);
        return 1;
    }
    if (check_only) {
        printf("%d rules loaded from %s\n", eng_ruleset_count(rules, NULL),
               o.rules_dir);
        eng_ruleset_release(rules);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct cds_server *srv = base ? cds_server_new(base, &o, rules, &err) : NULL;
    if (!srv) {
        fprintf(stderr, "oncocds: %s\n", base ? err.msg : "no event base");
        if (base)
            event_base_free(base);
        else
            eng_ruleset_release(rules);
        return 1;
    }
    struct event *sigs[3] = {evsignal_new(base, SIGINT, on_stop, base),
                             evsignal_new(base, SIGTERM, on_stop, base),
                             evsignal_new(base, SIGHUP, on_reload, srv)};
    for (int i = 0; i < 3; i++)
        if (sigs[i])
            event_add(sigs[i], NULL);
    cds_log(CDS_LOG_INFO, "oncocds listening on http://%s:%d (rules: %s)",
            o.listen_host, cds_server_port(srv), o.rules_dir);
    event_base_dispatch(base);
    for (int i = 0; i < 3; i++)
        if (sigs[i])
            event_free(sigs[i]);
    cds_server_free(srv);
    event_base_free(base);
    libevent_global_shutdown();
    return 0;
}
