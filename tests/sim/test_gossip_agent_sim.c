/* The gossip agent (SWIM + endpoint table + sealed frames, gossip/gossip_agent.h) as simulated
 * nodes: the same object the daemon drives, with real encryption and deterministic nonces.
 *   (a) key rotation mid-run at N=30: install a new key everywhere over a few seconds, use it,
 *       remove the old one; no live node is ever declared dead, membership stays full;
 *   (b) endpoint-table convergence after churn: writers put/delete while other nodes crash and
 *       restart under loss, and two writers crash for good; after healing every live node's
 *       visible table is exactly the live writers' latest writes;
 *   (c) 10% random loss for 120 s at N=50: no live node declared dead (20% is measured and
 *       printed, not asserted).
 * Nodes are addressed and framed as in tests/sim/lib/sim_gossip.h. Seeds: PD_SIM_SEED /
 * PD_SIM_SEEDS (defaults keep the whole executable well under a minute under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip_agent.h"
#include "pd_alloc.h"
#include "sim.h"
#include "sim_gossip.h"

enum { GA_KEYS_PER_WRITER = 6, GA_VALUE_MAX = 32 };

typedef struct {
    uint8_t live;
    char value[GA_VALUE_MAX];
} ga_model_ent_t;

typedef struct {
    uint32_t n;
    pd_swim_config_t swim;
    pd_keyring_t ring; /* what a node boots with */
    uint8_t *down;     /* crashed by the test (dead is a right answer for them) */
    uint64_t false_dead, dead_seen;
    pd_sim_t *sim;
    ga_model_ent_t *model; /* [n][GA_KEYS_PER_WRITER]: each writer's latest writes */
} ga_world_t;

typedef struct {
    pd_sim_t *sim;
    uint32_t idx;
    pd_gagent_t *a;
    pd_rng_t rng;
    ga_world_t *w;
    uint8_t *buf;
    size_t cap;
} ga_node_t;

static void ga_flush(ga_node_t *nd)
{
    pd_gagent_ready_t r;
    pd_gagent_ready(nd->a, &nd->rng, &r);
    ga_world_t *w = nd->w;
    for (size_t i = 0; i < r.n_events; i++) {
        const pd_swim_event_t *e = &r.events[i];
        uint32_t subj = pd_simg_subject(e->node);
        if (e->type == PD_SWIM_EV_DEAD) {
            w->dead_seen++;
            if (subj < w->n && !w->down[subj])
                w->false_dead++;
        }
    }
    for (size_t i = 0; i < r.n_pkts; i++) {
        const pd_gagent_pkt_t *p = &r.pkts[i];
        pd_simg_send(nd->sim, nd->idx, w->n, &p->to, (uint8_t)(p->stream != 0), p->data, p->len, &nd->buf,
                     &nd->cap);
    }
    pd_gagent_advance(nd->a);
}

static int ga_boot(pd_sim_t *sim, uint32_t node, uint64_t seed, pd_sim_disk_t *disk, void *ctx, void **state_out)
{
    (void)disk;
    ga_world_t *w = ctx;
    ga_node_t *nd = pd_calloc(1, sizeof *nd);
    if (!nd)
        return -1;
    nd->sim = sim, nd->idx = node, nd->w = w;
    pd_rng_seed(&nd->rng, seed);
    char id[16];
    snprintf(id, sizeof id, "n%u", node);
    pd_gagent_config_t c;
    pd_gagent_config_default(&c);
    c.node_id = id;
    c.addr = pd_simg_addr(node);
    c.keyring = &w->ring;
    c.label = "peerd-sim";
    c.deterministic_nonces = 1;
    c.swim = w->swim;
    int rc = pd_gagent_create(&c, pd_sim_now(sim), &nd->a);
    if (rc) {
        pd_free(nd);
        return rc;
    }
    if (node != 0) {
        pd_swim_addr_t seedaddr = pd_simg_addr(0);
        pd_gagent_join(nd->a, pd_sim_now(sim), &nd->rng, &seedaddr, 1);
    }
    ga_flush(nd);
    *state_out = nd;
    return 0;
}

static void ga_on_message(void *st, uint64_t now_ms, uint32_t from, const uint8_t *data, size_t len)
{
    ga_node_t *nd = st;
    if (len < 1)
        return;
    pd_swim_addr_t fa = pd_simg_addr(from);
    pd_gagent_recv(nd->a, now_ms, &nd->rng, &fa, data + 1, len - 1, data[0]);
    ga_flush(nd);
}

