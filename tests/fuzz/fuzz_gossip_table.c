/* Fuzz the endpoint table decoders: arbitrary bytes merged as an update and as a full state into
 * a table that already holds entries (a tombstone, a hidden owner). Whatever was accepted must
 * survive a round trip: our state merged into a fresh table re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gossip_table.h"
#include "pd_err.h"

#define STATE_CAP (256u * 1024u)

static pd_gtable_t *seeded(const char *node)
{
    pd_gtable_config_t cfg = {.node_id = node, .tombstone_grace_ms = 100, .owner_grace_ms = 100};
    pd_gtable_t *t = NULL;
    if (pd_gtable_create(&cfg, &t) != 0)
        abort();
    pd_gtable_put(t, "svc/web", "task1", "10.0.0.1", 8, 0, NULL);
    pd_gtable_put(t, "svc/web", "task2", "10.0.0.2", 8, 0, NULL);
    pd_gtable_put(t, "nodes", "n1", "192.168.0.1", 11, 0, NULL);
    pd_gtable_del(t, "svc/web", "task2", 0, NULL);
    pd_gtable_owner_down(t, "n2", 0);
    return t;
}

static void check_round_trip(const pd_gtable_t *t)
{
    static uint8_t a[STATE_CAP], b[STATE_CAP];
    size_t na = 0, nb = 0, changed = 0;
    if (pd_gtable_encode_state(t, a, sizeof a, &na) != 0)
        return; /* bigger than this harness's buffer: fine */
    pd_gtable_config_t cfg = {.node_id = "copy"};
    pd_gtable_t *c = NULL;
    if (pd_gtable_create(&cfg, &c) != 0)
        abort();
    if (pd_gtable_merge_state(c, a, na, 0, &changed) != 0)
        abort(); /* our own encoding must decode */
    if (pd_gtable_encode_state(c, b, sizeof b, &nb) != 0)
        abort();
    /* No owner is down by now, so every stored entry (tombstones too) travelled. */
    if (pd_gtable_stored(c) != pd_gtable_stored(t) || changed != pd_gtable_stored(t))
        abort();
    pd_gtable_destroy(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > STATE_CAP)
        return 0;
    pd_gtable_t *t = seeded("n1");
    int changed = 0;
    size_t nchanged = 0;
    pd_gtable_msg_t fwd;
    if (pd_gtable_merge_update_fwd(t, data, size, 10, &changed, &fwd) == 0 && changed) {
        /* What we forward must be accepted as news by a node that never saw it. */
        pd_gtable_config_t cfg = {.node_id = "fresh"};
        pd_gtable_t *f = NULL;
        int again = 0;
        if (pd_gtable_create(&cfg, &f) != 0 ||
            pd_gtable_merge_update(f, fwd.data, fwd.len, 10, &again) != 0 || !again)
            abort();
        pd_gtable_destroy(f);
    }
    pd_gtable_merge_state(t, data, size, 20, &nchanged);
    pd_gtable_owner_up(t, "n2");
    check_round_trip(t);
    pd_gtable_tick(t, 1000);
    pd_gtable_destroy(t);
    return 0;
}
