/* Batched UDP datagram IO for a request/reply server (the DNS listener): a nonblocking socket, a
 * fixed set of slots each holding one received datagram, its sender and a reply buffer, filled by
 * one recvmmsg and answered by one sendmmsg. Everything is allocated once; no call allocates.
 *
 * The caller watches fd for readability (uv_poll), then: pd_udp_batch_recv, answer slot i with
 * pd_udp_batch_reply(i, len) for each datagram it answers now, pd_udp_batch_flush. A flush the
 * socket cannot take whole (EAGAIN: send buffer full) keeps the rest; the caller waits for
 * writability and flushes again before receiving more, so nothing is dropped for a full buffer
 * and the loop never blocks. */
#ifndef PD_UDP_BATCH_H
#define PD_UDP_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
    PD_UDP_BATCH = 64,          /* datagrams per recvmmsg / sendmmsg */
    PD_UDP_DGRAM_MAX = 4096,    /* larger datagrams are received cut and reported as such */
    PD_UDP_RCVBUF = 8 << 20,    /* socket buffers asked for (the kernel may give less) */
    PD_UDP_SNDBUF = 4 << 20,
};

typedef struct {
    int fd;
    int rcvbuf, sndbuf;       /* what the kernel granted (getsockopt), bytes */
    int forced;               /* SO_RCVBUFFORCE worked (root): not capped by rmem_max */
    unsigned n;               /* datagrams of the last recv, slots 0..n-1 */
    unsigned nsend, sent;     /* replies queued, and how many of them the kernel took */
    uint64_t send_errors;     /* replies dropped by a send error other than a full buffer */
    struct mmsghdr rmsg[PD_UDP_BATCH];
    struct iovec riov[PD_UDP_BATCH];
    struct sockaddr_storage peer[PD_UDP_BATCH];
    struct mmsghdr smsg[PD_UDP_BATCH];
    struct iovec siov[PD_UDP_BATCH];
    uint8_t rx[PD_UDP_BATCH][PD_UDP_DGRAM_MAX];
    uint8_t tx[PD_UDP_BATCH][PD_UDP_DGRAM_MAX];
} pd_udp_batch_t;

/* Socket bound to sa, nonblocking, with large buffers. 0, or -errno with fd -1. */
int pd_udp_batch_open(pd_udp_batch_t *b, const struct sockaddr *sa);
void pd_udp_batch_close(pd_udp_batch_t *b);

/* Receives up to PD_UDP_BATCH queued datagrams into slots 0..n-1 (replies of the previous batch
 * must have been flushed). Returns n > 0, 0 when none is queued, or -errno. */
int pd_udp_batch_recv(pd_udp_batch_t *b);
/* Slot i's datagram: bytes, length, and whether it was longer than PD_UDP_DGRAM_MAX (cut). */
static inline const uint8_t *pd_udp_batch_data(const pd_udp_batch_t *b, unsigned i) { return b->rx[i]; }
static inline size_t pd_udp_batch_len(const pd_udp_batch_t *b, unsigned i) { return b->rmsg[i].msg_len; }
static inline int pd_udp_batch_cut(const pd_udp_batch_t *b, unsigned i)
{
    return (b->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
}
static inline const struct sockaddr *pd_udp_batch_peer(const pd_udp_batch_t *b, unsigned i)
{
    return (const struct sockaddr *)&b->peer[i];
}
/* Queues tx[i][0..len) as the reply to slot i's sender. */
void pd_udp_batch_reply(pd_udp_batch_t *b, unsigned i, size_t len);
/* Sends what is queued. 0: all sent (or dropped on an error that retrying cannot fix), -EAGAIN:
 * the rest waits for writability. Each reply taken by the kernel is passed to sent_fn. */
int pd_udp_batch_flush(pd_udp_batch_t *b, void (*sent_fn)(void *ctx, const uint8_t *reply),
                       void *ctx);
static inline int pd_udp_batch_pending(const pd_udp_batch_t *b) { return b->sent < b->nsend; }

/* Reads (and so clears) the socket's pending error: -errno, or 0. */
int pd_udp_batch_take_error(pd_udp_batch_t *b);

/* One datagram outside the batch (a forwarded reply arriving later): 0, -EAGAIN or -errno. */
int pd_udp_batch_sendto(pd_udp_batch_t *b, const struct sockaddr *to, const uint8_t *msg, size_t len);

#endif
