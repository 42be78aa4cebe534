/* The Raft transport over mutual TLS, on loopback with a real libuv loop: managers of one CA
 * exchange frames; a worker certificate, another CA's certificate and a frame whose sender is not
 * the certificate's node are refused and deliver nothing; with member requests on, a worker
 * certificate may send those (and nothing else). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pd_err.h"
#include "pki.h"
#include "raft_node.h"
#include "raft_transport.h"
#include "test_pki_util.h"

#define ID_A "a00000000000000000000000a"
#define ID_B "b00000000000000000000000b"
#define ID_W "w00000000000000000000000c"

typedef struct {
    pd_pki_ident_t id;
    pd_pki_tls_conf_t server, client;
} node_t;

typedef struct {
    pd_pki_drbg_t drbg;
    pd_pki_ca_t ca;
} ca_t;

static pd_log_t quiet = {.sink = NULL, .min_level = PD_LOG_OFF, .subsys = "test"};

static void ca_make(ca_t *c, uint64_t seed, const char *cluster)
{
    assert_int_equal(pd_pki_drbg_init_seeded(&c->drbg, seed), 0);
    pd_pki_ca_init(&c->ca);
    assert_int_equal(pd_pki_ca_create(&c->ca, cluster, (int64_t)time(NULL), 0, pd_pki_drbg_rng(&c->drbg)), 0);
}

static void node_make(node_t *n, ca_t *c, const char *node_id, pd_pki_role_t role)
{
    pd_pki_rng_t rng = pd_pki_drbg_rng(&c->drbg);
    test_pki_ident(&c->ca, rng, &n->id, node_id, role);
    assert_int_equal(pd_pki_tls_conf_init(&n->server, PD_PKI_TLS_SERVER, &c->ca, &n->id, &pd_clock_real, rng), 0);
    assert_int_equal(pd_pki_tls_conf_init(&n->client, PD_PKI_TLS_CLIENT, &c->ca, &n->id, &pd_clock_real, rng), 0);
}

static void node_free(node_t *n)
{
    pd_pki_tls_conf_free(&n->server);
    pd_pki_tls_conf_free(&n->client);
    pd_pki_ident_free(&n->id);
}

typedef struct {
    int frames;
    uint64_t from;
    char payload[32];
} inbox_t;

static void on_frame(void *ctx, const pd_rt_frame_t *f)
{
    inbox_t *in = ctx;
    in->frames++;
    in->from = f->from;
    snprintf(in->payload, sizeof in->payload, "%.*s", (int)f->len, (const char *)f->payload);
}

static void no_join(void *ctx, pd_rt_t *t, uint64_t conn, const uint8_t *body, size_t len) {}

static int port_base(void) { return 30000 + (int)(getpid() % 2000) * 4; }

/* Run the loop until cond or ms pass. */
static void run_for(uv_loop_t *loop, int ms, const int *cond)
{
    uint64_t end = uv_now(loop) + (uint64_t)ms;
    while (uv_now(loop) < end && !(cond && *cond)) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(2000);
        uv_update_time(loop);
    }
}

static pd_rt_t *start(uv_loop_t *loop, int port, const char *node_id, uint64_t self, node_t *n, inbox_t *in)
{
    char addr[32], err[128];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    pd_rt_t *t = NULL;
    pd_pki_tls_conf_allow_anonymous(&n->server);
    pd_rt_tls_t tls = {.server = &n->server, .client = &n->client, .join = no_join};
    assert_int_equal(pd_rt_start(loop, addr, self ? self : pd_raft_node_id_from(node_id), on_frame, in, &tls,
                                 &quiet, &t, err, sizeof err), 0);
    return t;
}

static void stop(uv_loop_t *loop, pd_rt_t **ts, int n)
{
    for (int i = 0; i < n; i++)
        pd_rt_stop(ts[i]);
    uv_run(loop, UV_RUN_DEFAULT);
    for (int i = 0; i < n; i++)
        pd_rt_free(ts[i]);
}

