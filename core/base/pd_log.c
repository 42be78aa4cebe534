#include "pd_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pd_err.h"

const pd_log_t pd_log_null = {NULL, NULL, PD_LOG_OFF, "", NULL};

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

const char *pd_log_level_name(pd_log_level_t level)
{
    return (unsigned)level <= PD_LOG_OFF ? level_names[level] : "?";
}

int pd_log_level_parse(const char *s, pd_log_level_t *out)
{
    for (int i = 0; i <= PD_LOG_OFF; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (pd_log_level_t)i;
            return 0;
        }
    }
    return -PD_EUSAGE;
}

void pd_log(const pd_log_t *log, pd_log_level_t level, const char *fmt, ...)
{
    if (!log || !log->sink || level < log->min_level || level >= PD_LOG_OFF)
        return;
    char line[1024];
    int off = 0;
    if (log->node)
        off = snprintf(line, sizeof line, "node=%.12s ", log->node);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + off, sizeof line - (size_t)off, fmt, ap);
    va_end(ap);
    log->sink(log->ctx, level, log->subsys ? log->subsys : "-", line);
}

int pd_ratelimit_ok(pd_ratelimit_t *rl, uint64_t now_ms, uint64_t interval_ms, uint64_t *suppressed_out)
{
    if (now_ms < rl->next_ms) {
        rl->suppressed++;
        return 0;
    }
    if (suppressed_out)
        *suppressed_out = rl->suppressed;
    rl->suppressed = 0;
    rl->next_ms = now_ms + interval_ms;
    return 1;
}

void pd_log_stderr_sink(void *ctx, pd_log_level_t level, const char *subsys, const char *line)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %-7s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            pd_log_level_name(level), subsys, line);
}
