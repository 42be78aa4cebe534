/* c-ares on the libuv loop: sock_state_cb opens / closes a uv_poll per c-ares socket, one timer
 * drives c-ares timeouts and our own per-query deadline. Query slots are a fixed array allocated
 * at start; a query costs no allocation here (c-ares makes its own copy). */
#include "dns_forward.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "dns_wire.h"
#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"

enum { TRIES = 2, REPLY_MAX = PD_DNS_MSG_MAX };

typedef struct fwd_poll {
    uv_poll_t poll;
    struct fwd_poll *next;
    pd_dns_fwd_t *f;
    ares_socket_t fd;
} fwd_poll_t;

typedef struct {
    pd_dns_fwd_t *f;
    int32_t next_free;
    uint8_t used, answered;
    uint64_t deadline_ms;
    pd_dns_client_t client;
    pd_dns_query_t q;
} fwd_slot_t;

struct pd_dns_fwd {
    uv_loop_t *loop;
    ares_channel ch;
    int ch_ok;
    uv_timer_t timer;
    int timer_open;
    fwd_poll_t *polls;
    fwd_slot_t *slots;
    uint32_t nslots;
    int32_t free_head;
    pd_dns_cache_t *cache;
    pd_dns_fwd_config_t cfg;
    pd_log_t log;
    int stopping;
    int lib_ref; /* holds one ares_library_init */
    /* ares_send may complete a query before it returns: the reply lands here */
    int in_send;
    size_t sync_len;
    uint8_t *sync_out;
    size_t sync_cap;
    pd_dns_fwd_stats_t st;
    char upstreams[PD_DNS_FWD_UPSTREAMS_MAX * 56];
    uint8_t reply[REPLY_MAX];
};

static int lib_refs; /* ares_library_init / cleanup pairs (one loop thread) */

const pd_dns_fwd_stats_t *pd_dns_fwd_stats(const pd_dns_fwd_t *f) { return &f->st; }
const pd_dns_cache_stats_t *pd_dns_fwd_cache_stats(const pd_dns_fwd_t *f) { return pd_dns_cache_stats(f->cache); }
void pd_dns_fwd_upstreams(const pd_dns_fwd_t *f, char *out, size_t cap) { snprintf(out, cap, "%s", f->upstreams); }

/* ---- replies we make ------------------------------------------------------------------------ */

static size_t make_empty(const pd_dns_query_t *q, uint8_t rcode, uint16_t flags, uint8_t *out, size_t cap)
{
    pd_dns_builder_t b;
    size_t len = 0;
    pd_dns_build_init(&b, out, cap);
    int rc = pd_dns_build_question(&b, q->qname.wire, q->qtype, q->qclass);
    if (rc == 0 && q->has_edns)
        rc = pd_dns_build_opt(&b, PD_DNS_UDP_MAX, 0, 0, q->edns_flags & PD_DNS_EDNS_DO);
    uint16_t hf = (uint16_t)(PD_DNS_F_QR | PD_DNS_F_RA | (q->hdr.flags & (PD_DNS_F_RD | PD_DNS_F_CD)) |
                             flags | (rcode & PD_DNS_F_RCODE));
    if (rc == 0)
        rc = pd_dns_build_finish(&b, q->hdr.id, hf, &len);
    return rc == 0 ? len : 0;
}

size_t pd_dns_fwd_make_empty(const uint8_t *query, size_t len, uint8_t rcode, uint16_t flags, uint8_t *out,
                             size_t cap)
{
    pd_dns_query_t q;
    if (pd_dns_query_parse(query, len, &q) != 0)
        return 0;
    return make_empty(&q, rcode, flags, out, cap);
}

