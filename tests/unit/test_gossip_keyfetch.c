/* core/daemon/gossip_keyfetch: the keyring fetch's messages (request, answer, refusal): round
 * trips, every truncation refused, other ops and versions refused; and the client's exchange over
 * bytes against a manager's TLS server: the request is a PD_RT_MEMBER frame from the worker's
 * Raft id to the manager's, the answer's ring arrives; a peer that is not a manager is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gossip_keyfetch.h"
#include "pd_err.h"
#include "raft_node.h"
#include "raft_transport.h"
#include "test_pki_util.h"

static void test_request(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pd_gkf_req_encode(&sb);
    assert_int_equal(pd_gkf_req_decode(sb.data, sb.size), 0);
    for (size_t cut = 0; cut < sb.size; cut++)
        assert_int_not_equal(pd_gkf_req_decode(sb.data, cut), 0);
    msgpack_sbuffer_destroy(&sb);
    const uint8_t other_op[] = {0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa1, 'x'};
    assert_int_equal(pd_gkf_req_decode(other_op, sizeof other_op), -PD_EMALFORMED);
    const uint8_t v2[] = {0x81, 0xa1, 'v', 0x02};
    assert_int_equal(pd_gkf_req_decode(v2, sizeof v2), -PD_EVERSION);
}

static void test_answer(void **state)
{
    uint8_t k1[PD_KEYRING_KEY_LEN], k2[PD_KEYRING_KEY_LEN];
    memset(k1, 1, sizeof k1);
    memset(k2, 2, sizeof k2);
    pd_keyring_t kr;
    pd_keyring_init(&kr);
    pd_keyring_install(&kr, k1);
    pd_keyring_install(&kr, k2);
    pd_keyring_use(&kr, k2);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(pd_gkf_resp_encode(&sb, 0, NULL, 7, 2, &kr), 0);
    pd_gkf_resp_t r;
    assert_int_equal(pd_gkf_resp_decode(sb.data, sb.size, &r), 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.gen, 7);
    assert_int_equal(r.phase, 2);
    assert_true(pd_keyring_same(&r.ring, &kr));
    assert_memory_equal(pd_keyring_primary(&r.ring)->key, k2, sizeof k2);
    pd_keyring_free(&r.ring);
    for (size_t cut = 0; cut < sb.size; cut++)
        assert_int_not_equal(pd_gkf_resp_decode(sb.data, cut, &r), 0);
    msgpack_sbuffer_destroy(&sb);
    /* a refusal carries its code and sentence, and no ring */
    msgpack_sbuffer_init(&sb);
    pd_gkf_resp_encode(&sb, -PD_ESTATE, "this manager is locked", 0, 0, NULL);
    assert_int_equal(pd_gkf_resp_decode(sb.data, sb.size, &r), 0);
    assert_int_equal(r.rc, -PD_ESTATE);
    assert_string_equal(r.err, "this manager is locked");
    assert_int_equal(r.ring.count, 0);
    msgpack_sbuffer_destroy(&sb);
    pd_keyring_free(&kr);
}

#define W_ID "w00000000000000000000000w"
#define M_ID "m00000000000000000000000m"

typedef struct {
    pd_pki_drbg_t drbg;
    pd_pki_ca_t ca;
    pd_pki_ident_t worker, manager;
    pd_pki_tls_conf_t client, server;
} pki_t;

/* A worker's client config, and a server config for the given role's identity. */
static void pki_make(pki_t *k, pd_pki_role_t server_role)
{
    assert_int_equal(pd_pki_drbg_init_seeded(&k->drbg, 9), 0);
    pd_pki_ca_init(&k->ca);
    assert_int_equal(pd_pki_ca_create(&k->ca, "cafe", (int64_t)time(NULL), 0, pd_pki_drbg_rng(&k->drbg)), 0);
    pd_pki_rng_t rng = pd_pki_drbg_rng(&k->drbg);
    test_pki_ident(&k->ca, rng, &k->worker, W_ID, PD_PKI_ROLE_WORKER);
    test_pki_ident(&k->ca, rng, &k->manager, M_ID, server_role);
    assert_int_equal(pd_pki_tls_conf_init(&k->client, PD_PKI_TLS_CLIENT, &k->ca, &k->worker, &pd_clock_real, rng), 0);
    assert_int_equal(pd_pki_tls_conf_init(&k->server, PD_PKI_TLS_SERVER, &k->ca, &k->manager, &pd_clock_real, rng), 0);
}

static void pki_free(pki_t *k)
{
    pd_pki_tls_conf_free(&k->client);
    pd_pki_tls_conf_free(&k->server);
    pd_pki_ident_free(&k->worker);
    pd_pki_ident_free(&k->manager);
    pd_pki_ca_free(&k->ca);
    pd_pki_drbg_free(&k->drbg);
}

