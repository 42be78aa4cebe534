/* A client of the Raft port for e2e tests and the PKI bench: mutual TLS with the certificate in a
 * data dir, or raw bytes.
 *   pki_probe tls DATADIR IP:PORT [COUNT]
 *       COUNT (default 1) sequential connections, each a full handshake with DATADIR's ca.crt
 *       (one root, or both during a CA rotation),
 *       node.crt and node.key, then one Raft-framed byte string; prints
 *       "ok N" / "refused: WHY" and, with COUNT > 1, "conns_per_s X handshake_ms_p50 Y p99 Z".
 *       After the handshake it waits 300 ms: a server that refuses the peer (a worker
 *       certificate on the Raft port) closes the connection, reported as "closed by server".
 *   pki_probe tls-raft DATADIR IP:PORT
 *       one handshake, then one (empty) Raft frame: a server that admits the certificate to member
 *       requests only (a worker's) closes the connection, reported as "closed by server".
 *   pki_probe raw IP:PORT HEX
 *       send bytes, report "closed by server" when the server hangs up within 6 s.
 * Exit 0 when the server accepted (tls) or closed (raw), 1 otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pd_err.h"
#include "pki.h"
#include "raft_node.h"
#include "raft_transport.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int dial(const char *hostport)
{
    char host[64];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush(int fd, pd_pki_tls_t *t)
{
    uint8_t buf[8192];
    size_t n;
    while ((n = pd_pki_tls_drain(t, buf, sizeof buf)) > 0)
        if (send_all(fd, buf, n) != 0)
            return -1;
    return 0;
}

/* 1 when the server closed the connection within ms. */
static int closed_within(int fd, int ms)
{
    double end = now_ms() + ms;
    uint8_t buf[4096];
    while (now_ms() < end) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(end - now_ms()) + 1) <= 0)
            return 0;
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            return 1;
    }
    return 0;
}

/* ca.crt is a bundle during a CA rotation (the new root, then the old one): the node's own
 * certificate may be under either, and the probe trusts both, as the daemon does. */
static int load(const char *dir, pd_pki_ca_t *ca, pd_pki_ca_t *prev, pd_pki_ident_t *id)
{
    char path[512], err[256], *buf = malloc(PD_PKI_PEM_MAX);
    size_t len = 0;
    const char *why = NULL;
    int rc;
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    if ((rc = pd_pki_file_read(path, buf, PD_PKI_PEM_MAX, &len, 0, err, sizeof err)) == 0)
        rc = pd_pki_ca_load_bundle(ca, prev, buf, len, &why);
    snprintf(path, sizeof path, "%s/node.key", dir);
    if (rc == 0 && (rc = pd_pki_file_read(path, buf, PD_PKI_PEM_MAX, &len, 1, err, sizeof err)) == 0)
        rc = pd_pki_ident_load_key(id, buf, len, &why);
    snprintf(path, sizeof path, "%s/node.crt", dir);
    if (rc == 0 && (rc = pd_pki_file_read(path, buf, PD_PKI_PEM_MAX, &len, 0, err, sizeof err)) == 0) {
        rc = pd_pki_ident_set_cert(id, ca, buf, len, (int64_t)time(NULL), &why);
        if (rc != 0 && prev->crt.raw.len)
            rc = pd_pki_ident_set_cert(id, prev, buf, len, (int64_t)time(NULL), &why);
    }
    if (rc)
        fprintf(stderr, "pki_probe: cannot load %s: %s\n", dir, why ? why : err);
    free(buf);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t raft_self; /* tls-raft: our Raft id; 0 for plain tls */

/* tls-raft: one empty Raft frame to the server's node. */
static void send_raft_frame(int fd, pd_pki_tls_t *t)
{
    pd_pki_node_info_t peer;
    if (pd_pki_tls_peer(t, &peer) != 0)
        return;
    uint8_t hdr[PD_RT_LEN_PREFIX + PD_RT_HDR_LEN];
    size_t n = pd_rt_frame_hdr_encode(hdr, PD_RT_RAFT, raft_self, pd_raft_node_id_from(peer.node_id), 0), w = 0;
    pd_pki_tls_write(t, hdr, n, &w);
    flush(fd, t);
}

/* One connection: 0 accepted, 1 refused (why printed). */
static int one_tls(pd_pki_tls_conf_t *conf, const char *addr, int linger_ms, double *hs_ms)
{
    double t0 = now_ms();
    int fd = dial(addr);
    if (fd < 0) {
        printf("refused: cannot connect to %s\n", addr);
        return 1;
    }
    pd_pki_tls_t *t = calloc(1, sizeof *t);
    int rc = pd_pki_tls_init(t, conf);
    uint8_t buf[16384];
    while (rc == 0 || rc == -EAGAIN) {
        if ((rc = pd_pki_tls_handshake(t)) != -EAGAIN)
            break;
        if (flush(fd, t) != 0) {
            rc = -PD_ECLOSED;
            break;
        }
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0) {
            rc = -PD_ECLOSED;
            break;
        }
        size_t taken = 0;
        pd_pki_tls_feed(t, buf, (size_t)r, &taken);
    }
    flush(fd, t);
    *hs_ms = now_ms() - t0;
    if (rc == 0 && raft_self)
        send_raft_frame(fd, t);
    int out = 0;
    if (rc) {
        printf("refused: %s (%s)\n", rc == -PD_ECLOSED ? "closed by server" : pd_pki_tls_why(t), pd_strerror(rc));
        out = 1;
    } else if (linger_ms > 0 && closed_within(fd, linger_ms)) {
        printf("refused: closed by server after the handshake\n");
        out = 1;
    }
    if (rc == 0) {
        pd_pki_tls_close(t);
        flush(fd, t);
    }
    pd_pki_tls_free(t);
    free(t);
    close(fd);
    return out;
}