static void ga_on_timer(void *st, uint64_t now_ms)
{
    ga_node_t *nd = st;
    pd_gagent_tick(nd->a, now_ms, &nd->rng);
    ga_flush(nd);
}

static uint64_t ga_next_deadline(void *st)
{
    return pd_swim_next_deadline_ms(pd_gagent_swim(((ga_node_t *)st)->a));
}

static void ga_destroy(void *st)
{
    ga_node_t *nd = st;
    pd_gagent_destroy(nd->a);
    pd_free(nd->buf);
    pd_free(nd);
}

static const pd_sim_node_ops_t ga_ops = {ga_boot, ga_on_message, ga_on_timer, ga_next_deadline, ga_destroy};

static pd_gagent_t *ga_agent(pd_sim_t *sim, uint32_t i)
{
    ga_node_t *nd = pd_sim_node_state(sim, i);
    return nd ? nd->a : NULL;
}

static void ga_key(uint8_t k[PD_KEYRING_KEY_LEN], uint8_t tag)
{
    for (int i = 0; i < PD_KEYRING_KEY_LEN; i++)
        k[i] = (uint8_t)(tag * 31 + i);
}

static pd_sim_t *ga_world_new(ga_world_t *w, uint32_t n, uint64_t seed, const pd_sim_net_opts_t *net)
{
    memset(w, 0, sizeof *w);
    w->n = n;
    pd_swim_config_default(&w->swim);
    pd_keyring_init(&w->ring);
    uint8_t k1[PD_KEYRING_KEY_LEN];
    ga_key(k1, 1);
    if (pd_keyring_install(&w->ring, k1) != 0)
        abort();
    w->down = calloc(n, 1);
    w->model = calloc((size_t)n * GA_KEYS_PER_WRITER, sizeof *w->model);
    pd_sim_opts_t o = pd_sim_opts_default(&ga_ops, n, seed);
    o.ctx = w;
    if (net)
        o.net = *net;
    if (pd_sim_new(&o, &w->sim) != 0 || !w->down || !w->model)
        abort();
    return w->sim;
}

static void ga_world_free(ga_world_t *w)
{
    pd_sim_destroy(w->sim);
    pd_keyring_free(&w->ring);
    free(w->down);
    free(w->model);
}

/* Every up node sees exactly the up nodes as members (alive or suspect: still members). With
 * strict, also nothing suspect and nothing else alive. */
static int ga_members_full(ga_world_t *w, int strict)
{
    uint32_t up = 0;
    for (uint32_t i = 0; i < w->n; i++)
        up += pd_sim_node_up(w->sim, i);
    for (uint32_t i = 0; i < w->n; i++) {
        pd_gagent_t *a = ga_agent(w->sim, i);
        if (!a)
            continue;
        pd_swim_t *sw = pd_gagent_swim(a);
        uint32_t alive = pd_swim_count(sw, PD_SWIM_ALIVE), susp = pd_swim_count(sw, PD_SWIM_SUSPECT);
        if (strict ? (alive != up || susp != 0) : alive + susp != up)
            return 0;
    }
    return 1;
}

static uint64_t ga_run_until_converged(ga_world_t *w, uint64_t max_ms)
{
    while (pd_sim_now(w->sim) < max_ms) {
        pd_sim_run_until(w->sim, pd_sim_now(w->sim) + 100);
        if (ga_members_full(w, 1))
            return pd_sim_now(w->sim);
    }
    return 0;
}

/* ---- (a) key rotation ------------------------------------------------------------------------ */

typedef enum { ROT_INSTALL, ROT_USE, ROT_REMOVE } rot_step_t;

/* Each node does `step` at its own random time in [from, from + spread_ms), while the cluster
 * runs; membership must stay full at every 100 ms check. */
static void rotate_phase(ga_world_t *w, rot_step_t step, uint64_t spread_ms, uint64_t *at)
{
    pd_rng_t *rng = pd_sim_rng(w->sim);
    uint64_t from = pd_sim_now(w->sim);
    for (uint32_t i = 0; i < w->n; i++)
        at[i] = from + pd_rng_below(rng, spread_ms);
    uint8_t k1[PD_KEYRING_KEY_LEN], k2[PD_KEYRING_KEY_LEN];
    ga_key(k1, 1);
    ga_key(k2, 2);
    for (uint64_t t = from; t < from + spread_ms + 2000; t += 100) {
        pd_sim_run_until(w->sim, t);
        for (uint32_t i = 0; i < w->n; i++) {
            if (at[i] > t || at[i] == UINT64_MAX)
                continue;
            at[i] = UINT64_MAX;
            pd_keyring_t *kr = pd_gagent_keyring(ga_agent(w->sim, i));
            int rc = step == ROT_INSTALL ? pd_keyring_install(kr, k2)
                   : step == ROT_USE     ? pd_keyring_use(kr, k2)
                                         : pd_keyring_remove(kr, k1);
            PD_SIM_ASSERT(w->sim, rc == 0);
        }
        PD_SIM_ASSERT(w->sim, ga_members_full(w, 0));
        PD_SIM_ASSERT(w->sim, w->false_dead == 0);
    }
}

