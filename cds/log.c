/* log.c -- one line per event to stderr: UTC time, level, message.
 *
 * The service logs requests (method, path, service, status, time) at info
 * level and never patient data: callers pass ids of services and rules, not
 * of patients, and never the bodies or tokens they received.
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "cds.h"

static enum cds_log_level current_level = CDS_LOG_INFO;

void cds_log_set_level(enum cds_log_level level)
{
    current_level = level;
}

void cds_log(enum cds_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    if (level > current_level)
        return;
    struct timeval tv;
    struct tm tm;
    char when[32];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03dZ %s %s\n", when, (int)(tv.tv_usec / 1000),
            names[level], line);
}
