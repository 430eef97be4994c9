/* test_http.c -- the real oncocds binary, spoken to over loopback HTTP/1.1.
 *
 * Suite "one server": suite init starts ONCOCDS_BINARY on a free port with
 * the bundled rules (stderr to a temporary file, the port read from its
 * "listening on" line); every test talks to it with the small blocking
 * client below (poll-bounded, so no wait can hang); the last test sends
 * SIGTERM and requires exit status 0 with no sanitizer report.  Under
 * ONCOCDS_SANITIZE, LeakSanitizer turns a leak into exit 88 and UBSan a
 * runtime error into 87, so exit 0 proves the whole run clean.
 *
 * Suite "own servers": tests that need a server of their own: SIGHUP reload
 * on a temporary copy of the rules, and a start with broken rules.
 *
 * JSON answers are read with yajl's tree API.  Request bodies are the
 * examples/ files, sometimes edited by key (json_set and friends), or small
 * envelopes built field by field so each bad-input test changes exactly one
 * thing in a request the server otherwise accepts.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "testutil.h"

#ifndef ONCOCDS_BINARY
#error "ONCOCDS_BINARY must name the oncocds executable"
#endif
#ifndef ONCOCDS_SOURCE_DIR
#define ONCOCDS_SOURCE_DIR "."
#endif

#define IO_TIMEOUT_MS 5000        /* one request/response on loopback */
#define BIG_TIMEOUT_MS 30000      /* bodies of 9 and 17 MB under ASan */
#define START_TIMEOUT_MS 15000    /* server start (rule load under ASan) */
#define STOP_TIMEOUT_MS 15000     /* exit, including the leak check */

/* ---- assertions with messages ------------------------------------------- */

/* What the current test is doing, for failure messages. */
static char g_what[256];

static void what(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void what(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_what, sizeof g_what, fmt, ap);
    va_end(ap);
}

static int check_(int ok, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int check_(int ok, unsigned line, const char *fmt, ...)
{
    char msg[1400];
    if (!ok) {
        int n = snprintf(msg, sizeof msg, "[%s] ", g_what);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
        va_end(ap);
    } else {
        snprintf(msg, sizeof msg, "ok");
    }
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, __FILE__, "",
                            CU_FALSE);
    return ok;
}
#define CHECK(cond, ...) check_((cond) ? 1 : 0, __LINE__, __VA_ARGS__)

/* ---- small utilities ------------------------------------------------------ */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_http: out of memory\n");
        exit(2);
    }
    return p;
}

/* A growing string. */
struct sb {
    char *s;
    size_t len, cap;
};

static void sb_add(struct sb *b, const char *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            fprintf(stderr, "test_http: out of memory\n");
            exit(2);
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_adds(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_printf(struct sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *tmp = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, tmp, (size_t)n);
    free(tmp);
}

/* Reads a whole file; NULL when it cannot be read.  Caller frees. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct sb b = {0};
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sb_add(&b, buf, n);
    fclose(f);
    if (!b.s)
        sb_add(&b, "", 0);
    if (len)
        *len = b.len;
    return b.s;
}

static int write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && n == len) ? 0 : -1;
}

/* Case-insensitive substring test. */
static int contains_ci(const char *hay, const char *needle)
{
    size_t k = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, k) == 0)
            return 1;
    return 0;
}

static int count_occurrences(const char *hay, const char *needle)
{
    int n = 0;
    size_t k = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)); p += k)
        n++;
    return n;
}

/* Whether text contains "<file>:<digits>:" (a file:line location). */
static int has_file_line(const char *text, const char *file)
{
    size_t k = strlen(file);
    for (const char *p = text; (p = strstr(p, file)); p += k) {
        const char *q = p + k;
        if (*q != ':')
            continue;
        q++;
        const char *digits = q;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q > digits && *q == ':')
            return 1;
    }
    return 0;
}

/* Replaces the one occurrence of `from` in text; NULL (and a failed check)
 * when `from` is not there exactly once.  Caller frees. */
static char *replace_once(const char *text, const char *from, const char *to)
{
    int n = count_occurrences(text, from);
    if (!CHECK(n == 1, "fixture edit: '%s' occurs %d times, want 1", from, n))
        return NULL;
    const char *hit = strstr(text, from);
    struct sb b = {0};
    sb_add(&b, text, (size_t)(hit - text));
    sb_adds(&b, to);
    sb_adds(&b, hit + strlen(from));
    return b.s;
}

/* Finds the key "name" (as a JSON object key: quoted, then ':') once in the
 * text; returns the position of the opening quote, or NULL. */
static const char *find_key(const char *text, const char *name)
{
    char quoted[128];
    snprintf(quoted, sizeof quoted, "\"%s\"", name);
    const char *found = NULL;
    int n = 0;
    for (const char *p = text; (p = strstr(p, quoted)); p++) {
        const char *q = p + strlen(quoted);
        while (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t')
            q++;
        if (*q == ':') {
            found = p;
            n++;
        }
    }
    if (!CHECK(n == 1, "fixture edit: key '%s' occurs %d times, want 1", name, n))
        return NULL;
    return found;
}

/* The end of the JSON value starting at p: the ',' '}' or ']' after it
 * (strings and nesting aware). */
static const char *value_end(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                return p;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0)
                return p;
            depth--;
        } else if (*p == ',' && depth == 0) {
            return p;
        }
    }
    return p;
}

/* Replaces the value of the (unique) key `name` with raw JSON text. */
static char *json_set(const char *text, const char *name, const char *value)
{
    const char *k = find_key(text, name);
    if (!k)
        return NULL;
    const char *v = strchr(k + strlen(name) + 2, ':') + 1;
    while (*v == ' ' || *v == '\n' || *v == '\r' || *v == '\t')
        v++;
    const char *end = value_end(v);
    struct sb b = {0};
    sb_add(&b, text, (size_t)(v - text));
    sb_adds(&b, value);
    sb_adds(&b, end);
    return b.s;
}

/* Renames the (unique) key `from` to `to`. */
static char *json_rename(const char *text, const char *from, const char *to)
{
    const char *k = find_key(text, from);
    if (!k)
        return NULL;
    struct sb b = {0};
    sb_add(&b, text, (size_t)(k - text));
    sb_printf(&b, "\"%s\"", to);
    sb_adds(&b, k + strlen(from) + 2);
    return b.s;
}

static char *example(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "examples/%s", name);
    return tu_read_source_file(rel, NULL);
}

/* ---- the server process --------------------------------------------------- */

struct server {
    pid_t pid;      /* 0 when not running (or reaped) */
    int port;
    char log_path[64];
    int status;     /* wait status once reaped */
    int reaped;
};

static char *server_log(const struct server *s)
{
    char *log = slurp(s->log_path, NULL);
    if (!log) {
        log = xmalloc(1);
        log[0] = '\0';
    }
    return log;
}

/* Reaps the server if it has exited; 1 when it has. */
static int server_poll_exit(struct server *s)
{
    if (s->reaped)
        return 1;
    if (s->pid <= 0)
        return 0;
    int st;
    pid_t r = waitpid(s->pid, &st, WNOHANG);
    if (r == s->pid) {
        s->status = st;
        s->reaped = 1;
        return 1;
    }
    return 0;
}

/* Waits up to timeout_ms for the server to exit; 1 when it did. */
static int server_wait_exit(struct server *s, int timeout_ms)
{
    double deadline = now_ms() + timeout_ms;
    while (!server_poll_exit(s)) {
        if (now_ms() > deadline)
            return 0;
        sleep_ms(10);
    }
    return 1;
}

/* Starts the binary on rules_dir.  Returns 0 once the "listening on" line
 * is in its log; -1 when it exited or did not listen in time (the server is
 * then reaped or killed; s->reaped and s->status say how it ended). */
static int server_start(struct server *s, const char *rules_dir)
{
    memset(s, 0, sizeof *s);
    snprintf(s->log_path, sizeof s->log_path, "/tmp/oncocds-http-log-XXXXXX");
    int fd = mkstemp(s->log_path);
    if (fd < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return -1;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
        }
        dup2(fd, 2);
        execl(ONCOCDS_BINARY, "oncocds", "--listen", "127.0.0.1:0", "--rules",
              rules_dir, (char *)NULL);
        _exit(127);
    }
    close(fd);
    s->pid = pid;
    double deadline = now_ms() + START_TIMEOUT_MS;
    for (;;) {
        char *log = server_log(s);
        const char *hit = strstr(log, "listening on http://127.0.0.1:");
        if (hit) {
            s->port = atoi(hit + strlen("listening on http://127.0.0.1:"));
            free(log);
            return s->port > 0 ? 0 : -1;
        }
        free(log);
        if (server_poll_exit(s))
            return -1;
        if (now_ms() > deadline) {
            kill(s->pid, SIGKILL);
            server_wait_exit(s, STOP_TIMEOUT_MS);
            return -1;
        }
        sleep_ms(10);
    }
}

/* SIGTERM, then waits; kills when it does not end in time.  Returns 1 when
 * it ended on its own. */
static int server_stop(struct server *s)
{
    if (s->pid <= 0 || s->reaped)
        return s->reaped;
    kill(s->pid, SIGTERM);
    if (server_wait_exit(s, STOP_TIMEOUT_MS))
        return 1;
    kill(s->pid, SIGKILL);
    server_wait_exit(s, STOP_TIMEOUT_MS);
    return 0;
}

static void server_discard(struct server *s)
{
    if (s->pid > 0 && !s->reaped) {
        kill(s->pid, SIGKILL);
        server_wait_exit(s, STOP_TIMEOUT_MS);
    }
    if (s->log_path[0])
        unlink(s->log_path);
    s->pid = 0;
}

/* Checks that the server stopped on SIGTERM with exit 0 and a clean log. */
static void check_clean_exit(struct server *s)
{
    int ended = server_stop(s);
    CHECK(ended, "server did not exit within %d ms of SIGTERM", STOP_TIMEOUT_MS);
    char *log = server_log(s);
    if (ended) {
        CHECK(WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0,
              "server exit: %s %d, want exit 0 (86 ASan, 87 UBSan, 88 leak); "
              "log tail: %s",
              WIFEXITED(s->status) ? "status" : "signal",
              WIFEXITED(s->status) ? WEXITSTATUS(s->status) : WTERMSIG(s->status),
              strlen(log) > 800 ? log + strlen(log) - 800 : log);
    }
    CHECK(!strstr(log, "AddressSanitizer"), "AddressSanitizer report in server log");
    CHECK(!strstr(log, "LeakSanitizer"), "LeakSanitizer report in server log");
    CHECK(!strstr(log, "runtime error"), "UBSan runtime error in server log");
    CHECK(strstr(log, "stopping") != NULL, "no 'stopping' line after SIGTERM");
    free(log);
}

/* ---- a tiny HTTP/1.1 client ---------------------------------------------- */

struct conn {
    int fd;
    char *buf; /* bytes received, not yet consumed */
    size_t len, cap;
    int eof;   /* the server closed (or reset) the connection */
};

#define MAX_HEADERS 48

struct response {
    int status;
    char *head; /* header block, lines split in place */
    int n_headers;
    char *names[MAX_HEADERS], *values[MAX_HEADERS];
    char *body; /* NUL-terminated */
    size_t body_len;
};

