/* Fires bursts of distinct UDP queries at a DNS server all at once (far more than one recvmmsg
 * batch) from several sockets, then checks that every query got exactly one reply and that each
 * reply belongs to its query: back on the socket that sent it, same id, the question name byte for byte (each query spells the name in
 * its own letter case), the expected rcode, an A record with the expected address for the known
 * name, an OPT record exactly when the query had one. A server that mixed up batch slots (a reply
 * sent to the wrong peer, or with another slot's bytes) or lost replies fails here.
 *
 *   dns_burst IP PORT NAME ADDR [QUERIES [ROUNDS]]
 * NAME must answer A ADDR (first record); nosuch<i>.svc must be NXDOMAIN. Defaults: 500 queries,
 * 3 rounds. Prints a summary; exit 0 when every check held, 1 otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns_wire.h"
#include "pd_buf.h"

enum { QUERIES_MAX = 4096, WAIT_MS = 3000, SOCKS = 8 };

typedef struct {
    uint8_t wire[PD_DNS_NAME_MAX];
    uint16_t wire_len;
    uint8_t nx, edns, replies, sock;
} sent_t;

static sent_t sent[QUERIES_MAX];
static struct sockaddr_in dst;
static uint8_t want_addr[4];

/* Dotted name -> wire, letters cased by the bits of `mix` (as DNS 0x20 randomisation does). */
static size_t to_wire(const char *name, uint32_t mix, uint8_t *w)
{
    size_t n = 0;
    unsigned bit = 0;
    for (const char *s = name; *s;) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        w[n++] = (uint8_t)l;
        for (size_t i = 0; i < l; i++, bit++) {
            char c = s[i];
            if (c >= 'a' && c <= 'z' && ((mix >> (bit % 32)) & 1))
                c = (char)(c - 'a' + 'A');
            w[n++] = (uint8_t)c;
        }
        s += l + (dot ? 1 : 0);
    }
    w[n++] = 0;
    return n;
}

static size_t make_query(unsigned i, const char *name, uint8_t *buf, size_t cap)
{
    sent_t *q = &sent[i];
    char nx[64];
    q->nx = i % 5 == 4;
    q->edns = i % 3 == 1;
    q->replies = 0;
    q->sock = (uint8_t)(i % SOCKS);
    if (q->nx)
        snprintf(nx, sizeof nx, "nosuch%u.svc", i);
    q->wire_len = (uint16_t)to_wire(q->nx ? nx : name, i * 2654435761u, q->wire);
    pd_dns_builder_t b;
    size_t len = 0;
    pd_dns_build_init(&b, buf, cap);
    pd_dns_build_question(&b, q->wire, PD_DNS_T_A, PD_DNS_C_IN);
    if (q->edns)
        pd_dns_build_opt(&b, (uint16_t)(1232 + i % 100), 0, 0, 0);
    pd_dns_build_finish(&b, (uint16_t)(i + 1), PD_DNS_F_RD, &len);
    return len;
}

