/* SWIM core driven by hand on a fake network (test_swim_harness.h): no real time, no sockets.
 * Probe/ack, indirect probes and nacks, suspect -> dead, incarnation precedence, refutation,
 * buddy system, graceful leave, restart with a higher incarnation, metadata, delegate hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pd_err.h"
#include "swim.h"
#include "test_swim_harness.h"

#define B(s) ((pd_swim_bytes_t){(const uint8_t *)(s), (uint32_t)strlen(s)})

static void test_join_probe_ack(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 3, NULL, 1);
    h_join_all(&h);
    assert_int_equal(h.ev[1][0], PD_SWIM_EV_JOIN);
    assert_int_equal(h.ev[2][1], PD_SWIM_EV_JOIN); /* learned node1 from node0's state */
    h_run_until(&h, h.now + 500);                  /* node1 hears of node2 by gossip */
    for (int i = 0; i < 3; i++)
        assert_int_equal(pd_swim_count(h.sw[i], PD_SWIM_ALIVE), 3);
    h_run_until(&h, h.now + 10000);
    for (int i = 0; i < 3; i++) {
        const pd_swim_stats_t *st = pd_swim_stats(h.sw[i]);
        assert_true(st->probes >= 8);
        assert_int_equal(st->probe_acks, st->probes);
        assert_int_equal(st->suspects_raised, 0);
        assert_int_equal(pd_swim_awareness(h.sw[i]), 0);
        assert_int_equal(pd_swim_count(h.sw[i], PD_SWIM_ALIVE), 3);
    }
    h_free(&h);
}

static void test_crash_suspect_dead(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 3, NULL, 2);
    h_join_all(&h);
    h_run_until(&h, h.now + 3000);
    uint64_t crash = h.now;
    h.down[2] = 1;
    /* Suspect within a couple of probe rounds (each node probes node2 at least every 2 rounds). */
    uint64_t t = crash;
    while (h.ev[0][2] != PD_SWIM_EV_SUSPECT && t < crash + 5000)
        h_run_until(&h, t += 50);
    assert_int_equal(h.ev[0][2], PD_SWIM_EV_SUSPECT);
    uint64_t suspected = h.now;
    /* Whoever probed node2 first went indirect and tried the stream fallback. */
    const pd_swim_stats_t *s0 = pd_swim_stats(h.sw[0]), *s1 = pd_swim_stats(h.sw[1]);
    assert_true(s0->indirect_sent + s1->indirect_sent >= 1);
    assert_true(s0->fallback_sent + s1->fallback_sent >= 1);
    /* N=3 < k+2: no confirmations expected, so the timeout is the minimum: 4 * 1 * 1 s. */
    while (h.ev[0][2] != PD_SWIM_EV_DEAD && t < suspected + 30000)
        h_run_until(&h, t += 50);
    assert_int_equal(h.ev[0][2], PD_SWIM_EV_DEAD);
    assert_true(h.now - suspected <= 4000 + 100);
    h_run_until(&h, h.now + 1000);
    assert_int_equal(h.ev[1][2], PD_SWIM_EV_DEAD);
    assert_int_equal(h_state(&h, 1, 2), PD_SWIM_DEAD);
    assert_int_equal(h.ev_count[0][PD_SWIM_EV_LEFT], 0);
    /* Reaped after dead_reap_ms. */
    h_run_until(&h, h.now + h.cfg.dead_reap_ms + 2000);
    assert_int_equal(h_state(&h, 0, 2), -1);
    assert_int_equal(pd_swim_count(h.sw[0], -1), 2);
    h_free(&h);
}

/* A node held dead that comes back (a healed cut) is told so by gossip to the dead, refutes, and
 * is not forgotten when its old death's reap time comes (the reap FIFO entry is stale). */
