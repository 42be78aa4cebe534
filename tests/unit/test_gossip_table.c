/* gossip/gossip_table: LWW versions, tombstones, owner liveness, push/pull, watchers, caps, OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip_table.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "pd_rng.h"

static pd_gtable_t *mk(const char *node)
{
    pd_gtable_config_t cfg = {.node_id = node, .tombstone_grace_ms = 1000, .owner_grace_ms = 5000};
    pd_gtable_t *t = NULL;
    assert_int_equal(pd_gtable_create(&cfg, &t), 0);
    return t;
}

static void put_s(pd_gtable_t *t, const char *tab, const char *key, const char *val,
                  pd_gtable_msg_t *m)
{
    assert_int_equal(pd_gtable_put(t, tab, key, val, strlen(val), 0, m), 0);
}

static int has_value(const pd_gtable_t *t, const char *tab, const char *key, const char *val)
{
    pd_gtable_view_t v;
    if (pd_gtable_get(t, tab, key, &v) != 0)
        return 0;
    return v.value_len == strlen(val) && memcmp(v.value, val, v.value_len) == 0;
}

/* Build an update message by hand (a remote node's write at a chosen version). */
static size_t remote_update(uint8_t *buf, size_t cap, const char *tab, const char *key,
                            const char *val, uint64_t lamport, const char *owner)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pd_mp_pack_kv_u64(&pk, "v", 1);
    pd_mp_pack_kv_str(&pk, "type", "gt.upd");
    pd_mp_pack_cstr(&pk, "e");
    msgpack_pack_array(&pk, 6);
    pd_mp_pack_cstr(&pk, tab);
    pd_mp_pack_cstr(&pk, key);
    if (val) {
        msgpack_pack_bin(&pk, strlen(val));
        msgpack_pack_bin_body(&pk, val, strlen(val));
    } else {
        msgpack_pack_nil(&pk);
    }
    msgpack_pack_uint64(&pk, lamport);
    pd_mp_pack_cstr(&pk, owner);
    if (val)
        msgpack_pack_false(&pk);
    else
        msgpack_pack_true(&pk);
    assert_true(sb.size <= cap);
    size_t n = sb.size;
    memcpy(buf, sb.data, n);
    msgpack_sbuffer_destroy(&sb);
    return n;
}

static int merge(pd_gtable_t *t, const uint8_t *buf, size_t n)
{
    int changed = -1;
    assert_int_equal(pd_gtable_merge_update(t, buf, n, 0, &changed), 0);
    return changed;
}

static void test_put_get_iterate(void **state)
{
    (void)state;
    pd_gtable_t *t = mk("n1");
    pd_gtable_msg_t m;
    put_s(t, "svc/web", "task1", "10.0.0.1", &m);
    put_s(t, "svc/web", "task2", "10.0.0.2", NULL);
    put_s(t, "svc/db", "task3", "10.0.0.3", NULL);
    put_s(t, "nodes", "n1", "192.168.1.1", NULL);
    assert_true(m.len > 0 && m.len <= PD_GTABLE_UPDATE_MAX);
    assert_memory_equal(m.skey, "gt:", 3);
    assert_true(has_value(t, "svc/web", "task1", "10.0.0.1"));
    pd_gtable_view_t v;
    assert_int_equal(pd_gtable_get(t, "svc/web", "task9", &v), -PD_ENOTFOUND);
    assert_int_equal(pd_gtable_get(t, "svc/none", "task1", &v), -PD_ENOTFOUND);
    assert_int_equal(pd_gtable_get(t, "svc/web", "task2", &v), 0);
    assert_string_equal(v.owner, "n1");
    assert_string_equal(v.table, "svc/web");
    assert_int_equal(v.lamport, 2);
    assert_int_equal(pd_gtable_count(t, "svc/web"), 2);
    assert_int_equal(pd_gtable_count(t, "svc/db"), 1);
    assert_int_equal(pd_gtable_count(t, "svc/x"), 0);
    assert_int_equal(pd_gtable_stored(t), 4);
    assert_int_equal(pd_gtable_clock(t), 4);
    /* A same-key rewrite supersedes with the same key and a higher version. */
    pd_gtable_msg_t m2;
    put_s(t, "svc/web", "task1", "10.0.0.9", &m2);
    assert_memory_equal(m.skey, m2.skey, PD_GTABLE_SKEY_LEN);
    pd_gtable_msg_t m3;
    put_s(t, "svc/web", "task2", "10.0.0.2", &m3);
    assert_memory_not_equal(m.skey, m3.skey, PD_GTABLE_SKEY_LEN);
    assert_int_equal(pd_gtable_encode_update(t, "svc/web", "task1", &m3), 0);
    assert_int_equal(m3.len, m2.len);
    assert_memory_equal(m3.data, m2.data, m2.len);
    assert_int_equal(pd_gtable_encode_update(t, "svc/web", "nope", &m3), -PD_ENOTFOUND);
    /* Bad names. */
    assert_int_equal(pd_gtable_put(t, "", "k", "v", 1, 0, NULL), -PD_EUSAGE);
    assert_int_equal(pd_gtable_put(t, "t", "", "v", 1, 0, NULL), -PD_EUSAGE);
    pd_gtable_destroy(t);
}

typedef struct {
    char lines[64][160];
    int n;
} collect_t;

