/* Null DNS server for the DNS benchmark: the floor the kernel and the client impose.
 * Sets the QR bit of each datagram and sends it straight back: no parsing, no lookup, so whatever
 * a real server costs above this is its DNS work.
 *
 * To be a true floor it does its IO exactly the way the cheapest server can (and the way peerd's
 * udp_batch.c does): a nonblocking socket with the same large buffers, an epoll wakeup (level-
 * triggered, as libuv's), recvmmsg batches of 64 until the queue is empty, every batch's replies
 * out with one sendmmsg. A real server makes at least these syscalls per datagram and touches at
 * least these bytes; only its DNS work (and its event loop's bookkeeping) comes on top. A blocking
 * recvmmsg(MSG_WAITFORONE), as the first version used, wakes up for every single datagram under
 * moderate load and so cost more than an epoll server that lets datagrams queue.
 *
 *   echo IP PORT     runs until SIGTERM/SIGINT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Same figures as core/daemon/udp_batch.h and dns_server.c. */
enum { BATCH = 64, DGRAM_MAX = 4096, BATCHES_PER_WAKEUP = 8, RCVBUF = 8 << 20, SNDBUF = 4 << 20 };

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void set_buf(int fd, int force_opt, int opt, int bytes)
{
    if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) != 0)
        setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

static uint8_t bufs[BATCH][DGRAM_MAX];
static struct sockaddr_in peers[BATCH];
static struct iovec riov[BATCH], siov[BATCH];
static struct mmsghdr rmsg[BATCH], smsg[BATCH];
static unsigned filled; /* slots the last recvmmsg filled */

/* Sends smsg[0..m); a full send buffer waits (poll for writability is what a server would do;
 * here the batch is simply retried after an epoll_wait for EPOLLOUT). */
static void send_all(int fd, int ep, unsigned m)
{
    for (unsigned sent = 0; sent < m && !stop;) {
        int k = sendmmsg(fd, smsg + sent, m - sent, 0);
        if (k > 0) {
            sent += (unsigned)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            epoll_wait(ep, &ev, 1, 100);
            ev.events = EPOLLIN;
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        } else if (k < 0 && errno != EINTR) {
            sent++; /* this one cannot go: skip it */
        }
    }
}

/* One wakeup: batches until a short one (the queue is empty) or the per-wakeup bound. */
static int drain(int fd, int ep)
{
    for (int b = 0; b < BATCHES_PER_WAKEUP; b++) {
        /* As udp_batch.c: the inputs are set once; the kernel's outputs (msg_namelen, msg_flags)
         * are reset in the slots the last call filled. */
        for (unsigned i = 0; i < filled; i++) {
            rmsg[i].msg_hdr.msg_namelen = sizeof peers[i];
            rmsg[i].msg_hdr.msg_flags = 0;
        }
        filled = 0;
        int n = recvmmsg(fd, rmsg, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        filled = (unsigned)n;
        unsigned m = 0;
        for (int i = 0; i < n; i++) {
            unsigned len = rmsg[i].msg_len;
            if (len < 12 || (rmsg[i].msg_hdr.msg_flags & MSG_TRUNC))
                continue; /* not a DNS header, or cut: drop */
            bufs[i][2] |= 0x80; /* QR */
            siov[m] = (struct iovec){bufs[i], len};
            smsg[m].msg_hdr = (struct msghdr){.msg_name = &peers[i],
                                              .msg_namelen = rmsg[i].msg_hdr.msg_namelen,
                                              .msg_iov = &siov[m], .msg_iovlen = 1};
            m++;
        }
        send_all(fd, ep, m);
        if (n < BATCH)
            return 0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: echo IP PORT\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "echo: bad address %s\n", argv[1]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("echo: bind");
        return 1;
    }
    set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, RCVBUF);
    set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, SNDBUF);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("echo: epoll");
        return 1;
    }
    struct sigaction act = {.sa_handler = on_signal}; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    for (unsigned i = 0; i < BATCH; i++) {
        riov[i] = (struct iovec){bufs[i], DGRAM_MAX};
        rmsg[i].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = sizeof peers[i],
                                          .msg_iov = &riov[i], .msg_iovlen = 1};
    }
    while (!stop) {
        int k = epoll_wait(ep, &ev, 1, -1);
        if (k < 0 && errno != EINTR) {
            perror("echo: epoll_wait");
            return 1;
        }
        if (k > 0 && drain(fd, ep) < 0) {
            perror("echo: recvmmsg");
            return 1;
        }
    }
    close(ep);
    close(fd);
    return 0;
}
