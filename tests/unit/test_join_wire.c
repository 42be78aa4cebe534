/* The join RPC: message codec, the manager's decision, and the joiner's state machine run against an
 * in-memory manager over real TLS bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "join_wire.h"
#include "pd_err.h"

#define NOW_S 1764806400LL
#define MGR_ID "m00000000000000000000000a"
#define JOINER_ID "j00000000000000000000000c"

typedef struct {
    pd_pki_drbg_t drbg;
    pd_pki_ca_t ca;
    pd_pki_ident_t mgr;
    pd_pki_token_t worker, manager;
    pd_clock_sim_t clock;
    char joined[4][PD_NODE_ID_LEN + 1];
    int n_joined;
} cluster_t;

static void cluster_make(cluster_t *cl, uint64_t seed, const char *id)
{
    memset(cl, 0, sizeof *cl);
    assert_int_equal(pd_pki_drbg_init_seeded(&cl->drbg, seed), 0);
    pd_pki_rng_t rng = pd_pki_drbg_rng(&cl->drbg);
    pd_pki_ca_init(&cl->ca);
    assert_int_equal(pd_pki_ca_create(&cl->ca, id, NOW_S, 0, rng), 0);
    pd_pki_ident_init(&cl->mgr);
    char csr[PD_PKI_PEM_MAX], crt[PD_PKI_PEM_MAX];
    size_t csr_len, crt_len;
    const char *why;
    assert_int_equal(pd_pki_ident_generate(&cl->mgr, rng), 0);
    assert_int_equal(pd_pki_ident_csr(&cl->mgr, MGR_ID, rng, csr, sizeof csr, &csr_len), 0);
    assert_int_equal(pd_pki_ca_sign_csr(&cl->ca, csr, csr_len, MGR_ID, PD_PKI_ROLE_MANAGER, NOW_S, 0, rng, crt,
                                        sizeof crt, &crt_len, &why), 0);
    assert_int_equal(pd_pki_ident_set_cert(&cl->mgr, &cl->ca, crt, crt_len, NOW_S, &why), 0);
    assert_int_equal(pd_pki_token_generate(&cl->worker, cl->ca.digest, rng), 0);
    assert_int_equal(pd_pki_token_generate(&cl->manager, cl->ca.digest, rng), 0);
    pd_clock_sim_init(&cl->clock, 0, (uint64_t)NOW_S * 1000u);
}

static void cluster_free(cluster_t *cl)
{
    pd_pki_ident_free(&cl->mgr);
    pd_pki_ca_free(&cl->ca);
    pd_pki_drbg_free(&cl->drbg);
}

static int was_joined(void *ctx, const char *node_id)
{
    cluster_t *cl = ctx;
    for (int i = 0; i < cl->n_joined; i++)
        if (strcmp(cl->joined[i], node_id) == 0)
            return 1;
    return 0;
}

static pd_join_server_t server_of(cluster_t *cl)
{
    static const char *seeds[] = {"10.99.0.1:7946"};
    static const char keyring[] = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n";
    return (pd_join_server_t){
        .policy = {.ca_digest = cl->ca.digest, .worker = &cl->worker, .manager = &cl->manager,
                   .joined = was_joined, .ctx = cl},
        .ca = &cl->ca, .rng = pd_pki_drbg_rng(&cl->drbg), .now_s = NOW_S,
        .keyring = keyring, .keyring_len = sizeof keyring - 1, .seeds = seeds, .n_seeds = 1};
}

static void token_str(const pd_pki_token_t *t, char *out)
{
    assert_int_equal(pd_pki_token_format(t, out, PD_PKI_TOKEN_LEN + 1), 0);
}

/* ---- codec ---- */

static void sample_req(pd_join_req_t *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->token, sizeof r->token, "PDTKN-1-abc");
    snprintf(r->node_id, sizeof r->node_id, JOINER_ID);
    snprintf(r->hostname, sizeof r->hostname, "h2");
    snprintf(r->addr, sizeof r->addr, "10.99.0.2");
    memset(r->nonce, 7, sizeof r->nonce);
    r->csr_len = (size_t)snprintf(r->csr, sizeof r->csr, "-----BEGIN CERTIFICATE REQUEST-----\nx\n");
}