static int collect(void *ctx, const pd_gtable_view_t *e)
{
    collect_t *c = ctx;
    if (c->n < 64)
        snprintf(c->lines[c->n++], sizeof c->lines[0], "%s|%s|%.*s|%s%s", e->table, e->key,
                 (int)e->value_len, e->value ? (const char *)e->value : "", e->owner,
                 e->deleted ? "|DEL" : "");
    return 0;
}

static int stop_at_two(void *ctx, const pd_gtable_view_t *e)
{
    (void)e;
    return ++*(int *)ctx == 2 ? 42 : 0;
}

static void test_prefix_iteration(void **state)
{
    (void)state;
    pd_gtable_t *t = mk("n1");
    put_s(t, "svc/web", "a", "1", NULL);
    put_s(t, "svc/db", "b", "2", NULL);
    put_s(t, "nodes", "c", "3", NULL);
    put_s(t, "svc/web", "d", "4", NULL);
    collect_t c = {0};
    assert_int_equal(pd_gtable_foreach_prefix(t, "svc/", collect, &c), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.lines[0], "svc/web|a|1|n1");
    assert_string_equal(c.lines[1], "svc/web|d|4|n1");
    assert_string_equal(c.lines[2], "svc/db|b|2|n1");
    memset(&c, 0, sizeof c);
    assert_int_equal(pd_gtable_foreach(t, "svc/web", collect, &c), 0);
    assert_int_equal(c.n, 2);
    int seen = 0;
    assert_int_equal(pd_gtable_foreach_prefix(t, "", stop_at_two, &seen), 42);
    pd_gtable_destroy(t);
}

static void test_lww_ordering(void **state)
{
    (void)state;
    pd_gtable_t *t = mk("local");
    uint8_t u5a[PD_GTABLE_UPDATE_MAX], u5b[PD_GTABLE_UPDATE_MAX], u7[PD_GTABLE_UPDATE_MAX];
    size_t n5a = remote_update(u5a, sizeof u5a, "svc/web", "k", "from-a", 5, "node-a");
    size_t n5b = remote_update(u5b, sizeof u5b, "svc/web", "k", "from-b", 5, "node-b");
    size_t n7 = remote_update(u7, sizeof u7, "svc/web", "k", "from-a-7", 7, "node-a");
    /* Newer lamport wins regardless of arrival order. */
    assert_int_equal(merge(t, u7, n7), 1);
    assert_int_equal(merge(t, u5b, n5b), 0);
    assert_int_equal(merge(t, u5a, n5a), 0);
    assert_true(has_value(t, "svc/web", "k", "from-a-7"));
    assert_int_equal(pd_gtable_clock(t), 8); /* max + 1 */
    assert_int_equal(pd_gtable_stats(t)->stale, 2);
    /* Equal lamport: the greater owner id wins, in both orders. */
    pd_gtable_t *x = mk("x"), *y = mk("y");
    assert_int_equal(merge(x, u5a, n5a), 1);
    assert_int_equal(merge(x, u5b, n5b), 1);
    assert_int_equal(merge(y, u5b, n5b), 1);
    assert_int_equal(merge(y, u5a, n5a), 0);
    assert_true(has_value(x, "svc/web", "k", "from-b"));
    assert_true(has_value(y, "svc/web", "k", "from-b"));
    /* A duplicate is not news; news comes back ready to forward. */
    assert_int_equal(merge(y, u5b, n5b), 0);
    pd_gtable_t *z = mk("z");
    pd_gtable_msg_t fwd = {.len = 0};
    int ch = 0;
    assert_int_equal(pd_gtable_merge_update_fwd(z, u5b, n5b, 0, &ch, &fwd), 0);
    assert_int_equal(ch, 1);
    assert_int_equal(fwd.len, n5b);
    assert_memory_equal(fwd.data, u5b, n5b);
    pd_gtable_msg_t local;
    assert_int_equal(pd_gtable_encode_update(y, "svc/web", "k", &local), 0);
    assert_memory_equal(fwd.skey, local.skey, PD_GTABLE_SKEY_LEN);
    fwd.len = 0;
    assert_int_equal(pd_gtable_merge_update_fwd(z, u5b, n5b, 0, &ch, &fwd), 0);
    assert_int_equal(ch, 0);
    assert_int_equal(fwd.len, 0); /* untouched */
    pd_gtable_destroy(z);
    /* A local write after witnessing beats the remote version. */
    pd_gtable_msg_t m;
    put_s(t, "svc/web", "k", "mine", &m);
    pd_gtable_view_t v;
    assert_int_equal(pd_gtable_get(t, "svc/web", "k", &v), 0);
    assert_int_equal(v.lamport, 9);
    assert_string_equal(v.owner, "local");
    assert_int_equal(merge(x, m.data, m.len), 1);
    assert_true(has_value(x, "svc/web", "k", "mine"));
    pd_gtable_destroy(t);
    pd_gtable_destroy(x);
    pd_gtable_destroy(y);
}

