/* Node reconciler rounds (node_plan.h). */
#include "node_plan.h"

#include <stdio.h>
#include <string.h>

#include "pd_alloc.h"

pd_node_role_t pd_node_plan_desired(const pd_node_rec_t *r)
{
    return r->removed ? PD_NODE_WORKER : (pd_node_role_t)r->role;
}

static const pd_node_member_t *member_find(const pd_node_plan_in_t *in, const char *id)
{
    for (size_t i = 0; i < in->n_members; i++)
        if (strcmp(in->members[i].node_id, id) == 0)
            return &in->members[i];
    return NULL;
}

static int creating(const pd_node_plan_in_t *in, const char *id)
{
    for (size_t i = 0; i < in->n_creating; i++)
        if (strcmp(in->creating[i], id) == 0)
            return 1;
    return 0;
}

static int id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n != PD_NODE_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z')))
            return 0;
    return 1;
}

typedef struct {
    pd_node_act_t *out;
    size_t cap, n;
} acts_t;

static pd_node_act_t *act_add(acts_t *a, uint8_t type, const char *node_id)
{
    if (a->n == a->cap)
        return NULL;
    pd_node_act_t *x = &a->out[a->n++];
    memset(x, 0, sizeof *x);
    x->type = type;
    snprintf(x->node_id, sizeof x->node_id, "%s", node_id);
    return x;
}

static void plan_creates(const pd_node_plan_in_t *in, acts_t *a)
{
    unsigned made = 0;
    for (size_t i = 0; i < in->n_members && made < PD_NODE_PLAN_CREATES; i++) {
        const pd_node_member_t *m = &in->members[i];
        if (!m->alive || !id_ok(m->node_id) || !m->hostname[0] || creating(in, m->node_id) ||
            pd_store_get(in->store, PD_STORE_NODE, m->node_id, strlen(m->node_id)))
            continue;
        pd_node_act_t *x = act_add(a, PD_NODE_ACT_CREATE, m->node_id);
        if (!x)
            return;
        snprintf(x->hostname, sizeof x->hostname, "%s", m->hostname);
        x->role = m->role;
        made++;
    }
}

/* What gossip shows for node_id: its role name, or "" when nothing is published. */
static void published(const pd_node_plan_in_t *in, const char *id, char *out, size_t cap)
{
    pd_gtable_view_t v;
    out[0] = '\0';
    if (in->gt && pd_gtable_get(in->gt, PD_NODE_ROLE_TABLE, id, &v) == 0 && v.value_len < cap) {
        memcpy(out, v.value, v.value_len);
        out[v.value_len] = '\0';
    }
}

/* The one membership change of this round for a record (returns 1 when it added one). */
static int plan_membership(const pd_node_plan_in_t *in, const pd_store_obj_t *o, pd_node_role_t want, acts_t *a)
{
    const pd_node_member_t *m = member_find(in, o->id);
    uint64_t rid = in->raft_id_of(o->id);
    int voter = pd_raft_conf_has_voter(in->conf, rid), learner = pd_raft_conf_has_learner(in->conf, rid);
    pd_node_act_t *x = NULL;
    if (want == PD_NODE_MANAGER && !voter && !learner && m && m->alive && m->role == PD_NODE_MANAGER)
        x = act_add(a, PD_NODE_ACT_ADD_LEARNER, o->id);
    else if (want == PD_NODE_WORKER && (voter || learner) && !(voter && in->conf->n_voters == 1))
        x = act_add(a, rid == in->self_raft_id ? PD_NODE_ACT_TRANSFER : PD_NODE_ACT_REMOVE, o->id);
    if (x)
        x->raft_id = rid;
    return x != NULL;
}

size_t pd_node_plan_tick(const pd_node_plan_in_t *in, pd_node_act_t *out, size_t cap)
{
    acts_t a = {.out = out, .cap = cap};
    if (!in->store || !in->conf)
        return 0;
    plan_creates(in, &a);
    pd_node_rec_t *r = pd_malloc(sizeof *r);
    if (!r)
        return a.n;
    int changed = 0;
    for (const pd_store_obj_t *o = pd_store_first(in->store, PD_STORE_NODE); o; o = pd_store_next(o)) {
        if (pd_node_rec_decode(o->spec, o->spec_len, r) != 0)
            continue;
        pd_node_role_t want = pd_node_plan_desired(r);
        uint64_t rid = in->raft_id_of(o->id);
        int in_conf = (pd_raft_conf_has_voter(in->conf, rid) || pd_raft_conf_has_learner(in->conf, rid));
        char shown[16];
        published(in, o->id, shown, sizeof shown);
        const char *name = pd_node_role_name(want);
        if (strcmp(shown, name) != 0 && (want == PD_NODE_MANAGER || !in_conf)) {
            pd_node_act_t *x = act_add(&a, PD_NODE_ACT_PUBLISH, o->id);
            if (x)
                x->role = (uint8_t)want;
        }
        if (!changed)
            changed = plan_membership(in, o, want, &a);
    }
    pd_free(r);
    return a.n;
}
