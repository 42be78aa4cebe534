/* core/daemon/gossip_rotation: the gossip key rotation's phase machine as a pure function
 * (record + members' published key ids + time -> wait / advance / stalled), the rings of each
 * phase (consecutive rings must understand each other), and the record codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gossip_rotation.h"
#include "pd_err.h"

static uint8_t K1[PD_KEYRING_KEY_LEN], K2[PD_KEYRING_KEY_LEN], K3[PD_KEYRING_KEY_LEN];

static void keys(void)
{
    memset(K1, 0x11, sizeof K1);
    memset(K2, 0x22, sizeof K2);
    memset(K3, 0x33, sizeof K3);
}

/* A member holding these keys, the first as primary. */
static void member(pd_gkr_member_t *m, const char *id, const uint8_t *k0, const uint8_t *k1)
{
    memset(m, 0, sizeof *m);
    m->node_id = id;
    m->reported = 1;
    pd_keyring_key_id(k0, m->ids[m->n_ids++]);
    if (k1)
        pd_keyring_key_id(k1, m->ids[m->n_ids++]);
}

static void test_phases_in_order(void **state)
{
    keys();
    pd_gkr_record_t r, b, u, rm, idle;
    pd_gkr_record_init(&r, K1, 1000);
    assert_int_equal(r.phase, PD_GKR_IDLE);
    assert_int_equal(pd_gkr_begin(&r, K2, 2000, &b), 0);
    assert_int_equal(b.phase, PD_GKR_INSTALL);
    assert_int_equal(b.gen, r.gen + 1);
    assert_int_equal(b.started_ms, 2000);
    pd_gkr_advance(&b, 3000, &u);
    assert_int_equal(u.phase, PD_GKR_USE);
    pd_gkr_advance(&u, 4000, &rm);
    assert_int_equal(rm.phase, PD_GKR_REMOVE);
    pd_gkr_advance(&rm, 5000, &idle);
    assert_int_equal(idle.phase, PD_GKR_IDLE);
    assert_memory_equal(idle.cur, K2, sizeof K2);
    assert_int_equal(idle.rotations, 1);
    assert_int_equal(idle.gen, r.gen + 4);
    pd_gkr_record_t again;
    pd_gkr_advance(&idle, 6000, &again); /* idle does not move */
    assert_int_equal(again.gen, idle.gen);
    assert_int_equal(again.phase, PD_GKR_IDLE);
}

static void test_begin_refused(void **state)
{
    keys();
    pd_gkr_record_t r, b, c;
    pd_gkr_record_init(&r, K1, 0);
    assert_int_equal(pd_gkr_begin(&r, K1, 1, &b), -PD_EEXISTS);
    assert_int_equal(pd_gkr_begin(&r, K2, 1, &b), 0);
    assert_int_equal(pd_gkr_begin(&b, K3, 2, &c), -PD_ESTATE); /* one rotation at a time */
}

/* Each phase's ring, and: every ring can open what the previous one seals and vice versa. */
static void test_rings_overlap(void **state)
{
    keys();
    pd_gkr_record_t r[4];
    pd_gkr_record_init(&r[0], K1, 0);
    pd_gkr_begin(&r[0], K2, 1, &r[1]);
    pd_gkr_advance(&r[1], 2, &r[2]);
    pd_gkr_advance(&r[2], 3, &r[3]);
    const uint8_t *primary[4] = {K1, K1, K2, K2};
    const unsigned count[4] = {1, 2, 2, 1};
    pd_keyring_t kr[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pd_gkr_ring(&r[i], &kr[i]), 0);
        assert_int_equal(kr[i].count, count[i]);
        assert_memory_equal(pd_keyring_primary(&kr[i])->key, primary[i], PD_KEYRING_KEY_LEN);
        uint8_t ids[2][PD_KEYRING_ID_LEN];
        assert_int_equal(pd_gkr_ring_ids(&r[i], ids), count[i]);
        assert_memory_equal(ids[0], pd_keyring_primary(&kr[i])->id, PD_KEYRING_ID_LEN);
    }
    for (int i = 1; i < 4; i++) {
        assert_non_null(pd_keyring_find(&kr[i], pd_keyring_primary(&kr[i - 1])->id));
        assert_non_null(pd_keyring_find(&kr[i - 1], pd_keyring_primary(&kr[i])->id));
    }
    for (int i = 0; i < 4; i++)
        pd_keyring_free(&kr[i]);
}

