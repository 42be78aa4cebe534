/* --join-token / --join-manager: at the first start, the join that 'peerctl swarm join' runs, for
 * scripts and systemd units that have no peerctl step. A manager that cannot be reached yet (it may
 * be starting too) is tried again with backoff, --join-retries attempts in all; a refusal (wrong or
 * rotated token, another cluster, a replayed join) stops peerd with the manager's message, since
 * trying again cannot help. */
#include <errno.h>
#include <stdio.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "swarm.h"

#define JOIN_START_BACKOFF_MIN_MS 1000u
#define JOIN_START_BACKOFF_MAX_MS 10000u

struct pd_join_start {
    pd_daemon_t *d;
    uv_timer_t timer;
    unsigned attempts;
};

static void start_closed_cb(uv_handle_t *h) { pd_free(h->data); }

static void start_close(pd_daemon_t *d)
{
    pd_join_start_t *js = d->swarm ? d->swarm->start_join : NULL;
    if (!js)
        return;
    d->swarm->start_join = NULL;
    uv_close((uv_handle_t *)&js->timer, start_closed_cb);
}

static void give_up(pd_daemon_t *d, const char *why)
{
    PD_ERROR(&d->log, "join at start: %s", why);
    fprintf(stderr, "peerd: join at start: %s\n", why);
    start_close(d);
    d->exit_code = 1;
    pd_daemon_shutdown(d, "join at start failed");
}

static int attempt(pd_join_start_t *js, char *err, size_t errlen)
{
    js->attempts++;
    return pd_join_dial_start(js->d, js->d->cfg.join_token, js->d->cfg.join_manager, err, errlen);
}

static void retry_cb(uv_timer_t *t)
{
    pd_join_start_t *js = t->data;
    pd_daemon_t *d = js->d;
    char err[PD_CTL_ERRMSG_MAX] = "";
    if (d->stopping || d->swarm->dial)
        return; /* a 'peerctl swarm join' meanwhile: its end comes to pd_join_start_done */
    if (d->swarm->active) {
        start_close(d); /* joined by peerctl meanwhile */
        return;
    }
    if (attempt(js, err, sizeof err) != 0)
        give_up(d, err);
}

int pd_join_start(pd_daemon_t *d, char *err, size_t errlen)
{
    pd_join_start_t *js = pd_calloc(1, sizeof *js);
    if (!js) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    js->d = d;
    uv_timer_init(d->loop, &js->timer);
    js->timer.data = js;
    d->swarm->start_join = js;
    PD_INFO(&d->log, "join at start: joining through %s (--join-token)", d->cfg.join_manager);
    int rc = attempt(js, err, errlen); /* a malformed token or address: nothing to retry */
    if (rc)
        start_close(d);
    return rc;
}

void pd_join_start_done(pd_daemon_t *d, int rc, const char *err)
{
    pd_join_start_t *js = d->swarm ? d->swarm->start_join : NULL;
    if (!js)
        return; /* a 'peerctl swarm join' */
    if (rc == 0) {
        start_close(d);
        return;
    }
    int unreachable = rc == -PD_ECLOSED || rc == -PD_ETIMEOUT;
    if (!unreachable || js->attempts >= d->cfg.join_retries) {
        char why[PD_CTL_ERRMSG_MAX + 64];
        snprintf(why, sizeof why, "%s%s", err, unreachable ? " (no more attempts: --join-retries)" : "");
        give_up(d, why);
        return;
    }
    unsigned shift = js->attempts - 1 < 4 ? js->attempts - 1 : 4;
    uint64_t delay = (uint64_t)JOIN_START_BACKOFF_MIN_MS << shift;
    if (delay > JOIN_START_BACKOFF_MAX_MS)
        delay = JOIN_START_BACKOFF_MAX_MS;
    PD_WARN(&d->log, "join at start: attempt %u of %u failed (%s); again in %llu ms", js->attempts,
            d->cfg.join_retries, err, (unsigned long long)delay);
    uv_timer_start(&js->timer, retry_cb, delay, 0);
}

void pd_join_start_stop(pd_daemon_t *d) { start_close(d); }