/* Hand a reply to the client's owner (or to the pending fwd_query call). */
static void deliver(pd_dns_fwd_t *f, fwd_slot_t *s, const uint8_t *reply, size_t len)
{
    s->answered = 1;
    if (f->in_send) {
        if (len <= f->sync_cap) {
            memcpy(f->sync_out, reply, len);
            f->sync_len = len;
        }
        return;
    }
    f->cfg.on_reply(f->cfg.ctx, &s->client, reply, len);
}

static void servfail(pd_dns_fwd_t *f, fwd_slot_t *s)
{
    uint8_t buf[PD_DNS_UDP_MIN];
    size_t n = make_empty(&s->q, PD_DNS_R_SERVFAIL, 0, buf, sizeof buf);
    f->st.servfail++;
    if (n)
        deliver(f, s, buf, n);
}

/* ---- slots ---------------------------------------------------------------------------------- */

static fwd_slot_t *slot_take(pd_dns_fwd_t *f)
{
    if (f->free_head < 0)
        return NULL;
    fwd_slot_t *s = &f->slots[f->free_head];
    f->free_head = s->next_free;
    s->used = 1;
    s->answered = 0;
    f->st.inflight++;
    return s;
}

static void slot_put(pd_dns_fwd_t *f, fwd_slot_t *s)
{
    PD_ASSERT(s->used);
    s->used = 0;
    s->next_free = f->free_head;
    f->free_head = (int32_t)(s - f->slots);
    f->st.inflight--;
}

/* ---- timer ---------------------------------------------------------------------------------- */

static void timer_cb(uv_timer_t *t);

/* Next wake-up: the earlier of c-ares' next timeout and the nearest unanswered deadline. */
static void rearm(pd_dns_fwd_t *f)
{
    if (!f->timer_open || f->stopping)
        return;
    uint64_t now = uv_now(f->loop), due = UINT64_MAX;
    struct timeval tv, *tvp = ares_timeout(f->ch, NULL, &tv);
    if (tvp)
        due = now + (uint64_t)tvp->tv_sec * 1000 + (uint64_t)(tvp->tv_usec + 999) / 1000;
    for (uint32_t i = 0; i < f->nslots; i++) {
        const fwd_slot_t *s = &f->slots[i];
        if (s->used && !s->answered && s->deadline_ms < due)
            due = s->deadline_ms;
    }
    if (due == UINT64_MAX) {
        uv_timer_stop(&f->timer);
        return;
    }
    uv_timer_start(&f->timer, timer_cb, due > now ? due - now : 0, 0);
}

static void timer_cb(uv_timer_t *t)
{
    pd_dns_fwd_t *f = t->data;
    ares_process_fd(f->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    uint64_t now = uv_now(f->loop);
    for (uint32_t i = 0; i < f->nslots; i++) {
        fwd_slot_t *s = &f->slots[i];
        if (s->used && !s->answered && now >= s->deadline_ms) {
            f->st.timeouts++;
            servfail(f, s); /* the slot stays taken until c-ares lets the query go */
        }
    }
    rearm(f);
}

/* ---- c-ares sockets ------------------------------------------------------------------------- */

static void poll_closed(uv_handle_t *h) { pd_free(h->data); }

static void poll_cb(uv_poll_t *h, int status, int events)
{
    fwd_poll_t *p = h->data;
    pd_dns_fwd_t *f = p->f;
    ares_socket_t fd = p->fd;
    int rd = status < 0 || (events & UV_READABLE), wr = status < 0 || (events & UV_WRITABLE);
    ares_process_fd(f->ch, rd ? fd : ARES_SOCKET_BAD, wr ? fd : ARES_SOCKET_BAD);
    rearm(f);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    pd_dns_fwd_t *f = data;
    fwd_poll_t **pp = &f->polls, *p;
    while ((p = *pp) && p->fd != fd)
        pp = &p->next;
    if (!readable && !writable) {
        if (p) {
            *pp = p->next;
            uv_poll_stop(&p->poll); /* before c-ares closes the fd */
            uv_close((uv_handle_t *)&p->poll, poll_closed);
        }
        return;
    }
    if (!p) {
        p = pd_calloc(1, sizeof *p);
        if (!p || uv_poll_init_socket(f->loop, &p->poll, fd) != 0) {
            pd_free(p);
            PD_WARN(&f->log, "dns forward: cannot watch an upstream socket fd=%d", (int)fd);
            return; /* the query times out */
        }
        p->f = f;
        p->fd = fd;
        p->poll.data = p;
        p->next = f->polls;
        f->polls = p;
    }
    uv_poll_start(&p->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), poll_cb);
}