static void test_step_waits_for_every_member(void **state)
{
    keys();
    pd_gkr_record_t r, b;
    pd_gkr_record_init(&r, K1, 0);
    pd_gkr_begin(&r, K2, 10000, &b);
    pd_gkr_member_t m[3];
    member(&m[0], "a", K1, K2);
    member(&m[1], "b", K1, NULL); /* has not installed the new key yet */
    member(&m[2], "c", K2, K1);   /* already further: still holds the new key */
    pd_gkr_step_t st;
    pd_gkr_step(&b, m, 3, 11000, PD_GKR_STALL_MS, &st);
    assert_int_equal(st.action, PD_GKR_WAIT);
    assert_int_equal(st.acked, 2);
    assert_int_equal(st.n_waiting, 1);
    assert_string_equal(st.waiting[0], "b");
    assert_false(st.stalled);
    member(&m[1], "b", K1, K2);
    pd_gkr_step(&b, m, 3, 11500, PD_GKR_STALL_MS, &st);
    assert_int_equal(st.action, PD_GKR_ADVANCE);
    assert_int_equal(st.acked, 3);
}

static void test_step_acks_per_phase(void **state)
{
    keys();
    pd_gkr_record_t r, inst, use, rm;
    pd_gkr_record_init(&r, K1, 0);
    pd_gkr_begin(&r, K2, 0, &inst);
    pd_gkr_advance(&inst, 0, &use);
    pd_gkr_advance(&use, 0, &rm);
    pd_gkr_member_t both_old_primary, both_new_primary, only_new, only_old;
    member(&both_old_primary, "x", K1, K2);
    member(&both_new_primary, "x", K2, K1);
    member(&only_new, "x", K2, NULL);
    member(&only_old, "x", K1, NULL);
    const pd_gkr_record_t *phases[3] = {&inst, &use, &rm};
    /* rows: install, use, remove; columns: the four members above */
    const int want[3][4] = {{1, 1, 1, 0}, {0, 1, 1, 0}, {0, 0, 1, 0}};
    const pd_gkr_member_t *ms[4] = {&both_old_primary, &both_new_primary, &only_new, &only_old};
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < 4; i++) {
            pd_gkr_step_t st;
            pd_gkr_step(phases[p], ms[i], 1, 0, PD_GKR_STALL_MS, &st);
            assert_int_equal(st.action == PD_GKR_ADVANCE, want[p][i]);
        }
}

static void test_step_unreported_and_stall(void **state)
{
    keys();
    pd_gkr_record_t r, b;
    pd_gkr_record_init(&r, K1, 0);
    pd_gkr_begin(&r, K2, 1000, &b);
    pd_gkr_member_t m[2];
    member(&m[0], "a", K1, K2);
    member(&m[1], "silent", K1, K2);
    m[1].reported = 0; /* no published key ids: never counted as an ack */
    pd_gkr_step_t st;
    pd_gkr_step(&b, m, 2, 1000 + PD_GKR_STALL_MS - 1, PD_GKR_STALL_MS, &st);
    assert_int_equal(st.action, PD_GKR_WAIT);
    assert_false(st.stalled);
    pd_gkr_step(&b, m, 2, 1000 + PD_GKR_STALL_MS, PD_GKR_STALL_MS, &st);
    assert_int_equal(st.action, PD_GKR_WAIT); /* stalled still waits: skipping would cut it off */
    assert_true(st.stalled);
    assert_string_equal(st.waiting[0], "silent");
    assert_int_equal(st.waiting_ms, PD_GKR_STALL_MS);
    /* idle: nothing to do whatever the members hold */
    pd_gkr_step(&r, m, 2, 0, PD_GKR_STALL_MS, &st);
    assert_int_equal(st.action, PD_GKR_NOTHING);
    /* no live members: the phase is trivially acked */
    pd_gkr_step(&b, NULL, 0, 1000, PD_GKR_STALL_MS, &st);
    assert_int_equal(st.action, PD_GKR_ADVANCE);
}