static void test_tombstones_and_reap(void **state)
{
    (void)state;
    pd_gtable_t *t = mk("n1");
    uint8_t old[PD_GTABLE_UPDATE_MAX];
    size_t nold = remote_update(old, sizeof old, "svc/web", "k", "old", 3, "n2");
    assert_int_equal(merge(t, old, nold), 1);
    pd_gtable_msg_t del;
    assert_int_equal(pd_gtable_del(t, "svc/web", "k", 100, &del), 0);
    assert_int_equal(pd_gtable_del(t, "svc/web", "k", 100, NULL), -PD_ENOTFOUND);
    assert_int_equal(pd_gtable_del(t, "svc/web", "absent", 100, NULL), -PD_ENOTFOUND);
    pd_gtable_view_t v;
    assert_int_equal(pd_gtable_get(t, "svc/web", "k", &v), -PD_ENOTFOUND);
    assert_int_equal(pd_gtable_stored(t), 1); /* tombstone kept */
    /* The old version arriving again loses to the tombstone. */
    assert_int_equal(merge(t, old, nold), 0);
    assert_int_equal(pd_gtable_get(t, "svc/web", "k", &v), -PD_ENOTFOUND);
    /* The tombstone spreads and deletes elsewhere. */
    pd_gtable_t *o = mk("n3");
    assert_int_equal(merge(o, old, nold), 1);
    assert_int_equal(merge(o, del.data, del.len), 1);
    assert_int_equal(pd_gtable_count(o, "svc/web"), 0);
    /* A tombstone for a key never seen is stored too, so a late older put cannot resurrect. */
    pd_gtable_t *f = mk("n4");
    assert_int_equal(merge(f, del.data, del.len), 1);
    assert_int_equal(merge(f, old, nold), 0);
    assert_int_equal(pd_gtable_count(f, "svc/web"), 0);
    /* Reap after the grace (1000 ms from 100). */
    assert_int_equal(pd_gtable_tick(t, 1099), 0);
    assert_int_equal(pd_gtable_stored(t), 1);
    assert_int_equal(pd_gtable_tick(t, 1100), 1);
    assert_int_equal(pd_gtable_stored(t), 0);
    assert_int_equal(pd_gtable_stats(t)->reaped, 1);
    /* A re-put after delete wins (higher lamport). */
    put_s(t, "svc/web", "k", "again", NULL);
    assert_true(has_value(t, "svc/web", "k", "again"));
    pd_gtable_destroy(t);
    pd_gtable_destroy(o);
    pd_gtable_destroy(f);
}

/* The tick walks the table only once a grace has ended: a steady table costs nothing per tick,
 * and every deadline (tombstone, down owner, either kept by a walk) is still met on time. */
static void test_tick_walks_only_when_due(void **state)
{
    (void)state;
    pd_gtable_t *t = mk("n1");
    char key[16];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "t%d", i);
        put_s(t, "svc/web", key, "10.0.0.1", NULL);
    }
    uint8_t u[PD_GTABLE_UPDATE_MAX];
    size_t n = remote_update(u, sizeof u, "svc/web", "r1", "10.0.0.2", 4, "n2");
    assert_int_equal(merge(t, u, n), 1);
    assert_int_equal(pd_gtable_tick(t, 10), 0); /* the first tick walks: nothing known yet */
    uint64_t walks = pd_gtable_stats(t)->tick_walks;
    for (uint64_t now = 20; now < 5000; now += 10)
        assert_int_equal(pd_gtable_tick(t, now), 0);
    assert_int_equal(pd_gtable_stats(t)->tick_walks, walks); /* steady: no walk */
    /* Two tombstones 300 ms apart (grace 1000): each reaped on its own deadline. */
    assert_int_equal(pd_gtable_del(t, "svc/web", "t1", 5000, NULL), 0);
    assert_int_equal(pd_gtable_del(t, "svc/web", "t2", 5300, NULL), 0);
    assert_int_equal(pd_gtable_tick(t, 5999), 0);
    assert_int_equal(pd_gtable_stats(t)->tick_walks, walks);
    assert_int_equal(pd_gtable_tick(t, 6000), 1);
    assert_int_equal(pd_gtable_tick(t, 6100), 0); /* the walk kept t2's deadline: no walk */
    assert_int_equal(pd_gtable_stats(t)->tick_walks, walks + 1);
    assert_int_equal(pd_gtable_tick(t, 6300), 1);
    assert_int_equal(pd_gtable_stats(t)->tick_walks, walks + 2);
    /* A down owner (grace 5000): dropped at the end of its grace, not a tick before. */
    assert_int_equal(pd_gtable_owner_down(t, "n2", 7000), 0);
    assert_int_equal(pd_gtable_tick(t, 11999), 0);
    assert_int_equal(pd_gtable_stats(t)->tick_walks, walks + 2);
    assert_int_equal(pd_gtable_tick(t, 12000), 1);
    assert_int_equal(pd_gtable_count(t, "svc/web"), 48);
    for (uint64_t now = 12010; now < 20000; now += 10)
        assert_int_equal(pd_gtable_tick(t, now), 0);
    assert_int_equal(pd_gtable_stats(t)->tick_walks, walks + 3);
    pd_gtable_destroy(t);
}

typedef struct {
    char log[32][160];
    int n;
} events_t;

static void on_event(void *ctx, const pd_gtable_view_t *e)
{
    events_t *ev = ctx;
    if (ev->n < 32)
        snprintf(ev->log[ev->n++], sizeof ev->log[0], "%s %s/%s=%.*s by %s",
                 e->deleted ? "del" : "put", e->table, e->key, (int)e->value_len,
                 e->value ? (const char *)e->value : "", e->owner);
}