static void sim_fail_cmocka(const char *file, int line)
{
    _fail(file, line);
}

static void test_key_rotation(void **state)
{
    (void)state;
    pd_sim_set_fail_handler(sim_fail_cmocka);
    const uint32_t n = 30;
    PD_SIM_FOR_EACH_SEED(it, 101, 2) {
        ga_world_t w;
        pd_sim_net_opts_t net = pd_sim_net_opts_default();
        net.loss_p = 0.01;
        ga_world_new(&w, n, it.seed, &net);
        assert_int_equal(pd_sim_start_all(w.sim), 0);
        assert_true(ga_run_until_converged(&w, 30000) > 0);
        uint64_t at[30];
        uint64_t t0 = pd_sim_now(w.sim);
        rotate_phase(&w, ROT_INSTALL, 3000, at);
        rotate_phase(&w, ROT_USE, 3000, at);
        rotate_phase(&w, ROT_REMOVE, 3000, at);
        pd_sim_run_until(w.sim, pd_sim_now(w.sim) + 20000); /* life on the new key alone */
        uint64_t auth_fail = 0, unknown = 0, opened = 0;
        for (uint32_t i = 0; i < n; i++) {
            pd_gagent_t *a = ga_agent(w.sim, i);
            const pd_gcrypto_stats_t *cs = pd_gagent_crypto_stats(a);
            auth_fail += cs->auth_fail, unknown += cs->unknown_key, opened += cs->opened;
            assert_int_equal(pd_keyring_count(pd_gagent_keyring(a)), 1);
        }
        assert_true(ga_members_full(&w, 1));
        fprintf(stderr,
                "gagent sim: seed %lu N=%u key rotation over %lu ms: full membership throughout, "
                "%lu false dead, frames opened %lu, unknown key %lu, auth fail %lu\n",
                (unsigned long)it.seed, n, (unsigned long)(pd_sim_now(w.sim) - t0),
                (unsigned long)w.false_dead, (unsigned long)opened, (unsigned long)unknown,
                (unsigned long)auth_fail);
        assert_int_equal(w.false_dead, 0);
        assert_int_equal(auth_fail, 0);
        ga_world_free(&w);
    }
}

/* ---- (b) endpoint table after churn ----------------------------------------------------------- */

/* Nodes 1..WRITERS write; WRITERS+1.. churn (crash and restart); node 0 is the seed and stays. The
 * last two writers crash for good halfway. */
enum { TB_N = 24, TB_WRITERS = 8 };

static void tb_key(char *out, size_t cap, uint32_t owner, uint32_t k)
{
    snprintf(out, cap, "n%u.k%u", owner, k);
}

static void tb_write(ga_world_t *w, uint32_t owner, pd_rng_t *rng)
{
    uint32_t k = (uint32_t)pd_rng_below(rng, GA_KEYS_PER_WRITER);
    ga_model_ent_t *m = &w->model[owner * GA_KEYS_PER_WRITER + k];
    char key[32];
    tb_key(key, sizeof key, owner, k);
    pd_gagent_t *a = ga_agent(w->sim, owner);
    uint64_t now = pd_sim_now(w->sim);
    if (m->live && pd_rng_chance(rng, 0.3)) {
        PD_SIM_ASSERT(w->sim, pd_gagent_del(a, now, "svc", key) == 0);
        m->live = 0;
        return;
    }
    snprintf(m->value, sizeof m->value, "10.1.%u.%u:%u", owner, k, (unsigned)pd_rng_below(rng, 60000));
    PD_SIM_ASSERT(w->sim, pd_gagent_put(a, now, "svc", key, m->value, strlen(m->value)) == 0);
    m->live = 1;
}

typedef struct {
    ga_world_t *w;
    uint32_t seen, bad;
} tb_check_t;