static void test_req_round_trip(void **state)
{
    (void)state;
    pd_join_req_t a, b;
    sample_req(&a);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(pd_join_req_encode(&a, &sb), 0);
    const char *why = NULL;
    assert_int_equal(pd_join_req_decode(sb.data, sb.size, &b, &why), 0);
    assert_string_equal(b.token, a.token);
    assert_string_equal(b.node_id, a.node_id);
    assert_string_equal(b.hostname, "h2");
    assert_string_equal(b.addr, "10.99.0.2");
    assert_memory_equal(b.nonce, a.nonce, PD_JOIN_NONCE_LEN);
    assert_int_equal(b.csr_len, a.csr_len);
    /* every truncation is refused with a reason */
    for (size_t n = 0; n < sb.size; n++) {
        why = NULL;
        assert_true(pd_join_req_decode(sb.data, n, &b, &why) < 0);
        assert_non_null(why);
    }
    msgpack_sbuffer_destroy(&sb);

    /* a bad node id */
    snprintf(a.node_id, sizeof a.node_id, "NOT-A-NODE-ID-AT-ALL-XXXX");
    msgpack_sbuffer_init(&sb);
    assert_int_equal(pd_join_req_encode(&a, &sb), 0);
    assert_int_equal(pd_join_req_decode(sb.data, sb.size, &b, &why), -PD_EMALFORMED);
    assert_non_null(strstr(why, "node id"));
    msgpack_sbuffer_destroy(&sb);
}

static void test_resp_round_trip(void **state)
{
    (void)state;
    pd_join_resp_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    a->role = PD_PKI_ROLE_WORKER;
    snprintf(a->node_id, sizeof a->node_id, JOINER_ID);
    snprintf(a->cluster_id, sizeof a->cluster_id, "c0ffee");
    a->cert_len = (size_t)snprintf(a->cert, sizeof a->cert, "CERT");
    a->ca_len = (size_t)snprintf(a->ca, sizeof a->ca, "CA");
    a->keyring_len = (size_t)snprintf(a->keyring, sizeof a->keyring, "KEY\n");
    snprintf(a->seeds[0], sizeof a->seeds[0], "10.99.0.1:7946");
    snprintf(a->seeds[1], sizeof a->seeds[1], "10.99.0.4");
    a->n_seeds = 2;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(pd_join_resp_encode(a, &sb), 0);
    const char *why = NULL;
    assert_int_equal(pd_join_resp_decode(sb.data, sb.size, b, &why), 0);
    assert_int_equal(b->rc, 0);
    assert_int_equal(b->role, PD_PKI_ROLE_WORKER);
    assert_string_equal(b->seeds[1], "10.99.0.4");
    assert_int_equal(b->n_seeds, 2);
    assert_string_equal(b->keyring, "KEY\n");

    /* an answer carrying a CA key is refused by the joiner: the key never travels */
    assert_int_equal((uint8_t)sb.data[0], 0x8a); /* fixmap of 10: one more field, "ca_key" */
    sb.data[0] = (char)0x8b;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_str(&pk, 6);
    msgpack_pack_str_body(&pk, "ca_key", 6);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "KEY", 3);
    assert_int_equal(pd_join_resp_decode(sb.data, sb.size, b, &why), -PD_EMALFORMED);
    assert_non_null(strstr(why, "CA key"));
    msgpack_sbuffer_destroy(&sb);

    /* a refusal carries its code and text */
    pd_join_resp_refuse(a, -PD_EAUTH, "join refused: join token wrong, or rotated");
    msgpack_sbuffer_init(&sb);
    assert_int_equal(pd_join_resp_encode(a, &sb), 0);
    assert_int_equal(pd_join_resp_decode(sb.data, sb.size, b, &why), 0);
    assert_int_equal(b->rc, -PD_EAUTH);
    assert_string_equal(b->err, "join refused: join token wrong, or rotated");
    msgpack_sbuffer_destroy(&sb);

    /* garbage */
    assert_int_equal(pd_join_resp_decode("GET / HTTP/1.1\r\n", 16, b, &why), -PD_EMALFORMED);
    assert_int_equal(pd_join_resp_decode("\x81\xa1v\x02", 4, b, &why), -PD_EVERSION);
    free(a);
    free(b);
}