static void test_owner_liveness(void **state)
{
    (void)state;
    pd_gtable_t *t = mk("n1");
    events_t ev = {0};
    int id;
    assert_int_equal(pd_gtable_watch(t, "svc/", on_event, &ev, &id), 0);
    uint8_t u[PD_GTABLE_UPDATE_MAX];
    size_t n = remote_update(u, sizeof u, "svc/web", "t2", "10.0.0.2", 4, "n2");
    assert_int_equal(merge(t, u, n), 1);
    put_s(t, "svc/web", "t1", "10.0.0.1", NULL);
    assert_int_equal(pd_gtable_count(t, "svc/web"), 2);
    assert_int_equal(pd_gtable_owner_down(t, "n2", 1000), 0);
    assert_int_equal(pd_gtable_owner_down(t, "n2", 1500), 0); /* repeated report */
    assert_int_equal(pd_gtable_count(t, "svc/web"), 1);
    pd_gtable_view_t v;
    assert_int_equal(pd_gtable_get(t, "svc/web", "t2", &v), -PD_ENOTFOUND);
    /* Hidden entries are not sent in a full state. */
    uint8_t st[4096];
    size_t stn;
    assert_int_equal(pd_gtable_encode_state(t, st, sizeof st, &stn), 0);
    pd_gtable_t *peer = mk("n9");
    size_t changed;
    assert_int_equal(pd_gtable_merge_state(peer, st, stn, 0, &changed), 0);
    assert_int_equal(changed, 1);
    /* Refute: they come back. */
    assert_int_equal(pd_gtable_owner_up(t, "n2"), 0);
    assert_true(has_value(t, "svc/web", "t2", "10.0.0.2"));
    /* Down again, then past the grace: dropped for good, even after up. */
    assert_int_equal(pd_gtable_owner_down(t, "n2", 2000), 0);
    assert_int_equal(pd_gtable_tick(t, 6999), 0);
    assert_int_equal(pd_gtable_tick(t, 7000), 1);
    assert_int_equal(pd_gtable_owner_up(t, "n2"), 0);
    assert_int_equal(pd_gtable_get(t, "svc/web", "t2", &v), -PD_ENOTFOUND);
    assert_int_equal(pd_gtable_owner_down(t, "n1", 0), -PD_EUSAGE);
    /* Updates for an owner already down are stored hidden. */
    assert_int_equal(pd_gtable_owner_down(t, "n3", 8000), 0);
    n = remote_update(u, sizeof u, "svc/web", "t3", "10.0.0.3", 20, "n3");
    assert_int_equal(merge(t, u, n), 1);
    assert_int_equal(pd_gtable_count(t, "svc/web"), 1);
    assert_int_equal(pd_gtable_owner_up(t, "n3"), 0);
    assert_int_equal(pd_gtable_count(t, "svc/web"), 2);
    /* Purge (restarted node): gone at once. */
    assert_int_equal(pd_gtable_owner_purge(t, "n3"), 1);
    assert_int_equal(pd_gtable_count(t, "svc/web"), 1);
    const char *want[] = {
        "put svc/web/t2=10.0.0.2 by n2", "put svc/web/t1=10.0.0.1 by n1",
        "del svc/web/t2= by n2",         "put svc/web/t2=10.0.0.2 by n2",
        "del svc/web/t2= by n2",         "put svc/web/t3=10.0.0.3 by n3",
        "del svc/web/t3= by n3",
    };
    assert_int_equal(ev.n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < ev.n; i++)
        assert_string_equal(ev.log[i], want[i]);
    pd_gtable_destroy(t);
    pd_gtable_destroy(peer);
}

static void test_watch_order_and_filter(void **state)
{
    (void)state;
    pd_gtable_t *t = mk("n1");
    events_t all = {0}, web = {0};
    int a, w;
    assert_int_equal(pd_gtable_watch(t, "", on_event, &all, &a), 0);
    assert_int_equal(pd_gtable_watch(t, "svc/web", on_event, &web, &w), 0);
    put_s(t, "svc/web", "k1", "v1", NULL);
    put_s(t, "nodes", "n1", "addr", NULL);
    put_s(t, "svc/web", "k1", "v2", NULL);
    assert_int_equal(pd_gtable_del(t, "svc/web", "k1", 0, NULL), 0);
    assert_int_equal(pd_gtable_unwatch(t, w), 0);
    assert_int_equal(pd_gtable_unwatch(t, w), -PD_ENOTFOUND);
    put_s(t, "svc/web", "k2", "v3", NULL);
    assert_int_equal(all.n, 5);
    assert_string_equal(all.log[0], "put svc/web/k1=v1 by n1");
    assert_string_equal(all.log[1], "put nodes/n1=addr by n1");
    assert_string_equal(all.log[2], "put svc/web/k1=v2 by n1");
    assert_string_equal(all.log[3], "del svc/web/k1= by n1");
    assert_string_equal(all.log[4], "put svc/web/k2=v3 by n1");
    assert_int_equal(web.n, 3);
    /* Watcher slots are capped. */
    int ids[PD_GTABLE_WATCHERS_MAX];
    int got = 0;
    while (got < PD_GTABLE_WATCHERS_MAX && pd_gtable_watch(t, "x", on_event, &web, &ids[got]) == 0)
        got++;
    assert_int_equal(got, PD_GTABLE_WATCHERS_MAX - 1);
    assert_int_equal(pd_gtable_watch(t, "x", on_event, &web, &ids[0]), -PD_ELIMIT);
    pd_gtable_destroy(t);
}