static void response_free(struct response *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static const char *header(const struct response *r, const char *name)
{
    for (int i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->names[i], name) == 0)
            return r->values[i];
    return NULL;
}

static int conn_open(struct conn *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

/* Reads what is there into c->buf; 0 when nothing more can come. */
static int conn_recv(struct conn *c)
{
    if (c->eof)
        return 0;
    if (c->cap - c->len < 65536) {
        size_t cap = c->cap ? c->cap * 2 : 131072;
        char *p = realloc(c->buf, cap);
        if (!p)
            exit(2);
        c->buf = p;
        c->cap = cap;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    if (n > 0) {
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
        return 1;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        c->eof = 1;
        return 0;
    }
    return 1;
}

/* Sends all of data, reading whatever the server says meanwhile (it may
 * answer before the body is all sent).  -1 when the server stopped reading
 * (closed or reset) or time ran out. */
static int conn_send(struct conn *c, const char *data, size_t len, int timeout_ms)
{
    double deadline = now_ms() + timeout_ms;
    size_t off = 0;
    while (off < len) {
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return -1;
        struct pollfd p = {c->fd, POLLOUT | (c->eof ? 0 : POLLIN), 0};
        if (poll(&p, 1, left) <= 0)
            continue;
        if (p.revents & POLLIN)
            conn_recv(c);
        if (p.revents & (POLLOUT | POLLERR | POLLHUP)) {
            ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -1;
        }
    }
    return 0;
}

/* Parses one response from the front of c->buf.  1 done, 0 need more,
 * -1 malformed or cut short. */
static int parse_response(struct conn *c, struct response *r)
{
    char *end = c->len ? strstr(c->buf, "\r\n\r\n") : NULL;
    if (!end)
        return c->eof ? -1 : 0;
    size_t head_len = (size_t)(end - c->buf) + 4;
    char *head = xmalloc(head_len + 1);
    memcpy(head, c->buf, head_len);
    head[head_len] = '\0';
    struct response tmp = {0};
    tmp.head = head;
    if (strncmp(head, "HTTP/1.", 7) != 0 || strlen(head) < 12) {
        free(head);
        return -1;
    }
    tmp.status = atoi(head + 9);
    char *line = strstr(head, "\r\n") + 2;
    while (*line && strncmp(line, "\r\n", 2) != 0 && tmp.n_headers < MAX_HEADERS) {
        char *eol = strstr(line, "\r\n");
        *eol = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            tmp.names[tmp.n_headers] = line;
            tmp.values[tmp.n_headers++] = v;
        }
        line = eol + 2;
    }
    const char *cl = header(&tmp, "Content-Length");
    const char *te = header(&tmp, "Transfer-Encoding");
    size_t body_len;
    int no_body = tmp.status == 204 || tmp.status == 304 ||
                  (tmp.status >= 100 && tmp.status < 200);
    if (te && strcasecmp(te, "identity") != 0) {
        free(head);
        return -1; /* the server never chunks; treat it as a failure */
    }
    if (no_body)
        body_len = 0;
    else if (cl)
        body_len = (size_t)strtoull(cl, NULL, 10);
    else if (c->eof)
        body_len = c->len - head_len; /* read until close */
    else {
        free(head);
        return 0;
    }
    if (c->len - head_len < body_len) {
        free(head);
        return c->eof ? -1 : 0;
    }
    tmp.body = xmalloc(body_len + 1);
    memcpy(tmp.body, c->buf + head_len, body_len);
    tmp.body[body_len] = '\0';
    tmp.body_len = body_len;
    memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
    c->len -= head_len + body_len;
    c->buf[c->len] = '\0';
    *r = tmp;
    return 1;
}

/* Reads one response within timeout_ms; -1 when none came whole. */
static int conn_read_response(struct conn *c, struct response *r, int timeout_ms)
{
    double deadline = now_ms() + timeout_ms;
    memset(r, 0, sizeof *r);
    for (;;) {
        int rc = c->buf ? parse_response(c, r) : (c->eof ? -1 : 0);
        if (rc != 0)
            return rc > 0 ? 0 : -1;
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return -1;
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, left) > 0)
            conn_recv(c);
    }
}

static void request_head(struct sb *b, const char *method, const char *path,
                         const char *content_type, const char *body,
                         size_t body_len, int close_it, const char *extra)
{
    sb_printf(b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, path);
    if (close_it)
        sb_adds(b, "Connection: close\r\n");
    if (content_type)
        sb_printf(b, "Content-Type: %s\r\n", content_type);
    if (body)
        sb_printf(b, "Content-Length: %zu\r\n", body_len);
    if (extra)
        sb_adds(b, extra);
    sb_adds(b, "\r\n");
}

/* One request on its own connection ("Connection: close").  0 when a whole
 * response came back. */
static int http(int port, const char *method, const char *path,
                const char *content_type, const char *body, size_t body_len,
                const char *extra, struct response *r, int timeout_ms)
{
    struct conn c;
    struct sb head = {0};
    memset(r, 0, sizeof *r);
    if (conn_open(&c, port) < 0) {
        CHECK(0, "cannot connect to 127.0.0.1:%d: %s", port, strerror(errno));
        return -1;
    }
    request_head(&head, method, path, content_type, body, body_len, 1, extra);
    if (conn_send(&c, head.s, head.len, timeout_ms) == 0 && body)
        conn_send(&c, body, body_len, timeout_ms);
    free(head.s);
    int rc = conn_read_response(&c, r, timeout_ms);
    conn_close(&c);
    CHECK(rc == 0, "%s %s: no complete HTTP response within %d ms", method,
          path, timeout_ms);
    return rc;
}

static int post_json(int port, const char *path, const char *body, size_t len,
                     struct response *r)
{
    return http(port, "POST", path, "application/json", body, len, NULL, r,
                IO_TIMEOUT_MS);
}

/* ---- JSON checks --------------------------------------------------------- */

static yajl_val jget(yajl_val v, const char *dotted, yajl_type type)
{
    char copy[256];
    const char *path[16];
    int n = 0;
    snprintf(copy, sizeof copy, "%s", dotted);
    for (char *tok = strtok(copy, "."); tok && n < 15; tok = strtok(NULL, "."))
        path[n++] = tok;
    path[n] = NULL;
    return yajl_tree_get(v, path, type);
}

static const char *jstr(yajl_val v, const char *dotted)
{
    return YAJL_GET_STRING(jget(v, dotted, yajl_t_string));
}

static size_t jlen(yajl_val array)
{
    return YAJL_IS_ARRAY(array) ? array->u.array.len : 0;
}

static yajl_val jat(yajl_val array, size_t i)
{
    return i < jlen(array) ? array->u.array.values[i] : NULL;
}

static const char *shown(const struct response *r)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%.500s", r->body ? r->body : "(no body)");
    for (char *p = buf; *p; p++) /* keep failure output printable ASCII */
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    return buf;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF.  Returns the offset of the first bad byte, or -1. */
static long bad_utf8_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0)
                lo = 0xA0;
            if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;
        } else {
            return (long)i;
        }
        if (i + k >= n)
            return (long)i;
        for (size_t j = 1; j <= k; j++) {
            unsigned d = s[i + j];
            if (j == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF))
                return (long)i;
        }
        i += k + 1;
    }
    return -1;
}

/* Checks status, JSON content type, CORS and an object body; returns the
 * parsed body (free with yajl_tree_free) or NULL. */
static yajl_val expect_json(const struct response *r, int status)
{
    char err[256];
    CHECK(r->status == status, "status %d, want %d; body: %s", r->status, status,
          shown(r));
    const char *ct = header(r, "Content-Type");
    CHECK(ct && strncasecmp(ct, "application/json", 16) == 0,
          "Content-Type '%s', want application/json", ct ? ct : "(none)");
    const char *acao = header(r, "Access-Control-Allow-Origin");
    CHECK(acao && strcmp(acao, "*") == 0, "Access-Control-Allow-Origin '%s', want '*'",
          acao ? acao : "(none)");
    if (!CHECK(r->body && r->body_len > 0 && r->body[0] == '{',
               "body does not start with '{': %s", shown(r)))
        return NULL;
    CHECK(strlen(r->body) == r->body_len, "body has a NUL byte");
    long bad = bad_utf8_at((const unsigned char *)r->body, r->body_len);
    if (bad >= 0) {
        const unsigned char *b = (const unsigned char *)r->body + bad;
        size_t left = r->body_len - (size_t)bad;
        CHECK(0, "body is not valid UTF-8 at byte %ld: %02X %02X %02X %02X", bad,
              b[0], left > 1 ? b[1] : 0, left > 2 ? b[2] : 0, left > 3 ? b[3] : 0);
    }
    yajl_val v = yajl_tree_parse(r->body, err, sizeof err);
    CHECK(v != NULL, "body is not JSON (%s): %s", err, shown(r));
    if (v && !CHECK(YAJL_IS_OBJECT(v), "body is not a JSON object")) {
        yajl_tree_free(v);
        return NULL;
    }
    return v;
}

/* Checks a JSON error answer: {"error": ..., "message": ...}, the message
 * containing each of the (up to two) needles. */
static void expect_error(const struct response *r, int status, const char *needle,
                         const char *needle2)
{
    yajl_val v = expect_json(r, status);
    if (!v || r->status != status) { /* the status failure says enough */
        yajl_tree_free(v);
        return;
    }
    const char *e = jstr(v, "error"), *m = jstr(v, "message");
    CHECK(e && *e, "no \"error\" string in %s", shown(r));
    CHECK(m && *m, "no \"message\" string in %s", shown(r));
    if (m && needle)
        CHECK(strstr(m, needle) != NULL, "message '%s' does not name '%s'", m, needle);
    if (m && needle2)
        CHECK(strstr(m, needle2) != NULL, "message '%s' does not name '%s'", m, needle2);
    yajl_tree_free(v);
}

/* ---- the shared server --------------------------------------------------- */

static struct server g_srv;
static int g_up;

static int suite_start(void)
{
    g_up = server_start(&g_srv, ONCOCDS_SOURCE_DIR "/rules") == 0;
    if (!g_up) {
        char *log = server_log(&g_srv);
        fprintf(stderr, "test_http: server did not start; log:\n%s\n", log);
        free(log);
    }
    return 0; /* each test checks g_up, so a failed start fails every test */
}

static int suite_stop(void)
{
    server_discard(&g_srv);
    return 0;
}

#define NEED_SERVER()                                                         \
    do {                                                                      \
        if (!g_up || g_srv.reaped) {                                          \
            CU_FAIL("the shared oncocds server is not running");              \
            return;                                                           \
        }                                                                     \
    } while (0)

#define PORT (g_srv.port)

/* The server still answers: GET /healthz is 200 JSON. */
static void expect_alive(void)
{
    struct response r;
    char saved[sizeof g_what];
    memcpy(saved, g_what, sizeof saved);
    what("%s; then GET /healthz", saved);
    if (http(PORT, "GET", "/healthz", NULL, NULL, 0, NULL, &r, IO_TIMEOUT_MS) == 0) {
        yajl_val v = expect_json(&r, 200);
        yajl_tree_free(v);
    }
    CHECK(!server_poll_exit(&g_srv), "server exited");
    response_free(&r);
    memcpy(g_what, saved, sizeof saved);
}

/* POSTs body to service with JSON content type and checks the JSON error;
 * then checks the server still answers. */