/* ---- decisions ---- */

static void test_decide(void **state)
{
    (void)state;
    cluster_t cl, other;
    cluster_make(&cl, 1, "c0ffee");
    cluster_make(&other, 2, "beef");
    pd_join_server_t s = server_of(&cl);
    pd_join_req_t req;
    sample_req(&req);
    char err[256];
    pd_pki_role_t role = PD_PKI_ROLE_NONE;

    token_str(&cl.worker, req.token);
    assert_int_equal(pd_join_decide(&req, &s.policy, &role, err, sizeof err), 0);
    assert_int_equal(role, PD_PKI_ROLE_WORKER);
    token_str(&cl.manager, req.token);
    assert_int_equal(pd_join_decide(&req, &s.policy, &role, err, sizeof err), 0);
    assert_int_equal(role, PD_PKI_ROLE_MANAGER);

    /* rotation: the old worker token fails, the new one works */
    char old[PD_PKI_TOKEN_LEN + 1];
    token_str(&cl.worker, old);
    assert_int_equal(pd_pki_token_generate(&cl.worker, cl.ca.digest, pd_pki_drbg_rng(&cl.drbg)), 0);
    snprintf(req.token, sizeof req.token, "%s", old);
    assert_int_equal(pd_join_decide(&req, &s.policy, &role, err, sizeof err), -PD_EAUTH);
    assert_non_null(strstr(err, "wrong, or rotated"));
    token_str(&cl.worker, req.token);
    assert_int_equal(pd_join_decide(&req, &s.policy, &role, err, sizeof err), 0);

    /* another cluster's token */
    token_str(&other.worker, req.token);
    assert_int_equal(pd_join_decide(&req, &s.policy, &role, err, sizeof err), -PD_EAUTH);
    assert_non_null(strstr(err, "another cluster"));

    /* not a token */
    snprintf(req.token, sizeof req.token, "SWMTKN-1-xyz");
    assert_int_equal(pd_join_decide(&req, &s.policy, &role, err, sizeof err), -PD_EMALFORMED);
    assert_non_null(strstr(err, "invalid join token"));

    /* a node id that joined already: a replay */
    token_str(&cl.worker, req.token);
    snprintf(cl.joined[cl.n_joined++], PD_NODE_ID_LEN + 1, "%s", req.node_id);
    assert_int_equal(pd_join_decide(&req, &s.policy, &role, err, sizeof err), -PD_EEXISTS);
    assert_non_null(strstr(err, "already joined"));

    /* a role without a token cannot join */
    cl.n_joined = 0;
    s.policy.manager = NULL;
    token_str(&cl.manager, req.token);
    assert_int_equal(pd_join_decide(&req, &s.policy, &role, err, sizeof err), -PD_EAUTH);
    cluster_free(&cl);
    cluster_free(&other);
}

/* ---- the whole exchange over TLS bytes ---- */

/* A manager in memory: TLS server with anonymous sessions allowed, one request, one answer. */
typedef struct {
    pd_pki_tls_conf_t conf;
    pd_pki_tls_t *tls;
    pd_ctl_framer_t framer;
    int answered;
    int answer_rc;
} mgr_t;

static void mgr_open(mgr_t *m, cluster_t *cl)
{
    memset(m, 0, sizeof *m);
    assert_int_equal(pd_pki_tls_conf_init(&m->conf, PD_PKI_TLS_SERVER, &cl->ca, &cl->mgr, &cl->clock.base,
                                          pd_pki_drbg_rng(&cl->drbg)), 0);
    pd_pki_tls_conf_allow_anonymous(&m->conf);
    m->tls = calloc(1, sizeof *m->tls);
    assert_int_equal(pd_pki_tls_init(m->tls, &m->conf), 0);
    pd_ctl_framer_init(&m->framer, PD_JOIN_MSG_MAX);
}

static void mgr_close(mgr_t *m)
{
    pd_pki_tls_free(m->tls);
    free(m->tls);
    pd_pki_tls_conf_free(&m->conf);
    pd_ctl_framer_free(&m->framer);
}