static void count_lines(void *ctx, pd_log_level_t level, const char *subsys, const char *line)
{
    (void)subsys;
    if (level == PD_LOG_WARN && strstr(line, "limit reached"))
        (*(int *)ctx)++;
}

static void test_caps(void **state)
{
    (void)state;
    int warned = 0;
    pd_log_t log = {.sink = count_lines, .ctx = &warned, .min_level = PD_LOG_DEBUG, .subsys = "gossip"};
    pd_gtable_config_t cfg = {.node_id = "n1", .max_entries = 3, .max_tables = 2, .max_owners = 2,
                              .log = &log};
    pd_gtable_t *t;
    assert_int_equal(pd_gtable_create(&cfg, &t), 0);
    put_s(t, "a", "1", "v", NULL);
    put_s(t, "b", "1", "v", NULL);
    assert_int_equal(pd_gtable_put(t, "c", "1", "v", 1, 0, NULL), -PD_ELIMIT); /* tables */
    put_s(t, "a", "2", "v", NULL);
    assert_int_equal(pd_gtable_put(t, "a", "3", "v", 1, 0, NULL), -PD_ELIMIT); /* entries */
    put_s(t, "a", "2", "overwrite is fine", NULL);
    char big[PD_GTABLE_VALUE_MAX + 1];
    memset(big, 'x', sizeof big);
    assert_int_equal(pd_gtable_put(t, "a", "1", big, sizeof big, 0, NULL), -PD_ELIMIT);
    assert_int_equal(pd_gtable_put(t, "a", "1", big, PD_GTABLE_VALUE_MAX, 0, NULL), 0);
    char longkey[PD_GTABLE_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    assert_int_equal(pd_gtable_put(t, "a", longkey, "v", 1, 0, NULL), -PD_ELIMIT);
    char longtab[PD_GTABLE_TABLE_NAME_MAX + 2];
    memset(longtab, 't', sizeof longtab - 1);
    longtab[sizeof longtab - 1] = 0;
    assert_int_equal(pd_gtable_put(t, longtab, "k", "v", 1, 0, NULL), -PD_ELIMIT);
    /* Owners: n1 plus one remote; a third owner is refused. */
    uint8_t u[PD_GTABLE_UPDATE_MAX];
    size_t n = remote_update(u, sizeof u, "a", "1", "r", 100, "n2");
    assert_int_equal(merge(t, u, n), 1);
    n = remote_update(u, sizeof u, "a", "2", "r", 100, "n3");
    int changed;
    assert_int_equal(pd_gtable_merge_update(t, u, n, 0, &changed), -PD_ELIMIT);
    assert_int_equal(pd_gtable_stats(t)->limit_hits, 6);
    /* The largest entry still fits one update message. */
    char longowner[PD_GTABLE_OWNER_MAX + 1];
    memset(longowner, 'o', PD_GTABLE_OWNER_MAX);
    longowner[PD_GTABLE_OWNER_MAX] = 0;
    pd_gtable_config_t c2 = {.node_id = longowner};
    pd_gtable_t *b;
    assert_int_equal(pd_gtable_create(&c2, &b), 0);
    longkey[PD_GTABLE_KEY_MAX] = 0;
    longtab[PD_GTABLE_TABLE_NAME_MAX] = 0;
    pd_gtable_msg_t m;
    assert_int_equal(pd_gtable_put(b, longtab, longkey, big, PD_GTABLE_VALUE_MAX, 0, &m), 0);
    assert_true(m.len <= PD_GTABLE_UPDATE_MAX);
    assert_int_equal(pd_gtable_merge_update(t, m.data, m.len, 0, &changed), -PD_ELIMIT);
    assert_int_equal(pd_gtable_stats(t)->limit_hits, 7);
    assert_int_equal(warned, 1); /* rate-limited: all at now_ms 0 */
    pd_gtable_t *fresh = mk("n5");
    assert_int_equal(merge(fresh, m.data, m.len), 1);
    pd_gtable_destroy(fresh);
    pd_gtable_destroy(b);
    pd_gtable_destroy(t);
}

/* Push/pull between tables with conflicting writes converges to one state. */
static void assert_same(pd_gtable_t *a, pd_gtable_t *b, const char **tabs, int ntabs, int nkeys)
{
    for (int ti = 0; ti < ntabs; ti++) {
        for (int k = 0; k < nkeys; k++) {
            char key[16];
            snprintf(key, sizeof key, "k%d", k);
            pd_gtable_msg_t ma, mb;
            int ra = pd_gtable_encode_update(a, tabs[ti], key, &ma);
            int rb = pd_gtable_encode_update(b, tabs[ti], key, &mb);
            assert_int_equal(ra, rb);
            if (ra == 0) {
                assert_int_equal(ma.len, mb.len);
                assert_memory_equal(ma.data, mb.data, ma.len);
            }
        }
    }
    assert_int_equal(pd_gtable_stored(a), pd_gtable_stored(b));
}

static void push_pull(pd_gtable_t *a, pd_gtable_t *b, uint8_t *buf, size_t cap)
{
    size_t n, changed;
    assert_int_equal(pd_gtable_encode_state(a, buf, cap, &n), 0);
    assert_int_equal(pd_gtable_merge_state(b, buf, n, 0, &changed), 0);
    assert_int_equal(pd_gtable_encode_state(b, buf, cap, &n), 0);
    assert_int_equal(pd_gtable_merge_state(a, buf, n, 0, &changed), 0);
}

static void test_push_pull_converges(void **state)
{
    (void)state;
    static uint8_t buf[1 << 16];
    const char *tabs[] = {"svc/web", "svc/db", "nodes"};
    const char *names[] = {"na", "nb", "nc"};
    for (uint64_t seed = 1; seed <= 30; seed++) {
        pd_rng_t rng;
        pd_rng_seed(&rng, seed);
        pd_gtable_t *n[3];
        for (int i = 0; i < 3; i++)
            n[i] = mk(names[i]);
        for (int op = 0; op < 60; op++) {
            pd_gtable_t *t = n[pd_rng_below(&rng, 3)];
            const char *tab = tabs[pd_rng_below(&rng, 3)];
            char key[16], val[16];
            snprintf(key, sizeof key, "k%d", (int)pd_rng_below(&rng, 6));
            snprintf(val, sizeof val, "v%d", op);
            pd_gtable_msg_t m;
            int rc = 0;
            if (pd_rng_chance(&rng, 0.25))
                rc = pd_gtable_del(t, tab, key, 0, &m);
            else
                put_s(t, tab, key, val, &m);
            if (rc == 0 && pd_rng_chance(&rng, 0.3)) { /* sometimes a broadcast gets through */
                int changed;
                pd_gtable_merge_update(n[pd_rng_below(&rng, 3)], m.data, m.len, 0, &changed);
            }
        }
        push_pull(n[0], n[1], buf, sizeof buf);
        push_pull(n[1], n[2], buf, sizeof buf);
        push_pull(n[0], n[1], buf, sizeof buf);
        assert_same(n[0], n[1], tabs, 3, 6);
        assert_same(n[1], n[2], tabs, 3, 6);
        /* A second round changes nothing. */
        size_t len, changed;
        assert_int_equal(pd_gtable_encode_state(n[0], buf, sizeof buf, &len), 0);
        assert_int_equal(pd_gtable_merge_state(n[2], buf, len, 0, &changed), 0);
        assert_int_equal(changed, 0);
        for (int i = 0; i < 3; i++)
            pd_gtable_destroy(n[i]);
    }
}

static void test_state_too_big(void **state)
{
    (void)state;
    pd_gtable_t *t = mk("n1");
    put_s(t, "svc/web", "k", "0123456789", NULL);
    uint8_t small[16];
    size_t n = 0;
    assert_int_equal(pd_gtable_encode_state(t, small, sizeof small, &n), -PD_ETOOBIG);
    assert_int_equal(n, 0);
    pd_gtable_destroy(t);
}

/* Hand-made messages that must be refused without changing the table. */
static size_t pack_msg(msgpack_sbuffer *sb, uint64_t version, const char *type, int entry_kind)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pd_mp_pack_kv_u64(&pk, "v", version);
    pd_mp_pack_kv_str(&pk, "type", type);
    pd_mp_pack_kv_str(&pk, "future", "ignored");
    pd_mp_pack_cstr(&pk, "e");
    msgpack_pack_array(&pk, 6);
    pd_mp_pack_cstr(&pk, "svc/web");
    pd_mp_pack_cstr(&pk, entry_kind == 1 ? "" : "k");
    if (entry_kind == 2)
        pd_mp_pack_cstr(&pk, "value as str");
    else
        msgpack_pack_bin(&pk, 1), msgpack_pack_bin_body(&pk, "v", 1);
    msgpack_pack_uint64(&pk, entry_kind == 3 ? UINT64_MAX : 5);
    pd_mp_pack_cstr(&pk, "n2");
    if (entry_kind == 4)
        msgpack_pack_true(&pk); /* tombstone with a value */
    else
        msgpack_pack_false(&pk);
    return sb->size;
}

