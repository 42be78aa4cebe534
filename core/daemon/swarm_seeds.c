/* Gossip seeds of a PKI cluster: the addresses a node (re)joins gossip through. A joiner gets them
 * in the join answer; every member then keeps swarm.seeds current, so that any node, the one that
 * ran `swarm init` included, finds the cluster again after a restart (Raft learns the managers'
 * addresses from gossip, so a manager that cannot rejoin gossip cannot reach its peers either). */
#include <stdio.h>
#include <string.h>

#include "gossip_io.h"
#include "gossip_setup.h"
#include "swarm.h"

/* Often enough that a node killed seconds after its peers joined has them on disk; a refresh that
 * finds the same seeds writes nothing. */
enum { SEEDS_REFRESH_MS = 1000 };

/* Add addr to out[0..*n) unless there; keep out[lo..*n) sorted, holding the smallest addresses
 * when there are more than fit. SWIM reshuffles its member list every probe round, and seeds taken
 * in that order would differ on each refresh (and be written, with an fsync, every second). */
static void seed_insert_sorted(char out[][PD_ADDR_MAX], unsigned lo, unsigned *n, unsigned max, const char *addr)
{
    for (unsigned i = 0; i < *n; i++)
        if (strcmp(out[i], addr) == 0)
            return;
    unsigned at = lo;
    while (at < *n && strcmp(out[at], addr) < 0)
        at++;
    if (at >= max)
        return;
    unsigned last = *n < max ? *n : max - 1; /* when full, the largest falls off */
    memmove(out[at + 1], out[at], (size_t)(last - at) * PD_ADDR_MAX);
    snprintf(out[at], PD_ADDR_MAX, "%s", addr);
    if (*n < max)
        (*n)++;
}

unsigned pd_swarm_gossip_seeds(pd_daemon_t *d, int with_self, char out[][PD_ADDR_MAX], unsigned max)
{
    unsigned n = 0;
    if (with_self) {
        char self[PD_ADDR_MAX];
        snprintf(self, sizeof self, strchr(d->advertise_host, ':') ? "[%s]:%u" : "%s:%u", d->advertise_host,
                 d->cfg.gossip_port);
        if (max > 0)
            snprintf(out[n++], PD_ADDR_MAX, "%s", self);
    }
    pd_swim_t *sw = d->gossip ? pd_gagent_swim(pd_gossip_io_agent(d->gossip)) : NULL;
    uint32_t total = sw ? pd_swim_count(sw, -1) : 0;
    /* managers first (they are the ones that stay), then any other live member; each group in
     * address order, so that the same members give the same list */
    for (int pass = 0; pass < 2; pass++) {
        unsigned lo = n;
        for (uint32_t i = 0; i < total && lo < max; i++) {
            pd_swim_member_info_t m;
            char host[256], role[32], addr[PD_ADDR_MAX];
            if (pd_swim_member_at(sw, i, &m) != 0 || m.state != PD_SWIM_ALIVE || strcmp(m.node, d->dd.node_id) == 0)
                continue;
            pd_gossip_meta_decode(m.meta, m.meta_len, host, sizeof host, role, sizeof role);
            if ((strcmp(role, "manager") == 0) != (pass == 0))
                continue;
            pd_swim_addr_format(&m.addr, addr, sizeof addr);
            seed_insert_sorted(out, lo, &n, max, addr);
        }
    }
    return n;
}

static void seeds_refresh(uv_timer_t *t)
{
    pd_daemon_t *d = t->data;
    pd_swarm_t *s = d->swarm;
    char seeds[PD_JOIN_SEEDS_MAX][PD_ADDR_MAX], text[PD_SWARM_SEEDS_TEXT_MAX], err[256];
    unsigned n = pd_swarm_gossip_seeds(d, 0, seeds, PD_JOIN_SEEDS_MAX);
    if (n == 0)
        return; /* alone for now: keep what we had */
    size_t off = 0;
    for (unsigned i = 0; i < n && off < sizeof text; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "%s\n", seeds[i]);
    if (off >= sizeof text)
        off = sizeof text - 1;
    if (strcmp(text, s->seeds_last) == 0)
        return;
    if (pd_swarm_write(d, "swarm.seeds", text, off, err, sizeof err) != 0) {
        PD_WARN(&d->log, "swarm: cannot update swarm.seeds: %s", err);
        return;
    }
    snprintf(s->seeds_last, sizeof s->seeds_last, "%s", text);
}

void pd_swarm_seeds_start(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    if (!s || !s->active || s->seeds_open)
        return;
    uv_timer_init(d->loop, &s->seeds_timer);
    s->seeds_timer.data = d;
    s->seeds_open = 1;
    uv_timer_start(&s->seeds_timer, seeds_refresh, SEEDS_REFRESH_MS, SEEDS_REFRESH_MS);
}

void pd_swarm_seeds_stop(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    if (s && s->seeds_open && !uv_is_closing((uv_handle_t *)&s->seeds_timer))
        uv_close((uv_handle_t *)&s->seeds_timer, NULL);
}
