/* Watch: a bounded ring of change events with reader-owned cursors (event sequence numbers). The
 * ring keeps a reference to each event's object, so a subscriber sees the exact version that was
 * committed even after later changes. Pushing never allocates: the ring is sized at creation and
 * the oldest event is dropped when it is full; a cursor that pointed at a dropped event gets
 * -PD_ELIMIT and must resync from the tables. */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "store_int.h"

int pd_store__watch_init(pd_store_t *s, uint32_t cap)
{
    PD_ASSERT(cap > 0);
    s->ring = pd_calloc(cap, sizeof *s->ring);
    if (!s->ring)
        return -ENOMEM;
    s->ring_cap = cap;
    s->ev_first = s->ev_next = 1; /* seq 0 is never used */
    return 0;
}

static void drop_oldest(pd_store_t *s)
{
    pd_store__event_t *e = &s->ring[s->ev_first % s->ring_cap];
    pd_store__obj_put(e->obj);
    memset(e, 0, sizeof *e);
    s->ev_first++;
}

void pd_store__watch_free(pd_store_t *s)
{
    if (!s->ring)
        return;
    while (s->ev_first < s->ev_next)
        drop_oldest(s);
    pd_free(s->ring);
    s->ring = NULL;
}

void pd_store__watch_push(pd_store_t *s, uint64_t index, uint8_t kind, uint8_t op, pd_store_obj_t *o)
{
    if (s->ev_next - s->ev_first == s->ring_cap)
        drop_oldest(s);
    pd_store__event_t *e = &s->ring[s->ev_next % s->ring_cap];
    pd_store_obj_ref(o);
    *e = (pd_store__event_t){.index = index, .kind = kind, .op = op, .obj = o};
    s->ev_next++;
}

void pd_store__watch_reset(pd_store_t *s)
{
    while (s->ev_first < s->ev_next)
        drop_oldest(s);
    /* Leave a gap so every cursor from before (next <= old ev_next) is behind ev_first. */
    s->ev_next += 1;
    s->ev_first = s->ev_next;
}

void pd_store_watch_init(const pd_store_t *s, pd_store_watch_t *w) { w->next = s->ev_next; }

int pd_store_watch_next(const pd_store_t *s, pd_store_watch_t *w, pd_store_event_t *ev)
{
    if (w->next < s->ev_first || w->next > s->ev_next)
        return -PD_ELIMIT;
    if (w->next == s->ev_next)
        return 0;
    const pd_store__event_t *e = &s->ring[w->next % s->ring_cap];
    *ev = (pd_store_event_t){.seq = w->next, .index = e->index, .kind = e->kind, .op = e->op,
                             .obj = e->obj};
    w->next++;
    return 1;
}

uint64_t pd_store_watch_pending(const pd_store_t *s, const pd_store_watch_t *w)
{
    if (w->next < s->ev_first || w->next > s->ev_next)
        return 0;
    return s->ev_next - w->next;
}