/* ---- queries -------------------------------------------------------------------------------- */

static void send_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    fwd_slot_t *s = arg;
    pd_dns_fwd_t *f = s->f;
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || f->stopping) {
        slot_put(f, s);
        return;
    }
    if (!s->answered && status == ARES_SUCCESS && abuf && alen >= PD_DNS_HDR_LEN && alen <= REPLY_MAX) {
        size_t len = (size_t)alen;
        memcpy(f->reply, abuf, len);
        pd_put_u16(f->reply, s->q.hdr.id); /* c-ares sent its own id */
        pd_dns_cache_put(f->cache, &s->q, f->reply, len, uv_now(f->loop));
        f->st.replies++;
        if (!s->client.tcp && len > s->q.udp_size) {
            f->st.truncated++;
            len = make_empty(&s->q, f->reply[3] & PD_DNS_F_RCODE, PD_DNS_F_TC, f->reply, sizeof f->reply);
        }
        if (len)
            deliver(f, s, f->reply, len);
    } else if (!s->answered) {
        PD_DEBUG(&f->log, "dns forward: no answer status=%s timeouts=%d", ares_strerror(status), timeouts);
        servfail(f, s);
    }
    slot_put(f, s);
}

int pd_dns_fwd_query(pd_dns_fwd_t *f, const uint8_t *query, size_t len, const pd_dns_client_t *client,
                     uint8_t *out, size_t out_cap, size_t *out_len)
{
    pd_dns_query_t q;
    if (pd_dns_query_parse(query, len, &q) != 0)
        return -PD_EMALFORMED;
    uint64_t now = uv_now(f->loop);
    size_t limit = client->tcp || out_cap < q.udp_size ? out_cap : q.udp_size;
    if (pd_dns_cache_get(f->cache, &q, now, out, limit, out_len)) {
        f->st.cache_hits++;
        return 1;
    }
    fwd_slot_t *s = f->stopping ? NULL : slot_take(f);
    if (!s) {
        f->st.inflight_full++;
        f->st.servfail++;
        *out_len = make_empty(&q, PD_DNS_R_SERVFAIL, 0, out, out_cap);
        return 1;
    }
    s->client = *client;
    s->q = q;
    s->deadline_ms = now + f->cfg.timeout_ms;
    f->st.forwarded++;
    f->in_send = 1;
    f->sync_len = 0;
    f->sync_out = out;
    f->sync_cap = out_cap;
    ares_send(f->ch, query, (int)len, send_done, s);
    f->in_send = 0;
    if (f->sync_len) { /* finished inside ares_send (no server, no memory) */
        *out_len = f->sync_len;
        return 1;
    }
    rearm(f);
    return 0;
}

/* ---- upstreams ------------------------------------------------------------------------------ */

static int node_from_hostport(const char *s, struct ares_addr_port_node *n)
{
    char host[PD_ADDR_MAX];
    uint16_t port = 0;
    if (pd_config_parse_hostport(s, host, sizeof host, &port) != 0)
        return -PD_EUSAGE;
    memset(n, 0, sizeof *n);
    n->udp_port = n->tcp_port = port ? port : 53;
    if (inet_pton(AF_INET, host, &n->addr.addr4) == 1)
        n->family = AF_INET;
    else if (inet_pton(AF_INET6, host, &n->addr.addr6) == 1)
        n->family = AF_INET6;
    else
        return -PD_EUSAGE;
    return 0;
}