static void test_dead_refutes_and_is_not_reaped(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 3, NULL, 9);
    h_join_all(&h);
    h_run_until(&h, h.now + 3000);
    for (int i = 0; i < 2; i++)
        h.cut[i][2] = h.cut[2][i] = h.cut_stream[i][2] = h.cut_stream[2][i] = 1;
    uint64_t t = h.now;
    while ((h.ev[0][2] != PD_SWIM_EV_DEAD || h.ev[1][2] != PD_SWIM_EV_DEAD) && t < h.now + 30000)
        h_run_until(&h, t += 50);
    assert_int_equal(h_state(&h, 0, 2), PD_SWIM_DEAD);
    uint64_t dead_at = h.now;
    for (int i = 0; i < 2; i++)
        h.cut[i][2] = h.cut[2][i] = h.cut_stream[i][2] = h.cut_stream[2][i] = 0;
    h_run_until(&h, h.now + 3000); /* gossip to the dead carries its dead message */
    assert_true(pd_swim_stats(h.sw[2])->refutes >= 1);
    assert_int_equal(h_state(&h, 0, 2), PD_SWIM_ALIVE);
    assert_int_equal(h_state(&h, 1, 2), PD_SWIM_ALIVE);
    h_run_until(&h, dead_at + h.cfg.dead_reap_ms + 2000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pd_swim_count(h.sw[i], PD_SWIM_ALIVE), 3);
    h_free(&h);
}

static void test_indirect_ack_and_nack(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 4, NULL, 3);
    h_join_all(&h);
    /* node0 <-> node1 cannot talk directly; node2/node3 relay: nobody is suspected. */
    h_cut_both(&h, 0, 1, 1);
    h_run_until(&h, h.now + 20000);
    const pd_swim_stats_t *st = pd_swim_stats(h.sw[0]);
    assert_true(st->indirect_sent >= 1);
    assert_int_equal(st->suspects_raised, 0);
    assert_int_equal(h_state(&h, 0, 1), PD_SWIM_ALIVE);
    assert_true(pd_swim_stats(h.sw[2])->nacks_sent + pd_swim_stats(h.sw[3])->nacks_sent == 0);
    /* Now node1 is really gone: relays nack, so node0 does not blame itself. */
    h_cut_both(&h, 0, 1, 0);
    h.down[1] = 1;
    uint64_t t = h.now;
    while (pd_swim_stats(h.sw[0])->probe_failures == 0 && t < h.now + 10000)
        h_run_until(&h, t += 50);
    assert_true(pd_swim_stats(h.sw[0])->nacks_recv >= 1);
    assert_int_equal(h.ev[0][1], PD_SWIM_EV_SUSPECT);
    assert_int_equal(pd_swim_awareness(h.sw[0]), 0);
    h_free(&h);
}

static void test_awareness_rises_when_isolated(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 4, NULL, 4);
    h_join_all(&h);
    /* node0 hears nothing (all its inbound UDP cut, streams too): its probes fail and the relays'
     * nacks never arrive, so it raises its own awareness and slows down. */
    for (int j = 1; j < 4; j++)
        h.cut[j][0] = 1, h.cut_stream[j][0] = 1;
    h_run_until(&h, h.now + 4000);
    assert_true(pd_swim_awareness(h.sw[0]) >= 2);
    h_free(&h);
}

static void inject(harness_t *h, int to, const pd_swim_msg_t *m)
{
    uint8_t buf[1024];
    size_t len;
    assert_int_equal(pd_swim_wire_encode(m, buf, sizeof buf, &len), 0);
    pd_swim_addr_t from = h_addr(15);
    assert_int_equal(pd_swim_recv(h->sw[to], h->now, &h->rng, &from, buf, len, 0), 0);
    h_deliver(h);
}

