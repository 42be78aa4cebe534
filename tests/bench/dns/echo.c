/* Null DNS server for the DNS benchmark: the floor the kernel and the client impose.
 * Receives datagrams in batches (recvmmsg), sets the QR bit of each and sends it straight back
 * (sendmmsg). No parsing, no lookup: whatever a real server costs above this is its DNS work.
 *
 *   echo IP PORT     runs until SIGTERM/SIGINT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BATCH = 64, DGRAM_MAX = 4096 };

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
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
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("echo: bind");
        return 1;
    }
    struct sigaction act = {.sa_handler = on_signal}; /* no SA_RESTART: recvmmsg returns EINTR */
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);

    static uint8_t bufs[BATCH][DGRAM_MAX];
    static struct sockaddr_in peers[BATCH];
    static struct iovec iov[BATCH];
    static struct mmsghdr msgs[BATCH];
    while (!stop) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], DGRAM_MAX};
            msgs[i].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = sizeof peers[i],
                                              .msg_iov = &iov[i], .msg_iovlen = 1};
        }
        /* Block for the first datagram, then take whatever else is queued. */
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("echo: recvmmsg");
            return 1;
        }
        int m = 0;
        for (int i = 0; i < n; i++) {
            unsigned len = msgs[i].msg_len;
            if (len < 12) /* not even a DNS header: drop */
                continue;
            bufs[i][2] |= 0x80; /* QR */
            iov[i].iov_len = len;
            if (m != i) {
                msgs[m].msg_hdr = msgs[i].msg_hdr;
            }
            m++;
        }
        for (int sent = 0; sent < m;) {
            int k = sendmmsg(fd, msgs + sent, (unsigned)(m - sent), 0);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break; /* a full socket buffer: drop the rest, as a real server would */
            sent += k;
        }
    }
    close(fd);
    return 0;
}
