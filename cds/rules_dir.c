/* rules_dir.c -- reading the rule directory from disk.
 *
 * The engine parses rule text but does no I/O, so this file reads the files
 * and hands their bytes over: first drugs.tsv (the rules are checked against
 * its drug names and classes), then every *.rules file in name order, so a
 * load is repeatable.  Any problem stops the load with the file and line.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/limits.h"
#include "cds.h"

/* Reads a whole file (at most the rule-file ceiling) into a malloc'ed
 * buffer that the caller frees. */
static char *read_file(const char *path, size_t *len, struct eng_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        eng_error_set(err, ENG_ERR_IO, 0, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(ENG_LIMIT_RULE_FILE_BYTES + 1);
    size_t n = buf ? fread(buf, 1, ENG_LIMIT_RULE_FILE_BYTES + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        eng_error_set(err, ENG_ERR_IO, 0, "%s: cannot read", path);
        return NULL;
    }
    if (n > ENG_LIMIT_RULE_FILE_BYTES) {
        free(buf);
        eng_error_set(err, ENG_ERR_TOO_LARGE, 0, "%s: larger than %u bytes",
                      path, ENG_LIMIT_RULE_FILE_BYTES);
        return NULL;
    }
    *len = n;
    return buf;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists *.rules in dir, sorted; the caller frees each name and the array. */
static char **list_rule_files(const char *dir, int *n, struct eng_error *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        eng_error_set(err, ENG_ERR_IO, 0, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    char **names = NULL;
    int cap = 0;
    *n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!has_suffix(e->d_name, ".rules") || e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(names, sizeof *names * (size_t)cap);
            if (!p)
                goto nomem;
            names = p;
        }
        if (!(names[*n] = strdup(e->d_name)))
            goto nomem;
        (*n)++;
    }
    closedir(d);
    qsort(names, (size_t)*n, sizeof *names, by_name);
    return names;
nomem:
    closedir(d);
    for (int i = 0; i < *n; i++)
        free(names[i]);
    free(names);
    eng_error_set(err, ENG_ERR_NOMEM, 0, "out of memory listing %s", dir);
    return NULL;
}

static int load_one(struct eng_ruleset *rs, const char *dir, const char *name,
                    int is_drugs, struct eng_error *err)
{
    char path[4096];
    size_t len = 0;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return eng_error_set(err, ENG_ERR_IO, 0, "%s: path too long", dir);
    char *buf = read_file(path, &len, err);
    if (!buf)
        return -1;
    int rc = is_drugs ? eng_ruleset_add_drugs(rs, path, buf, len, err)
                      : eng_ruleset_add_rules(rs, path, buf, len, err);
    free(buf);
    return rc;
}

struct eng_ruleset *cds_rules_load(const char *dir, struct eng_error *err)
{
    int n = 0, rc = -1;
    struct eng_ruleset *rs = eng_ruleset_new(err);
    char **names = NULL;
    if (!rs)
        return NULL;
    if (load_one(rs, dir, "drugs.tsv", 1, err) < 0)
        goto out;
    if (!(names = list_rule_files(dir, &n, err)))
        goto out;
    if (n == 0) {
        eng_error_set(err, ENG_ERR_NOT_FOUND, 0, "%s: no *.rules files", dir);
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (load_one(rs, dir, names[i], 0, err) < 0)
            goto out;
    rc = eng_ruleset_finish(rs, err);
out:
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc < 0) {
        eng_ruleset_release(rs);
        return NULL;
    }
    return rs;
}