static void test_incarnation_rules(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 1, NULL, 5);
    pd_swim_addr_t ax = h_addr(9);
    pd_swim_msg_t alive = {.type = PD_SWIM_MSG_ALIVE, .node = B("node9"), .addr = ax, .inc = 1};
    pd_swim_msg_t sus = {.type = PD_SWIM_MSG_SUSPECT, .node = B("node9"), .from = B("node8")};
    pd_swim_msg_t dead = {.type = PD_SWIM_MSG_DEAD, .node = B("node9"), .from = B("node8")};
    inject(&h, 0, &alive);
    assert_int_equal(h.ev[0][9], PD_SWIM_EV_JOIN);
    sus.inc = 0; /* older than what we know: ignored */
    inject(&h, 0, &sus);
    assert_int_equal(h_state(&h, 0, 9), PD_SWIM_ALIVE);
    sus.inc = 1;
    inject(&h, 0, &sus);
    assert_int_equal(h_state(&h, 0, 9), PD_SWIM_SUSPECT);
    inject(&h, 0, &alive); /* same incarnation does not refute */
    assert_int_equal(h_state(&h, 0, 9), PD_SWIM_SUSPECT);
    alive.inc = 2;
    inject(&h, 0, &alive);
    assert_int_equal(h_state(&h, 0, 9), PD_SWIM_ALIVE);
    assert_int_equal(h.ev[0][9], PD_SWIM_EV_ALIVE_AGAIN);
    dead.inc = 1; /* stale */
    inject(&h, 0, &dead);
    assert_int_equal(h_state(&h, 0, 9), PD_SWIM_ALIVE);
    dead.inc = 2; /* dead applies at >= our incarnation, even to an alive node */
    inject(&h, 0, &dead);
    assert_int_equal(h_state(&h, 0, 9), PD_SWIM_DEAD);
    assert_int_equal(h.ev[0][9], PD_SWIM_EV_DEAD);
    inject(&h, 0, &alive); /* same incarnation cannot resurrect */
    assert_int_equal(h_state(&h, 0, 9), PD_SWIM_DEAD);
    sus.inc = 5; /* suspect of a dead node: nothing */
    inject(&h, 0, &sus);
    assert_int_equal(h_state(&h, 0, 9), PD_SWIM_DEAD);
    alive.inc = 3;
    inject(&h, 0, &alive);
    assert_int_equal(h.ev[0][9], PD_SWIM_EV_ALIVE_AGAIN);
    /* A leave: dead from the node itself with the left flag. */
    pd_swim_msg_t left = {.type = PD_SWIM_MSG_DEAD, .node = B("node9"), .from = B("node9"), .inc = 3,
                          .left = 1};
    inject(&h, 0, &left);
    assert_int_equal(h_state(&h, 0, 9), PD_SWIM_LEFT);
    assert_int_equal(h.ev[0][9], PD_SWIM_EV_LEFT);
    /* Messages about unknown nodes (other than alive) are ignored. */
    pd_swim_msg_t ghost = {.type = PD_SWIM_MSG_SUSPECT, .node = B("node7"), .from = B("node8"), .inc = 9};
    inject(&h, 0, &ghost);
    assert_int_equal(h_state(&h, 0, 7), -1);
    h_free(&h);
}

static void test_refute(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 1, NULL, 6);
    uint32_t inc = pd_swim_incarnation(h.sw[0]);
    pd_swim_msg_t sus = {.type = PD_SWIM_MSG_SUSPECT, .node = B("node0"), .from = B("node3"), .inc = inc};
    inject(&h, 0, &sus);
    assert_int_equal(pd_swim_incarnation(h.sw[0]), inc + 1);
    assert_int_equal(pd_swim_awareness(h.sw[0]), 1); /* being suspected raises awareness */
    assert_int_equal(h_state(&h, 0, 0), PD_SWIM_ALIVE);
    pd_swim_msg_t dead = {.type = PD_SWIM_MSG_DEAD, .node = B("node0"), .from = B("node3"), .inc = 10};
    inject(&h, 0, &dead);
    assert_int_equal(pd_swim_incarnation(h.sw[0]), 11); /* jumps past the accusation */
    pd_swim_addr_t a0 = h_addr(0);
    pd_swim_msg_t alive = {.type = PD_SWIM_MSG_ALIVE, .node = B("node0"), .addr = a0, .inc = 20};
    inject(&h, 0, &alive); /* a newer "us": a previous life */
    assert_int_equal(pd_swim_incarnation(h.sw[0]), 21);
    assert_int_equal(pd_swim_stats(h.sw[0])->refutes, 3);
    h_free(&h);
}

