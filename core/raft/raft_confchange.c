/* Membership: the conf-change entry encoding (type byte + node id, big-endian) and applying one
 * change to a configuration. One server at a time; the leader enforces that only one change is
 * uncommitted (raft_leader.c). */
#include <string.h>

#include "pd_buf.h"
#include "pd_err.h"
#include "raft.h"

void pd_raft_cc_encode(uint8_t out[PD_RAFT_CC_LEN], pd_raft_cc_type_t type, uint64_t node)
{
    pd_wbuf_t w;
    pd_wbuf_init(&w, out, PD_RAFT_CC_LEN);
    pd_wbuf_u8(&w, (uint8_t)type);
    pd_wbuf_u64(&w, node);
}

int pd_raft_cc_decode(const uint8_t *data, size_t len, pd_raft_cc_type_t *type, uint64_t *node)
{
    if (len != PD_RAFT_CC_LEN)
        return -PD_EMALFORMED;
    pd_rbuf_t r;
    pd_rbuf_init(&r, data, len);
    uint8_t t = pd_rbuf_u8(&r);
    uint64_t id = pd_rbuf_u64(&r);
    if (r.err || t < PD_RAFT_CC_ADD_LEARNER || t > PD_RAFT_CC_ADD_VOTER || id == PD_RAFT_NONE)
        return -PD_EMALFORMED;
    *type = (pd_raft_cc_type_t)t;
    *node = id;
    return 0;
}

size_t pd_raft_force_encode(uint8_t out[PD_RAFT_CC_FORCE_MAX], uint64_t node, const uint64_t *fenced,
                            uint32_t n_fenced)
{
    pd_wbuf_t w;
    pd_wbuf_init(&w, out, PD_RAFT_CC_FORCE_MAX);
    pd_wbuf_u8(&w, PD_RAFT_CC_FORCE);
    pd_wbuf_u64(&w, node);
    for (uint32_t i = 0; i < n_fenced && i + 1 < PD_RAFT_NODES_MAX; i++)
        pd_wbuf_u64(&w, fenced[i]);
    return w.len;
}

int pd_raft_force_decode(const uint8_t *data, size_t len, uint64_t *node, uint64_t *fenced_out,
                         uint32_t *n_fenced)
{
    if (len < PD_RAFT_CC_LEN || len > PD_RAFT_CC_FORCE_MAX - 8u || (len - PD_RAFT_CC_LEN) % 8u != 0 ||
        data[0] != PD_RAFT_CC_FORCE)
        return -PD_EMALFORMED;
    pd_rbuf_t r;
    pd_rbuf_init(&r, data + 1, len - 1);
    uint64_t self = pd_rbuf_u64(&r);
    uint32_t n = (uint32_t)((len - PD_RAFT_CC_LEN) / 8u);
    for (uint32_t i = 0; i < n; i++) {
        fenced_out[i] = pd_rbuf_u64(&r);
        if (fenced_out[i] == PD_RAFT_NONE || fenced_out[i] == self)
            return -PD_EMALFORMED;
    }
    if (r.err || self == PD_RAFT_NONE)
        return -PD_EMALFORMED;
    *node = self;
    *n_fenced = n;
    return 0;
}

static int find(const uint64_t *ids, uint32_t n, uint64_t id)
{
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i] == id)
            return (int)i;
    }
    return -1;
}

int pd_raft_conf_has_voter(const pd_raft_conf_t *c, uint64_t id)
{
    return find(c->voters, c->n_voters, id) >= 0;
}

int pd_raft_conf_has_learner(const pd_raft_conf_t *c, uint64_t id)
{
    return find(c->learners, c->n_learners, id) >= 0;
}

static void remove_at(uint64_t *ids, uint32_t *n, int at)
{
    memmove(ids + at, ids + at + 1, (size_t)(*n - (uint32_t)at - 1) * sizeof *ids);
    (*n)--;
}

static int add_voter(pd_raft_conf_t *c, uint64_t node)
{
    if (pd_raft_conf_has_voter(c, node))
        return -PD_EEXISTS;
    int li = find(c->learners, c->n_learners, node);
    if (li < 0 && c->n_voters + c->n_learners >= PD_RAFT_NODES_MAX)
        return -PD_ELIMIT;
    if (li >= 0)
        remove_at(c->learners, &c->n_learners, li);
    c->voters[c->n_voters++] = node;
    return 0;
}

int pd_raft_conf_apply(pd_raft_conf_t *c, pd_raft_cc_type_t type, uint64_t node)
{
    if (node == PD_RAFT_NONE)
        return -PD_EMALFORMED;
    int vi = find(c->voters, c->n_voters, node);
    int li = find(c->learners, c->n_learners, node);
    switch (type) {
    case PD_RAFT_CC_ADD_LEARNER:
        if (vi >= 0 || li >= 0)
            return -PD_EEXISTS;
        if (c->n_voters + c->n_learners >= PD_RAFT_NODES_MAX)
            return -PD_ELIMIT;
        c->learners[c->n_learners++] = node;
        return 0;
    case PD_RAFT_CC_PROMOTE:
        if (li < 0)
            return -PD_ENOTFOUND;
        return add_voter(c, node);
    case PD_RAFT_CC_ADD_VOTER:
        return add_voter(c, node);
    case PD_RAFT_CC_REMOVE:
        if (vi >= 0) {
            remove_at(c->voters, &c->n_voters, vi);
            return 0;
        }
        if (li >= 0) {
            remove_at(c->learners, &c->n_learners, li);
            return 0;
        }
        return -PD_ENOTFOUND;
    }
    return -PD_EMALFORMED;
}