/* There is no plaintext mode: without TLS the transport does not start (nothing listens). */
static void test_no_tls_no_transport(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ca_t c;
    ca_make(&c, 1, "c0ffee");
    node_t a;
    node_make(&a, &c, ID_A, PD_PKI_ROLE_MANAGER);
    char addr[32], err[160] = "";
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port_base() + 3);
    inbox_t in = {0};
    pd_rt_t *t = (pd_rt_t *)&in;
    assert_int_equal(pd_rt_start(&loop, addr, 7, on_frame, &in, NULL, &quiet, &t, err, sizeof err), -PD_EUSAGE);
    assert_null(t);
    assert_non_null(strstr(err, "mutual TLS only"));
    pd_rt_tls_t half = {.server = &a.server};
    t = (pd_rt_t *)&in;
    assert_int_equal(pd_rt_start(&loop, addr, 7, on_frame, &in, &half, &quiet, &t, err, sizeof err), -PD_EUSAGE);
    assert_null(t);
    node_free(&a);
    pd_pki_ca_free(&c.ca);
    pd_pki_drbg_free(&c.drbg);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_managers_exchange_frames(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ca_t c;
    ca_make(&c, 1, "c0ffee");
    node_t a, b;
    node_make(&a, &c, ID_A, PD_PKI_ROLE_MANAGER);
    node_make(&b, &c, ID_B, PD_PKI_ROLE_MANAGER);
    inbox_t ia = {0}, ib = {0};
    int p = port_base();
    pd_rt_t *ta = start(&loop, p, ID_A, 0, &a, &ia), *tb = start(&loop, p + 1, ID_B, 0, &b, &ib);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", p + 1);
    assert_int_equal(pd_rt_set_peer(ta, pd_raft_node_id_from(ID_B), addr), 0);
    assert_int_equal(pd_rt_send(ta, pd_raft_node_id_from(ID_B), PD_RT_RAFT, "hello", 5, NULL, 0), 0);
    run_for(&loop, 8000, &ib.frames);
    assert_int_equal(ib.frames, 1);
    assert_int_equal(ib.from, pd_raft_node_id_from(ID_A));
    assert_string_equal(ib.payload, "hello");
    assert_true(pd_rt_peer_connected(ta, pd_raft_node_id_from(ID_B)));
    assert_int_equal(pd_rt_stats(tb)->tls_accepted, 1);
    /* a big frame crosses several TLS records */
    static char big[100000];
    memset(big, 'x', sizeof big);
    ib.frames = 0;
    assert_int_equal(pd_rt_send(ta, pd_raft_node_id_from(ID_B), PD_RT_RAFT, big, sizeof big, NULL, 0), 0);
    run_for(&loop, 8000, &ib.frames);
    assert_int_equal(ib.frames, 1);
    pd_rt_t *ts[] = {ta, tb};
    stop(&loop, ts, 2);
    node_free(&a);
    node_free(&b);
    pd_pki_ca_free(&c.ca);
    pd_pki_drbg_free(&c.drbg);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_refusals(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ca_t c, other;
    ca_make(&c, 2, "c0ffee");
    ca_make(&other, 3, "beef");
    node_t b, w, x, a;
    node_make(&b, &c, ID_B, PD_PKI_ROLE_MANAGER);
    node_make(&w, &c, ID_W, PD_PKI_ROLE_WORKER);
    node_make(&x, &other, ID_A, PD_PKI_ROLE_MANAGER);
    node_make(&a, &c, ID_A, PD_PKI_ROLE_MANAGER);
    inbox_t ib = {0}, iw = {0}, ix = {0}, ia = {0};
    int p = port_base() + 100;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", p);
    pd_rt_t *tb = start(&loop, p, ID_B, 0, &b, &ib);
    pd_rt_t *tw = start(&loop, p + 1, ID_W, 0, &w, &iw);        /* a worker certificate */
    pd_rt_t *tx = start(&loop, p + 2, ID_A, 0, &x, &ix);        /* another CA */
    pd_rt_t *ta = start(&loop, p + 3, ID_A, pd_raft_node_id_from(ID_W), &a, &ia); /* claims another id */
    uint64_t to = pd_raft_node_id_from(ID_B);
    pd_rt_t *senders[] = {tw, tx, ta};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pd_rt_set_peer(senders[i], to, addr), 0);
        assert_int_equal(pd_rt_send(senders[i], to, PD_RT_RAFT, "evil", 4, NULL, 0), 0);
    }
    run_for(&loop, 2500, NULL);
    assert_int_equal(ib.frames, 0);
    assert_true(pd_rt_stats(tb)->tls_refused >= 2);  /* the worker and the other CA */
    assert_true(pd_rt_stats(tb)->bad_frames >= 1);   /* the frame whose sender is not its certificate */
    assert_false(pd_rt_peer_connected(tx, to));
    pd_rt_t *ts[] = {tb, tw, tx, ta};
    stop(&loop, ts, 4);
    node_free(&b);
    node_free(&w);
    node_free(&x);
    node_free(&a);
    pd_pki_ca_free(&c.ca);
    pd_pki_ca_free(&other.ca);
    pd_pki_drbg_free(&c.drbg);
    pd_pki_drbg_free(&other.drbg);
    assert_int_equal(uv_loop_close(&loop), 0);
}