/* One reply: which query it answers, and whether it is that query's right answer. */
static int check_reply(const uint8_t *m, size_t len, unsigned n, unsigned sock, char *why,
                       size_t wl)
{
    pd_dns_hdr_t h;
    if (pd_dns_hdr_parse(m, len, &h) < 0 || !(h.flags & PD_DNS_F_QR) || pd_dns_msg_check(m, len) < 0)
        return snprintf(why, wl, "not a well-formed reply (%zu bytes)", len), -1;
    if (h.id == 0 || h.id > n)
        return snprintf(why, wl, "id %u was never sent", h.id), -1;
    sent_t *q = &sent[h.id - 1];
    if (++q->replies > 1)
        return snprintf(why, wl, "id %u answered twice", h.id), -1;
    if (q->sock != sock)
        return snprintf(why, wl, "id %u: reply went to another client", h.id), -1;
    pd_rbuf_t r;
    pd_rbuf_init(&r, m, len);
    pd_rbuf_seek(&r, PD_DNS_HDR_LEN);
    pd_dns_name_t qn;
    if (h.qdcount != 1 || pd_dns_name_parse(&r, &qn) < 0 || qn.len != q->wire_len ||
        memcmp(qn.wire, q->wire, qn.len) != 0)
        return snprintf(why, wl, "id %u: question is not the query's name as spelled", h.id), -1;
    pd_rbuf_skip(&r, 4);
    unsigned rcode = h.flags & PD_DNS_F_RCODE;
    if (rcode != (q->nx ? PD_DNS_R_NXDOMAIN : PD_DNS_R_NOERROR))
        return snprintf(why, wl, "id %u: rcode %u", h.id, rcode), -1;
    int have_opt = 0, have_addr = 0;
    unsigned total = (unsigned)h.ancount + h.nscount + h.arcount;
    for (unsigned k = 0; k < total; k++) {
        pd_dns_rr_t rr;
        if (pd_dns_rr_parse(&r, &rr) < 0)
            return snprintf(why, wl, "id %u: bad record", h.id), -1;
        have_opt |= rr.type == PD_DNS_T_OPT;
        if (k < h.ancount && rr.type == PD_DNS_T_A && rr.rdlen == 4 &&
            memcmp(m + rr.rdata_off, want_addr, 4) == 0)
            have_addr = 1;
    }
    if (have_opt != q->edns)
        return snprintf(why, wl, "id %u: OPT %s", h.id, q->edns ? "missing" : "not asked for"), -1;
    if (!q->nx && !have_addr)
        return snprintf(why, wl, "id %u: no A record with the expected address", h.id), -1;
    return 0;
}

static int round_trip(const int *fds, const char *name, unsigned n)
{
    static uint8_t out[QUERIES_MAX][600];
    size_t olen[QUERIES_MAX];
    for (unsigned i = 0; i < n; i++)
        olen[i] = make_query(i, name, out[i], sizeof out[i]);
    /* all at once: the server finds a deep queue */
    for (unsigned i = 0; i < n; i++) {
        if (sendto(fds[sent[i].sock], out[i], olen[i], 0, (struct sockaddr *)&dst, sizeof dst) !=
            (ssize_t)olen[i]) {
            fprintf(stderr, "dns_burst: sendto: %s\n", strerror(errno));
            return -1;
        }
    }
    unsigned got = 0, bad = 0;
    uint8_t in[4096];
    struct pollfd pf[SOCKS];
    for (unsigned k = 0; k < SOCKS; k++)
        pf[k] = (struct pollfd){.fd = fds[k], .events = POLLIN};
    while (got + bad < n && poll(pf, SOCKS, WAIT_MS) > 0) {
        for (unsigned k = 0; k < SOCKS; k++) {
            ssize_t len = (pf[k].revents & POLLIN) ? recv(fds[k], in, sizeof in, MSG_DONTWAIT) : -1;
            if (len < 0)
                continue;
            char why[160];
            if (check_reply(in, (size_t)len, n, k, why, sizeof why) < 0) {
                if (bad++ < 5)
                    fprintf(stderr, "dns_burst: %s\n", why);
            } else {
                got++;
            }
        }
    }
    if (got < n)
        fprintf(stderr, "dns_burst: %u of %u queries got a right reply (%u bad)\n", got, n, bad);
    return got == n && bad == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: dns_burst IP PORT NAME ADDR [QUERIES [ROUNDS]]\n");
        return 2;
    }
    unsigned n = argc > 5 ? (unsigned)atoi(argv[5]) : 500, rounds = argc > 6 ? (unsigned)atoi(argv[6]) : 3;
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 || inet_pton(AF_INET, argv[4], want_addr) != 1 ||
        n == 0 || n > QUERIES_MAX || rounds == 0) {
        fprintf(stderr, "dns_burst: bad arguments\n");
        return 2;
    }
    int fds[SOCKS];
    for (unsigned k = 0; k < SOCKS; k++) {
        fds[k] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int buf = 4 << 20; /* room for a whole burst of replies */
        if (setsockopt(fds[k], SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
            setsockopt(fds[k], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    }
    int ok = 1;
    for (unsigned r = 0; r < rounds && ok; r++)
        ok = round_trip(fds, argv[3], n) == 0;
    for (unsigned k = 0; k < SOCKS; k++)
        close(fds[k]);
    printf("dns_burst: %u rounds of %u queries: %s\n", rounds, n, ok ? "every reply matched" : "FAILED");
    return ok ? 0 : 1;
}
