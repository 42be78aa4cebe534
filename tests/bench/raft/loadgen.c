/* Raft write load generator for the peerd-vs-etcd benchmark: one client per thread, one connection
 * per client, one request in flight per client, the same code path for both systems.
 *
 *   loadgen run  peerd|etcd ENDPOINTS CLIENTS SECONDS VALUE_BYTES PREFIX
 *       Client i talks to endpoint i % n for SECONDS; prints one line
 *       "ok=N err=N secs=S tput=W/s p50_us=.. p99_us=.. max_us=.. first_err=..."
 *   loadgen failover peerd|etcd ENDPOINTS PID VALUE_BYTES PREFIX
 *       kill -9 PID, then one writer per endpoint (the survivors) retries until a write succeeds;
 *       prints "failover_ms=.. via=ENDPOINT attempts=.. last_err=..". Each attempt gives up after
 *       LOADGEN_TIMEOUT_MS (default 5000) and is retried on a new connection.
 *
 * ENDPOINTS is a comma list: unix socket paths (peerd: control protocol, u32 BE length + msgpack
 * {v,id,op:"config.create",args:{name,data}}) or host:port (etcd: HTTP/1.1 keep-alive POST
 * /v3/kv/put to the v3 JSON gateway, base64 key and value). Names/keys are PREFIX-client-seq. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_EP 8
#define MAX_CLIENTS 256
#define MAX_VALUE 4096
#define BUF_CAP 65536
#define LAT_CAP (1u << 18) /* latency samples kept per client */

typedef enum { SYS_PEERD, SYS_ETCD } sys_t;

static sys_t g_sys;
static char *g_ep[MAX_EP];
static int g_nep;
static size_t g_vlen = 256;
static const char *g_prefix = "b";
static atomic_int g_stop;
static int g_timeout_ms = 10000;

typedef struct {
    int idx;
    const char *ep;
    int fd;
    uint64_t seq;
    uint8_t buf[BUF_CAP];
    size_t blen;
    uint32_t *lat; /* us */
    size_t nlat;
    uint64_t ok, err;
    char first_err[200], last_err[200];
    double done_at; /* failover: time of the first success */
} client_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set_err(client_t *c, const char *fmt, const char *detail)
{
    char e[200];
    snprintf(e, sizeof e, fmt, detail);
    for (char *p = e; *p; p++)
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            *p = '_';
    if (!c->first_err[0])
        snprintf(c->first_err, sizeof c->first_err, "%s", e);
    snprintf(c->last_err, sizeof c->last_err, "%s", e);
}