static void mgr_step(mgr_t *m, cluster_t *cl)
{
    if (pd_pki_tls_handshake(m->tls) != 0)
        return;
    uint8_t buf[4096];
    size_t n;
    while (pd_pki_tls_read(m->tls, buf, sizeof buf, &n) == 0 && n > 0)
        assert_int_equal(pd_ctl_framer_feed(&m->framer, buf, n), 0);
    const uint8_t *body;
    size_t blen;
    if (m->answered || pd_ctl_framer_next(&m->framer, &body, &blen) != 1)
        return;
    assert_true(pd_pki_tls_anonymous(m->tls));
    pd_join_req_t req;
    pd_join_resp_t *resp = calloc(1, sizeof *resp);
    const char *why;
    assert_int_equal(pd_join_req_decode(body, blen, &req, &why), 0);
    pd_join_server_t s = server_of(cl);
    m->answer_rc = pd_join_answer(&req, &s, resp);
    if (m->answer_rc == 0)
        snprintf(cl->joined[cl->n_joined++], PD_NODE_ID_LEN + 1, "%s", req.node_id);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    uint8_t pre[4] = {0};
    msgpack_sbuffer_write(&sb, (const char *)pre, 4);
    assert_int_equal(pd_join_resp_encode(resp, &sb), 0);
    uint32_t l = (uint32_t)(sb.size - 4);
    uint8_t *p = (uint8_t *)sb.data;
    p[0] = (uint8_t)(l >> 24), p[1] = (uint8_t)(l >> 16), p[2] = (uint8_t)(l >> 8), p[3] = (uint8_t)l;
    size_t off = 0;
    while (off < sb.size) {
        size_t w = 0;
        assert_int_equal(pd_pki_tls_write(m->tls, sb.data + off, sb.size - off, &w), 0);
        off += w;
    }
    msgpack_sbuffer_destroy(&sb);
    free(resp);
    m->answered = 1;
}

/* Pump bytes both ways until the joiner is done or failed. */
static pd_tlsx_state_t run_join(pd_join_client_t *c, mgr_t *m, cluster_t *cl)
{
    uint8_t buf[8192];
    pd_tlsx_state_t st = c->x.state;
    for (int i = 0; i < 64 && (st == PD_TLSX_HANDSHAKE || st == PD_TLSX_WAIT); i++) {
        size_t n;
        while ((n = pd_tlsx_output(&c->x, buf, sizeof buf)) > 0) {
            size_t taken = 0;
            assert_int_equal(pd_pki_tls_feed(m->tls, buf, n, &taken), 0);
            assert_int_equal(taken, n);
        }
        mgr_step(m, cl);
        int fed = 0;
        while ((n = pd_pki_tls_drain(m->tls, buf, sizeof buf)) > 0) {
            st = pd_tlsx_input(&c->x, buf, n);
            fed = 1;
        }
        if (!fed)
            st = pd_tlsx_input(&c->x, NULL, 0);
    }
    return st;
}

static void test_exchange_worker_and_manager(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 3, "c0ffee");
    char tok[PD_PKI_TOKEN_LEN + 1];
    token_str(&cl.worker, tok);
    pd_join_client_t c;
    mgr_t m;
    assert_int_equal(pd_join_client_init(&c, tok, JOINER_ID, "h2", "10.99.0.2", &cl.clock.base,
                                         pd_pki_drbg_rng(&cl.drbg)), 0);
    mgr_open(&m, &cl);
    assert_int_equal(run_join(&c, &m, &cl), PD_TLSX_DONE);
    assert_int_equal(c.ident.info.role, PD_PKI_ROLE_WORKER);
    assert_string_equal(c.ident.info.node_id, JOINER_ID);
    assert_memory_equal(c.ca.digest, cl.ca.digest, PD_PKI_DIGEST_LEN);
    assert_false(c.ca.has_key);
    assert_int_equal(c.resp->n_seeds, 1);
    assert_string_equal(c.resp->seeds[0], "10.99.0.1:7946");
    pd_join_client_free(&c);
    mgr_close(&m);

    /* the same node id again: a replay, refused, and the joiner says why */
    assert_int_equal(pd_join_client_init(&c, tok, JOINER_ID, "h2", "10.99.0.2", &cl.clock.base,
                                         pd_pki_drbg_rng(&cl.drbg)), 0);
    mgr_open(&m, &cl);
    assert_int_equal(run_join(&c, &m, &cl), PD_TLSX_FAILED);
    assert_int_equal(c.x.rc, -PD_EEXISTS);
    assert_non_null(strstr(c.x.err, "already joined"));
    pd_join_client_free(&c);
    mgr_close(&m);

    /* a manager token: a manager certificate, and still no CA key (managers read it from Raft) */
    token_str(&cl.manager, tok);
    assert_int_equal(pd_join_client_init(&c, tok, "k00000000000000000000000d", "h4", "10.99.0.4", &cl.clock.base,
                                         pd_pki_drbg_rng(&cl.drbg)), 0);
    mgr_open(&m, &cl);
    assert_int_equal(run_join(&c, &m, &cl), PD_TLSX_DONE);
    assert_int_equal(c.ident.info.role, PD_PKI_ROLE_MANAGER);
    assert_false(c.ca.has_key);
    pd_join_client_free(&c);
    mgr_close(&m);
    cluster_free(&cl);
}

