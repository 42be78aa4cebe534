/* Batched UDP IO: recvmmsg into fixed slots, replies out with sendmmsg; see udp_batch.h. */
#include "udp_batch.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

/* As root, SO_*BUFFORCE passes net.core.[rw]mem_max; otherwise the plain option, which the kernel
 * caps there. Returns whether the forced option worked. */
static int set_buf(int fd, int force_opt, int opt, int bytes)
{
    if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) == 0)
        return 1;
    (void)setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
    return 0;
}

static int get_buf(int fd, int opt)
{
    int v = 0;
    socklen_t l = sizeof v;
    return getsockopt(fd, SOL_SOCKET, opt, &v, &l) == 0 ? v : 0;
}

int pd_udp_batch_open(pd_udp_batch_t *b, const struct sockaddr *sa)
{
    b->fd = -1;
    b->n = b->nsend = b->sent = 0;
    /* No SO_REUSEADDR (uv_udp_bind sets it): a second server on the same address must fail. */
    int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, sa, len) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    b->forced = set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, PD_UDP_RCVBUF);
    (void)set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, PD_UDP_SNDBUF);
    b->rcvbuf = get_buf(fd, SO_RCVBUF);
    b->sndbuf = get_buf(fd, SO_SNDBUF);
    for (unsigned i = 0; i < PD_UDP_BATCH; i++) {
        b->riov[i] = (struct iovec){.iov_base = b->rx[i], .iov_len = PD_UDP_DGRAM_MAX};
        b->rmsg[i].msg_hdr = (struct msghdr){.msg_name = &b->peer[i], .msg_namelen = sizeof b->peer[i],
                                             .msg_iov = &b->riov[i], .msg_iovlen = 1};
    }
    b->fd = fd;
    return 0;
}

void pd_udp_batch_close(pd_udp_batch_t *b)
{
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
}

int pd_udp_batch_recv(pd_udp_batch_t *b)
{
    /* The headers' inputs were set at open and the kernel leaves them; of its outputs
     * (msg_namelen, msg_flags) it wrote only the slots the last call filled, so only those are
     * reset: with one datagram a wakeup, resetting all 64 cost more than the DNS answer. */
    for (unsigned i = 0; i < b->n; i++) {
        b->rmsg[i].msg_hdr.msg_namelen = sizeof b->peer[i];
        b->rmsg[i].msg_hdr.msg_flags = 0;
    }
    b->n = b->nsend = b->sent = 0;
    int n;
    do
        n = recvmmsg(b->fd, b->rmsg, PD_UDP_BATCH, MSG_DONTWAIT, NULL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    b->n = (unsigned)n;
    return n;
}

void pd_udp_batch_reply(pd_udp_batch_t *b, unsigned i, size_t len)
{
    struct mmsghdr *m = &b->smsg[b->nsend];
    b->siov[b->nsend] = (struct iovec){.iov_base = b->tx[i], .iov_len = len};
    m->msg_hdr = (struct msghdr){
        .msg_name = &b->peer[i],
        .msg_namelen = b->rmsg[i].msg_hdr.msg_namelen,
        .msg_iov = &b->siov[b->nsend],
        .msg_iovlen = 1,
    };
    b->nsend++;
}

int pd_udp_batch_flush(pd_udp_batch_t *b, void (*sent_fn)(void *ctx, const uint8_t *reply),
                       void *ctx)
{
    while (b->sent < b->nsend) {
        int k = sendmmsg(b->fd, b->smsg + b->sent, b->nsend - b->sent, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return -EAGAIN;
            /* This reply cannot go (e.g. an unreachable peer): drop it, send the others. */
            b->send_errors++;
            b->sent++;
            continue;
        }
        for (int j = 0; j < k; j++)
            sent_fn(ctx, b->siov[b->sent + (unsigned)j].iov_base);
        b->sent += (unsigned)k;
    }
    return 0;
}

int pd_udp_batch_take_error(pd_udp_batch_t *b)
{
    int e = 0;
    socklen_t l = sizeof e;
    if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &e, &l) != 0)
        return -errno;
    return -e;
}

int pd_udp_batch_sendto(pd_udp_batch_t *b, const struct sockaddr *to, const uint8_t *msg, size_t len)
{
    socklen_t tl = to->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    ssize_t n;
    do
        n = sendto(b->fd, msg, len, MSG_DONTWAIT, to, tl);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}
