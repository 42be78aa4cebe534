/* Error codes: 0 is success, failures are negative. System errors are -errno; project errors are
 * -1000 and below. Names and messages come from one X-macro table so they never drift apart. */
#ifndef PD_ERR_H
#define PD_ERR_H

#define PD_ERR_MAP(X)                                                        \
    X(MALFORMED, 1000, "malformed input")                                    \
    X(TRUNCATED, 1001, "input truncated")                                    \
    X(TOOBIG, 1002, "message exceeds its size limit")                        \
    X(VERSION, 1003, "unsupported protocol version")                         \
    X(UNKNOWN_TYPE, 1004, "unknown message type")                            \
    X(AUTH, 1005, "authentication failed")                                   \
    X(NOQUORUM, 1006, "no manager quorum")                                   \
    X(NOTLEADER, 1007, "this node is not the leader")                        \
    X(CONFLICT, 1008, "update conflict: object changed since it was read")   \
    X(NOTFOUND, 1009, "not found")                                           \
    X(EXISTS, 1010, "already exists")                                        \
    X(LIMIT, 1011, "limit reached")                                          \
    X(LOCKED, 1012, "locked by another process")                             \
    X(CORRUPT, 1013, "data corrupt")                                         \
    X(USAGE, 1014, "invalid arguments")                                      \
    X(INTERNAL, 1015, "internal error")                                      \
    X(TIMEOUT, 1016, "timed out")                                            \
    X(CLOSED, 1017, "connection closed")                                     \
    X(UNKNOWN_OP, 1018, "unknown operation")                                 \
    X(STATE, 1019, "operation not valid in the current state")

enum {
#define PD_ERR_ENUM(name, code, msg) PD_E##name = (code),
    PD_ERR_MAP(PD_ERR_ENUM)
#undef PD_ERR_ENUM
};

/* Human text for any code: project codes from the table, others through strerror(-code). */
const char *pd_strerror(int code);
/* Symbolic name ("PD_EMALFORMED", "ENOENT", "OK"). */
const char *pd_err_name(int code);

#endif
