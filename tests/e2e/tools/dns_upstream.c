/* A tiny upstream DNS server for e2e tests (UDP only). Usage: dns_upstream IP PORT [silent]
 *   names under example.test.  -> A 192.0.2.7, TTL 60
 *   anything else              -> NXDOMAIN with an SOA for test. (TTL 30, minimum 30)
 *   silent                     -> read every query and never answer
 * Prints "ready" once bound; runs until SIGTERM/SIGINT; then prints "queries N". */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns_wire.h"

static volatile sig_atomic_t stop;
static void on_sig(int sig) { stop = sig; }

static const uint8_t SUFFIX[] = "\7example\4test";

static int under_example(const pd_dns_query_t *q)
{
    uint8_t low[PD_DNS_NAME_MAX];
    size_t n = q->qname.len, slen = sizeof SUFFIX; /* includes the root byte */
    pd_dns_name_lower(low, q->qname.wire, n);
    if (n < slen || memcmp(low + n - slen, SUFFIX, slen) != 0)
        return 0;
    /* the suffix must start at a label boundary */
    for (size_t p = 0; p < n; p += (size_t)low[p] + 1) {
        if (p == n - slen)
            return 1;
        if (!low[p])
            break;
    }
    return 0;
}

static size_t answer(const pd_dns_query_t *q, uint8_t *out, size_t cap)
{
    static const uint8_t zone[] = "\4test", mname[] = "\2ns\4test", rname[] = "\12hostmaster\4test";
    static const uint8_t ip[4] = {192, 0, 2, 7};
    pd_dns_builder_t b;
    size_t len = 0;
    pd_dns_build_init(&b, out, cap);
    if (pd_dns_build_question(&b, q->qname.wire, q->qtype, q->qclass) != 0)
        return 0;
    uint16_t rcode = PD_DNS_R_NOERROR;
    if (under_example(q)) {
        if (q->qtype == PD_DNS_T_A && pd_dns_build_a(&b, PD_DNS_SEC_AN, q->qname.wire, 60, ip) != 0)
            return 0;
    } else {
        pd_dns_soa_t soa = {mname, rname, 1, 3600, 600, 86400, 30};
        rcode = PD_DNS_R_NXDOMAIN;
        if (pd_dns_build_soa(&b, PD_DNS_SEC_NS, zone, 30, &soa) != 0)
            return 0;
    }
    if (q->has_edns && pd_dns_build_opt(&b, 1232, 0, 0, 0) != 0)
        return 0;
    uint16_t flags = (uint16_t)(PD_DNS_F_QR | PD_DNS_F_AA | PD_DNS_F_RA | (q->hdr.flags & PD_DNS_F_RD) | rcode);
    return pd_dns_build_finish(&b, q->hdr.id, flags, &len) == 0 ? len : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dns_upstream IP PORT [silent]\n");
        return 2;
    }
    int silent = argc > 3 && strcmp(argv[3], "silent") == 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "dns_upstream: bad address %s\n", argv[1]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "dns_upstream: bind %s:%s: %s\n", argv[1], argv[2], strerror(errno));
        return 1;
    }
    struct sigaction act = {.sa_handler = on_sig};
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    printf("ready\n");
    fflush(stdout);
    unsigned long queries = 0;
    while (!stop) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 200) <= 0)
            continue;
        uint8_t in[4096], out[1232];
        struct sockaddr_storage from;
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(fd, in, sizeof in, 0, (struct sockaddr *)&from, &flen);
        pd_dns_query_t q;
        if (n <= 0 || pd_dns_query_parse(in, (size_t)n, &q) != 0)
            continue;
        queries++;
        size_t len = silent ? 0 : answer(&q, out, sizeof out);
        if (len)
            sendto(fd, out, len, 0, (struct sockaddr *)&from, flen);
    }
    printf("queries %lu\n", queries);
    close(fd);
    return 0;
}
