/* Fire files of raw bytes at a live DNS server over UDP and TCP (length-framed, plus broken
 * framings), then check it still answers. Usage: dns_blast IP PORT NAME FILE...
 * NAME is queried (A) at the end over both transports; exit 0 when both replies come back with
 * the right id, 1 otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns_wire.h"

static struct sockaddr_in dst;

static ssize_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return (ssize_t)n;
}

static int wait_in(int fd, int ms)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    return poll(&pf, 1, ms) > 0;
}

static void udp_fire(const uint8_t *p, size_t n)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    uint8_t in[4096];
    sendto(fd, p, n, 0, (struct sockaddr *)&dst, sizeof dst);
    if (wait_in(fd, 30))
        recv(fd, in, sizeof in, 0);
    close(fd);
}

/* mode 0: framed; 1: framed twice back to back (pipelined); 2: length says more than sent; 3: raw bytes */
static void tcp_fire(const uint8_t *p, size_t n, int mode)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
        close(fd);
        return;
    }
    uint8_t hdr[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    if (mode == 2)
        hdr[0] = hdr[1] = 0xff;
    for (int k = 0; k < (mode == 1 ? 2 : 1); k++) {
        if (mode != 3)
            send(fd, hdr, 2, MSG_NOSIGNAL);
        send(fd, p, n, MSG_NOSIGNAL);
    }
    shutdown(fd, SHUT_WR);
    uint8_t in[65536];
    while (wait_in(fd, 100) && recv(fd, in, sizeof in, 0) > 0)
        ;
    close(fd);
}

static size_t make_query(uint8_t *buf, size_t cap, uint16_t id, const char *name)
{
    uint8_t w[PD_DNS_NAME_MAX + 2];
    size_t n = 0;
    for (const char *s = name; *s;) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        w[n++] = (uint8_t)l;
        memcpy(w + n, s, l);
        n += l;
        s += l + (dot ? 1 : 0);
    }
    w[n] = 0;
    pd_dns_builder_t b;
    size_t len = 0;
    pd_dns_build_init(&b, buf, cap);
    pd_dns_build_question(&b, w, PD_DNS_T_A, PD_DNS_C_IN);
    pd_dns_build_finish(&b, id, PD_DNS_F_RD, &len);
    return len;
}

static int check_udp(const char *name)
{
    uint8_t q[512], in[4096];
    size_t n = make_query(q, sizeof q, 0x5a5a, name);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sendto(fd, q, n, 0, (struct sockaddr *)&dst, sizeof dst);
    ssize_t r = wait_in(fd, 2000) ? recv(fd, in, sizeof in, 0) : -1;
    close(fd);
    return r >= PD_DNS_HDR_LEN && in[0] == 0x5a && in[1] == 0x5a && (in[2] & 0x80);
}

static int check_tcp(const char *name)
{
    uint8_t q[514], in[65536];
    size_t n = make_query(q + 2, sizeof q - 2, 0xa5a5, name);
    q[0] = (uint8_t)(n >> 8);
    q[1] = (uint8_t)n;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0 && send(fd, q, n + 2, MSG_NOSIGNAL) == (ssize_t)(n + 2);
    size_t got = 0;
    while (ok && got < 2 + PD_DNS_HDR_LEN && wait_in(fd, 2000)) {
        ssize_t r = recv(fd, in + got, sizeof in - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return got >= 2 + PD_DNS_HDR_LEN && in[2] == 0xa5 && in[3] == 0xa5 && (in[4] & 0x80);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: dns_blast IP PORT NAME FILE...\n");
        return 2;
    }
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1)
        return 2;
    static uint8_t buf[65535];
    unsigned files = 0;
    for (int i = 4; i < argc; i++) {
        ssize_t n = read_file(argv[i], buf, sizeof buf);
        if (n < 0)
            continue;
        files++;
        udp_fire(buf, (size_t)n);
        for (int mode = 0; mode < 4; mode++)
            tcp_fire(buf, (size_t)n, mode);
        /* every prefix over UDP: truncated messages */
        for (ssize_t k = 0; k < n && k < 64; k += 5)
            udp_fire(buf, (size_t)k);
    }
    uint8_t zero[2] = {0, 0};
    tcp_fire(zero, 0, 0); /* a zero-length frame */
    int ok_udp = check_udp(argv[3]), ok_tcp = check_tcp(argv[3]);
    printf("files %u udp_alive %d tcp_alive %d\n", files, ok_udp, ok_tcp);
    return ok_udp && ok_tcp ? 0 : 1;
}