static int tb_visit(void *ctx, const pd_gtable_view_t *e)
{
    tb_check_t *c = ctx;
    unsigned owner = 0, k = 0;
    c->seen++;
    if (sscanf(e->key, "n%u.k%u", &owner, &k) != 2 || owner >= c->w->n || k >= GA_KEYS_PER_WRITER) {
        c->bad++;
        return 0;
    }
    const ga_model_ent_t *m = &c->w->model[owner * GA_KEYS_PER_WRITER + k];
    char who[16];
    snprintf(who, sizeof who, "n%u", owner);
    int ok = m->live && !c->w->down[owner] && strcmp(e->owner, who) == 0 &&
             e->value_len == strlen(m->value) && memcmp(e->value, m->value, e->value_len) == 0;
    c->bad += !ok;
    return 0;
}

static int tb_dump(void *ctx, const pd_gtable_view_t *e)
{
    (void)ctx;
    fprintf(stderr, "  have %s = %.*s (owner %s, lamport %lu)\n", e->key, (int)e->value_len,
            (const char *)e->value, e->owner, (unsigned long)e->lamport);
    return 0;
}

/* Live writers' live entries, seen by every up node, and nothing else. */
static int tb_tables_match(ga_world_t *w, uint32_t *bad_node)
{
    uint32_t expect = 0;
    for (uint32_t o = 1; o <= TB_WRITERS; o++) {
        for (uint32_t k = 0; k < GA_KEYS_PER_WRITER; k++)
            expect += !w->down[o] && w->model[o * GA_KEYS_PER_WRITER + k].live;
    }
    for (uint32_t i = 0; i < w->n; i++) {
        pd_gagent_t *a = ga_agent(w->sim, i);
        if (!a)
            continue;
        tb_check_t c = {w, 0, 0};
        pd_gtable_foreach(pd_gagent_table(a), "svc", tb_visit, &c);
        if (c.bad || c.seen != expect) {
            *bad_node = i;
            return 0;
        }
    }
    return 1;
}

static void test_table_after_churn(void **state)
{
    (void)state;
    pd_sim_set_fail_handler(sim_fail_cmocka);
    PD_SIM_FOR_EACH_SEED(it, 201, 2) {
        ga_world_t w;
        pd_sim_net_opts_t net = pd_sim_net_opts_default();
        pd_sim_t *sim = ga_world_new(&w, TB_N, it.seed, &net);
        pd_rng_t *rng = pd_sim_rng(sim);
        assert_int_equal(pd_sim_start_all(sim), 0);
        assert_true(ga_run_until_converged(&w, 30000) > 0);

        /* Fault phase: 60 s of writes (about 8 a second), 5% loss, churners crashing and coming
         * back 2-12 s later; the last two writers crash for good at 30 s. */
        net.loss_p = 0.05;
        pd_sim_net_set(sim, &net);
        uint64_t t0 = pd_sim_now(sim), restart_at[TB_N] = {0};
        uint32_t crashes = 0, writes = 0;
        for (uint64_t t = t0; t < t0 + 60000; t += 125) {
            pd_sim_run_until(sim, t);
            uint32_t wr = 1 + (uint32_t)pd_rng_below(rng, TB_WRITERS);
            if (!w.down[wr]) {
                tb_write(&w, wr, rng);
                writes++;
            }
            for (uint32_t i = TB_WRITERS + 1; i < TB_N; i++) {
                if (w.down[i] && t >= restart_at[i]) {
                    w.down[i] = 0;
                    assert_int_equal(pd_sim_node_restart(sim, i), 0);
                }
            }
            if (pd_rng_chance(rng, 0.04)) { /* ~1 crash every 3 s */
                uint32_t v = TB_WRITERS + 1 + (uint32_t)pd_rng_below(rng, TB_N - TB_WRITERS - 1);
                if (!w.down[v]) {
                    w.down[v] = 1;
                    restart_at[v] = t + pd_rng_range(rng, 2000, 12000);
                    assert_int_equal(pd_sim_node_crash(sim, v), 0);
                    crashes++;
                }
            }
            if (t - t0 == 30000) {
                for (uint32_t v = TB_WRITERS - 1; v <= TB_WRITERS; v++) {
                    w.down[v] = 1;
                    assert_int_equal(pd_sim_node_crash(sim, v), 0);
                }
            }
        }
        /* Heal: no loss, the crashed churners back. Liveness: membership and tables converge. */
        net.loss_p = 0;
        pd_sim_net_set(sim, &net);
        for (uint32_t i = TB_WRITERS + 1; i < TB_N; i++) {
            if (w.down[i]) {
                w.down[i] = 0;
                assert_int_equal(pd_sim_node_restart(sim, i), 0);
            }
        }
        uint64_t heal = pd_sim_now(sim), done = 0;
        uint32_t bad = 0;
        while (pd_sim_now(sim) < heal + 90000) {
            pd_sim_run_until(sim, pd_sim_now(sim) + 250);
            if (ga_members_full(&w, 1) && tb_tables_match(&w, &bad)) {
                done = pd_sim_now(sim);
                break;
            }
        }
        uint32_t entries = 0;
        for (uint32_t i = 0; i < TB_N * GA_KEYS_PER_WRITER; i++)
            entries += w.model[i].live && !w.down[i / GA_KEYS_PER_WRITER];
        fprintf(stderr,
                "gagent sim: seed %lu N=%u churn 60 s (5%% loss, %u writes, %u churn crashes, 2 writers "
                "gone): %u live entries; tables and membership converged %lu ms after heal%s\n",
                (unsigned long)it.seed, TB_N, writes, crashes, entries,
                (unsigned long)(done ? done - heal : 0), done ? "" : " (NOT CONVERGED)");
        if (!done) {
            fprintf(stderr, "gagent sim: first mismatching node n%u, members full %d\n", bad,
                    ga_members_full(&w, 1));
            pd_gagent_t *ba = ga_agent(sim, bad);
            pd_gtable_foreach(pd_gagent_table(ba), "svc", tb_dump, NULL);
            for (uint32_t i = 0; i < TB_N * GA_KEYS_PER_WRITER; i++) {
                if (w.model[i].live && !w.down[i / GA_KEYS_PER_WRITER])
                    fprintf(stderr, "  want n%u.k%u = %s\n", i / GA_KEYS_PER_WRITER, i % GA_KEYS_PER_WRITER,
                            w.model[i].value);
            }
        }
        assert_true(done > 0);
        ga_world_free(&w);
    }
}

