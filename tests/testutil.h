/* testutil.h -- helpers shared by the test programs.
 *
 * Each test program registers CUnit suites and calls tu_run(), which runs
 * them with the basic interface (its summary lines end the output) and
 * returns non-zero when any assertion failed.
 */
#ifndef TESTS_TESTUTIL_H
#define TESTS_TESTUTIL_H

#include <CUnit/Basic.h>
#include <stddef.h>

/* Reads a file below the source tree ("examples/x.json"); NUL-terminated,
 * malloc'ed, caller frees.  Aborts the test program when it is missing. */
char *tu_read_source_file(const char *relative_path, size_t *len);

/* Runs every registered suite; returns the process exit status. */
int tu_run(void);

/* Adds a test whose name says what it proves, failing loudly when CUnit
 * cannot register it. */
#define TU_ADD(suite, name, fn)                                               \
    do {                                                                      \
        if (!CU_add_test((suite), (name), (fn))) {                            \
            fprintf(stderr, "cannot register test %s\n", (name));             \
            exit(2);                                                          \
        }                                                                     \
    } while (0)

#endif
