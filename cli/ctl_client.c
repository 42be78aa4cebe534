#include "ctl_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pd_buf.h"
#include "pd_err.h"

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n > 0)
            return 0;
        if (n == 0)
            return -PD_ETIMEOUT;
        if (errno != EINTR)
            return -errno;
    }
}

int pd_ctl_client_connect(pd_ctl_client_t *c, const char *socket_path, int connect_timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->socket_path = socket_path;
    c->next_id = 1;
    c->timeout_ms = 30000;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        if (e != EINPROGRESS && e != EAGAIN) {
            close(fd);
            return -e;
        }
        int rc = wait_fd(fd, POLLOUT, connect_timeout_ms);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
            rc = -soerr;
        if (rc) {
            close(fd);
            return rc;
        }
    }
    c->fd = fd;
    return 0;
}

void pd_ctl_client_close(pd_ctl_client_t *c)
{
    if (c->have_reply)
        msgpack_unpacked_destroy(&c->reply_tree);
    c->have_reply = 0;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int write_all(int fd, const uint8_t *p, size_t len, int timeout_ms)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        int rc = wait_fd(fd, POLLOUT, timeout_ms);
        if (rc)
            return rc;
    }
    return 0;
}

static int read_exact(int fd, uint8_t *p, size_t len, int timeout_ms)
{
    while (len) {
        ssize_t n = recv(fd, p, len, 0);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0)
            return -PD_ECLOSED;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        int rc = wait_fd(fd, POLLIN, timeout_ms);
        if (rc)
            return rc;
    }
    return 0;
}

static uint8_t reply_buf[PD_CTL_FRAME_MAX];

int pd_ctl_client_send(pd_ctl_client_t *c, pd_ctl_msg_t *req)
{
    const uint8_t *frame;
    size_t len;
    int rc = pd_ctl_msg_finish(req, &frame, &len);
    return rc ? rc : write_all(c->fd, frame, len, c->timeout_ms);
}

int pd_ctl_client_recv(pd_ctl_client_t *c, pd_ctl_reply_t *rep, int timeout_ms)
{
    if (c->have_reply) {
        msgpack_unpacked_destroy(&c->reply_tree);
        c->have_reply = 0;
    }
    uint8_t hdr[PD_CTL_HDR_LEN];
    int rc = read_exact(c->fd, hdr, sizeof hdr, timeout_ms);
    if (rc)
        return rc;
    uint32_t n = pd_get_u32(hdr);
    if (n == 0 || n > PD_CTL_FRAME_MAX)
        return -PD_EMALFORMED;
    rc = read_exact(c->fd, reply_buf, n, c->timeout_ms); /* the rest of a frame comes at once */
    if (rc)
        return rc;
    rc = pd_ctl_decode_reply(reply_buf, n, &c->reply_tree, rep);
    if (rc == 0)
        c->have_reply = 1;
    return rc;
}

int pd_ctl_client_call(pd_ctl_client_t *c, pd_ctl_msg_t *req, pd_ctl_reply_t *rep)
{
    int rc = pd_ctl_client_send(c, req);
    return rc ? rc : pd_ctl_client_recv(c, rep, c->timeout_ms);
}