static void test_malformed_updates(void **state)
{
    (void)state;
    pd_gtable_t *t = mk("n1");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int changed = 7;
    pack_msg(&sb, 1, "gt.upd", 0);
    assert_int_equal(pd_gtable_merge_update(t, sb.data, sb.size, 0, &changed), 0);
    assert_int_equal(changed, 1); /* unknown field ignored */
    pd_gtable_destroy(t);
    t = mk("n1");
    pack_msg(&sb, 2, "gt.upd", 0);
    assert_int_equal(pd_gtable_merge_update(t, sb.data, sb.size, 0, &changed), -PD_EVERSION);
    pack_msg(&sb, 1, "gt.what", 0);
    assert_int_equal(pd_gtable_merge_update(t, sb.data, sb.size, 0, &changed), -PD_EUNKNOWN_TYPE);
    pack_msg(&sb, 1, "gt.state", 0);
    assert_int_equal(pd_gtable_merge_update(t, sb.data, sb.size, 0, &changed), -PD_EUNKNOWN_TYPE);
    for (int kind = 1; kind <= 4; kind++) {
        pack_msg(&sb, 1, "gt.upd", kind);
        assert_int_equal(pd_gtable_merge_update(t, sb.data, sb.size, 0, &changed), -PD_EMALFORMED);
    }
    pack_msg(&sb, 1, "gt.upd", 0);
    assert_int_equal(pd_gtable_merge_update(t, sb.data, sb.size - 1, 0, &changed), -PD_ETRUNCATED);
    assert_int_equal(pd_gtable_merge_update(t, "\xc1", 1, 0, &changed), -PD_EMALFORMED);
    assert_int_equal(pd_gtable_merge_update(t, "", 0, 0, &changed), -PD_ETRUNCATED);
    static uint8_t huge[PD_GTABLE_UPDATE_MAX + 1];
    assert_int_equal(pd_gtable_merge_update(t, huge, sizeof huge, 0, &changed), -PD_ETOOBIG);
    size_t ch;
    assert_int_equal(pd_gtable_merge_state(t, sb.data, sb.size, 0, &ch), -PD_EUNKNOWN_TYPE);
    assert_int_equal(pd_gtable_stored(t), 0);
    assert_int_equal(pd_gtable_clock(t), 0);
    assert_int_equal(pd_gtable_stats(t)->malformed, 12);
    /* A state with one bad entry among good ones changes nothing. */
    msgpack_sbuffer_clear(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pd_mp_pack_kv_u64(&pk, "v", 1);
    pd_mp_pack_kv_str(&pk, "type", "gt.state");
    pd_mp_pack_cstr(&pk, "e");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_array(&pk, 6);
    pd_mp_pack_cstr(&pk, "t"), pd_mp_pack_cstr(&pk, "good"), msgpack_pack_nil(&pk);
    msgpack_pack_uint64(&pk, 3), pd_mp_pack_cstr(&pk, "n2"), msgpack_pack_true(&pk);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_nil(&pk), msgpack_pack_nil(&pk);
    assert_int_equal(pd_gtable_merge_state(t, sb.data, sb.size, 0, &ch), -PD_EMALFORMED);
    assert_int_equal(pd_gtable_stored(t), 0);
    msgpack_sbuffer_destroy(&sb);
    pd_gtable_destroy(t);
}

/* OOM sweep: fail the Nth allocation for every N until the operation succeeds. Every failure
 * must be -ENOMEM and leave the table as before (LSan catches leaks). */
typedef int (*oom_op_fn)(pd_gtable_t *t, const void *arg);

static void oom_sweep(oom_op_fn op, const void *arg, int (*prep)(pd_gtable_t *t))
{
    for (long n = 0;; n++) {
        pd_gtable_t *t = mk("n1");
        if (prep)
            assert_int_equal(prep(t), 0);
        size_t before = pd_gtable_stored(t);
        pd_alloc_fail_after(n);
        int rc = op(t, arg);
        pd_alloc_fail_after(-1);
        if (rc == 0) {
            pd_gtable_destroy(t);
            assert_true(n > 0);
            return;
        }
        assert_int_equal(rc, -ENOMEM);
        assert_int_equal(pd_gtable_stored(t), before);
        pd_gtable_destroy(t);
        assert_true(n < 1000);
    }
}

static int prep_some(pd_gtable_t *t)
{
    for (int i = 0; i < 70; i++) { /* enough to make the bucket array grow later */
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        int rc = pd_gtable_put(t, i % 2 ? "svc/a" : "svc/b", k, "v", 1, 0, NULL);
        if (rc)
            return rc;
    }
    return pd_gtable_owner_down(t, "dead", 0);
}

static int op_put_new_table(pd_gtable_t *t, const void *arg)
{
    (void)arg;
    return pd_gtable_put(t, "svc/new", "k", "value", 5, 0, NULL);
}

static int op_put_overwrite(pd_gtable_t *t, const void *arg)
{
    (void)arg;
    return pd_gtable_put(t, "svc/a", "k1", "value2", 6, 0, NULL);
}

typedef struct {
    const uint8_t *data;
    size_t len;
} blob_t;

static int op_merge_update(pd_gtable_t *t, const void *arg)
{
    const blob_t *b = arg;
    int changed;
    return pd_gtable_merge_update(t, b->data, b->len, 0, &changed);
}

static int op_merge_state(pd_gtable_t *t, const void *arg)
{
    const blob_t *b = arg;
    size_t changed;
    int rc = pd_gtable_merge_state(t, b->data, b->len, 0, &changed);
    if (rc == -ENOMEM) { /* part-way: entries merged so far are kept; undo them for the check */
        pd_gtable_owner_purge(t, "src");
    }
    return rc;
}

static int op_owner_down(pd_gtable_t *t, const void *arg)
{
    (void)arg;
    return pd_gtable_owner_down(t, "another", 0);
}

static void test_oom_sweep(void **state)
{
    (void)state;
    oom_sweep(op_put_new_table, NULL, NULL);
    oom_sweep(op_put_new_table, NULL, prep_some);
    oom_sweep(op_put_overwrite, NULL, prep_some);
    oom_sweep(op_owner_down, NULL, prep_some);
    uint8_t u[PD_GTABLE_UPDATE_MAX];
    blob_t b = {u, remote_update(u, sizeof u, "svc/c", "x", "remote", 9, "n7")};
    oom_sweep(op_merge_update, &b, NULL);
    oom_sweep(op_merge_update, &b, prep_some);
    /* A state from a source table with 100 entries over 4 tables. */
    pd_gtable_t *src = mk("src");
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        put_s(src, i % 4 == 0 ? "t0" : i % 4 == 1 ? "t1" : i % 4 == 2 ? "t2" : "t3", k, "v", NULL);
    }
    pd_gtable_del(src, "t0", "k0", 0, NULL);
    static uint8_t st[1 << 14];
    size_t n;
    assert_int_equal(pd_gtable_encode_state(src, st, sizeof st, &n), 0);
    pd_gtable_destroy(src);
    blob_t sb = {st, n};
    oom_sweep(op_merge_state, &sb, NULL);
    oom_sweep(op_merge_state, &sb, prep_some);
}