static void test_exchange_refusals(void **state)
{
    (void)state;
    cluster_t cl, other;
    cluster_make(&cl, 4, "c0ffee");
    cluster_make(&other, 5, "beef");
    char tok[PD_PKI_TOKEN_LEN + 1];
    pd_join_client_t c;
    mgr_t m;

    /* right cluster, wrong secret: the manager refuses after TLS */
    pd_pki_token_t wrong = cl.worker;
    wrong.secret[0] ^= 1;
    token_str(&wrong, tok);
    assert_int_equal(pd_join_client_init(&c, tok, JOINER_ID, "h2", "10.99.0.2", &cl.clock.base,
                                         pd_pki_drbg_rng(&cl.drbg)), 0);
    mgr_open(&m, &cl);
    assert_int_equal(run_join(&c, &m, &cl), PD_TLSX_FAILED);
    assert_int_equal(c.x.rc, -PD_EAUTH);
    assert_non_null(strstr(c.x.err, "wrong, or rotated"));
    assert_int_equal(m.answer_rc, -PD_EAUTH);
    assert_int_equal(cl.n_joined, 0);
    pd_join_client_free(&c);
    mgr_close(&m);

    /* another cluster's token: the pinned CA does not match; TLS fails before any request */
    token_str(&other.worker, tok);
    assert_int_equal(pd_join_client_init(&c, tok, JOINER_ID, "h2", "10.99.0.2", &cl.clock.base,
                                         pd_pki_drbg_rng(&cl.drbg)), 0);
    mgr_open(&m, &cl);
    assert_int_equal(run_join(&c, &m, &cl), PD_TLSX_FAILED);
    assert_int_equal(c.x.rc, -PD_EAUTH);
    assert_non_null(strstr(c.x.err, "TLS"));
    assert_false(m.answered);
    pd_join_client_free(&c);
    mgr_close(&m);

    /* a malformed token never gets as far as a connection */
    assert_int_equal(pd_join_client_init(&c, "PDTKN-1-nope", JOINER_ID, "h2", "10.99.0.2", &cl.clock.base,
                                         pd_pki_drbg_rng(&cl.drbg)), -PD_EMALFORMED);
    assert_int_equal(c.x.state, PD_TLSX_FAILED);
    assert_non_null(strstr(c.x.err, "invalid join token"));
    pd_join_client_free(&c);

    /* the connection drops mid-way */
    token_str(&cl.worker, tok);
    assert_int_equal(pd_join_client_init(&c, tok, JOINER_ID, "h2", "10.99.0.2", &cl.clock.base,
                                         pd_pki_drbg_rng(&cl.drbg)), 0);
    pd_tlsx_abort(&c.x, -PD_ECLOSED, "the manager closed the connection");
    assert_int_equal(c.x.state, PD_TLSX_FAILED);
    assert_int_equal(c.x.rc, -PD_ECLOSED);
    pd_join_client_free(&c);
    cluster_free(&cl);
    cluster_free(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_round_trip),
        cmocka_unit_test(test_resp_round_trip),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_exchange_worker_and_manager),
        cmocka_unit_test(test_exchange_refusals),
    };
    return cmocka_run_group_tests_name("join_wire", tests, NULL, NULL);
}