static int is_self(const pd_dns_fwd_t *f, const struct ares_addr_port_node *n)
{
    struct ares_addr_port_node me;
    char hp[PD_ADDR_MAX + 8];
    if (!f->cfg.self_host)
        return 0;
    snprintf(hp, sizeof hp, strchr(f->cfg.self_host, ':') ? "[%s]:%u" : "%s:%u", f->cfg.self_host,
             f->cfg.self_port ? f->cfg.self_port : 53);
    if (node_from_hostport(hp, &me) != 0 || me.family != n->family)
        return 0;
    int port = n->udp_port ? n->udp_port : 53;
    size_t alen = n->family == AF_INET ? 4 : 16;
    return port == me.udp_port && memcmp(&me.addr, &n->addr, alen) == 0;
}

/* The servers to use: the configured ones, or resolv.conf's (read by a throwaway channel), less
 * our own address. Fills list[] (linked) and returns how many. */
static int pick_upstreams(pd_dns_fwd_t *f, struct ares_addr_port_node *list, char *err, size_t errlen)
{
    int n = 0;
    if (f->cfg.n_upstreams > PD_DNS_FWD_UPSTREAMS_MAX) {
        snprintf(err, errlen, "at most %d DNS upstreams", PD_DNS_FWD_UPSTREAMS_MAX);
        return -PD_EUSAGE;
    }
    for (size_t i = 0; i < f->cfg.n_upstreams; i++) {
        if (node_from_hostport(f->cfg.upstreams[i], &list[n]) != 0) {
            snprintf(err, errlen, "DNS upstream '%s' is not IP[:PORT]", f->cfg.upstreams[i]);
            return -PD_EUSAGE;
        }
        n += !is_self(f, &list[n]);
    }
    if (f->cfg.n_upstreams == 0) {
        ares_channel tmp;
        struct ares_addr_port_node *sys = NULL;
        if (ares_init(&tmp) == ARES_SUCCESS) {
            if (ares_get_servers_ports(tmp, &sys) == ARES_SUCCESS) {
                for (struct ares_addr_port_node *p = sys; p && n < PD_DNS_FWD_UPSTREAMS_MAX; p = p->next) {
                    list[n] = *p;
                    n += !is_self(f, &list[n]);
                }
                ares_free_data(sys);
            }
            ares_destroy(tmp);
        }
    }
    for (int i = 0; i < n; i++)
        list[i].next = i + 1 < n ? &list[i + 1] : NULL;
    return n;
}

static void describe_upstreams(pd_dns_fwd_t *f, const struct ares_addr_port_node *list, int n)
{
    size_t off = 0;
    f->upstreams[0] = '\0';
    for (int i = 0; i < n && off < sizeof f->upstreams; i++) {
        char ip[INET6_ADDRSTRLEN] = "?";
        inet_ntop(list[i].family, &list[i].addr, ip, sizeof ip);
        int w = snprintf(f->upstreams + off, sizeof f->upstreams - off,
                         list[i].family == AF_INET6 ? "%s[%s]:%d" : "%s%s:%d", i ? "," : "", ip,
                         list[i].udp_port ? list[i].udp_port : 53);
        off += w > 0 ? (size_t)w : 0;
    }
}