static int dial(client_t *c)
{
    int fd;
    if (g_sys == SYS_PEERD) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(c->ep) >= sizeof a.sun_path)
            return -1;
        strcpy(a.sun_path, c->ep);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            if (fd >= 0)
                close(fd);
            return -1;
        }
    } else {
        char host[64];
        const char *colon = strrchr(c->ep, ':');
        if (!colon || (size_t)(colon - c->ep) >= sizeof host)
            return -1;
        memcpy(host, c->ep, colon - c->ep);
        host[colon - c->ep] = '\0';
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
        if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
            return -1;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            if (fd >= 0)
                close(fd);
            return -1;
        }
    }
    struct timeval tv = {.tv_sec = g_timeout_ms / 1000, .tv_usec = (g_timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    c->fd = fd;
    c->blen = 0;
    return 0;
}

static void hangup(client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->blen = 0;
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read more bytes into c->buf; -1 on EOF/error/timeout or a full buffer. */
static int fill(client_t *c)
{
    if (c->blen == BUF_CAP)
        return -1;
    ssize_t r;
    do
        r = recv(c->fd, c->buf + c->blen, BUF_CAP - c->blen, 0);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return -1;
    c->blen += (size_t)r;
    return 0;
}

static void consume(client_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->blen - n);
    c->blen -= n;
}

/* --- peerd: msgpack by hand (the few types the request needs) --- */

static size_t mp_str(uint8_t *o, const char *s, size_t n)
{
    size_t k = 0;
    if (n < 32)
        o[k++] = 0xa0 | (uint8_t)n;
    else
        o[k++] = 0xd9, o[k++] = (uint8_t)n;
    memcpy(o + k, s, n);
    return k + n;
}

static size_t peerd_request(uint8_t *o, uint64_t id, const char *name, const uint8_t *val, size_t vlen)
{
    size_t k = 4;
    o[k++] = 0x84;
    k += mp_str(o + k, "v", 1);
    o[k++] = 0x01;
    k += mp_str(o + k, "id", 2);
    o[k++] = 0xcf;
    for (int i = 7; i >= 0; i--)
        o[k++] = (uint8_t)(id >> (8 * i));
    k += mp_str(o + k, "op", 2);
    k += mp_str(o + k, "config.create", 13);
    k += mp_str(o + k, "args", 4);
    o[k++] = 0x82;
    k += mp_str(o + k, "name", 4);
    k += mp_str(o + k, name, strlen(name));
    k += mp_str(o + k, "data", 4);
    o[k++] = 0xc5, o[k++] = (uint8_t)(vlen >> 8), o[k++] = (uint8_t)vlen;
    memcpy(o + k, val, vlen);
    k += vlen;
    uint32_t body = (uint32_t)(k - 4);
    o[0] = body >> 24, o[1] = body >> 16, o[2] = body >> 8, o[3] = (uint8_t)body;
    return k;
}

/* The reply is a map with "ok": true|false and, on failure, "error": str. 1 ok, 0 failed, -1 IO. */
static int peerd_reply(client_t *c)
{
    for (;;) {
        if (c->blen >= 4) {
            uint32_t len = (uint32_t)c->buf[0] << 24 | c->buf[1] << 16 | c->buf[2] << 8 | c->buf[3];
            if (len == 0 || len > BUF_CAP - 4) {
                set_err(c, "%s", "bad_frame_length");
                return -1;
            }
            if (c->blen >= 4 + len) {
                const uint8_t *b = c->buf + 4;
                int res = -1;
                for (uint32_t i = 0; i + 3 < len; i++)
                    if (b[i] == 0xa2 && b[i + 1] == 'o' && b[i + 2] == 'k') {
                        res = b[i + 3] == 0xc3;
                        break;
                    }
                if (res == 0) {
                    const uint8_t *e = memmem(b, len, "\xa5" "error", 6);
                    char txt[160] = "?";
                    if (e && e + 6 < b + len) {
                        const uint8_t *s = e + 7;
                        size_t n = 0;
                        if ((e[6] & 0xe0) == 0xa0)
                            n = e[6] & 0x1f;
                        else if (e[6] == 0xd9)
                            n = *s++;
                        else if (e[6] == 0xda)
                            n = (size_t)s[0] << 8 | s[1], s += 2;
                        if (n >= sizeof txt)
                            n = sizeof txt - 1;
                        if (s + n <= b + len) {
                            memcpy(txt, s, n);
                            txt[n] = '\0';
                        }
                    }
                    set_err(c, "%s", txt);
                }
                if (res < 0)
                    set_err(c, "%s", "reply_without_ok");
                consume(c, 4 + len);
                return res < 0 ? 0 : res;
            }
        }
        if (fill(c) != 0) {
            set_err(c, "%s", "connection_lost_or_timeout");
            return -1;
        }
    }
}

/* --- etcd: HTTP/1.1 + JSON gateway --- */

static size_t b64(char *o, const uint8_t *in, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        o[k++] = t[v >> 18 & 63];
        o[k++] = t[v >> 12 & 63];
        o[k++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        o[k++] = i + 2 < n ? t[v & 63] : '=';
    }
    o[k] = '\0';
    return k;
}

static size_t etcd_request(uint8_t *o, const char *host, const char *key, const uint8_t *val, size_t vlen)
{
    char body[MAX_VALUE * 2 + 512], kb[256], vb[MAX_VALUE * 2];
    b64(kb, (const uint8_t *)key, strlen(key));
    b64(vb, val, vlen);
    int bl = snprintf(body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\"}", kb, vb);
    int n = snprintf((char *)o, BUF_CAP,
                     "POST /v3/kv/put HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\n\r\n%s", host, bl, body);
    return (size_t)n;
}

/* 1 ok (status 200, no "error" in the body), 0 failed, -1 IO. Handles Content-Length and chunked. */
static int etcd_reply(client_t *c)
{
    for (;;) {
        char *hend = c->blen ? memmem(c->buf, c->blen, "\r\n\r\n", 4) : NULL;
        if (hend) {
            size_t hlen = (size_t)(hend - (char *)c->buf) + 4;
            int status = atoi((char *)c->buf + 9);
            char *cl = memmem(c->buf, hlen, "Content-Length:", 15);
            if (!cl)
                cl = memmem(c->buf, hlen, "content-length:", 15);
            int chunked = memmem(c->buf, hlen, "chunked", 7) != NULL;
            size_t total = 0, blen = 0;
            const char *body = (char *)c->buf + hlen;
            if (cl && !chunked) {
                blen = (size_t)strtoul(cl + 15, NULL, 10);
                if (c->blen < hlen + blen)
                    goto more;
                total = hlen + blen;
            } else if (chunked) {
                char *end = memmem(c->buf + hlen, c->blen - hlen, "\r\n0\r\n\r\n", 7);
                int first_empty = c->blen - hlen >= 5 && memcmp(body, "0\r\n\r\n", 5) == 0;
                if (!end && !first_empty)
                    goto more;
                total = first_empty ? hlen + 5 : (size_t)(end - (char *)c->buf) + 7;
                blen = total - hlen;
            } else {
                total = hlen;
            }
            int ok = status == 200 && !memmem(body, blen, "\"error\"", 7);
            if (!ok) {
                char txt[160];
                size_t n = blen < sizeof txt - 16 ? blen : sizeof txt - 16;
                snprintf(txt, sizeof txt, "%d:%.*s", status, (int)n, body);
                set_err(c, "%s", txt);
            }
            consume(c, total);
            return ok;
        }
    more:
        if (fill(c) != 0) {
            set_err(c, "%s", "connection_lost_or_timeout");
            return -1;
        }
    }
}

/* One write; 1 ok, 0 refused, -1 IO (the connection is dropped). */
static int write_one(client_t *c, const uint8_t *val)
{
    if (c->fd < 0 && dial(c) != 0) {
        set_err(c, "%s", "connect_failed");
        return -1;
    }
    char name[128];
    snprintf(name, sizeof name, "%s-%d-%llu", g_prefix, c->idx, (unsigned long long)++c->seq);
    uint8_t req[BUF_CAP];
    size_t n = g_sys == SYS_PEERD ? peerd_request(req, c->seq, name, val, g_vlen)
                                  : etcd_request(req, c->ep, name, val, g_vlen);
    if (send_all(c->fd, req, n) != 0) {
        set_err(c, "%s", "send_failed");
        hangup(c);
        return -1;
    }
    int r = g_sys == SYS_PEERD ? peerd_reply(c) : etcd_reply(c);
    if (r < 0)
        hangup(c);
    return r;
}

static void fill_value(uint8_t *v, unsigned seed)
{
    for (size_t i = 0; i < g_vlen; i++)
        v[i] = 'a' + (uint8_t)((i * 7 + seed) % 26);
}

static double g_end;

static void *run_client(void *arg)
{
    client_t *c = arg;
    uint8_t val[MAX_VALUE];
    fill_value(val, (unsigned)c->idx);
    while (!atomic_load(&g_stop)) {
        double t0 = now_s();
        if (t0 >= g_end)
            break;
        int r = write_one(c, val);
        double t1 = now_s();
        if (r == 1) {
            c->ok++;
            if (c->nlat < LAT_CAP)
                c->lat[c->nlat++] = (uint32_t)((t1 - t0) * 1e6);
        } else {
            c->err++;
            if (r < 0)
                usleep(10000); /* no busy loop on a dead endpoint */
        }
    }
    hangup(c);
    return NULL;
}

static void *failover_client(void *arg)
{
    client_t *c = arg;
    uint8_t val[MAX_VALUE];
    fill_value(val, (unsigned)c->idx);
    while (!atomic_load(&g_stop)) {
        int r = write_one(c, val);
        if (r == 1) {
            c->done_at = now_s();
            atomic_store(&g_stop, 1);
            break;
        }
        c->err++;
        usleep(r < 0 ? 20000 : 5000);
    }
    hangup(c);
    return NULL;
}

static int u32cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int split_endpoints(char *s)
{
    for (char *tok = strtok(s, ","); tok && g_nep < MAX_EP; tok = strtok(NULL, ","))
        g_ep[g_nep++] = tok;
    return g_nep > 0 ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen run peerd|etcd ENDPOINTS CLIENTS SECONDS VALUE_BYTES PREFIX\n"
                    "       loadgen failover peerd|etcd ENDPOINTS PID VALUE_BYTES PREFIX\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    int failover = strcmp(argv[1], "failover") == 0;
    if ((!failover && strcmp(argv[1], "run") != 0) || argc != (failover ? 7 : 8))
        usage();
    if (strcmp(argv[2], "peerd") == 0)
        g_sys = SYS_PEERD;
    else if (strcmp(argv[2], "etcd") == 0)
        g_sys = SYS_ETCD;
    else
        usage();
    if (split_endpoints(argv[3]) != 0)
        usage();
    long a4 = strtol(argv[4], NULL, 10);
    g_vlen = (size_t)strtoul(argv[failover ? 5 : 6], NULL, 10);
    g_prefix = argv[failover ? 6 : 7];
    if (g_vlen == 0 || g_vlen > MAX_VALUE || strlen(g_prefix) > 40) {
        fprintf(stderr, "loadgen: value bytes must be 1..%d and the prefix at most 40 characters\n", MAX_VALUE);
        return 2;
    }
    if (failover) {
        pid_t pid = (pid_t)a4;
        if (pid <= 1) {
            fprintf(stderr, "loadgen: bad pid %s\n", argv[4]);
            return 2;
        }
        const char *t = getenv("LOADGEN_TIMEOUT_MS"); /* per attempt */
        g_timeout_ms = t ? atoi(t) : 5000;
        if (g_timeout_ms < 10 || g_timeout_ms > 60000) {
            fprintf(stderr, "loadgen: LOADGEN_TIMEOUT_MS must be 10..60000\n");
            return 2;
        }
        static client_t cs[MAX_EP];
        pthread_t th[MAX_EP];
        double t0 = now_s();
        if (kill(pid, SIGKILL) != 0) {
            perror("loadgen: kill");
            return 1;
        }
        for (int i = 0; i < g_nep; i++) {
            cs[i] = (client_t){.idx = i, .ep = g_ep[i], .fd = -1};
            pthread_create(&th[i], NULL, failover_client, &cs[i]);
        }
        double deadline = t0 + 60;
        while (!atomic_load(&g_stop) && now_s() < deadline)
            usleep(1000);
        atomic_store(&g_stop, 1);
        for (int i = 0; i < g_nep; i++)
            pthread_join(th[i], NULL);
        int best = -1;
        uint64_t attempts = 0;
        for (int i = 0; i < g_nep; i++) {
            attempts += cs[i].err + (cs[i].done_at > 0);
            if (cs[i].done_at > 0 && (best < 0 || cs[i].done_at < cs[best].done_at))
                best = i;
        }
        char last[200] = "-";
        for (int i = 0; i < g_nep; i++)
            if (cs[i].last_err[0])
                snprintf(last, sizeof last, "%s", cs[i].last_err);
        if (best < 0) {
            printf("failover_ms=-1 via=- attempts=%llu last_err=%s\n", (unsigned long long)attempts, last);
            return 1;
        }
        printf("failover_ms=%.1f via=%s attempts=%llu last_err=%s\n", (cs[best].done_at - t0) * 1e3,
               cs[best].ep, (unsigned long long)attempts, last);
        return 0;
    }
    int nc = (int)a4;
    double secs = strtod(argv[5], NULL);
    if (nc < 1 || nc > MAX_CLIENTS || secs <= 0) {
        fprintf(stderr, "loadgen: clients must be 1..%d and seconds > 0\n", MAX_CLIENTS);
        return 2;
    }
    client_t *cs = calloc((size_t)nc, sizeof *cs);
    pthread_t *th = calloc((size_t)nc, sizeof *th);
    if (!cs || !th)
        return 1;
    for (int i = 0; i < nc; i++) {
        cs[i].idx = i;
        cs[i].ep = g_ep[i % g_nep];
        cs[i].fd = -1;
        cs[i].lat = malloc(LAT_CAP * sizeof(uint32_t));
        if (!cs[i].lat || dial(&cs[i]) != 0) {
            fprintf(stderr, "loadgen: cannot connect to %s\n", cs[i].ep);
            return 1;
        }
    }
    double t0 = now_s();
    g_end = t0 + secs;
    for (int i = 0; i < nc; i++)
        pthread_create(&th[i], NULL, run_client, &cs[i]);
    for (int i = 0; i < nc; i++)
        pthread_join(th[i], NULL);
    double el = now_s() - t0;
    size_t total = 0;
    uint64_t ok = 0, err = 0;
    for (int i = 0; i < nc; i++)
        total += cs[i].nlat, ok += cs[i].ok, err += cs[i].err;
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < nc; i++) {
        memcpy(all + k, cs[i].lat, cs[i].nlat * sizeof *all);
        k += cs[i].nlat;
    }
    qsort(all, total, sizeof *all, u32cmp);
    const char *fe = "-";
    for (int i = 0; i < nc; i++)
        if (cs[i].first_err[0]) {
            fe = cs[i].first_err;
            break;
        }
#define PCT(p) (total ? all[(size_t)((double)(p) * (double)(total - 1))] : 0)
    printf("ok=%llu err=%llu secs=%.2f tput=%.1f p50_us=%u p99_us=%u max_us=%u first_err=%s\n",
           (unsigned long long)ok, (unsigned long long)err, el, ok / el, PCT(0.50), PCT(0.99),
           total ? all[total - 1] : 0, fe);
    return 0;
}