static void test_buddy_refute(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 3, NULL, 7);
    h_join_all(&h);
    /* node1 cannot answer anyone for a while: it gets suspected (and hears of it, but its
     * refutation cannot get out until the cut heals). */
    uint32_t inc = pd_swim_incarnation(h.sw[1]);
    for (int j = 0; j < 3; j++)
        h.cut[1][j] = 1, h.cut_stream[1][j] = 1;
    uint64_t t = h.now;
    while (h.ev[0][1] != PD_SWIM_EV_SUSPECT && h.ev[2][1] != PD_SWIM_EV_SUSPECT)
        h_run_until(&h, t += 50);
    for (int j = 0; j < 3; j++)
        h.cut[1][j] = 0, h.cut_stream[1][j] = 0;
    h_run_until(&h, h.now + 3000);
    assert_true(pd_swim_incarnation(h.sw[1]) > inc);
    assert_int_equal(h.ev[0][1], PD_SWIM_EV_ALIVE_AGAIN);
    assert_int_equal(h_state(&h, 0, 1), PD_SWIM_ALIVE);
    assert_int_equal(h_state(&h, 2, 1), PD_SWIM_ALIVE);
    assert_int_equal(h.ev_count[0][PD_SWIM_EV_DEAD], 0);
    h_free(&h);
}

static void test_leave(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 3, NULL, 8);
    h_join_all(&h);
    h_run_until(&h, h.now + 2000);
    assert_int_equal(pd_swim_leave(h.sw[2], h.now, &h.rng), 0);
    h_run_until(&h, h.now + 1000);
    h.down[2] = 1; /* shut down after spreading the leave */
    h_run_until(&h, h.now + 20000);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(h.ev[i][2], PD_SWIM_EV_LEFT);
        assert_int_equal(h.ev_count[i][PD_SWIM_EV_DEAD], 0);
        assert_int_equal(h.ev_count[i][PD_SWIM_EV_SUSPECT], 0);
    }
    h_free(&h);
}

static void test_restart_higher_incarnation(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 3, NULL, 9);
    h_join_all(&h);
    /* Bump node2's incarnation a few times, then crash it until declared dead. */
    for (int k = 0; k < 3; k++) {
        uint8_t meta[1] = {(uint8_t)k};
        pd_swim_set_meta(h.sw[2], h.now, meta, 1);
    }
    h_run_until(&h, h.now + 2000);
    uint32_t old_inc = pd_swim_incarnation(h.sw[2]);
    assert_int_equal(old_inc, 4);
    h.down[2] = 1;
    h_run_until(&h, h.now + 15000);
    assert_int_equal(h_state(&h, 0, 2), PD_SWIM_DEAD);
    /* Restart with a fresh core (incarnation 1) and join: it learns its old life and bumps. */
    pd_swim_destroy(h.sw[2]);
    h_create(&h, 2, NULL);
    pd_swim_addr_t seed = h_addr(0);
    pd_swim_join(h.sw[2], h.now, &h.rng, &seed, 1);
    h_run_until(&h, h.now + 3000);
    assert_true(pd_swim_incarnation(h.sw[2]) > old_inc);
    assert_int_equal(h_state(&h, 0, 2), PD_SWIM_ALIVE);
    assert_int_equal(h_state(&h, 1, 2), PD_SWIM_ALIVE);
    assert_int_equal(h.ev[0][2], PD_SWIM_EV_ALIVE_AGAIN);
    h_free(&h);
}

typedef struct {
    uint64_t digest; /* what dg_digest reports */
    int gone, merged, msgs, saw_v1;
    char last_msg[32];
    char last_gone[16];
} dg_ctx_t;

static int dg_local(void *ctx, int join, const uint8_t **data, size_t *len)
{
    (void)ctx, (void)join;
    *data = (const uint8_t *)"table-state";
    *len = 11;
    return 0;
}

static void dg_merge(void *ctx, const uint8_t *data, size_t len, int join)
{
    dg_ctx_t *c = ctx;
    (void)join;
    if (len == 11 && memcmp(data, "table-state", 11) == 0)
        c->merged++;
}

static void dg_msg(void *ctx, const uint8_t *data, size_t len)
{
    dg_ctx_t *c = ctx;
    c->msgs++;
    c->saw_v1 |= len == 2 && memcmp(data, "v1", 2) == 0;
    snprintf(c->last_msg, sizeof c->last_msg, "%.*s", (int)len, (const char *)data);
}