static int channel_init(pd_dns_fwd_t *f, char *err, size_t errlen)
{
    struct ares_addr_port_node list[PD_DNS_FWD_UPSTREAMS_MAX];
    int n = pick_upstreams(f, list, err, errlen);
    if (n < 0)
        return n;
    /* c-ares tries each server TRIES rounds, doubling the timeout each round: per-attempt T with
     * n*T*(1+2) = the total deadline. */
    uint32_t nserv = n > 0 ? (uint32_t)n : 1;
    uint32_t try_ms = f->cfg.timeout_ms / (nserv * 3);
    struct ares_options o = {0};
    o.timeout = try_ms < PD_DNS_FWD_TRY_MS_MIN ? PD_DNS_FWD_TRY_MS_MIN : (int)try_ms;
    o.tries = TRIES;
    o.sock_state_cb = sock_state_cb;
    o.sock_state_cb_data = f;
    o.flags = ARES_FLAG_NOSEARCH;
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS;
    int rc = ares_init_options(&f->ch, &o, mask);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "DNS forwarder: c-ares init failed: %s", ares_strerror(rc));
        return -PD_EINTERNAL;
    }
    f->ch_ok = 1;
    rc = ares_set_servers_ports(f->ch, n > 0 ? list : NULL);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "DNS forwarder: cannot set upstreams: %s", ares_strerror(rc));
        return -PD_EINTERNAL;
    }
    describe_upstreams(f, list, n);
    f->st.upstreams = (uint32_t)n;
    if (n == 0)
        PD_WARN(&f->log, "dns forward: no upstream resolver (none given, none usable in /etc/resolv.conf); "
                         "names outside svc. and node. get SERVFAIL");
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int pd_dns_fwd_start(uv_loop_t *loop, const pd_dns_fwd_config_t *cfg, pd_dns_fwd_t **out, char *err,
                     size_t errlen)
{
    pd_dns_fwd_t *f = pd_calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->loop = loop;
    f->cfg = *cfg;
    f->log = cfg->log ? *cfg->log : pd_log_null;
    if (!f->cfg.timeout_ms)
        f->cfg.timeout_ms = PD_DNS_FWD_TIMEOUT_MS_DEFAULT;
    f->nslots = cfg->inflight_max ? cfg->inflight_max : PD_DNS_FWD_INFLIGHT_DEFAULT;
    if (f->nslots > PD_DNS_FWD_INFLIGHT_MAX)
        f->nslots = PD_DNS_FWD_INFLIGHT_MAX;
    f->slots = pd_calloc(f->nslots, sizeof *f->slots);
    int rc = f->slots ? pd_dns_cache_new(cfg->cache_entries, &f->cache) : -ENOMEM;
    if (rc) {
        snprintf(err, errlen, "DNS forwarder: out of memory");
        pd_dns_fwd_free(f);
        return rc;
    }
    for (uint32_t i = 0; i < f->nslots; i++) {
        f->slots[i].f = f;
        f->slots[i].next_free = i + 1 < f->nslots ? (int32_t)(i + 1) : -1;
    }
    if (lib_refs++ == 0)
        ares_library_init(ARES_LIB_INIT_ALL);
    f->lib_ref = 1;
    rc = channel_init(f, err, errlen);
    if (rc) {
        pd_dns_fwd_free(f);
        return rc;
    }
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    f->timer_open = 1;
    *out = f;
    return 0;
}

void pd_dns_fwd_stop(pd_dns_fwd_t *f)
{
    if (!f || f->stopping)
        return;
    f->stopping = 1;
    if (f->ch_ok) {
        ares_destroy(f->ch); /* callbacks run with ARES_EDESTRUCTION; sockets close via sock_state_cb */
        f->ch_ok = 0;
    }
    while (f->polls) { /* any c-ares did not report closed */
        fwd_poll_t *p = f->polls;
        f->polls = p->next;
        uv_close((uv_handle_t *)&p->poll, poll_closed);
    }
    if (f->timer_open) {
        uv_close((uv_handle_t *)&f->timer, NULL);
        f->timer_open = 0;
    }
}

void pd_dns_fwd_free(pd_dns_fwd_t *f)
{
    if (!f)
        return;
    if (f->ch_ok) { /* a failed start: no handles were opened */
        f->stopping = 1;
        ares_destroy(f->ch);
    }
    if (f->lib_ref && --lib_refs == 0)
        ares_library_cleanup();
    pd_dns_cache_free(f->cache);
    pd_free(f->slots);
    pd_free(f);
}