/* A node already past the record's phase (a restarting manager replaying older records) is not
 * moved back; an unrelated or earlier ring is not "ahead". */
static void test_ahead(void **state)
{
    keys();
    pd_gkr_record_t idle, inst, use, rm;
    pd_gkr_record_init(&idle, K1, 0);
    pd_gkr_begin(&idle, K2, 0, &inst);
    pd_gkr_advance(&inst, 0, &use);
    pd_gkr_advance(&use, 0, &rm);
    pd_gkr_member_t m_inst, m_use, m_rm, m_old, m_other;
    member(&m_inst, "x", K1, K2);
    member(&m_use, "x", K2, K1);
    member(&m_rm, "x", K2, NULL);
    member(&m_old, "x", K1, NULL);
    member(&m_other, "x", K3, NULL);
#define AHEAD(r, m) pd_gkr_ahead(&(r), (const uint8_t (*)[PD_KEYRING_ID_LEN])(m).ids, (m).n_ids)
    assert_true(AHEAD(inst, m_use));
    assert_true(AHEAD(inst, m_rm));
    assert_true(AHEAD(use, m_rm));
    assert_false(AHEAD(inst, m_inst));
    assert_false(AHEAD(inst, m_old));
    assert_false(AHEAD(use, m_inst));
    assert_false(AHEAD(rm, m_rm));
    assert_false(AHEAD(inst, m_other));
    assert_true(AHEAD(idle, m_inst));  /* idle before the rotation: its rings are later */
    assert_true(AHEAD(idle, m_use));
    assert_false(AHEAD(idle, m_old));
    assert_false(AHEAD(idle, m_rm));   /* one other key: later or older, cannot tell: follow */
#undef AHEAD
}

static void test_codec(void **state)
{
    keys();
    pd_gkr_record_t r, b, d;
    pd_gkr_record_init(&r, K1, 42);
    pd_gkr_begin(&r, K2, 4242, &b);
    b.rotations = 7;
    uint8_t buf[PD_GKR_RECORD_MAX];
    size_t len = 0;
    assert_int_equal(pd_gkr_record_encode(&b, buf, sizeof buf, &len), 0);
    assert_int_equal(pd_gkr_record_decode(buf, len, &d), 0);
    assert_int_equal(d.gen, b.gen);
    assert_int_equal(d.phase, PD_GKR_INSTALL);
    assert_memory_equal(d.cur, K1, sizeof K1);
    assert_memory_equal(d.next, K2, sizeof K2);
    assert_int_equal(d.started_ms, 4242);
    assert_int_equal(d.rotations, 7);
    assert_int_equal(pd_gkr_record_encode(&r, buf, sizeof buf, &len), 0);
    assert_int_equal(pd_gkr_record_decode(buf, len, &d), 0);
    assert_int_equal(d.phase, PD_GKR_IDLE);
    assert_int_equal(pd_gkr_record_encode(&b, buf, 8, &len), -PD_ETOOBIG);
    /* every truncation and a wrong version are refused */
    assert_int_equal(pd_gkr_record_encode(&b, buf, sizeof buf, &len), 0);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_not_equal(pd_gkr_record_decode(buf, cut, &d), 0);
    const uint8_t garbage[] = {0x81, 0xa1, 'v', 0x02};
    assert_int_equal(pd_gkr_record_decode(garbage, sizeof garbage, &d), -PD_EVERSION);
    const uint8_t not_map[] = {0x93, 1, 2, 3};
    assert_int_equal(pd_gkr_record_decode(not_map, sizeof not_map, &d), -PD_EMALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phases_in_order),
        cmocka_unit_test(test_begin_refused),
        cmocka_unit_test(test_rings_overlap),
        cmocka_unit_test(test_step_waits_for_every_member),
        cmocka_unit_test(test_step_acks_per_phase),
        cmocka_unit_test(test_step_unreported_and_stall),
        cmocka_unit_test(test_ahead),
        cmocka_unit_test(test_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
