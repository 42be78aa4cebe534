/* Structured logging. Cores never print: they hold a pd_log_t (sink + node id + subsystem) and
 * emit key=value lines through it. The daemon's sink writes to stderr; tests capture or mute. */
#ifndef PD_LOG_H
#define PD_LOG_H

#include <stdint.h>

typedef enum { PD_LOG_DEBUG, PD_LOG_INFO, PD_LOG_WARN, PD_LOG_ERROR, PD_LOG_OFF } pd_log_level_t;

typedef void (*pd_log_sink_fn)(void *ctx, pd_log_level_t level, const char *subsys, const char *line);

typedef struct {
    pd_log_sink_fn sink; /* NULL: discard */
    void *ctx;
    pd_log_level_t min_level;
    const char *subsys; /* "gossip", "raft", ... */
    const char *node;   /* short node id, may be NULL */
} pd_log_t;

/* A logger that discards everything (the default for cores in tests). */
extern const pd_log_t pd_log_null;

/* Format "msg key=value ..." and hand it to the sink. */
void pd_log(const pd_log_t *log, pd_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rate limiter for hot-path warnings: allows one line per interval, counts the rest. */
typedef struct {
    uint64_t next_ms;
    uint64_t suppressed;
} pd_ratelimit_t;
/* Returns 1 if a line may be logged now; *suppressed_out gets the count hidden since the last. */
int pd_ratelimit_ok(pd_ratelimit_t *rl, uint64_t now_ms, uint64_t interval_ms, uint64_t *suppressed_out);

const char *pd_log_level_name(pd_log_level_t level);
/* Parse "debug|info|warn|error|off"; returns 0 or -PD_EUSAGE. */
int pd_log_level_parse(const char *s, pd_log_level_t *out);

/* Sink writing "ts level subsys node=... msg" lines to stderr (ctx unused). */
void pd_log_stderr_sink(void *ctx, pd_log_level_t level, const char *subsys, const char *line);

#define PD_DEBUG(log, ...) pd_log((log), PD_LOG_DEBUG, __VA_ARGS__)
#define PD_INFO(log, ...) pd_log((log), PD_LOG_INFO, __VA_ARGS__)
#define PD_WARN(log, ...) pd_log((log), PD_LOG_WARN, __VA_ARGS__)
#define PD_ERROR(log, ...) pd_log((log), PD_LOG_ERROR, __VA_ARGS__)

#endif