typedef struct {
    int calls, manager;
    char node[PD_NODE_ID_LEN + 1];
    char payload[32];
} member_box_t;

static void on_member(void *ctx, pd_rt_t *t, uint64_t conn, const char *node_id, int manager,
                      const uint8_t *payload, size_t len)
{
    member_box_t *m = ctx;
    m->calls++;
    m->manager = manager;
    snprintf(m->node, sizeof m->node, "%s", node_id);
    snprintf(m->payload, sizeof m->payload, "%.*s", (int)len, (const char *)payload);
    pd_rt_conn_reply(t, conn, "ok", 2);
}

/* With member requests on, a worker certificate gets a session for them only: its member request
 * reaches the callback with its node id; its Raft frame closes the session and delivers nothing. A
 * manager's member request is answered too, flagged as a manager's. */
static void test_member_requests(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ca_t c;
    ca_make(&c, 4, "f00d");
    node_t b, w, a;
    node_make(&b, &c, ID_B, PD_PKI_ROLE_MANAGER);
    node_make(&w, &c, ID_W, PD_PKI_ROLE_WORKER);
    node_make(&a, &c, ID_A, PD_PKI_ROLE_MANAGER);
    inbox_t ib = {0}, iw = {0}, ia = {0};
    member_box_t mb = {0};
    int p = port_base() + 200;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", p);
    pd_rt_t *tb = start(&loop, p, ID_B, 0, &b, &ib);
    pd_rt_set_member_rpc(tb, on_member, &mb);
    pd_rt_t *tw = start(&loop, p + 1, ID_W, 0, &w, &iw);
    pd_rt_t *ta = start(&loop, p + 2, ID_A, 0, &a, &ia);
    uint64_t to = pd_raft_node_id_from(ID_B);
    assert_int_equal(pd_rt_set_peer(tw, to, addr), 0);
    assert_int_equal(pd_rt_set_peer(ta, to, addr), 0);
    assert_int_equal(pd_rt_send(tw, to, PD_RT_MEMBER, "keyring?", 8, NULL, 0), 0);
    run_for(&loop, 2500, &mb.calls);
    assert_int_equal(mb.calls, 1);
    assert_string_equal(mb.node, ID_W);
    assert_int_equal(mb.manager, 0);
    assert_string_equal(mb.payload, "keyring?");
    assert_int_equal(pd_rt_send(ta, to, PD_RT_MEMBER, "from a", 6, NULL, 0), 0);
    int two = 0;
    for (int i = 0; i < 1250 && !two; i++) {
        run_for(&loop, 2, NULL);
        two = mb.calls == 2;
    }
    assert_int_equal(mb.calls, 2);
    assert_string_equal(mb.node, ID_A);
    assert_int_equal(mb.manager, 1);
    uint64_t refused = pd_rt_stats(tb)->tls_refused;
    for (int i = 0; i < 15; i++) { /* the answered session was closed: this reconnects */
        pd_rt_send(tw, to, PD_RT_RAFT, "evil", 4, NULL, 0);
        run_for(&loop, 100, NULL);
    }
    assert_int_equal(ib.frames, 0);
    assert_true(pd_rt_stats(tb)->tls_refused > refused);
    pd_rt_t *ts[] = {tb, tw, ta};
    stop(&loop, ts, 3);
    node_free(&b);
    node_free(&w);
    node_free(&a);
    pd_pki_ca_free(&c.ca);
    pd_pki_drbg_free(&c.drbg);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_tls_no_transport),
        cmocka_unit_test(test_managers_exchange_frames),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_member_requests),
    };
    return cmocka_run_group_tests_name("raft_transport_tls", tests, NULL, NULL);
}