static void post_expect_error(const char *service, const char *body, size_t len,
                              int status, const char *needle, const char *needle2)
{
    char path[128];
    struct response r;
    snprintf(path, sizeof path, "/cds-services/%s", service);
    if (!CHECK(body != NULL, "no request body built"))
        return;
    if (post_json(PORT, path, body, len, &r) == 0)
        expect_error(&r, status, needle, needle2);
    response_free(&r);
    expect_alive();
}

/* POSTs body and returns the parsed 200 answer, with its cards checked for
 * the CDS Hooks card shape and the critical > warning > info order. */
static yajl_val post_cards(const char *service, const char *body, size_t len);

/* ---- request envelopes ------------------------------------------------------ */

#define HOOK_PV "\"patient-view\""
#define HOOK_OS "\"order-select\""
#define INSTANCE "\"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea\""
#define CTX_PV "{\"userId\":\"Practitioner/example\",\"patientId\":\"p1\"}"
#define DRAFTS                                                                \
    "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[{"       \
    "\"resource\":{\"resourceType\":\"MedicationRequest\",\"id\":\"d1\","     \
    "\"status\":\"draft\",\"intent\":\"proposal\","                           \
    "\"medicationCodeableConcept\":{\"text\":\"Oxaliplatin\"},"               \
    "\"subject\":{\"reference\":\"Patient/p1\"}}}]}"
#define SELECTIONS "[\"MedicationRequest/d1\"]"
#define PF_PATIENT "\"patient\":{\"resourceType\":\"Patient\",\"id\":\"p1\"}"
#define PF_CONDITIONS "\"conditions\":{\"resourceType\":\"Bundle\",\"type\":\"searchset\"}"
#define PF_OBSERVATIONS                                                       \
    "\"observations\":{\"resourceType\":\"Bundle\",\"type\":\"searchset\"}"
#define PF "{" PF_PATIENT "," PF_CONDITIONS "," PF_OBSERVATIONS "}"

/* A request body: each argument is raw JSON for that member, NULL leaves it
 * out; extra is raw members appended as they are. */
static char *envelope(const char *hook, const char *instance, const char *context,
                      const char *prefetch, const char *extra)
{
    struct sb b = {0};
    int first = 1;
    sb_adds(&b, "{");
#define MEMBER(name, v)                                                       \
    if (v) {                                                                  \
        sb_printf(&b, "%s\"%s\":%s", first ? "" : ",", name, v);              \
        first = 0;                                                            \
    }
    MEMBER("hook", hook)
    MEMBER("hookInstance", instance)
    MEMBER("context", context)
    MEMBER("prefetch", prefetch)
#undef MEMBER
    if (extra)
        sb_printf(&b, "%s%s", first ? "" : ",", extra);
    sb_adds(&b, "}");
    return b.s;
}

/* An order-select context: each argument raw JSON or NULL to leave out. */
static char *os_context(const char *user, const char *patient,
                        const char *selections, const char *drafts)
{
    struct sb b = {0};
    sb_adds(&b, "{");
    int first = 1;
#define MEMBER(name, v)                                                       \
    if (v) {                                                                  \
        sb_printf(&b, "%s\"%s\":%s", first ? "" : ",", name, v);              \
        first = 0;                                                            \
    }
    MEMBER("userId", user)
    MEMBER("patientId", patient)
    MEMBER("selections", selections)
    MEMBER("draftOrders", drafts)
#undef MEMBER
    sb_adds(&b, "}");
    return b.s;
}

#define USER "\"Practitioner/example\""
#define PATIENT "\"p1\""

static void bad_pv(const char *body_what, char *body, int status,
                   const char *needle, const char *needle2)
{
    if (!g_up || g_srv.reaped) {
        CU_FAIL("the shared oncocds server is not running");
        free(body);
        return;
    }
    what("POST mcrc-patient-view, %s", body_what);
    post_expect_error("mcrc-patient-view", body, body ? strlen(body) : 0, status,
                      needle, needle2);
    free(body);
}

static void bad_os(const char *body_what, char *context, int status,
                   const char *needle, const char *needle2)
{
    if (!g_up || g_srv.reaped) {
        CU_FAIL("the shared oncocds server is not running");
        free(context);
        return;
    }
    char *body = envelope(HOOK_OS, INSTANCE, context, PF, NULL);
    what("POST mcrc-order-select, %s", body_what);
    post_expect_error("mcrc-order-select", body, strlen(body), status, needle,
                      needle2);
    free(body);
    free(context);
}

/* ---- cards ---------------------------------------------------------------- */

static int indicator_rank(const char *ind)
{
    if (!ind)
        return -1;
    if (strcmp(ind, "critical") == 0)
        return 0;
    if (strcmp(ind, "warning") == 0)
        return 1;
    if (strcmp(ind, "info") == 0)
        return 2;
    return -1;
}