static void dg_gone(void *ctx, const char *id, int left)
{
    dg_ctx_t *c = ctx;
    (void)left;
    c->gone++;
    snprintf(c->last_gone, sizeof c->last_gone, "%s", id);
}

static uint64_t dg_digest(void *ctx)
{
    return ((dg_ctx_t *)ctx)->digest;
}

/* Three nodes whose delegates are ctx[0..2] (digest: NULL or dg_digest). */
static void h_init_delegated(harness_t *h, dg_ctx_t ctx[3], uint64_t seed, uint64_t (*digest)(void *))
{
    memset(ctx, 0, 3 * sizeof *ctx);
    h_init(h, 3, NULL, seed);
    for (int i = 0; i < 3; i++) {
        pd_swim_destroy(h->sw[i]);
        pd_swim_delegate_t dg = {&ctx[i], dg_local, dg_merge, dg_msg, dg_gone, digest};
        h_create(h, i, &dg);
    }
}

static void test_delegate_and_meta(void **state)
{
    (void)state;
    harness_t h;
    dg_ctx_t ctx[3];
    h_init_delegated(&h, ctx, 10, NULL); /* no digest: every push/pull is full */
    h_join_all(&h);
    assert_true(ctx[0].merged >= 2 && ctx[1].merged >= 1);
    assert_int_equal(pd_swim_broadcast(h.sw[0], "k1", 2, (const uint8_t *)"v1", 2), 0);
    assert_int_equal(pd_swim_broadcast(h.sw[0], "k1", 2, (const uint8_t *)"v2", 2), 0); /* supersedes */
    h_run_until(&h, h.now + 2000);
    assert_true(ctx[1].msgs >= 1); /* maybe more than once: dedup is the delegate's job */
    assert_int_equal(ctx[1].saw_v1, 0);
    assert_string_equal(ctx[1].last_msg, "v2");
    assert_string_equal(ctx[2].last_msg, "v2");
    /* Metadata update reaches everyone as an update event. */
    assert_int_equal(pd_swim_set_meta(h.sw[1], h.now, (const uint8_t *)"role=mgr", 8), 0);
    h_run_until(&h, h.now + 2000);
    assert_int_equal(h.ev[0][1], PD_SWIM_EV_UPDATE);
    pd_swim_member_info_t info;
    assert_int_equal(pd_swim_member(h.sw[2], "node1", &info), 0);
    assert_int_equal(info.meta_len, 8);
    assert_memory_equal(info.meta, "role=mgr", 8);
    uint8_t big[PD_SWIM_META_MAX + 1] = {0};
    assert_int_equal(pd_swim_set_meta(h.sw[1], h.now, big, sizeof big), -PD_EUSAGE);
    /* A dead node is handed to the delegate so its entries go. */
    h.down[2] = 1;
    h_run_until(&h, h.now + 15000);
    assert_int_equal(ctx[0].gone, 1);
    assert_string_equal(ctx[0].last_gone, "node2");
    h_free(&h);
}

/* The periodic push/pull is a sync datagram while states agree; a difference (here in the
 * delegate's state) brings the full exchange over a stream. */
static void test_sync_digest(void **state)
{
    (void)state;
    harness_t h;
    dg_ctx_t ctx[3];
    h_init_delegated(&h, ctx, 12, dg_digest);
    for (int i = 0; i < 3; i++)
        ctx[i].digest = 42;
    h_join_all(&h);
    h_run_until(&h, h.now + 10000); /* the catch-ups after the joins: syncs, states equal */
    uint64_t pp_before = 0, syncs = 0, differed = 0;
    for (int i = 0; i < 3; i++)
        pp_before += pd_swim_stats(h.sw[i])->pushpull_sent;
    h_run_until(&h, h.now + 65000); /* two periodic rounds (30 s at N=3) */
    uint64_t pp_after = 0;
    for (int i = 0; i < 3; i++) {
        const pd_swim_stats_t *st = pd_swim_stats(h.sw[i]);
        pp_after += st->pushpull_sent, syncs += st->syncs_sent, differed += st->syncs_differed;
    }
    assert_true(syncs >= 6);
    assert_int_equal(differed, 0);
    assert_int_equal(pp_after, pp_before);
    int merged = ctx[0].merged + ctx[1].merged + ctx[2].merged;
    ctx[1].digest = 43; /* node1's table changed and gossip did not carry it */
    h_run_until(&h, h.now + 65000);
    differed = pp_after = 0;
    for (int i = 0; i < 3; i++) {
        differed += pd_swim_stats(h.sw[i])->syncs_differed;
        pp_after += pd_swim_stats(h.sw[i])->pushpull_sent;
    }
    assert_true(differed >= 1);
    assert_true(pp_after > pp_before);
    assert_true(ctx[0].merged + ctx[1].merged + ctx[2].merged > merged);
    h_free(&h);
}