/* The manager's side: read the one frame, check it, answer with ring (gen 4, phase use). */
static void serve(pd_pki_tls_t *s, pd_ctl_framer_t *fr, const pd_keyring_t *ring, int *answered)
{
    if (*answered || pd_pki_tls_handshake(s) != 0)
        return;
    uint8_t buf[4096];
    size_t n;
    while (pd_pki_tls_read(s, buf, sizeof buf, &n) == 0 && n > 0)
        assert_int_equal(pd_ctl_framer_feed(fr, buf, n), 0);
    const uint8_t *body;
    size_t blen;
    if (pd_ctl_framer_next(fr, &body, &blen) != 1)
        return;
    pd_rt_frame_t f;
    assert_int_equal(pd_rt_frame_parse(body, blen, &f), 0);
    assert_int_equal(f.type, PD_RT_MEMBER);
    assert_true(f.from == pd_raft_node_id_from(W_ID) && f.to == pd_raft_node_id_from(M_ID));
    assert_int_equal(pd_gkf_req_decode(f.payload, f.len), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    uint8_t pre[4] = {0};
    msgpack_sbuffer_write(&sb, (const char *)pre, 4);
    assert_int_equal(pd_gkf_resp_encode(&sb, 0, NULL, 4, 2, ring), 0);
    uint32_t l = (uint32_t)(sb.size - 4);
    uint8_t *p = (uint8_t *)sb.data;
    p[0] = (uint8_t)(l >> 24), p[1] = (uint8_t)(l >> 16), p[2] = (uint8_t)(l >> 8), p[3] = (uint8_t)l;
    size_t w = 0;
    assert_int_equal(pd_pki_tls_write(s, sb.data, sb.size, &w), 0);
    assert_int_equal(w, sb.size);
    msgpack_sbuffer_destroy(&sb);
    *answered = 1;
}

/* Pump bytes both ways until the client is done or failed. */
static pd_tlsx_state_t exchange(pd_gkf_client_t *c, pd_pki_tls_t *s, const pd_keyring_t *ring)
{
    pd_ctl_framer_t fr;
    pd_ctl_framer_init(&fr, PD_GKF_MSG_MAX);
    uint8_t buf[8192];
    int answered = 0;
    for (int i = 0; i < 64 && (c->x.state == PD_TLSX_HANDSHAKE || c->x.state == PD_TLSX_WAIT); i++) {
        size_t n, taken;
        while ((n = pd_tlsx_output(&c->x, buf, sizeof buf)) > 0)
            pd_pki_tls_feed(s, buf, n, &taken);
        serve(s, &fr, ring, &answered);
        int fed = 0;
        while ((n = pd_pki_tls_drain(s, buf, sizeof buf)) > 0 && (fed = 1))
            pd_tlsx_input(&c->x, buf, n);
        if (!fed)
            pd_tlsx_input(&c->x, NULL, 0);
    }
    pd_ctl_framer_free(&fr);
    return c->x.state;
}

static void ring_of_two(pd_keyring_t *kr)
{
    uint8_t k1[PD_KEYRING_KEY_LEN], k2[PD_KEYRING_KEY_LEN];
    memset(k1, 7, sizeof k1);
    memset(k2, 8, sizeof k2);
    pd_keyring_init(kr);
    pd_keyring_install(kr, k1);
    pd_keyring_install(kr, k2);
    pd_keyring_use(kr, k2);
}

/* The client against a server holding a certificate of server_role; the caller checks c, then
 * calls fetch_done. */
static pd_tlsx_state_t fetch_from(pd_pki_role_t server_role, pki_t *k, pd_gkf_client_t *c, pd_keyring_t *ring)
{
    pki_make(k, server_role);
    ring_of_two(ring);
    pd_pki_tls_t *s = calloc(1, sizeof *s);
    assert_int_equal(pd_pki_tls_init(s, &k->server), 0);
    assert_int_equal(pd_gkf_client_init(c, &k->client, W_ID), 0);
    pd_tlsx_state_t st = exchange(c, s, ring);
    pd_pki_tls_free(s);
    free(s);
    return st;
}

static void fetch_done(pki_t *k, pd_gkf_client_t *c, pd_keyring_t *ring)
{
    pd_gkf_client_free(c);
    pd_keyring_free(ring);
    pki_free(k);
}

static void test_client_exchange(void **state)
{
    pki_t k;
    pd_gkf_client_t c;
    pd_keyring_t ring;
    assert_int_equal(fetch_from(PD_PKI_ROLE_MANAGER, &k, &c, &ring), PD_TLSX_DONE);
    assert_string_equal(c.manager, M_ID);
    assert_int_equal(c.resp.gen, 4);
    assert_int_equal(c.resp.phase, 2);
    assert_true(pd_keyring_same(&c.resp.ring, &ring));
    fetch_done(&k, &c, &ring);
}

/* A worker's certificate on the other end: the keyring is never asked of it. */
static void test_client_refuses_non_manager(void **state)
{
    pki_t k;
    pd_gkf_client_t c;
    pd_keyring_t ring;
    assert_int_equal(fetch_from(PD_PKI_ROLE_WORKER, &k, &c, &ring), PD_TLSX_FAILED);
    assert_int_equal(c.x.rc, -PD_EAUTH);
    assert_non_null(strstr(c.x.err, "not a manager"));
    fetch_done(&k, &c, &ring);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_exchange),
        cmocka_unit_test(test_client_refuses_non_manager),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
