/* yajl_arena.c -- yajl's allocator hooks on top of the request arena.
 *
 * yajl's realloc does not pass the old size, so each block carries its size
 * in a 16-byte header (which keeps the payload aligned).  Growth copies into
 * a fresh block; the old one stays in the arena until the request ends,
 * which costs at most twice what yajl's doubling buffers use.
 */
#include <string.h>

#include "cds_internal.h"

struct block_header {
    size_t size;
    size_t pad;
};

static void *arena_malloc(void *ctx, size_t sz)
{
    struct block_header *b = eng_arena_alloc(ctx, sizeof *b + sz);
    if (!b)
        return NULL;
    b->size = sz;
    return b + 1;
}

static void *arena_realloc(void *ctx, void *ptr, size_t sz)
{
    void *p = arena_malloc(ctx, sz);
    if (p && ptr) {
        size_t old = ((struct block_header *)ptr - 1)->size;
        memcpy(p, ptr, old < sz ? old : sz);
    }
    return p;
}

static void arena_free(void *ctx, void *ptr)
{
    (void)ctx;
    (void)ptr; /* released with the arena */
}

yajl_alloc_funcs cds_yajl_arena_funcs(struct eng_arena *a)
{
    yajl_alloc_funcs af = {arena_malloc, arena_realloc, arena_free, a};
    return af;
}
