/* testutil.c -- see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef ONCOCDS_SOURCE_DIR
#define ONCOCDS_SOURCE_DIR "."
#endif

char *tu_read_source_file(const char *relative_path, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ONCOCDS_SOURCE_DIR, relative_path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test fixture missing: %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return buf;
}

int tu_run(void)
{
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
