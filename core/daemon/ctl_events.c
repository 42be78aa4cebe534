/* `peerctl events`: each subscriber is a deferred request that is answered once per event. The
 * store's watch ring holds the events (bounded); a subscriber that falls behind the ring gets an
 * error frame and is dropped, instead of the daemon buffering without bound. */
#include "ctl_events.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "pd_err.h"
#include "pd_mp.h"
#include "raft_node.h"
#include "store.h"

typedef struct {
    int used;
    pd_ctl_token_t tok;
    pd_store_watch_t w;
} ev_sub_t;

/* Per process: one daemon per process, and the table is tiny. */
static ev_sub_t subs[PD_CTL_EVENT_SUBS_MAX];

int pd_ctl_events(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    (void)req, (void)pk;
    const pd_store_t *st = pd_raft_node_store(d);
    if (!st) {
        snprintf(err, errlen, "%s", pd_raft_node_locked(d) ? PD_RN_LOCKED_MSG
                                                           : "this node runs no manager: run peerctl events on a manager");
        return -PD_ESTATE;
    }
    for (unsigned i = 0; i < PD_CTL_EVENT_SUBS_MAX; i++) {
        if (subs[i].used && pd_daemon_ctl_alive(d, &subs[i].tok))
            continue;
        subs[i].used = 1;
        subs[i].tok = d->ctl_cur;
        pd_store_watch_init(st, &subs[i].w);
        return PD_CTL_LATER;
    }
    snprintf(err, errlen, "too many event streams (%u)", PD_CTL_EVENT_SUBS_MAX);
    return -PD_ELIMIT;
}

static const char *action_name(uint8_t op)
{
    return op == PD_STORE_EV_CREATED ? "create" : op == PD_STORE_EV_UPDATED ? "update" : "remove";
}

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void send_event(pd_daemon_t *d, ev_sub_t *s, const pd_store_event_t *ev)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    const pd_store_obj_t *o = ev->obj;
    msgpack_pack_map(&pk, 7);
    pd_mp_pack_kv_u64(&pk, "seq", ev->seq);
    pd_mp_pack_kv_u64(&pk, "index", ev->index);
    /* a change's time is the leader's clock in the entry; a removal carries none: now */
    int64_t t = ev->op == PD_STORE_EV_DELETED ? wall_ms() : o->updated_ms;
    pd_mp_pack_kv_u64(&pk, "time_ms", t > 0 ? (uint64_t)t : 0);
    pd_mp_pack_kv_str(&pk, "type", pd_store_kind_name((pd_store_kind_t)ev->kind));
    pd_mp_pack_kv_str(&pk, "action", action_name(ev->op));
    pd_mp_pack_kv_str(&pk, "id", o->id);
    pd_mp_pack_kv_str(&pk, "name", o->name ? o->name : "");
    pd_daemon_ctl_answer(d, &s->tok, 0, NULL, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

void pd_ctl_events_pump(pd_daemon_t *d)
{
    const pd_store_t *st = pd_raft_node_store(d);
    for (unsigned i = 0; i < PD_CTL_EVENT_SUBS_MAX; i++) {
        ev_sub_t *s = &subs[i];
        if (!s->used)
            continue;
        if (!st || !pd_daemon_ctl_alive(d, &s->tok)) {
            s->used = 0;
            continue;
        }
        pd_store_event_t ev;
        int rc = 0;
        for (unsigned n = 0; n < PD_CTL_EVENTS_PER_PUMP && (rc = pd_store_watch_next(st, &s->w, &ev)) == 1; n++)
            send_event(d, s, &ev);
        if (rc < 0) {
            pd_daemon_ctl_answer(d, &s->tok, rc, "events lost: this stream fell behind the store's event ring", NULL,
                                 0);
            s->used = 0;
        }
    }
}