/* ---- (c) random loss --------------------------------------------------------------------------- */

static void loss_run(uint64_t seed, double loss, uint64_t *false_dead, uint64_t *suspects, uint64_t *refutes)
{
    const uint32_t n = 50;
    ga_world_t w;
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    pd_sim_t *sim = ga_world_new(&w, n, seed, &net);
    assert_int_equal(pd_sim_start_all(sim), 0);
    assert_true(ga_run_until_converged(&w, 30000) > 0);
    net.loss_p = loss;
    pd_sim_net_set(sim, &net);
    pd_sim_run_until(sim, pd_sim_now(sim) + 120000);
    *suspects = *refutes = 0;
    for (uint32_t i = 0; i < n; i++) {
        const pd_swim_stats_t *st = pd_swim_stats(pd_gagent_swim(ga_agent(sim, i)));
        *suspects += st->suspects_raised;
        *refutes += st->refutes;
    }
    *false_dead = w.false_dead;
    ga_world_free(&w);
}

static void test_loss(void **state)
{
    (void)state;
    pd_sim_set_fail_handler(sim_fail_cmocka);
    uint64_t fd, su, re;
    PD_SIM_FOR_EACH_SEED(it, 301, 1) {
        loss_run(it.seed, 0.10, &fd, &su, &re);
        fprintf(stderr,
                "gagent sim: seed %lu N=50 10%% loss 120 s: %lu suspicions raised, %lu refutes, %lu "
                "false dead (%.3f per node-hour)\n",
                (unsigned long)it.seed, (unsigned long)su, (unsigned long)re, (unsigned long)fd,
                (double)fd / (50.0 * 120.0 / 3600.0));
        assert_int_equal(fd, 0);
    }
    /* 20%: measured, not asserted. */
    PD_SIM_FOR_EACH_SEED(it, 401, 1) {
        loss_run(it.seed, 0.20, &fd, &su, &re);
        fprintf(stderr,
                "gagent sim: seed %lu N=50 20%% loss 120 s: %lu suspicions raised, %lu refutes, %lu "
                "false dead (%.3f per node-hour)\n",
                (unsigned long)it.seed, (unsigned long)su, (unsigned long)re, (unsigned long)fd,
                (double)fd / (50.0 * 120.0 / 3600.0));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_key_rotation, pd_sim_cmocka_teardown),
        cmocka_unit_test_teardown(test_table_after_churn, pd_sim_cmocka_teardown),
        cmocka_unit_test_teardown(test_loss, pd_sim_cmocka_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