/* Cluster-owned entries (VIPs): written by any node under a pseudo owner no node id can be, never
 * hidden by owner liveness, converging between tables by version like any entry. */
static void test_cluster_owner(void **state)
{
    (void)state;
    pd_gtable_config_t bad = {.node_id = PD_GTABLE_CLUSTER_OWNER};
    pd_gtable_t *x = NULL;
    assert_int_equal(pd_gtable_create(&bad, &x), -PD_EUSAGE);

    pd_gtable_t *a = mk("aaaa"), *b = mk("bbbb");
    pd_gtable_msg_t m;
    assert_int_equal(pd_gtable_put_cluster(a, "vip", "web", "10.96.0.1", 9, 0, &m), 0);
    int changed = 0;
    assert_int_equal(pd_gtable_merge_update(b, m.data, m.len, 0, &changed), 0);
    assert_int_equal(changed, 1);
    pd_gtable_view_t v;
    assert_int_equal(pd_gtable_get(b, "vip", "web", &v), 0);
    assert_string_equal(v.owner, PD_GTABLE_CLUSTER_OWNER);
    assert_true(has_value(b, "vip", "web", "10.96.0.1"));

    /* No node's death hides them, the writer's included; the pseudo owner cannot be downed. */
    assert_int_equal(pd_gtable_owner_down(b, "aaaa", 0), 0);
    assert_int_equal(pd_gtable_owner_down(b, PD_GTABLE_CLUSTER_OWNER, 0), -PD_EUSAGE);
    assert_int_equal(pd_gtable_owner_down(a, PD_GTABLE_CLUSTER_OWNER, 0), -PD_EUSAGE);
    assert_int_equal(pd_gtable_owner_up(b, PD_GTABLE_CLUSTER_OWNER), -PD_EUSAGE);
    assert_int_equal(pd_gtable_owner_purge(b, PD_GTABLE_CLUSTER_OWNER), 0);
    pd_gtable_tick(b, 100000); /* past the owner grace */
    assert_true(has_value(b, "vip", "web", "10.96.0.1"));
    assert_int_equal(pd_gtable_count(b, "vip"), 1);

    /* Another writer (a new leader) supersedes the first one's value, and both converge. */
    assert_int_equal(pd_gtable_put_cluster(b, "vip", "web", "10.96.0.2", 9, 0, &m), 0);
    assert_int_equal(pd_gtable_merge_update(a, m.data, m.len, 0, &changed), 0);
    assert_int_equal(changed, 1);
    assert_true(has_value(a, "vip", "web", "10.96.0.2"));

    /* A stale write from the old writer loses; a delete is a tombstone that travels too. */
    assert_int_equal(pd_gtable_put_cluster(a, "vip", "db", "10.96.0.3", 9, 0, NULL), 0);
    assert_int_equal(pd_gtable_del_cluster(a, "vip", "web", 0, &m), 0);
    assert_int_equal(pd_gtable_del_cluster(a, "vip", "web", 0, NULL), -PD_ENOTFOUND);
    assert_int_equal(pd_gtable_merge_update(b, m.data, m.len, 0, &changed), 0);
    assert_int_equal(pd_gtable_get(b, "vip", "web", &v), -PD_ENOTFOUND);

    /* Full-state push/pull carries them both ways and the two tables end up equal. */
    static uint8_t buf[1 << 16];
    size_t n = 0, ch = 0;
    assert_int_equal(pd_gtable_encode_state(a, buf, sizeof buf, &n), 0);
    assert_int_equal(pd_gtable_merge_state(b, buf, n, 0, &ch), 0);
    assert_true(has_value(b, "vip", "db", "10.96.0.3"));
    assert_int_equal(pd_gtable_encode_state(b, buf, sizeof buf, &n), 0);
    assert_int_equal(pd_gtable_merge_state(a, buf, n, 0, &ch), 0);
    assert_int_equal(ch, 0);
    assert_int_equal(pd_gtable_count(a, "vip"), 1);
    assert_int_equal(pd_gtable_count(b, "vip"), 1);

    /* Every real owner down on a: still visible. */
    assert_int_equal(pd_gtable_owner_down(a, "bbbb", 0), 0);
    pd_gtable_tick(a, 200000);
    assert_true(has_value(a, "vip", "db", "10.96.0.3"));
    pd_gtable_destroy(a);
    pd_gtable_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_iterate),     cmocka_unit_test(test_prefix_iteration),
        cmocka_unit_test(test_lww_ordering),        cmocka_unit_test(test_tombstones_and_reap),
        cmocka_unit_test(test_owner_liveness),      cmocka_unit_test(test_watch_order_and_filter),
        cmocka_unit_test(test_tick_walks_only_when_due),
        cmocka_unit_test(test_caps),                cmocka_unit_test(test_push_pull_converges),
        cmocka_unit_test(test_state_too_big),       cmocka_unit_test(test_malformed_updates),
        cmocka_unit_test(test_oom_sweep),           cmocka_unit_test(test_cluster_owner),
    };
    return cmocka_run_group_tests_name("gossip_table", tests, NULL, NULL);
}
