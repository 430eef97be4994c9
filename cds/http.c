/* http.c -- the HTTP front: routing, CORS, limits, one log line per request.
 *
 * evhttp reads a request whole and calls on_request().  Routing is by method
 * and path:
 *   OPTIONS any path            CORS preflight (204)
 *   GET  /cds-services          discovery
 *   POST /cds-services/{id}     a hook call (handle_hook)
 *   GET  /healthz               liveness, with the number of rules loaded
 * Anything else gets a JSON error: 404 for an unknown path or service, 405
 * (with Allow) for a known path and the wrong method.  Every response carries
 * Access-Control-Allow-Origin so browser sandboxes can call us.
 *
 * Each request gets one arena, freed when on_request() returns: the hook
 * call runs to completion inside the callback (there is no I/O in it yet), so
 * the reply is sent before the arena goes.  The body is fed to the parser
 * straight from evhttp's buffer segments, never copied.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "../engine/limits.h"
#include "cds_internal.h"

struct cds_server {
    struct event_base *base;
    struct evhttp *http;
    struct eng_ruleset *rules;
    char *rules_dir;
    int port;
};

/* What one request did, for its log line. */
struct exchange {
    struct evhttp_request *req;
    struct eng_arena *arena;
    const char *service;
    int status;
    int n_cards;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    default: return "Internal Server Error";
    }
}

static void send_json(struct exchange *x, int status, const char *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(x->req);
    struct evbuffer *out = evhttp_request_get_output_buffer(x->req);
    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (body)
        evbuffer_add(out, body, len);
    x->status = status;
    evhttp_send_reply(x->req, status, reason_of(status), NULL);
}

static void send_error(struct exchange *x, int status, const char *msg)
{
    size_t len;
    const char *body = cds_error_json(x->arena, status, msg, &len);
    send_json(x, status, body, len);
}

static void send_405(struct exchange *x, const char *allow)
{
    evhttp_add_header(evhttp_request_get_output_headers(x->req), "Allow", allow);
    send_error(x, 405, "method not allowed on this path");
}

static void send_preflight(struct exchange *x)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(x->req);
    evhttp_add_header(h, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    evhttp_add_header(h, "Access-Control-Allow-Headers",
                      "Authorization, Content-Type");
    evhttp_add_header(h, "Access-Control-Max-Age", "86400");
    x->status = 204;
    evhttp_send_reply(x->req, 204, "No Content", NULL);
}

/* ---- hook calls --------------------------------------------------------- */

static int is_json_type(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Streams the body from evhttp's buffer into the parser, chunk by chunk. */
static int parse_body(struct exchange *x, struct cds_request *rq,
                      struct eng_error *err)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(x->req);
    struct cds_parser *p = cds_parser_new(x->arena, rq, err);
    if (!p)
        return -1;
    int n = evbuffer_peek(in, -1, NULL, NULL, 0);
    struct evbuffer_iovec *v = eng_arena_alloc(x->arena, sizeof *v * (size_t)(n > 0 ? n : 1));
    if (!v)
        return eng_error_set(err, ENG_ERR_NOMEM, 413, "request too large");
    n = evbuffer_peek(in, -1, NULL, v, n);
    for (int i = 0; i < n; i++)
        if (cds_parser_feed(p, v[i].iov_base, v[i].iov_len, err) < 0)
            return -1;
    return cds_parser_finish(p, err);
}

static void today(char out[11])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static void handle_hook(struct cds_server *s, struct exchange *x,
                        const struct cds_service *svc)
{
    struct eng_error err = {0};
    struct cds_request rq;
    struct eng_card_list cards;
    char date[11];
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(x->req),
                                        "Content-Type");
    if (!is_json_type(ct)) {
        send_error(x, 415, "Content-Type must be application/json");
        return;
    }
    if (evbuffer_get_length(evhttp_request_get_input_buffer(x->req)) >
        ENG_LIMIT_BODY_BYTES) {
        char msg[64];
        snprintf(msg, sizeof msg, "request body larger than %u bytes",
                 ENG_LIMIT_BODY_BYTES);
        send_error(x, 413, msg);
        return;
    }
    struct eng_ruleset *rules = eng_ruleset_ref(s->rules);
    today(date);
    struct eng_eval_input in = {rules, svc->guideline, svc->hook, &rq.patient, date};
    if (parse_body(x, &rq, &err) < 0 || cds_request_check(&rq, svc, &err) < 0 ||
        eng_evaluate(x->arena, &in, &cards, &err) < 0) {
        send_error(x, err.http_status ? err.http_status : 500, err.msg);
    } else {
        size_t len;
        const char *body = cds_cards_json(x->arena, &cards, &len);
        x->n_cards = cards.n;
        if (cards.truncated)
            cds_log(CDS_LOG_WARN, "service %s: more cards than %d; cut",
                    svc->id, ENG_LIMIT_CARDS);
        if (body)
            send_json(x, 200, body, len);
        else
            send_error(x, 500, "out of memory writing the response");
    }
    eng_ruleset_release(rules);
}

