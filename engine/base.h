/* base.h -- the arena allocator and the error convention every module uses.
 *
 * Arena.  All memory that belongs to one HTTP request (the parsed request,
 * the patient model, evaluation scratch, the response) is taken from one
 * `struct eng_arena` and released in one call when the request ends.  Nothing
 * taken from an arena is freed on its own, so no per-object ownership needs
 * tracking and no path can leak a piece.  The arena grows in chunks and
 * refuses to grow past the ceiling given at creation (see limits.h), which
 * turns a hostile body into a clean error instead of an out-of-memory kill.
 * Non-memory resources (a yajl handle, a curl handle) register a cleanup that
 * runs when the arena is freed.  Rules loaded at start-up live in their own
 * long-lived arena.
 *
 * Errors.  A fallible function returns int: 0 on success, -1 on failure, and
 * fills the caller's `struct eng_error` with a code, the HTTP status the
 * failure maps to when it reaches a client, and a message for a human.
 *
 * Everything runs on the one event-loop thread; nothing here locks.
 */
#ifndef ENG_BASE_H
#define ENG_BASE_H

#include <stddef.h>

#define ENG_MUST_CHECK __attribute__((warn_unused_result))

/* Error codes.  They say what kind of thing went wrong; the message says
 * exactly what. */
enum eng_error_code {
    ENG_OK = 0,
    ENG_ERR_NOMEM,       /* an arena ceiling or malloc failed */
    ENG_ERR_SYNTAX,      /* input is not well-formed (JSON, rule file) */
    ENG_ERR_INVALID,     /* well-formed but breaks a rule of the format */
    ENG_ERR_TOO_LARGE,   /* a limit from limits.h was reached */
    ENG_ERR_NOT_FOUND,   /* a named thing does not exist */
    ENG_ERR_UNAVAILABLE, /* data the service needs is absent */
    ENG_ERR_IO           /* reading a file failed */
};

struct eng_error {
    enum eng_error_code code;
    int http_status; /* status to answer with, 0 when not an HTTP matter */
    char msg[256];
};

/* Fills err (when not NULL) and returns -1, so callers can write
 * `return eng_error_set(err, ENG_ERR_INVALID, 400, "...", ...);`. */
int eng_error_set(struct eng_error *err, enum eng_error_code code,
                  int http_status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Clears err to "no error". */
void eng_error_clear(struct eng_error *err);

/* 1 when s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), else 0.  yajl's own check is laxer,
 * so every string we keep passes through this one. */
int eng_utf8_valid(const char *s, size_t len);

struct eng_arena;

/* Creates an arena that will hand out at most `ceiling` bytes in total.
 * Returns NULL when malloc fails.  The caller owns the arena and releases it
 * with eng_arena_free(). */
struct eng_arena *eng_arena_new(size_t ceiling);

/* Runs the registered cleanups (last registered first) and releases every
 * byte taken from the arena.  NULL is accepted. */
void eng_arena_free(struct eng_arena *a);

/* Returns n bytes aligned for any type, or NULL when the ceiling would be
 * passed.  The memory belongs to the arena. */
void *eng_arena_alloc(struct eng_arena *a, size_t n) ENG_MUST_CHECK;

/* As eng_arena_alloc, zero-filled. */
void *eng_arena_calloc(struct eng_arena *a, size_t n) ENG_MUST_CHECK;

/* Copies len bytes of s and adds a terminating NUL; NULL when out of room. */
char *eng_arena_strndup(struct eng_arena *a, const char *s, size_t len)
    ENG_MUST_CHECK;

/* Copies a NUL-terminated string; NULL when out of room or s is NULL. */
char *eng_arena_strdup(struct eng_arena *a, const char *s) ENG_MUST_CHECK;

/* printf into the arena; NULL when out of room. */
char *eng_arena_printf(struct eng_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3))) ENG_MUST_CHECK;

/* Registers fn(arg) to run when the arena is freed.  Returns -1 (and runs
 * nothing) when out of room; the caller must then release arg itself. */
int eng_arena_on_free(struct eng_arena *a, void (*fn)(void *), void *arg)
    ENG_MUST_CHECK;

/* Bytes handed out so far (for tests and benchmarks). */
size_t eng_arena_used(const struct eng_arena *a);

/* A growable byte string in an arena, with a sticky error flag: appends after
 * a failure do nothing, and the caller checks `failed` once at the end. */
struct eng_buf {
    struct eng_arena *arena;
    char *data;   /* NUL-terminated while !failed */
    size_t len;
    size_t cap;
    size_t ceiling; /* largest len allowed */
    int failed;
};

void eng_buf_init(struct eng_buf *b, struct eng_arena *a, size_t ceiling);
void eng_buf_add(struct eng_buf *b, const char *s, size_t len);
void eng_buf_adds(struct eng_buf *b, const char *s);
void eng_buf_printf(struct eng_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
