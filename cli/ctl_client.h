/* peerctl's side of the control protocol: blocking, with bounded waits. */
#ifndef PD_CTL_CLIENT_H
#define PD_CTL_CLIENT_H

#include "ctl_wire.h"

typedef struct {
    int fd;
    uint64_t next_id;
    const char *socket_path;
    int timeout_ms; /* per request */
    msgpack_unpacked reply_tree;
    int have_reply;
} pd_ctl_client_t;

/* Connect within connect_timeout_ms. On failure prints nothing; returns -errno. */
int pd_ctl_client_connect(pd_ctl_client_t *c, const char *socket_path, int connect_timeout_ms);
void pd_ctl_client_close(pd_ctl_client_t *c);
/* Send a finished request message and wait for its reply. `rep` borrows from the client until the
 * next call. Returns 0 (check rep->ok) or a transport error. */
int pd_ctl_client_call(pd_ctl_client_t *c, pd_ctl_msg_t *req, pd_ctl_reply_t *rep);
/* The two halves of a call, for streams (one request, many replies with its id): send a finished
 * request; wait up to timeout_ms (-1: forever) for the next reply frame (borrowed as above). */
int pd_ctl_client_send(pd_ctl_client_t *c, pd_ctl_msg_t *req);
int pd_ctl_client_recv(pd_ctl_client_t *c, pd_ctl_reply_t *rep, int timeout_ms);

#endif