/* ---- routing ------------------------------------------------------------ */

static void route(struct cds_server *s, struct exchange *x, const char *path)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(x->req);
    static const char prefix[] = "/cds-services";
    size_t plen = sizeof prefix - 1;
    if (m == EVHTTP_REQ_OPTIONS) {
        send_preflight(x);
    } else if (strcmp(path, "/healthz") == 0) {
        char body[64];
        if (m != EVHTTP_REQ_GET)
            return send_405(x, "GET, OPTIONS");
        int n = snprintf(body, sizeof body, "{\"status\":\"ok\",\"rules\":%d}",
                         eng_ruleset_count(s->rules, NULL));
        send_json(x, 200, body, (size_t)n);
    } else if (strncmp(path, prefix, plen) == 0 &&
               (path[plen] == '\0' || strcmp(path + plen, "/") == 0)) {
        size_t len;
        const char *body;
        if (m != EVHTTP_REQ_GET)
            return send_405(x, "GET, OPTIONS");
        if (!(body = cds_discovery_json(x->arena, &len)))
            return send_error(x, 500, "out of memory");
        send_json(x, 200, body, len);
    } else if (strncmp(path, prefix, plen) == 0 && path[plen] == '/') {
        const char *id = path + plen + 1;
        const struct cds_service *svc = cds_service_find(id, strlen(id));
        if (!svc)
            return send_error(x, 404, "no CDS service with this id");
        x->service = svc->id;
        if (m != EVHTTP_REQ_POST)
            return send_405(x, "POST, OPTIONS");
        handle_hook(s, x, svc);
    } else {
        send_error(x, 404, "no such path; discovery is at /cds-services");
    }
}

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

/* A path safe to log: printable ASCII only, cut at 120 bytes. */
static void loggable(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i < cap - 1; i++)
        out[i] = in[i] > 0x20 && in[i] < 0x7f ? in[i] : '?';
    out[i] = '\0';
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct cds_server *s = arg;
    double t0 = now_ms();
    struct exchange x = {.req = req};
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    char shown[121];
    if (!path || !*path)
        path = "/";
    loggable(path, shown, sizeof shown);
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Access-Control-Allow-Origin", "*");
    x.arena = eng_arena_new(ENG_LIMIT_ARENA_BYTES);
    if (!x.arena)
        send_error(&x, 500, "out of memory");
    else
        route(s, &x, path);
    cds_log(CDS_LOG_INFO, "%s %s service=%s status=%d cards=%d %.2fms",
            method_name(evhttp_request_get_command(req)), shown,
            x.service ? x.service : "-", x.status, x.n_cards, now_ms() - t0);
    eng_arena_free(x.arena);
}

/* ---- server ------------------------------------------------------------- */

struct cds_server *cds_server_new(struct event_base *base,
                                  const struct cds_options *opt,
                                  struct eng_ruleset *rules, struct eng_error *err)
{
    struct cds_server *s = calloc(1, sizeof *s);
    if (!s || !(s->rules_dir = strdup(opt->rules_dir)) ||
        !(s->http = evhttp_new(base))) {
        eng_error_set(err, ENG_ERR_NOMEM, 0, "out of memory creating the server");
        goto fail;
    }
    s->base = base;
    s->rules = rules;
    rules = NULL;
    /* evhttp answers a body beyond its own ceiling with an HTML 413 before
     * reading it; between our limit and twice it, we answer JSON 413. */
    evhttp_set_max_body_size(s->http, 2 * (ev_ssize_t)ENG_LIMIT_BODY_BYTES);
    evhttp_set_max_headers_size(s->http, ENG_LIMIT_HEADER_BYTES);
    evhttp_set_timeout(s->http, 30);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_PATCH);
    evhttp_set_flags(s->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_gencb(s->http, on_request, s);
    struct evhttp_bound_socket *sock =
        evhttp_bind_socket_with_handle(s->http, opt->listen_host,
                                       (ev_uint16_t)opt->listen_port);
    if (!sock) {
        eng_error_set(err, ENG_ERR_IO, 0, "cannot listen on %s:%d",
                      opt->listen_host, opt->listen_port);
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&ss)->sin6_port
                            : ((struct sockaddr_in *)&ss)->sin_port);
    return s;
fail:
    eng_ruleset_release(rules);
    cds_server_free(s);
    return NULL;
}

int cds_server_port(const struct cds_server *s)
{
    return s->port;
}

int cds_server_reload(struct cds_server *s, struct eng_error *err)
{
    struct eng_ruleset *fresh = cds_rules_load(s->rules_dir, err);
    if (!fresh)
        return -1;
    eng_ruleset_release(s->rules);
    s->rules = fresh;
    return 0;
}

void cds_server_free(struct cds_server *s)
{
    if (!s)
        return;
    if (s->http)
        evhttp_free(s->http);
    eng_ruleset_release(s->rules);
    free(s->rules_dir);
    free(s);
}