static int run_tls(const char *dir, const char *addr, int count)
{
    pd_pki_ca_t ca, prev;
    pd_pki_ident_t id;
    pd_pki_drbg_t drbg;
    pd_pki_tls_conf_t conf;
    pd_pki_ca_init(&ca);
    pd_pki_ca_init(&prev);
    pd_pki_ident_init(&id);
    if (pd_pki_drbg_init(&drbg) != 0 || load(dir, &ca, &prev, &id) != 0)
        return 1;
    if (pd_pki_tls_conf_init(&conf, PD_PKI_TLS_CLIENT, &ca, &id, &pd_clock_real, pd_pki_drbg_rng(&drbg)) != 0)
        return 1;
    if (prev.crt.raw.len && pd_pki_tls_conf_add_ca(&conf, &prev) != 0) {
        fprintf(stderr, "pki_probe: cannot trust the previous root in %s/ca.crt\n", dir);
        return 1;
    }
    if (raft_self)
        raft_self = pd_raft_node_id_from(id.info.node_id);
    double *lat = calloc((size_t)count, sizeof *lat);
    int refused = 0;
    double t0 = now_ms();
    for (int i = 0; i < count && !refused; i++)
        refused = one_tls(&conf, addr, count == 1 ? 300 : 0, &lat[i]);
    double wall = now_ms() - t0;
    if (!refused) {
        printf("ok %d\n", count);
        if (count > 1) {
            qsort(lat, (size_t)count, sizeof *lat, cmp_double);
            printf("conns_per_s %.1f handshake_ms_p50 %.2f p99 %.2f\n", count / (wall / 1000.0),
                   lat[count / 2], lat[(int)(count * 0.99)]);
        }
    }
    free(lat);
    pd_pki_tls_conf_free(&conf);
    pd_pki_ident_free(&id);
    pd_pki_ca_free(&ca);
    pd_pki_ca_free(&prev);
    pd_pki_drbg_free(&drbg);
    return refused;
}

static int run_raw(const char *addr, const char *hex)
{
    size_t n = strlen(hex) / 2;
    uint8_t *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        sscanf(hex + 2 * i, "%2hhx", &b[i]);
    int fd = dial(addr);
    if (fd < 0) {
        printf("cannot connect to %s\n", addr);
        free(b);
        return 1;
    }
    send_all(fd, b, n);
    int closed = closed_within(fd, 6000); /* the server's handshake deadline is 3 s */
    printf("%s\n", closed ? "closed by server" : "still open");
    close(fd);
    free(b);
    return closed ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "tls") == 0)
        return run_tls(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 1);
    if (argc == 4 && strcmp(argv[1], "tls-raft") == 0) {
        raft_self = 1; /* set to our id once the certificate is loaded */
        return run_tls(argv[2], argv[3], 1);
    }
    if (argc == 4 && strcmp(argv[1], "raw") == 0)
        return run_raw(argv[2], argv[3]);
    fprintf(stderr, "usage: pki_probe tls DATADIR IP:PORT [COUNT] | tls-raft DATADIR IP:PORT | raw IP:PORT HEX\n");
    return 2;
}