static uint64_t pp_recv_total(harness_t *h)
{
    uint64_t n = 0;
    for (int i = 0; i < h->n; i++)
        n += pd_swim_stats(h->sw[i])->pushpull_recv;
    return n;
}

/* The catch-up after a join is a sync: when the joiner already holds what its peer holds (the
 * join answer was the whole state and gossip brought the rest), no state crosses a stream. */
static void test_catchup_sync_equal(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 3, NULL, 21);
    h_join_all(&h);
    uint64_t joined = pp_recv_total(&h); /* 2 join requests and their 2 answers */
    assert_int_equal(joined, 4);
    h_run_until(&h, h.now + 10000); /* catch-ups come 1-3 probe intervals after a join */
    uint64_t syncs = 0, differed = 0, pp_sent = 0;
    for (int i = 0; i < 3; i++) {
        const pd_swim_stats_t *st = pd_swim_stats(h.sw[i]);
        syncs += st->syncs_sent, differed += st->syncs_differed, pp_sent += st->pushpull_sent;
        assert_int_equal(pd_swim_count(h.sw[i], PD_SWIM_ALIVE), 3);
    }
    assert_true(syncs >= 2); /* node1's and node2's catch-ups */
    assert_int_equal(differed, 0);
    assert_int_equal(pp_sent, 2); /* the joins only */
    assert_int_equal(pp_recv_total(&h), joined);
    h_free(&h);
}

/* node2 joins through node0, but the answer it gets is stale (it lists node0 only, as a seed
 * whose table lagged would send) and node0 never sees the join request. node2's own alive
 * (queued since its start) reaches node0 on its first ping, but nothing in anyone's queue tells
 * node2 of node1: only the catch-up can. Its sync finds the digests different, node0 starts the
 * full exchange, and all three converge. (A catch-up from a 2-member view is lost when all 6 of
 * pd_swim__pick's tries land on the node itself, 1 in 64, for full push/pulls as for syncs; the
 * periodic one repairs it later. Seed 22 does that; 23 does not.) */
static void test_catchup_sync_differs_converges(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 3, NULL, 23);
    pd_swim_addr_t seed = h_addr(0);
    pd_swim_join(h.sw[1], h.now, &h.rng, &seed, 1);
    h_deliver(&h);
    h_run_until(&h, h.now + 10000);
    assert_int_equal(pd_swim_count(h.sw[0], PD_SWIM_ALIVE), 2);

    assert_int_equal(pd_swim_join(h.sw[2], h.now, &h.rng, &seed, 1), 0);
    pd_swim_ready_t r;
    pd_swim_ready(h.sw[2], &r);
    pd_swim_msg_t *req = calloc(1, sizeof *req), *ans = calloc(1, sizeof *ans);
    int found = 0;
    for (size_t i = 0; i < r.n_packets && !found; i++) {
        if ((r.packets[i].flags & PD_SWIM_PKT_STREAM) && pd_swim_wire_decode(r.packets[i].data, r.packets[i].len, req) == 0) {
            found = req->type == PD_SWIM_MSG_PUSHPULL && req->join && !req->reply;
            if (found)
                ans->seq = req->seq;
            pd_swim_wire_release(req);
        }
    }
    assert_true(found);
    pd_swim_advance(h.sw[2]); /* the request never reaches node0 */
    pd_swim_wire_node_t n0 = {B("node0"), h_addr(0), {NULL, 0}, 1, PD_SWIM_ALIVE};
    ans->type = PD_SWIM_MSG_PUSHPULL, ans->join = 1, ans->reply = 1, ans->n_nodes = 1, ans->nodes = &n0;
    uint8_t buf[512];
    size_t len;
    assert_int_equal(pd_swim_wire_encode(ans, buf, sizeof buf, &len), 0);
    assert_int_equal(pd_swim_recv(h.sw[2], h.now, &h.rng, &seed, buf, len, PD_SWIM_PKT_STREAM), 0);
    free(req), free(ans);
    assert_int_equal(pd_swim_count(h.sw[2], PD_SWIM_ALIVE), 2);
    assert_int_equal(pd_swim_count(h.sw[0], PD_SWIM_ALIVE), 2);

    h_run_until(&h, h.now + 900); /* before the catch-up (1-3 probe intervals after the join) */
    assert_int_equal(h_state(&h, 2, 1), -1);
    h_run_until(&h, h.now + 5000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pd_swim_count(h.sw[i], PD_SWIM_ALIVE), 3);
    assert_true(pd_swim_stats(h.sw[2])->syncs_sent >= 1);
    assert_int_equal(pd_swim_stats(h.sw[2])->pushpull_sent, 1); /* its join only */
    assert_true(pd_swim_stats(h.sw[0])->syncs_differed >= 1);
    h_free(&h);
}

