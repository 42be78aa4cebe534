/* Endpoint loader for the DNS benchmark: speaks peerd's control protocol (core/api/ctl_wire.h)
 * over the control socket, pipelining requests, so loading thousands of endpoints takes a second
 * instead of thousands of peerctl runs.
 *
 *   loader load SOCK NODE COUNT
 *       register svc1..svcCOUNT on the peerd at SOCK, endpoint address 10.NODE.(i>>8).(i&255)
 *   loader churn RATE SECONDS COUNT SOCK:NODE [SOCK:NODE...]
 *       RATE endpoint changes per second for SECONDS, spread over the given nodes: each change
 *       deregisters a random (service, node) endpoint or registers back the one taken down
 *       RING changes earlier (once RING are down, changes alternate), so RING endpoints are down at
 *       any time, each for about 2*RING changes; at the end every
 *       endpoint is registered again. Prints the number of changes made.
 *
 * Every address encodes its service and owner, so a DNS answer can be checked by decoding it. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_wire.h"

enum { WINDOW = 64, RING = 50, NODES_MAX = 8, REPLY_TIMEOUT_MS = 5000 };

typedef struct {
    int fd;
    int node;
    uint64_t next_id;
    int inflight;
    pd_ctl_framer_t fr;
} conn_t;

static int conn_open(conn_t *c, const char *path, int node)
{
    memset(c, 0, sizeof *c);
    c->node = node;
    c->next_id = 1;
    pd_ctl_framer_init(&c->fr, 1u << 20);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "loader: connect %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Queue one request: register (addr != NULL) or deregister service `name`. */
static int send_req(conn_t *c, const char *name, const char *addr)
{
    pd_ctl_msg_t m;
    pd_ctl_msg_init(&m);
    pd_ctl_msg_request(&m, c->next_id++, addr ? "service.register" : "service.deregister", addr ? 3 : 1);
    pack_str(&m.pk, "name");
    pack_str(&m.pk, name);
    if (addr) {
        pack_str(&m.pk, "addr");
        pack_str(&m.pk, addr);
        pack_str(&m.pk, "ports");
        msgpack_pack_array(&m.pk, 0);
    }
    const uint8_t *frame;
    size_t len;
    int rc = pd_ctl_msg_finish(&m, &frame, &len);
    if (rc == 0)
        rc = write_all(c->fd, frame, len);
    pd_ctl_msg_destroy(&m);
    if (rc == 0)
        c->inflight++;
    return rc;
}

/* Wait for replies until at most `keep` requests are in flight. Failed requests are counted. */
static int drain(conn_t *c, int keep, long *failed)
{
    while (c->inflight > keep) {
        const uint8_t *body;
        size_t blen;
        int r = pd_ctl_framer_next(&c->fr, &body, &blen);
        if (r < 0)
            return -1;
        if (r == 1) {
            msgpack_unpacked u;
            pd_ctl_reply_t rep;
            if (pd_ctl_decode_reply(body, blen, &u, &rep) != 0)
                return -1;
            if (!rep.ok) {
                if (*failed < 5)
                    fprintf(stderr, "loader: node %d: %s\n", c->node, rep.error);
                (*failed)++;
            }
            msgpack_unpacked_destroy(&u);
            c->inflight--;
            continue;
        }
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, REPLY_TIMEOUT_MS) != 1) {
            fprintf(stderr, "loader: node %d: no reply\n", c->node);
            return -1;
        }
        uint8_t buf[65536];
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n <= 0 || pd_ctl_framer_feed(&c->fr, buf, (size_t)n) != 0)
            return -1;
    }
    return 0;
}

static void addr_of(int node, int svc, char *out, size_t cap)
{
    snprintf(out, cap, "10.%d.%d.%d", node, svc >> 8, svc & 255);
}

static int cmd_load(const char *sock, int node, int count)
{
    conn_t c;
    long failed = 0;
    if (conn_open(&c, sock, node) != 0)
        return 1;
    for (int i = 1; i <= count; i++) {
        char name[32], addr[32];
        snprintf(name, sizeof name, "svc%d", i);
        addr_of(node, i, addr, sizeof addr);
        if (send_req(&c, name, addr) != 0 || drain(&c, WINDOW - 1, &failed) != 0)
            return 1;
    }
    if (drain(&c, 0, &failed) != 0)
        return 1;
    close(c.fd);
    printf("node %d: %d registered, %ld failed\n", node, count, failed);
    return failed ? 1 : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
    int conn, svc;
} down_t;

static int cmd_churn(double rate, double seconds, int count, int nconns, char **specs)
{
    conn_t conns[NODES_MAX];
    long failed = 0, changes = 0;
    for (int i = 0; i < nconns; i++) {
        char *colon = strrchr(specs[i], ':');
        if (!colon)
            return 2;
        *colon = '\0';
        if (conn_open(&conns[i], specs[i], atoi(colon + 1)) != 0)
            return 1;
    }
    down_t ring[RING];
    int head = 0, len = 0;
    unsigned seed = 12345;
    double t0 = now_s(), period = 1.0 / rate;
    for (long k = 0;; k++) {
        double due = t0 + (double)k * period, t = now_s();
        if (due - t0 >= seconds)
            break;
        if (due > t) {
            struct timespec ts = {(time_t)(due - t), (long)((due - t - (double)(time_t)(due - t)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        char name[32], addr[32];
        if (len == RING) { /* bring back the oldest down endpoint */
            down_t d = ring[head];
            head = (head + 1) % RING;
            len--;
            snprintf(name, sizeof name, "svc%d", d.svc);
            addr_of(conns[d.conn].node, d.svc, addr, sizeof addr);
            if (send_req(&conns[d.conn], name, addr) != 0)
                return 1;
        } else { /* take a random endpoint down (a service may lose several of its owners) */
            down_t d = {(int)(rand_r(&seed) % (unsigned)nconns), 1 + (int)(rand_r(&seed) % (unsigned)count)};
            int dup = 0;
            for (int j = 0; j < len; j++)
                dup |= ring[(head + j) % RING].conn == d.conn && ring[(head + j) % RING].svc == d.svc;
            if (dup)
                continue;
            ring[(head + len) % RING] = d;
            len++;
            snprintf(name, sizeof name, "svc%d", d.svc);
            if (send_req(&conns[d.conn], name, NULL) != 0)
                return 1;
        }
        changes++;
        for (int i = 0; i < nconns; i++)
            if (drain(&conns[i], WINDOW - 1, &failed) != 0)
                return 1;
    }
    while (len > 0) { /* leave the table as we found it */
        down_t d = ring[head];
        head = (head + 1) % RING;
        len--;
        char name[32], addr[32];
        snprintf(name, sizeof name, "svc%d", d.svc);
        addr_of(conns[d.conn].node, d.svc, addr, sizeof addr);
        if (send_req(&conns[d.conn], name, addr) != 0)
            return 1;
    }
    for (int i = 0; i < nconns; i++) {
        if (drain(&conns[i], 0, &failed) != 0)
            return 1;
        close(conns[i].fd);
    }
    printf("%ld changes in %.1f s, %ld failed\n", changes, now_s() - t0, failed);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "load") == 0)
        return cmd_load(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc >= 6 && strcmp(argv[1], "churn") == 0 && argc - 5 <= NODES_MAX)
        return cmd_churn(atof(argv[2]), atof(argv[3]), atoi(argv[4]), argc - 5, argv + 5);
    fprintf(stderr, "usage: loader load SOCK NODE COUNT\n"
                    "       loader churn RATE SECONDS COUNT SOCK:NODE [SOCK:NODE...]\n");
    return 2;
}
