/* base.c -- arena allocator, growable buffer and error helpers.
 *
 * The arena is a list of chunks.  Small requests are cut from the current
 * chunk; when it is full a new chunk twice the size of the last is added (up
 * to 1 MB), and a request larger than a chunk gets a chunk of its own.  This
 * keeps malloc calls per request logarithmic in the bytes used.
 */
#include "base.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16u
#define ARENA_FIRST_CHUNK 4096u
#define ARENA_MAX_CHUNK (1024u * 1024u)

struct arena_chunk {
    struct arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    /* data follows, aligned */
};

struct arena_cleanup {
    struct arena_cleanup *next;
    void (*fn)(void *);
    void *arg;
};

struct eng_arena {
    struct arena_chunk *chunks;
    struct arena_cleanup *cleanups;
    size_t ceiling;
    size_t handed_out;
    size_t next_chunk;
};

#define CHUNK_HEADER                                                          \
    ((sizeof(struct arena_chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

int eng_error_set(struct eng_error *err, enum eng_error_code code,
                  int http_status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->http_status = http_status;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int eng_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        unsigned lo = 0x80, hi = 0xBF;
        int more;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            more = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            more = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4)
            more = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else
            return 0;
        if (len - i <= (size_t)more)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (int k = 2; k <= more; k++)
            if ((s[i + (size_t)k] & 0xC0) != 0x80)
                return 0;
        i += (size_t)more + 1;
    }
    return 1;
}

void eng_error_clear(struct eng_error *err)
{
    err->code = ENG_OK;
    err->http_status = 0;
    err->msg[0] = '\0';
}

struct eng_arena *eng_arena_new(size_t ceiling)
{
    struct eng_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->ceiling = ceiling;
    a->next_chunk = ARENA_FIRST_CHUNK;
    return a;
}

void eng_arena_free(struct eng_arena *a)
{
    if (!a)
        return;
    struct arena_cleanup *c = a->cleanups;
    while (c) {
        struct arena_cleanup *next = c->next;
        c->fn(c->arg);
        c = next;
    }
    struct arena_chunk *k = a->chunks;
    while (k) {
        struct arena_chunk *next = k->next;
        free(k);
        k = next;
    }
    free(a);
}

static struct arena_chunk *arena_add_chunk(struct eng_arena *a, size_t need)
{
    int oversized = need > a->next_chunk;
    size_t size = oversized ? need : a->next_chunk;
    struct arena_chunk *k = malloc(CHUNK_HEADER + size);
    if (!k)
        return NULL;
    k->size = size;
    k->used = 0;
    if (!oversized && a->next_chunk < ARENA_MAX_CHUNK)
        a->next_chunk *= 2;
    /* A chunk made for one large request goes behind the current chunk, so
     * the current chunk's free tail keeps serving small requests. */
    if (oversized && a->chunks) {
        k->next = a->chunks->next;
        a->chunks->next = k;
    } else {
        k->next = a->chunks;
        a->chunks = k;
    }
    return k;
}

void *eng_arena_alloc(struct eng_arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t rounded = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (rounded > a->ceiling || a->handed_out > a->ceiling - rounded)
        return NULL;
    struct arena_chunk *k = a->chunks;
    if (!k || k->size - k->used < rounded) {
        k = arena_add_chunk(a, rounded);
        if (!k)
            return NULL;
    }
    char *p = (char *)k + CHUNK_HEADER + k->used;
    k->used += rounded;
    a->handed_out += rounded;
    return p;
}

void *eng_arena_calloc(struct eng_arena *a, size_t n)
{
    void *p = eng_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *eng_arena_strndup(struct eng_arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = eng_arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *eng_arena_strdup(struct eng_arena *a, const char *s)
{
    if (!s)
        return NULL;
    return eng_arena_strndup(a, s, strlen(s));
}

static char *arena_vprintf(struct eng_arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *p = eng_arena_alloc(a, (size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *eng_arena_printf(struct eng_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

int eng_arena_on_free(struct eng_arena *a, void (*fn)(void *), void *arg)
{
    struct arena_cleanup *c = eng_arena_alloc(a, sizeof *c);
    if (!c)
        return -1;
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}

size_t eng_arena_used(const struct eng_arena *a)
{
    return a->handed_out;
}

void eng_buf_init(struct eng_buf *b, struct eng_arena *a, size_t ceiling)
{
    memset(b, 0, sizeof *b);
    b->arena = a;
    b->ceiling = ceiling;
}

static int buf_reserve(struct eng_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > b->ceiling || b->len > b->ceiling - extra) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = eng_arena_alloc(b->arena, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    if (b->len)
        memcpy(p, b->data, b->len);
    b->data = p;
    b->cap = cap;
    return 0;
}

void eng_buf_add(struct eng_buf *b, const char *s, size_t len)
{
    if (buf_reserve(b, len) < 0)
        return;
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void eng_buf_adds(struct eng_buf *b, const char *s)
{
    eng_buf_add(b, s, strlen(s));
}

void eng_buf_printf(struct eng_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