static void test_bad_packets_counted(void **state)
{
    (void)state;
    harness_t h;
    h_init(&h, 1, NULL, 11);
    pd_swim_addr_t from = h_addr(5);
    const uint8_t junk[] = {0x83, 0xa1, 'v', 0x01, 0xa1, 't', 0x63, 0xa1, 's', 0x01};
    assert_int_equal(pd_swim_recv(h.sw[0], h.now, &h.rng, &from, junk, sizeof junk, 0), -PD_EUNKNOWN_TYPE);
    assert_true(pd_swim_recv(h.sw[0], h.now, &h.rng, &from, junk, 3, 0) < 0);
    assert_int_equal(pd_swim_stats(h.sw[0])->rx_unknown_type, 1);
    assert_int_equal(pd_swim_stats(h.sw[0])->rx_decode_errors, 2);
    pd_swim_ready_t r;
    pd_swim_ready(h.sw[0], &r);
    assert_int_equal(r.n_packets, 0);
    h_free(&h);
}

static void test_packet_budget(void **state)
{
    (void)state;
    /* With many queued broadcasts, no datagram exceeds packet_max. */
    pd_swim_config_t cfg;
    pd_swim_config_default(&cfg);
    cfg.packet_max = 512;
    harness_t h;
    h_init(&h, 2, &cfg, 12);
    h_join_all(&h);
    for (int k = 0; k < 100; k++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", k);
        pd_swim_broadcast(h.sw[0], key, strlen(key), (const uint8_t *)"0123456789abcdef", 16);
    }
    h_run_until(&h, h.now + 1000);
    pd_swim_tick(h.sw[0], h.now + 200, &h.rng);
    pd_swim_ready_t r;
    pd_swim_ready(h.sw[0], &r);
    assert_true(r.n_packets >= 1);
    for (size_t i = 0; i < r.n_packets; i++) {
        if (!(r.packets[i].flags & PD_SWIM_PKT_STREAM))
            assert_true(r.packets[i].len <= 512);
    }
    h_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_probe_ack),
        cmocka_unit_test(test_crash_suspect_dead),
        cmocka_unit_test(test_indirect_ack_and_nack),
        cmocka_unit_test(test_awareness_rises_when_isolated),
        cmocka_unit_test(test_incarnation_rules),
        cmocka_unit_test(test_refute),
        cmocka_unit_test(test_buddy_refute),
        cmocka_unit_test(test_leave),
        cmocka_unit_test(test_restart_higher_incarnation),
        cmocka_unit_test(test_delegate_and_meta),
        cmocka_unit_test(test_sync_digest),
        cmocka_unit_test(test_catchup_sync_equal),
        cmocka_unit_test(test_catchup_sync_differs_converges),
        cmocka_unit_test(test_dead_refutes_and_is_not_reaped),
        cmocka_unit_test(test_bad_packets_counted),
        cmocka_unit_test(test_packet_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