static int is_uuid(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (!s || strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++) {
        char c = s[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                  (c >= 'A' && c <= 'F');
        if (shape[i] == '-' ? c != '-' : !hex)
            return 0;
    }
    return 1;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void check_card(yajl_val card, size_t index)
{
    const char *code = jstr(card, "source.topic.code");
    const char *summary = jstr(card, "summary");
    const char *detail = jstr(card, "detail");
    const char *label = jstr(card, "source.label");
    CHECK(YAJL_IS_OBJECT(card), "card %zu is not an object", index);
    CHECK(code && *code, "card %zu has no source.topic.code", index);
    code = code ? code : "?";
    CHECK(is_uuid(jstr(card, "uuid")), "card %zu (%s): uuid '%s' is not a UUID",
          index, code, jstr(card, "uuid") ? jstr(card, "uuid") : "(none)");
    CHECK(summary && *summary && utf8_chars(summary) < 140,
          "card %zu (%s): summary missing or not under 140 characters", index, code);
    CHECK(detail && *detail, "card %zu (%s): no detail", index, code);
    CHECK(detail && strstr(detail, "**Grade:**"), "card %zu (%s): no **Grade:** in detail",
          index, code);
    CHECK(indicator_rank(jstr(card, "indicator")) >= 0,
          "card %zu (%s): indicator '%s' is not info/warning/critical", index, code,
          jstr(card, "indicator") ? jstr(card, "indicator") : "(none)");
    CHECK(label && *label, "card %zu (%s): no source.label", index, code);
    yajl_val sug = jget(card, "suggestions", yajl_t_any);
    if (sug) {
        CHECK(jlen(sug) > 0, "card %zu (%s): empty suggestions", index, code);
        CHECK(jstr(card, "selectionBehavior") != NULL,
              "card %zu (%s): suggestions without selectionBehavior", index, code);
    }
    yajl_val over = jget(card, "overrideReasons", yajl_t_any);
    if (over) {
        CHECK(jlen(over) > 0, "card %zu (%s): empty overrideReasons", index, code);
        for (size_t i = 0; i < jlen(over); i++) {
            const char *d = jstr(jat(over, i), "display");
            CHECK(d && *d, "card %zu (%s): override reason %zu has no display",
                  index, code, i);
        }
    }
}

static yajl_val post_cards(const char *service, const char *body, size_t len)
{
    char path[128];
    struct response r;
    yajl_val v = NULL;
    snprintf(path, sizeof path, "/cds-services/%s", service);
    if (!CHECK(body != NULL, "no request body built"))
        return NULL;
    if (post_json(PORT, path, body, len, &r) == 0)
        v = expect_json(&r, 200);
    response_free(&r);
    if (!v)
        return NULL;
    yajl_val cards = jget(v, "cards", yajl_t_array);
    if (!CHECK(cards != NULL, "no \"cards\" array")) {
        yajl_tree_free(v);
        return NULL;
    }
    int last = 0;
    for (size_t i = 0; i < jlen(cards); i++) {
        yajl_val c = jat(cards, i);
        check_card(c, i);
        int rank = indicator_rank(jstr(c, "indicator"));
        CHECK(rank >= last, "card %zu (%s, %s) comes after a lower-priority card",
              i, jstr(c, "source.topic.code") ? jstr(c, "source.topic.code") : "?",
              jstr(c, "indicator") ? jstr(c, "indicator") : "?");
        if (rank > last)
            last = rank;
    }
    return v;
}

static yajl_val post_example(const char *service, const char *file)
{
    char *body = example(file);
    what("POST %s with examples/%s", service, file);
    yajl_val v = post_cards(service, body, strlen(body));
    free(body);
    return v;
}

/* The first card with this topic code (and indicator, unless NULL). */
static yajl_val find_card(yajl_val resp, const char *code, const char *indicator)
{
    yajl_val cards = jget(resp, "cards", yajl_t_array);
    for (size_t i = 0; i < jlen(cards); i++) {
        yajl_val c = jat(cards, i);
        const char *k = jstr(c, "source.topic.code");
        const char *ind = jstr(c, "indicator");
        if (k && strcmp(k, code) == 0 &&
            (!indicator || (ind && strcmp(ind, indicator) == 0)))
            return c;
    }
    return NULL;
}

static int count_indicator(yajl_val resp, const char *indicator)
{
    int n = 0;
    yajl_val cards = jget(resp, "cards", yajl_t_array);
    for (size_t i = 0; i < jlen(cards); i++) {
        const char *ind = jstr(jat(cards, i), "indicator");
        n += ind && strcmp(ind, indicator) == 0;
    }
    return n;
}

/* The kras-mutant patient-view cards. */
static void check_kras_mutant_pv_cards(yajl_val v)
{
    static const char *const want[] = {"MCRC-RAS-1", "MCRC-G12-MUT-1",
                                       "MCRC-G12-MUT-2", "MCRC-G12-MUT-3",
                                       "MCRC-G3-1", "MCRC-G3-2", "MCRC-G3-3",
                                       "MCRC-G3-4"};
    static const char *const absent[] = {"MCRC-G12-WT-1", "MCRC-G12-WT-2",
                                         "MCRC-G12-WT-3", "MCRC-G12-WT-4",
                                         "MCRC-G3-5"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CHECK(find_card(v, want[i], NULL) != NULL, "no card %s", want[i]);
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        CHECK(find_card(v, absent[i], NULL) == NULL,
              "card %s (RAS wild-type only) shown for a RAS-mutant tumour", absent[i]);
}

/* Whether any suggestion action of any card names this resource. */
static int any_action_on(yajl_val resp, const char *resource_id)
{
    yajl_val cards = jget(resp, "cards", yajl_t_array);
    for (size_t i = 0; i < jlen(cards); i++) {
        yajl_val sug = jget(jat(cards, i), "suggestions", yajl_t_array);
        for (size_t j = 0; j < jlen(sug); j++) {
            yajl_val acts = jget(jat(sug, j), "actions", yajl_t_array);
            for (size_t k = 0; k < jlen(acts); k++) {
                const char *rid = jstr(jat(acts, k), "resourceId");
                if (rid && strstr(rid, resource_id))
                    return 1;
            }
        }
    }
    return 0;
}

/* The critical MCRC-RAS-1 card with a delete of draft-cetuximab. */
static void check_cetuximab_critical(yajl_val v)
{
    yajl_val card = find_card(v, "MCRC-RAS-1", "critical");
    if (!CHECK(card != NULL, "no critical MCRC-RAS-1 card"))
        return;
    yajl_val sug = jget(card, "suggestions", yajl_t_array);
    yajl_val act = jat(jget(jat(sug, 0), "actions", yajl_t_array), 0);
    CHECK(jstr(jat(sug, 0), "label") != NULL, "suggestions[0] has no label");
    if (CHECK(act != NULL, "no suggestions[0].actions[0]")) {
        const char *type = jstr(act, "type"), *rid = jstr(act, "resourceId");
        CHECK(type && strcmp(type, "delete") == 0, "action type '%s', want delete",
              type ? type : "(none)");
        CHECK(rid && strcmp(rid, "MedicationRequest/draft-cetuximab") == 0,
              "action resourceId '%s', want MedicationRequest/draft-cetuximab",
              rid ? rid : "(none)");
        CHECK(jstr(act, "description") != NULL, "action has no description");
    }
    CHECK(jstr(card, "selectionBehavior") != NULL, "no selectionBehavior");
    yajl_val over = jget(card, "overrideReasons", yajl_t_array);
    CHECK(jlen(over) > 0, "no overrideReasons");
    for (size_t i = 0; i < jlen(over); i++) {
        const char *d = jstr(jat(over, i), "display");
        CHECK(d && *d, "overrideReasons[%zu] has no display", i);
    }
    CHECK(!any_action_on(v, "draft-oxaliplatin"),
          "a suggestion removes the oxaliplatin draft, which is no anti-EGFR");
}

/* ==== tests: discovery, health, CORS ======================================= */

static void test_discovery(void)
{
    NEED_SERVER();
    struct response r;
    what("GET /cds-services");
    if (http(PORT, "GET", "/cds-services", NULL, NULL, 0, NULL, &r, IO_TIMEOUT_MS) < 0)
        return;
    yajl_val v = expect_json(&r, 200);
    response_free(&r);
    if (!v)
        return;
    yajl_val services = jget(v, "services", yajl_t_array);
    CHECK(jlen(services) >= 2, "services array missing or short");
    static const char *const ids[] = {"mcrc-patient-view", "mcrc-order-select",
                                      "mcrc-order-sign"};
    static const char *const hooks[] = {"patient-view", "order-select", "order-sign"};
    for (int k = 0; k < 3; k++) {
        yajl_val found = NULL;
        for (size_t i = 0; i < jlen(services); i++) {
            const char *id = jstr(jat(services, i), "id");
            if (id && strcmp(id, ids[k]) == 0)
                found = jat(services, i);
        }
        if (!CHECK(found != NULL, "no service %s in discovery", ids[k]))
            continue;
        const char *hook = jstr(found, "hook");
        CHECK(hook && strcmp(hook, hooks[k]) == 0, "service %s: hook '%s', want %s",
              ids[k], hook ? hook : "(none)", hooks[k]);
        CHECK(jstr(found, "title") && *jstr(found, "title"), "service %s: no title", ids[k]);
        CHECK(jstr(found, "description") && *jstr(found, "description"),
              "service %s: no description", ids[k]);
        yajl_val pf = jget(found, "prefetch", yajl_t_object);
        if (CHECK(pf != NULL, "service %s: no prefetch object", ids[k])) {
            const char *pt = jstr(pf, "patient");
            CHECK(pt && strcmp(pt, "Patient/{{context.patientId}}") == 0,
                  "service %s: prefetch.patient '%s'", ids[k], pt ? pt : "(none)");
            CHECK(jstr(pf, "conditions") && jstr(pf, "observations"),
                  "service %s: prefetch lacks conditions or observations", ids[k]);
        }
    }
    yajl_tree_free(v);
}

static void test_healthz(void)
{
    NEED_SERVER();
    struct response r;
    what("GET /healthz");
    if (http(PORT, "GET", "/healthz", NULL, NULL, 0, NULL, &r, IO_TIMEOUT_MS) < 0)
        return;
    yajl_val v = expect_json(&r, 200);
    if (v) {
        const char *st = jstr(v, "status");
        CHECK(st && strcmp(st, "ok") == 0, "status '%s', want ok", st ? st : "(none)");
        yajl_val n = jget(v, "rules", yajl_t_number);
        CHECK(YAJL_IS_INTEGER(n) && YAJL_GET_INTEGER(n) > 0, "rules count missing or 0");
    }
    yajl_tree_free(v);
    response_free(&r);
}

static void test_preflight(void)
{
    NEED_SERVER();
    struct response r;
    what("OPTIONS /cds-services/mcrc-patient-view");
    if (http(PORT, "OPTIONS", "/cds-services/mcrc-patient-view", NULL, NULL, 0,
             "Origin: https://sandbox.cds-hooks.org\r\n"
             "Access-Control-Request-Method: POST\r\n"
             "Access-Control-Request-Headers: content-type, authorization\r\n",
             &r, IO_TIMEOUT_MS) < 0)
        return;
    CHECK(r.status == 204, "status %d, want 204", r.status);
    const char *acao = header(&r, "Access-Control-Allow-Origin");
    const char *methods = header(&r, "Access-Control-Allow-Methods");
    const char *hdrs = header(&r, "Access-Control-Allow-Headers");
    CHECK(acao && strcmp(acao, "*") == 0, "Access-Control-Allow-Origin '%s'",
          acao ? acao : "(none)");
    CHECK(methods && strstr(methods, "POST"), "Access-Control-Allow-Methods '%s'",
          methods ? methods : "(none)");
    CHECK(hdrs && contains_ci(hdrs, "content-type") && contains_ci(hdrs, "authorization"),
          "Access-Control-Allow-Headers '%s' lacks Content-Type or Authorization",
          hdrs ? hdrs : "(none)");
    CHECK(r.body_len == 0, "204 with a body");
    response_free(&r);
}

/* Every kind of answer carries Access-Control-Allow-Origin (expect_json
 * checks it); here one of each status in a row. */
static void test_cors_everywhere(void)
{
    NEED_SERVER();
    static const struct {
        const char *method, *path, *ct, *body;
        int status;
    } cases[] = {
        {"GET", "/cds-services", NULL, NULL, 200},
        {"GET", "/healthz", NULL, NULL, 200},
        {"GET", "/nope", NULL, NULL, 404},
        {"GET", "/cds-services/mcrc-patient-view", NULL, NULL, 405},
        {"POST", "/cds-services/mcrc-patient-view", "text/plain", "{}", 415},
        {"POST", "/cds-services/mcrc-patient-view", "application/json", "{", 400},
        {"POST", "/cds-services/no-such-service", "application/json", "{}", 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct response r;
        what("%s %s (CORS)", cases[i].method, cases[i].path);
        if (http(PORT, cases[i].method, cases[i].path, cases[i].ct, cases[i].body,
                 cases[i].body ? strlen(cases[i].body) : 0, "Origin: https://ehr.example\r\n",
                 &r, IO_TIMEOUT_MS) == 0)
            yajl_tree_free(expect_json(&r, cases[i].status));
        response_free(&r);
    }
}

/* ==== tests: cards ========================================================= */

static void test_pv_kras_mutant(void)
{
    NEED_SERVER();
    yajl_val v = post_example("mcrc-patient-view", "mcrc-kras-mutant.patient-view.json");
    if (!v)
        return;
    check_kras_mutant_pv_cards(v);
    yajl_val ras = find_card(v, "MCRC-RAS-1", NULL);
    const char *s = ras ? jstr(ras, "summary") : NULL;
    CHECK(s && strstr(s, "RAS-mutant"), "MCRC-RAS-1 summary '%s' does not say RAS-mutant",
          s ? s : "(none)");
    yajl_val g31 = find_card(v, "MCRC-G3-1", NULL);
    const char *d = g31 ? jstr(g31, "detail") : NULL;
    CHECK(d && strstr(d, "**Grade:** A"), "MCRC-G3-1 detail lacks '**Grade:** A'");
    CHECK(count_indicator(v, "critical") == 0, "a critical card in patient-view");
    yajl_tree_free(v);
}

static void test_pv_ras_wildtype(void)
{
    NEED_SERVER();
    yajl_val v = post_example("mcrc-patient-view", "mcrc-ras-wildtype.patient-view.json");
    if (!v)
        return;
    CHECK(find_card(v, "MCRC-G12-WT-1", NULL) != NULL, "no MCRC-G12-WT-1 card");
    CHECK(find_card(v, "MCRC-G12-MUT-1", NULL) == NULL, "RAS-mutant option shown for wild-type");
    CHECK(find_card(v, "MCRC-RAS-1", "warning") == NULL, "RAS unknown warning for wild-type");
    yajl_tree_free(v);
}

static void test_os_kras_mutant(void)
{
    NEED_SERVER();
    yajl_val v = post_example("mcrc-order-select", "mcrc-kras-mutant.order-select.json");
    if (!v)
        return;
    check_cetuximab_critical(v);
    yajl_tree_free(v);
}

static void test_pv_no_ras(void)
{
    NEED_SERVER();
    yajl_val v = post_example("mcrc-patient-view", "mcrc-no-ras.patient-view.json");
    if (!v)
        return;
    yajl_val card = find_card(v, "MCRC-RAS-1", NULL);
    if (CHECK(card != NULL, "no MCRC-RAS-1 card")) {
        const char *ind = jstr(card, "indicator"), *s = jstr(card, "summary");
        CHECK(ind && strcmp(ind, "warning") == 0, "MCRC-RAS-1 indicator '%s', want warning",
              ind ? ind : "(none)");
        CHECK(s && strstr(s, "unknown"), "MCRC-RAS-1 summary '%s' does not say unknown",
              s ? s : "(none)");
    }
    yajl_val first = jat(jget(v, "cards", yajl_t_array), 0);
    CHECK(first && jstr(first, "indicator") && strcmp(jstr(first, "indicator"), "warning") == 0,
          "the warning card is not first");
    yajl_tree_free(v);
}

static void test_os_no_ras(void)
{
    NEED_SERVER();
    yajl_val v = post_example("mcrc-order-select", "mcrc-no-ras.order-select.json");
    if (!v)
        return;
    CHECK(find_card(v, "MCRC-RAS-1", "warning") != NULL, "no warning MCRC-RAS-1 card");
    CHECK(count_indicator(v, "critical") == 0, "a critical card for unknown RAS");
    CHECK(any_action_on(v, "MedicationRequest/draft-panitumumab"),
          "no suggestion to remove the panitumumab draft");
    yajl_tree_free(v);
}

static void test_order_sign_all_drafts(void)
{
    NEED_SERVER();
    char *body = example("mcrc-kras-mutant.order-select.json");
    char *sign = json_set(body, "hook", "\"order-sign\"");
    /* Only oxaliplatin selected: order-sign still checks every draft. */
    char *only_ox = sign ? json_set(sign, "selections",
                                    "[\"MedicationRequest/draft-oxaliplatin\"]")
                         : NULL;
    what("POST mcrc-order-sign, kras-mutant drafts, hook order-sign");
    yajl_val v = sign ? post_cards("mcrc-order-sign", sign, strlen(sign)) : NULL;
    if (v)
        check_cetuximab_critical(v);
    yajl_tree_free(v);
    what("POST mcrc-order-sign, kras-mutant drafts, only oxaliplatin selected");
    v = only_ox ? post_cards("mcrc-order-sign", only_ox, strlen(only_ox)) : NULL;
    if (v)
        check_cetuximab_critical(v);
    yajl_tree_free(v);
    free(body);
    free(sign);
    free(only_ox);
}

static void test_order_select_only_selected(void)
{
    NEED_SERVER();
    char *body = example("mcrc-kras-mutant.order-select.json");
    char *only_ox = json_set(body, "selections", "[\"MedicationRequest/draft-oxaliplatin\"]");
    what("POST mcrc-order-select, kras-mutant, only oxaliplatin selected");
    yajl_val v = only_ox ? post_cards("mcrc-order-select", only_ox, strlen(only_ox)) : NULL;
    if (v) {
        CHECK(count_indicator(v, "critical") == 0,
              "critical card although the anti-EGFR draft is not selected");
        CHECK(!any_action_on(v, "draft-cetuximab"),
              "a suggestion acts on the unselected cetuximab draft");
    }
    yajl_tree_free(v);
    free(body);
    free(only_ox);
}

static void test_baseline_minimal(void)
{
    NEED_SERVER();
    char *pv = envelope(HOOK_PV, INSTANCE, CTX_PV, PF, NULL);
    char *ctx = os_context(USER, PATIENT, SELECTIONS, DRAFTS);
    char *os = envelope(HOOK_OS, INSTANCE, ctx, PF, NULL);
    what("POST mcrc-patient-view, minimal valid envelope");
    yajl_tree_free(post_cards("mcrc-patient-view", pv, strlen(pv)));
    what("POST mcrc-order-select, minimal valid envelope");
    yajl_tree_free(post_cards("mcrc-order-select", os, strlen(os)));
    free(pv);
    free(ctx);
    free(os);
}

/* ==== tests: bad input ===================================================== */

static void test_malformed_json(void)
{
    bad_pv("malformed JSON", strdup("{\"hook\": \"patient-view\",, }"), 400,
           "malformed JSON", NULL);
}

static void test_truncated_json(void)
{
    char *body = example("mcrc-kras-mutant.patient-view.json");
    body[strlen(body) / 2] = '\0';
    bad_pv("the kras-mutant example cut in half", body, 400, NULL, NULL);
}

static void test_empty_body(void)
{
    bad_pv("empty body", strdup(""), 400, NULL, NULL);
}

static void test_body_array(void)
{
    char *body = example("mcrc-kras-mutant.patient-view.json");
    struct sb b = {0};
    sb_printf(&b, "[%s]", body);
    free(body);
    bad_pv("body is an array", b.s, 400, "object", NULL);
}

static void test_type_hook(void)
{
    bad_pv("hook as number", envelope("42", INSTANCE, CTX_PV, PF, NULL), 400,
           "'hook'", "string");
}

static void test_type_hook_instance(void)
{
    bad_pv("hookInstance as object",
           envelope(HOOK_PV, "{\"id\":\"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea\"}",
                    CTX_PV, PF, NULL),
           400, "'hookInstance'", "string");
}

static void test_type_context(void)
{
    bad_pv("context as string", envelope(HOOK_PV, INSTANCE, "\"p1\"", PF, NULL), 400,
           "'context'", "object");
}

static void test_type_patient_id(void)
{
    bad_pv("context.patientId as number",
           envelope(HOOK_PV, INSTANCE,
                    "{\"userId\":\"Practitioner/example\",\"patientId\":17}", PF, NULL),
           400, "context.patientId", "string");
}

static void test_type_user_id(void)
{
    bad_pv("context.userId as array",
           envelope(HOOK_PV, INSTANCE,
                    "{\"userId\":[\"Practitioner/example\"],\"patientId\":\"p1\"}", PF,
                    NULL),
           400, "context.userId", "string");
}

static void test_type_selections(void)
{
    bad_os("selections as string",
           os_context(USER, PATIENT, "\"MedicationRequest/d1\"", DRAFTS), 400,
           "context.selections", NULL);
}

static void test_type_selection_item(void)
{
    bad_os("selections holding a number",
           os_context(USER, PATIENT, "[\"MedicationRequest/d1\",7]", DRAFTS), 400,
           "context.selections", NULL);
}

static void test_type_draft_orders(void)
{
    bad_os("draftOrders as string", os_context(USER, PATIENT, SELECTIONS, "\"d1\""), 400,
           "context.draftOrders", NULL);
}

static void test_type_prefetch(void)
{
    bad_pv("prefetch as array",
           envelope(HOOK_PV, INSTANCE, CTX_PV,
                    "[{\"resourceType\":\"Patient\",\"id\":\"p1\"}]", NULL),
           400, "'prefetch'", NULL);
}

static void test_type_prefetch_value(void)
{
    bad_pv("prefetch.patient as string",
           envelope(HOOK_PV, INSTANCE, CTX_PV,
                    "{\"patient\":\"Patient/p1\"," PF_CONDITIONS "," PF_OBSERVATIONS "}",
                    NULL),
           400, "'patient'", NULL);
}

static void test_missing_hook(void)
{
    bad_pv("no hook", envelope(NULL, INSTANCE, CTX_PV, PF, NULL), 400, "'hook'", NULL);
}

static void test_missing_hook_instance(void)
{
    bad_pv("no hookInstance", envelope(HOOK_PV, NULL, CTX_PV, PF, NULL), 400,
           "hookInstance", NULL);
}

static void test_hook_instance_not_uuid(void)
{
    bad_pv("hookInstance not a UUID",
           envelope(HOOK_PV, "\"d1577c69-dfbe-44ad-ba6d-3e05e953b2eZ\"", CTX_PV, PF, NULL),
           400, "hookInstance", "UUID");
}

static void test_missing_context(void)
{
    bad_pv("no context", envelope(HOOK_PV, INSTANCE, NULL, PF, NULL), 400, "'context'",
           NULL);
}

static void test_missing_patient_id(void)
{
    bad_pv("no context.patientId",
           envelope(HOOK_PV, INSTANCE, "{\"userId\":\"Practitioner/example\"}", PF, NULL),
           400, "context.patientId", NULL);
}

static void test_missing_user_id(void)
{
    bad_pv("no context.userId",
           envelope(HOOK_PV, INSTANCE, "{\"patientId\":\"p1\"}", PF, NULL), 400,
           "context.userId", NULL);
}

static void test_missing_selections(void)
{
    bad_os("order-select without selections", os_context(USER, PATIENT, NULL, DRAFTS),
           400, "context.selections", NULL);
}

static void test_missing_draft_orders(void)
{
    bad_os("order-select without draftOrders",
           os_context(USER, PATIENT, SELECTIONS, NULL), 400, "context.draftOrders", NULL);
}

static void test_draft_orders_not_bundle(void)
{
    bad_os("draftOrders a MedicationRequest, not a Bundle",
           os_context(USER, PATIENT, SELECTIONS,
                      "{\"resourceType\":\"MedicationRequest\",\"id\":\"d1\","
                      "\"status\":\"draft\",\"intent\":\"proposal\","
                      "\"medicationCodeableConcept\":{\"text\":\"Oxaliplatin\"},"
                      "\"subject\":{\"reference\":\"Patient/p1\"}}"),
           400, "Bundle", NULL);
}

static void test_auth_without_server(void)
{
    bad_pv("fhirAuthorization without fhirServer",
           envelope(HOOK_PV, INSTANCE, CTX_PV, PF,
                    "\"fhirAuthorization\":{\"access_token\":\"tok\","
                    "\"token_type\":\"Bearer\",\"expires_in\":300,"
                    "\"scope\":\"patient/*.read\",\"subject\":\"oncocds\"}"),
           400, "fhirServer", NULL);
}

static void test_wrong_hook(void)
{
    NEED_SERVER();
    char *body = example("mcrc-kras-mutant.patient-view.json");
    what("POST mcrc-order-select with a patient-view request");
    post_expect_error("mcrc-order-select", body, strlen(body), 400, "'patient-view'",
                      "order-select");
    free(body);
}

static void test_unknown_service(void)
{
    NEED_SERVER();
    char *body = example("mcrc-kras-mutant.patient-view.json");
    what("POST /cds-services/no-such-service");
    post_expect_error("no-such-service", body, strlen(body), 404, NULL, NULL);
    free(body);
}

static void test_get_on_service(void)
{
    NEED_SERVER();
    struct response r;
    what("GET /cds-services/mcrc-patient-view");
    if (http(PORT, "GET", "/cds-services/mcrc-patient-view", NULL, NULL, 0, NULL, &r,
             IO_TIMEOUT_MS) == 0) {
        expect_error(&r, 405, NULL, NULL);
        const char *allow = header(&r, "Allow");
        CHECK(allow && strstr(allow, "POST"), "Allow '%s' lacks POST",
              allow ? allow : "(none)");
    }
    response_free(&r);
    expect_alive();
}

static void test_post_on_discovery(void)
{
    NEED_SERVER();
    struct response r;
    what("POST /cds-services");
    if (http(PORT, "POST", "/cds-services", "application/json", "{}", 2, NULL, &r,
             IO_TIMEOUT_MS) == 0) {
        expect_error(&r, 405, NULL, NULL);
        const char *allow = header(&r, "Allow");
        CHECK(allow && strstr(allow, "GET"), "Allow '%s' lacks GET",
              allow ? allow : "(none)");
    }
    response_free(&r);
    expect_alive();
}

static void test_unknown_path(void)
{
    NEED_SERVER();
    struct response r;
    what("GET /no/such/path");
    if (http(PORT, "GET", "/no/such/path", NULL, NULL, 0, NULL, &r, IO_TIMEOUT_MS) == 0)
        expect_error(&r, 404, NULL, NULL);
    response_free(&r);
    what("GET /cds-servicesX");
    if (http(PORT, "GET", "/cds-servicesX", NULL, NULL, 0, NULL, &r, IO_TIMEOUT_MS) == 0)
        expect_error(&r, 404, NULL, NULL);
    response_free(&r);
    expect_alive();
}

static void test_content_type(void)
{
    NEED_SERVER();
    char *body = example("mcrc-kras-mutant.patient-view.json");
    struct response r;
    what("POST mcrc-patient-view with Content-Type text/plain");
    if (http(PORT, "POST", "/cds-services/mcrc-patient-view", "text/plain", body,
             strlen(body), NULL, &r, IO_TIMEOUT_MS) == 0)
        expect_error(&r, 415, "application/json", NULL);
    response_free(&r);
    what("POST mcrc-patient-view without Content-Type");
    if (http(PORT, "POST", "/cds-services/mcrc-patient-view", NULL, body, strlen(body),
             NULL, &r, IO_TIMEOUT_MS) == 0)
        expect_error(&r, 415, "application/json", NULL);
    response_free(&r);
    what("POST mcrc-patient-view with Content-Type application/jsonx");
    if (http(PORT, "POST", "/cds-services/mcrc-patient-view", "application/jsonx", body,
             strlen(body), NULL, &r, IO_TIMEOUT_MS) == 0)
        expect_error(&r, 415, NULL, NULL);
    response_free(&r);
    what("POST mcrc-patient-view with Content-Type application/json; charset=utf-8");
    if (http(PORT, "POST", "/cds-services/mcrc-patient-view",
             "application/json; charset=utf-8", body, strlen(body), NULL, &r,
             IO_TIMEOUT_MS) == 0)
        yajl_tree_free(expect_json(&r, 200));
    response_free(&r);
    free(body);
    expect_alive();
}

/* A JSON object padded with spaces to exactly n bytes. */
static char *padded_object(size_t n)
{
    char *b = xmalloc(n + 1);
    memset(b, ' ', n);
    b[0] = '{';
    b[n - 1] = '}';
    b[n] = '\0';
    return b;
}

static void test_body_over_8mb(void)
{
    NEED_SERVER();
    size_t n = 9u * 1024u * 1024u;
    char *body = padded_object(n);
    struct response r;
    what("POST mcrc-patient-view with a 9 MB body");
    if (http(PORT, "POST", "/cds-services/mcrc-patient-view", "application/json", body,
             n, NULL, &r, BIG_TIMEOUT_MS) == 0)
        expect_error(&r, 413, NULL, NULL);
    response_free(&r);
    free(body);
    expect_alive();
}

static void test_body_over_16mb(void)
{
    NEED_SERVER();
    size_t n = 17u * 1024u * 1024u;
    char *body = padded_object(n);
    struct response r;
    what("POST mcrc-patient-view with a 17 MB body");
    if (http(PORT, "POST", "/cds-services/mcrc-patient-view", "application/json", body,
             n, NULL, &r, BIG_TIMEOUT_MS) == 0)
        CHECK(r.status == 413, "status %d, want 413", r.status);
    response_free(&r);
    free(body);
    expect_alive();
}

/* depth '[' then depth ']' (with optional text around). */
static char *nested_arrays(const char *before, size_t depth, const char *after)
{
    struct sb b = {0};
    char *open = xmalloc(depth), *close = xmalloc(depth);
    memset(open, '[', depth);
    memset(close, ']', depth);
    sb_adds(&b, before);
    sb_add(&b, open, depth);
    sb_add(&b, close, depth);
    sb_adds(&b, after);
    free(open);
    free(close);
    return b.s;
}

static void test_deep_arrays(void)
{
    /* As the body itself: refused as "not an object" or for depth. */
    bad_pv("100,000 nested arrays as the body", nested_arrays("", 100000, ""), 400,
           NULL, NULL);
    /* In an extension field the parser skips: the depth limit applies. */
    char *head = envelope(HOOK_PV, INSTANCE, CTX_PV, PF, NULL);
    head[strlen(head) - 1] = '\0'; /* drop the closing brace */
    struct sb b = {0};
    sb_printf(&b, "%s,\"extension\":", head);
    free(head);
    bad_pv("100,000 nested arrays in an extension field",
           nested_arrays(b.s, 100000, "}"), 400, "deeper", NULL);
    free(b.s);
    /* Inside a FHIR resource in the prefetch. */
    bad_pv("100,000 nested arrays inside prefetch.patient",
           nested_arrays("{\"hook\":" HOOK_PV ",\"hookInstance\":" INSTANCE
                         ",\"context\":" CTX_PV ",\"prefetch\":{" PF_CONDITIONS
                         "," PF_OBSERVATIONS ",\"patient\":{\"resourceType\":"
                         "\"Patient\",\"id\":\"p1\",\"extension\":",
                         100000, "}}}"),
           400, "deeper", NULL);
}

static void test_deep_objects(void)
{
    size_t depth = 100000;
    struct sb b = {0};
    for (size_t i = 0; i < depth; i++)
        sb_add(&b, "{\"a\":", 5);
    sb_add(&b, "1", 1);
    for (size_t i = 0; i < depth; i++)
        sb_add(&b, "}", 1);
    bad_pv("100,000 nested objects", b.s, 400, "deeper", NULL);
}

/* A patient-view whose context.userId (a field the service keeps) or
 * Patient.id (a FHIR string) holds the given bytes. */
static void bad_utf8_case(const char *name, const char *bytes)
{
    char label[160], ctx[256], pf[512];
    snprintf(ctx, sizeof ctx,
             "{\"userId\":\"Practitioner/%s\",\"patientId\":\"p1\"}", bytes);
    snprintf(label, sizeof label, "%s in context.userId", name);
    bad_pv(label, envelope(HOOK_PV, INSTANCE, ctx, PF, NULL), 400, NULL, NULL);
    snprintf(pf, sizeof pf,
             "{\"patient\":{\"resourceType\":\"Patient\",\"id\":\"p1\","
             "\"gender\":\"ma%sle\"}," PF_CONDITIONS "," PF_OBSERVATIONS "}",
             bytes);
    snprintf(label, sizeof label, "%s in prefetch.patient.gender", name);
    bad_pv(label, envelope(HOOK_PV, INSTANCE, CTX_PV, pf, NULL), 400, NULL, NULL);
}

static void test_invalid_utf8(void)
{
    bad_utf8_case("byte 0xFF", "\xff\xfe");
    bad_utf8_case("lone continuation byte", "\x80");
    bad_utf8_case("truncated 3-byte sequence", "\xe2\x82");
    bad_utf8_case("overlong NUL C0 80", "\xc0\x80");
    bad_utf8_case("overlong 3-byte E0 80 80", "\xe0\x80\x80");
    bad_utf8_case("UTF-16 surrogate ED A0 80", "\xed\xa0\x80");
    bad_utf8_case("code point above U+10FFFF", "\xf4\x90\x80\x80");
}

/* Invalid UTF-8 in a medication text must not come back in a card: the
 * detail quotes the order's name ({orders}). */
static void test_invalid_utf8_not_echoed(void)
{
    NEED_SERVER();
    char *body = example("mcrc-kras-mutant.order-select.json");
    char *bad = replace_once(body, "\"text\": \"Cetuximab\"", "\"text\": \"Cetu\xc0\x80ximab\"");
    struct response r;
    what("POST mcrc-order-select, cetuximab text with overlong C0 80");
    if (bad && post_json(PORT, "/cds-services/mcrc-order-select", bad, strlen(bad), &r) == 0) {
        CHECK(r.status == 400, "status %d, want 400", r.status);
        yajl_tree_free(expect_json(&r, r.status)); /* checks the body is valid UTF-8 */
        response_free(&r);
    }
    free(bad);
    /* A lone low-surrogate escape is valid JSON syntax; decoded, it is no
     * valid UTF-8.  Refusing it (400) or replacing it is fine; sending the
     * raw surrogate bytes back is not. */
    bad = replace_once(body, "\"text\": \"Cetuximab\"", "\"text\": \"Cetu\\udc00ximab\"");
    what("POST mcrc-order-select, cetuximab text with the escape \\udc00");
    if (bad && post_json(PORT, "/cds-services/mcrc-order-select", bad, strlen(bad), &r) == 0) {
        CHECK(r.status == 200 || r.status == 400, "status %d, want 200 or 400", r.status);
        yajl_tree_free(expect_json(&r, r.status)); /* checks the body is valid UTF-8 */
        response_free(&r);
    }
    free(body);
    free(bad);
    expect_alive();
}

static void test_prefetch_missing_key(void)
{
    bad_pv("prefetch without observations, no fhirServer",
           envelope(HOOK_PV, INSTANCE, CTX_PV, "{" PF_PATIENT "," PF_CONDITIONS "}", NULL),
           412, "'observations'", "fhirServer");
    bad_pv("no prefetch at all, no fhirServer",
           envelope(HOOK_PV, INSTANCE, CTX_PV, NULL, NULL), 412, "'patient'", NULL);
}

static void test_prefetch_operation_outcome(void)
{
    char *body = example("mcrc-kras-mutant.patient-view.json");
    char *oo = json_set(body, "conditions",
                        "{\"resourceType\":\"OperationOutcome\",\"issue\":[{"
                        "\"severity\":\"error\",\"code\":\"not-found\","
                        "\"diagnostics\":\"search failed\"}]}");
    free(body);
    bad_pv("prefetch.conditions holds an OperationOutcome", oo, 412, "'conditions'", NULL);
}

static void test_prefetch_renamed_keys(void)
{
    NEED_SERVER();
    char *body = example("mcrc-kras-mutant.patient-view.json");
    char *a = json_rename(body, "patient", "pt");
    char *b = a ? json_rename(a, "conditions", "cond") : NULL;
    char *c = b ? json_rename(b, "observations", "obs") : NULL;
    what("POST mcrc-patient-view, kras-mutant with prefetch keys pt/cond/obs");
    yajl_val v = c ? post_cards("mcrc-patient-view", c, strlen(c)) : NULL;
    if (v)
        check_kras_mutant_pv_cards(v);
    yajl_tree_free(v);
    free(body);
    free(a);
    free(b);
    free(c);
}

static void test_prefetch_null_medications(void)
{
    NEED_SERVER();
    char *body = example("mcrc-kras-mutant.patient-view.json");
    char *n = json_set(body, "medications", "null");
    what("POST mcrc-patient-view, kras-mutant with prefetch.medications null");
    yajl_val v = n ? post_cards("mcrc-patient-view", n, strlen(n)) : NULL;
    if (v)
        check_kras_mutant_pv_cards(v);
    yajl_tree_free(v);
    free(body);
    free(n);
}

static void test_duplicate_field(void)
{
    bad_pv("hook given twice",
           envelope(HOOK_PV, INSTANCE, CTX_PV, PF, "\"hook\":\"patient-view\""), 400,
           "duplicate", "hook");
    bad_pv("context given twice",
           envelope(HOOK_PV, INSTANCE, CTX_PV, PF, "\"context\":" CTX_PV), 400,
           "duplicate", "context");
}

static void test_not_an_object(void)
{
    bad_pv("body is null", strdup("null"), 400, NULL, NULL);
    bad_pv("body is a string", strdup("\"patient-view\""), 400, NULL, NULL);
    bad_pv("body is a number", strdup("42"), 400, NULL, NULL);
    char *env = envelope(HOOK_PV, INSTANCE, CTX_PV, PF, NULL);
    struct sb b = {0};
    sb_printf(&b, "%s{}", env);
    free(env);
    bad_pv("a second object after the request", b.s, 400, NULL, NULL);
}

static void test_prefetch_missing_with_server(void)
{
    bad_pv("prefetch without observations, with fhirServer",
           envelope(HOOK_PV, INSTANCE, CTX_PV, "{" PF_PATIENT "," PF_CONDITIONS "}",
                    "\"fhirServer\":\"https://ehr.example/fhir\""),
           412, "'observations'", NULL);
    bad_pv("fhirServer not an http(s) URL",
           envelope(HOOK_PV, INSTANCE, CTX_PV, PF, "\"fhirServer\":\"ftp://ehr.example\""),
           400, "fhirServer", NULL);
}

static void test_too_many_resources(void)
{
    struct sb pf = {0};
    sb_adds(&pf, "{" PF_PATIENT "," PF_OBSERVATIONS
                 ",\"conditions\":{\"resourceType\":\"Bundle\",\"type\":\"searchset\","
                 "\"entry\":[");
    for (int i = 0; i < 20001; i++)
        sb_printf(&pf, "%s{\"resource\":{\"resourceType\":\"Condition\",\"id\":\"c%d\"}}",
                  i ? "," : "", i);
    sb_adds(&pf, "]}}");
    bad_pv("20,001 Conditions in the prefetch",
           envelope(HOOK_PV, INSTANCE, CTX_PV, pf.s, NULL), 413, "20000", NULL);
    free(pf.s);
}

static void test_chunked_body(void)
{
    NEED_SERVER();
    char *body = example("mcrc-kras-mutant.patient-view.json");
    size_t len = strlen(body);
    struct conn c;
    struct sb req = {0};
    what("POST mcrc-patient-view with a chunked body");
    if (!CHECK(conn_open(&c, PORT) == 0, "cannot connect")) {
        free(body);
        return;
    }
    request_head(&req, "POST", "/cds-services/mcrc-patient-view", "application/json",
                 NULL, 0, 1, "Transfer-Encoding: chunked\r\n");
    for (size_t off = 0; off < len; off += 1000) {
        size_t n = len - off < 1000 ? len - off : 1000;
        sb_printf(&req, "%zx\r\n", n);
        sb_add(&req, body + off, n);
        sb_adds(&req, "\r\n");
    }
    sb_adds(&req, "0\r\n\r\n");
    CHECK(conn_send(&c, req.s, req.len, IO_TIMEOUT_MS) == 0, "could not send");
    struct response r;
    if (CHECK(conn_read_response(&c, &r, IO_TIMEOUT_MS) == 0, "no response")) {
        yajl_val v = expect_json(&r, 200);
        if (v)
            check_kras_mutant_pv_cards(v);
        yajl_tree_free(v);
        response_free(&r);
    }
    conn_close(&c);
    free(req.s);
    free(body);
    expect_alive();
}

static void test_huge_header(void)
{
    NEED_SERVER();
    struct conn c;
    struct sb req = {0};
    what("GET /healthz with a 40 KB header");
    if (!CHECK(conn_open(&c, PORT) == 0, "cannot connect"))
        return;
    sb_adds(&req, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                  "Authorization: Bearer ");
    for (int i = 0; i < 40 * 1024; i++)
        sb_add(&req, "a", 1);
    sb_adds(&req, "\r\n\r\n");
    conn_send(&c, req.s, req.len, IO_TIMEOUT_MS);
    struct response r;
    /* evhttp refuses it (an error status or a close); never a 200. */
    if (conn_read_response(&c, &r, IO_TIMEOUT_MS) == 0) {
        CHECK(r.status >= 400 && r.status < 500, "status %d, want a 4xx", r.status);
        response_free(&r);
    }
    conn_close(&c);
    free(req.s);
    expect_alive();
}

/* ==== tests: connections ==================================================== */

static void test_keep_alive(void)
{
    NEED_SERVER();
    struct conn c;
    what("keep-alive: three requests on one connection");
    if (!CHECK(conn_open(&c, PORT) == 0, "cannot connect"))
        return;
    char *pv = example("mcrc-kras-mutant.patient-view.json");
    for (int i = 0; i < 3; i++) {
        struct sb head = {0};
        struct response r;
        if (i == 1)
            request_head(&head, "POST", "/cds-services/mcrc-patient-view",
                         "application/json", pv, strlen(pv), 0, NULL);
        else
            request_head(&head, "GET", i == 0 ? "/cds-services" : "/healthz", NULL,
                         NULL, 0, 0, NULL);
        what("keep-alive: request %d of 3", i + 1);
        int sent = conn_send(&c, head.s, head.len, IO_TIMEOUT_MS) == 0 &&
                   (i != 1 || conn_send(&c, pv, strlen(pv), IO_TIMEOUT_MS) == 0);
        free(head.s);
        if (!CHECK(sent, "could not send (connection closed?)"))
            break;
        if (!CHECK(conn_read_response(&c, &r, IO_TIMEOUT_MS) == 0, "no response"))
            break;
        yajl_val v = expect_json(&r, 200);
        if (v && i == 1)
            check_kras_mutant_pv_cards(v);
        yajl_tree_free(v);
        const char *conn_hdr = header(&r, "Connection");
        CHECK(!conn_hdr || strcasecmp(conn_hdr, "close") != 0,
              "server closes a keep-alive connection");
        response_free(&r);
    }
    free(pv);
    conn_close(&c);
}

static void test_pipelined(void)
{
    NEED_SERVER();
    struct conn c;
    struct sb all = {0};
    what("pipelined: three requests in one write");
    if (!CHECK(conn_open(&c, PORT) == 0, "cannot connect"))
        return;
    request_head(&all, "GET", "/healthz", NULL, NULL, 0, 0, NULL);
    request_head(&all, "POST", "/cds-services/mcrc-patient-view", "application/json",
                 "[]", 2, 0, NULL);
    sb_adds(&all, "[]");
    request_head(&all, "GET", "/cds-services", NULL, NULL, 0, 0, NULL);
    static const int want[] = {200, 400, 200};
    CHECK(conn_send(&c, all.s, all.len, IO_TIMEOUT_MS) == 0, "could not send");
    free(all.s);
    for (int i = 0; i < 3; i++) {
        struct response r;
        what("pipelined: response %d of 3", i + 1);
        if (!CHECK(conn_read_response(&c, &r, IO_TIMEOUT_MS) == 0, "no response"))
            break;
        yajl_tree_free(expect_json(&r, want[i]));
        response_free(&r);
    }
    conn_close(&c);
}

static void test_half_request(void)
{
    NEED_SERVER();
    struct conn c;
    what("half a request line and headers, then close");
    if (CHECK(conn_open(&c, PORT) == 0, "cannot connect")) {
        static const char half[] =
            "POST /cds-services/mcrc-patient-view HTTP/1.1\r\nHost: 127.0.0.1\r\nConte";
        conn_send(&c, half, sizeof half - 1, IO_TIMEOUT_MS);
        sleep_ms(50);
        conn_close(&c);
    }
    expect_alive();
}

static void test_short_body(void)
{
    NEED_SERVER();
    struct conn c;
    what("Content-Length 1000, 10 bytes sent, then close");
    if (CHECK(conn_open(&c, PORT) == 0, "cannot connect")) {
        static const char req[] =
            "POST /cds-services/mcrc-patient-view HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            "{\"hook\":\"p";
        conn_send(&c, req, sizeof req - 1, IO_TIMEOUT_MS);
        sleep_ms(50);
        conn_close(&c);
    }
    expect_alive();
    what("Content-Length 1000, 10 bytes sent, then half-close and wait");
    if (CHECK(conn_open(&c, PORT) == 0, "cannot connect")) {
        static const char req[] =
            "POST /cds-services/mcrc-patient-view HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            "{\"hook\":\"p";
        conn_send(&c, req, sizeof req - 1, IO_TIMEOUT_MS);
        shutdown(c.fd, SHUT_WR);
        struct response r;
        /* Any answer or a close is fine; it must not hang past the timeout
         * with the server stuck, and the server must answer afterwards. */
        if (conn_read_response(&c, &r, 2000) == 0)
            response_free(&r);
        conn_close(&c);
    }
    expect_alive();
}

/* ==== tests: logging and shutdown ========================================== */

static int count_request_lines(const char *log)
{
    int n = 0;
    for (const char *line = log; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char *copy = xmalloc(len + 1);
        memcpy(copy, line, len);
        copy[len] = '\0';
        n += strstr(copy, "POST") && strstr(copy, "/cds-services/mcrc-patient-view") &&
             strstr(copy, "status=200");
        free(copy);
        line += len + (eol ? 1 : 0);
    }
    return n;
}

static void test_log_no_patient_data(void)
{
    NEED_SERVER();
    char *log = server_log(&g_srv);
    int before = count_request_lines(log);
    free(log);
    yajl_tree_free(post_example("mcrc-patient-view", "mcrc-kras-mutant.patient-view.json"));
    what("the log after one patient-view call");
    double deadline = now_ms() + 3000;
    int after;
    do {
        log = server_log(&g_srv);
        after = count_request_lines(log);
        if (after > before)
            break;
        free(log);
        log = NULL;
        sleep_ms(10);
    } while (now_ms() < deadline);
    if (!log)
        log = server_log(&g_srv);
    CHECK(after == before + 1,
          "%d log lines with POST /cds-services/mcrc-patient-view status=200 for one "
          "call, want 1", after - before);
    CHECK(!strstr(log, "mcrc-kras-mutant"), "the log holds the patient's id");
    CHECK(!strstr(log, "1958-03-14"), "the log holds the patient's birthDate");
    CHECK(!strstr(log, "KRAS p.G12D"), "the log holds an observation text");
    CHECK(!strstr(log, "cd5f0c9c-464f-44eb-9dd9-76b0f8e4936d"),
          "the log holds the hookInstance");
    free(log);
}

static void test_sigterm_clean_exit(void)
{
    NEED_SERVER();
    what("SIGTERM to the shared server");
    check_clean_exit(&g_srv);
}

/* ==== own servers: reload and bad rules ==================================== */

/* A temporary copy of the rules directory; returns 0 and fills dir. */
static int copy_rules(char *dir, size_t cap, char **rules_text)
{
    snprintf(dir, cap, "/tmp/oncocds-http-rules-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    size_t dlen, rlen;
    char *drugs = tu_read_source_file("rules/drugs.tsv", &dlen);
    char *rules = tu_read_source_file("rules/mcrc.rules", &rlen);
    char path[512];
    snprintf(path, sizeof path, "%s/drugs.tsv", dir);
    int rc = write_file(path, drugs, dlen);
    snprintf(path, sizeof path, "%s/mcrc.rules", dir);
    rc |= write_file(path, rules, rlen);
    free(drugs);
    *rules_text = rules;
    return rc;
}

static void remove_rules(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/drugs.tsv", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/mcrc.rules", dir);
    unlink(path);
    rmdir(dir);
}

/* Waits until the log holds `needle` at least `count` times. */
static int wait_log(struct server *s, const char *needle, int count, int timeout_ms)
{
    double deadline = now_ms() + timeout_ms;
    for (;;) {
        char *log = server_log(s);
        int n = count_occurrences(log, needle);
        free(log);
        if (n >= count)
            return 1;
        if (now_ms() > deadline)
            return 0;
        sleep_ms(10);
    }
}

static const char OLD_SUMMARY[] =
    "summary: RAS-mutant tumour: cetuximab and panitumumab (anti-EGFR) are given "
    "only for RAS wild-type tumours";
static const char NEW_SUMMARY[] =
    "summary: RAS-mutant tumour (rules reloaded): cetuximab and panitumumab "
    "(anti-EGFR) are given only for RAS wild-type tumours";

/* POSTs the kras-mutant patient-view to s and returns the MCRC-RAS-1
 * summary (malloc'ed) or NULL. */
static char *ras_summary(struct server *s)
{
    char *body = example("mcrc-kras-mutant.patient-view.json");
    struct response r;
    char *out = NULL;
    if (post_json(s->port, "/cds-services/mcrc-patient-view", body, strlen(body), &r) == 0) {
        yajl_val v = expect_json(&r, 200);
        yajl_val card = v ? find_card(v, "MCRC-RAS-1", NULL) : NULL;
        const char *sum = card ? jstr(card, "summary") : NULL;
        if (CHECK(sum != NULL, "no MCRC-RAS-1 card"))
            out = strdup(sum);
        if (v)
            check_kras_mutant_pv_cards(v);
        yajl_tree_free(v);
    }
    response_free(&r);
    free(body);
    return out;
}

static void test_sighup_reload(void)
{
    char dir[64], path[512];
    char *rules = NULL;
    struct server s;
    what("SIGHUP: copy the rules");
    if (!CHECK(copy_rules(dir, sizeof dir, &rules) == 0, "cannot copy the rules")) {
        free(rules);
        return;
    }
    snprintf(path, sizeof path, "%s/mcrc.rules", dir);
    what("SIGHUP: start on %s", dir);
    if (!CHECK(server_start(&s, dir) == 0, "server did not start on the rules copy")) {
        server_discard(&s);
        remove_rules(dir);
        free(rules);
        return;
    }
    what("SIGHUP: before reload");
    char *sum = ras_summary(&s);
    CHECK(sum && strcmp(sum, OLD_SUMMARY + strlen("summary: ")) == 0,
          "RAS-1 summary before reload: '%s'",
          sum ? sum : "(none)");
    free(sum);

    /* Break the file: the reload fails with file:line and keeps the rules. */
    what("SIGHUP: broken mcrc.rules");
    struct sb broken = {0};
    sb_adds(&broken, rules);
    sb_adds(&broken, "\nnonsense line\n");
    CHECK(write_file(path, broken.s, broken.len) == 0, "cannot write %s", path);
    free(broken.s);
    kill(s.pid, SIGHUP);
    if (CHECK(wait_log(&s, "reload failed", 1, 5000), "no 'reload failed' in the log")) {
        char *log = server_log(&s);
        const char *line = strstr(log, "reload failed");
        CHECK(line && has_file_line(line, "mcrc.rules"),
              "reload failure does not say mcrc.rules:<line>: %.300s", line);
        free(log);
    }
    sum = ras_summary(&s);
    CHECK(sum && strcmp(sum, OLD_SUMMARY + strlen("summary: ")) == 0,
          "RAS-1 summary after the failed reload: '%s'",
          sum ? sum : "(none)");
    free(sum);

    /* Fix it with one summary changed: the reload takes the new text. */
    what("SIGHUP: fixed mcrc.rules with a new summary");
    char *fixed = replace_once(rules, OLD_SUMMARY, NEW_SUMMARY);
    if (fixed) {
        CHECK(write_file(path, fixed, strlen(fixed)) == 0, "cannot write %s", path);
        kill(s.pid, SIGHUP);
        CHECK(wait_log(&s, "rules reloaded", 1, 5000), "no 'rules reloaded' in the log");
        sum = ras_summary(&s);
        CHECK(sum && strcmp(sum, NEW_SUMMARY + strlen("summary: ")) == 0,
              "RAS-1 summary after reload: '%s'", sum ? sum : "(none)");
        free(sum);
    }
    free(fixed);
    what("SIGHUP server: SIGTERM");
    check_clean_exit(&s);
    server_discard(&s);
    remove_rules(dir);
    free(rules);
}

static void test_broken_rules_at_start(void)
{
    char dir[64], path[512];
    char *rules = NULL;
    struct server s;
    what("start with broken rules");
    if (!CHECK(copy_rules(dir, sizeof dir, &rules) == 0, "cannot copy the rules")) {
        free(rules);
        return;
    }
    snprintf(path, sizeof path, "%s/mcrc.rules", dir);
    struct sb broken = {0};
    sb_adds(&broken, rules);
    sb_adds(&broken, "\nnonsense line\n");
    CHECK(write_file(path, broken.s, broken.len) == 0, "cannot write %s", path);
    free(broken.s);
    double t0 = now_ms();
    int started = server_start(&s, dir) == 0;
    double took = now_ms() - t0;
    CHECK(!started, "server started on broken rules");
    CHECK(s.reaped, "server neither listened nor exited within %d ms", START_TIMEOUT_MS);
    if (s.reaped) {
        CHECK(WIFEXITED(s.status) && WEXITSTATUS(s.status) != 0 &&
                  WEXITSTATUS(s.status) < 86,
              "exit %s %d, want a non-zero exit status that is no sanitizer's",
              WIFEXITED(s.status) ? "status" : "signal",
              WIFEXITED(s.status) ? WEXITSTATUS(s.status) : WTERMSIG(s.status));
        CHECK(took < 5000, "took %.0f ms to give up", took);
    }
    char *log = server_log(&s);
    CHECK(has_file_line(log, "mcrc.rules"), "stderr lacks mcrc.rules:<line>: %.300s", log);
    CHECK(!strstr(log, "Sanitizer") && !strstr(log, "runtime error"),
          "sanitizer report on the failed start: %.300s", log);
    free(log);
    server_discard(&s);
    remove_rules(dir);
    free(rules);
}

static void test_missing_rules_dir(void)
{
    struct server s;
    what("start with a rules dir that does not exist");
    int started = server_start(&s, "/nonexistent/oncocds-rules") == 0;
    CHECK(!started, "server started without rules");
    CHECK(s.reaped && WIFEXITED(s.status) && WEXITSTATUS(s.status) != 0 &&
              WEXITSTATUS(s.status) < 86,
          "want a prompt non-zero exit that is no sanitizer's");
    char *log = server_log(&s);
    CHECK(strstr(log, "/nonexistent/oncocds-rules") != NULL,
          "stderr does not name the directory: %.300s", log);
    free(log);
    server_discard(&s);
}

/* ==== main =================================================================== */

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* Outside ctest, still make sanitizer findings in the server fail. */
    setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=86", 0);
    setenv("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1:exitcode=87", 0);
    setenv("LSAN_OPTIONS", "exitcode=88", 0);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;

    CU_pSuite s = CU_add_suite("oncocds over HTTP, one server", suite_start, suite_stop);
    if (!s)
        return 2;
    TU_ADD(s, "discovery lists the mcrc services with id, hook, title, description, prefetch",
           test_discovery);
    TU_ADD(s, "GET /healthz answers 200 JSON with the rule count", test_healthz);
    TU_ADD(s, "OPTIONS preflight answers 204 with CORS headers", test_preflight);
    TU_ADD(s, "every answer carries Access-Control-Allow-Origin", test_cors_everywhere);
    TU_ADD(s, "minimal valid patient-view and order-select requests are accepted",
           test_baseline_minimal);
    TU_ADD(s, "patient-view, KRAS-mutant: RAS-1, G12-MUT-1..3, G3-1..4, graded, sorted",
           test_pv_kras_mutant);
    TU_ADD(s, "patient-view, RAS wild-type: wild-type options only", test_pv_ras_wildtype);
    TU_ADD(s, "order-select, KRAS-mutant: critical RAS-1 deleting the cetuximab draft only",
           test_os_kras_mutant);
    TU_ADD(s, "order-select checks only selected drafts", test_order_select_only_selected);
    TU_ADD(s, "patient-view, no RAS result: warning RAS-1 saying unknown", test_pv_no_ras);
    TU_ADD(s, "order-select, no RAS result: warning RAS-1, not critical", test_os_no_ras);
    TU_ADD(s, "order-sign, KRAS-mutant: critical RAS-1 for every draft", test_order_sign_all_drafts);

    TU_ADD(s, "400: malformed JSON", test_malformed_json);
    TU_ADD(s, "400: truncated JSON", test_truncated_json);
    TU_ADD(s, "400: empty body", test_empty_body);
    TU_ADD(s, "400: body is an array", test_body_array);
    TU_ADD(s, "400: hook as a number", test_type_hook);
    TU_ADD(s, "400: hookInstance as an object", test_type_hook_instance);
    TU_ADD(s, "400: context as a string", test_type_context);
    TU_ADD(s, "400: context.patientId as a number", test_type_patient_id);
    TU_ADD(s, "400: context.userId as an array", test_type_user_id);
    TU_ADD(s, "400: selections as a string", test_type_selections);
    TU_ADD(s, "400: selections holding a number", test_type_selection_item);
    TU_ADD(s, "400: draftOrders as a string", test_type_draft_orders);
    TU_ADD(s, "400: prefetch as an array", test_type_prefetch);
    TU_ADD(s, "400: a prefetch value as a string", test_type_prefetch_value);
    TU_ADD(s, "400: missing hook", test_missing_hook);
    TU_ADD(s, "400: missing hookInstance", test_missing_hook_instance);
    TU_ADD(s, "400: hookInstance not a UUID", test_hook_instance_not_uuid);
    TU_ADD(s, "400: missing context", test_missing_context);
    TU_ADD(s, "400: missing context.patientId", test_missing_patient_id);
    TU_ADD(s, "400: missing context.userId", test_missing_user_id);
    TU_ADD(s, "400: order-select without selections", test_missing_selections);
    TU_ADD(s, "400: order-select without draftOrders", test_missing_draft_orders);
    TU_ADD(s, "400: draftOrders not a Bundle", test_draft_orders_not_bundle);
    TU_ADD(s, "400: fhirAuthorization without fhirServer", test_auth_without_server);
    TU_ADD(s, "400: wrong hook for the service, named in the message", test_wrong_hook);
    TU_ADD(s, "404: unknown service", test_unknown_service);
    TU_ADD(s, "405: GET on a service, with Allow", test_get_on_service);
    TU_ADD(s, "405: POST on /cds-services, with Allow", test_post_on_discovery);
    TU_ADD(s, "404: unknown path", test_unknown_path);
    TU_ADD(s, "415: Content-Type text/plain or missing", test_content_type);
    TU_ADD(s, "413: body over 8 MB (JSON)", test_body_over_8mb);
    TU_ADD(s, "413: body over 16 MB, and the server still answers", test_body_over_16mb);
    TU_ADD(s, "400: 100,000 nested arrays", test_deep_arrays);
    TU_ADD(s, "400: 100,000 nested objects", test_deep_objects);
    TU_ADD(s, "400: invalid UTF-8 in a string", test_invalid_utf8);
    TU_ADD(s, "invalid UTF-8 in an order text is refused, never echoed in a card",
           test_invalid_utf8_not_echoed);
    TU_ADD(s, "412: required prefetch missing and no fhirServer, key named",
           test_prefetch_missing_key);
    TU_ADD(s, "412: prefetch conditions holds an OperationOutcome",
           test_prefetch_operation_outcome);
    TU_ADD(s, "200: prefetch keys named differently by the EHR", test_prefetch_renamed_keys);
    TU_ADD(s, "200: prefetch medications null", test_prefetch_null_medications);
    TU_ADD(s, "400: a field given twice", test_duplicate_field);
    TU_ADD(s, "400: body not one JSON object (null, string, number, two objects)",
           test_not_an_object);
    TU_ADD(s, "412 with fhirServer (fetching not supported); 400 for a non-http fhirServer",
           test_prefetch_missing_with_server);
    TU_ADD(s, "413: more FHIR resources than the limit", test_too_many_resources);
    TU_ADD(s, "200: chunked request body", test_chunked_body);
    TU_ADD(s, "a 40 KB header is refused and the server survives", test_huge_header);
    TU_ADD(s, "keep-alive: three requests on one connection", test_keep_alive);
    TU_ADD(s, "pipelined: three requests in one write", test_pipelined);
    TU_ADD(s, "client sends half a request and closes: server survives", test_half_request);
    TU_ADD(s, "client sends 10 of 1000 body bytes and closes: server survives",
           test_short_body);
    TU_ADD(s, "log: one line per call, no patient data", test_log_no_patient_data);
    TU_ADD(s, "SIGTERM: exit 0, no sanitizer report", test_sigterm_clean_exit);

    CU_pSuite o = CU_add_suite("oncocds over HTTP, own servers", NULL, NULL);
    if (!o)
        return 2;
    TU_ADD(o, "SIGHUP: a broken reload keeps the rules, a good one takes effect",
           test_sighup_reload);
    TU_ADD(o, "start with broken rules exits non-zero with file:line", test_broken_rules_at_start);
    TU_ADD(o, "start with a missing rules dir exits non-zero naming it",
           test_missing_rules_dir);
    return tu_run();
}
