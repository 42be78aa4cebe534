/* Endpoint table store: hash lookup, LWW apply, local writes, lookups, watchers. Owner liveness
 * and reaping live in gossip_table_owner.c, the msgpack codec in gossip_table_wire.c. */
#include "gossip_table_int.h"

#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "pd_limits.h"

static uint64_t hash_bytes(const pd_gtable_t *t, const void *p, size_t n)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, p, n, t->hkey);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return v;
}

/* (table, key) hashed as table || 0 || key: names hold no NUL, so the split is unambiguous. */
static uint64_t hash_pair(const pd_gtable_t *t, const char *table, size_t tlen, const char *key,
                          size_t klen)
{
    uint8_t buf[PD_GTABLE_TABLE_NAME_MAX + 1 + PD_GTABLE_KEY_MAX];
    PD_ASSERT(tlen <= PD_GTABLE_TABLE_NAME_MAX && klen <= PD_GTABLE_KEY_MAX);
    memcpy(buf, table, tlen);
    buf[tlen] = 0;
    memcpy(buf + tlen + 1, key, klen);
    return hash_bytes(t, buf, tlen + 1 + klen);
}

static int name_ok(const char *s, size_t n, size_t max)
{
    if (n == 0 || memchr(s, 0, n))
        return -PD_EUSAGE;
    return n > max ? -PD_ELIMIT : 0;
}

int gt_rec_check(const gt_rec_t *r)
{
    int rc = name_ok(r->table, r->table_len, PD_GTABLE_TABLE_NAME_MAX);
    if (rc == 0)
        rc = name_ok(r->key, r->key_len, PD_GTABLE_KEY_MAX);
    if (rc == 0)
        rc = name_ok(r->owner, r->owner_len, PD_GTABLE_OWNER_MAX);
    if (rc == 0 && r->value_len > PD_GTABLE_VALUE_MAX)
        rc = -PD_ELIMIT;
    if (rc == 0 && (r->lamport == 0 || r->lamport > PD_GTABLE_LAMPORT_MAX))
        rc = -PD_EUSAGE;
    return rc;
}

int gt_limit_hit(pd_gtable_t *t, uint64_t now_ms, const char *what)
{
    t->stats.limit_hits++;
    uint64_t hidden = 0;
    if (pd_ratelimit_ok(&t->limit_rl, now_ms, PD_LOG_RATE_INTERVAL_MS, &hidden))
        PD_WARN(t->log, "gtable limit reached what=%s entries=%zu tables=%zu owners=%zu suppressed=%llu",
                what, t->nentries, t->ntables, t->nowners, (unsigned long long)hidden);
    return -PD_ELIMIT;
}

void gt_witness(pd_gtable_t *t, uint64_t lamport)
{
    if (lamport >= t->clock)
        t->clock = lamport + 1;
}

int gt_visible(const gt_ent_t *e) { return !e->deleted && !e->owner->down; }

gt_ent_t *gt_find(const pd_gtable_t *t, const char *table, size_t tlen, const char *key, size_t klen)
{
    if (tlen == 0 || tlen > PD_GTABLE_TABLE_NAME_MAX || klen == 0 || klen > PD_GTABLE_KEY_MAX)
        return NULL;
    uint64_t h = hash_pair(t, table, tlen, key, klen);
    for (gt_ent_t *e = t->ebuckets[h & (t->nebuckets - 1)]; e; e = e->hnext) {
        if (e->hash == h && e->key_len == klen && e->tab->len == tlen &&
            memcmp(e->key, key, klen) == 0 && memcmp(e->tab->name, table, tlen) == 0)
            return e;
    }
    return NULL;
}

void gt_skey(const gt_ent_t *e, uint8_t out[PD_GTABLE_SKEY_LEN])
{
    /* A keyless digest: every node must derive the same supersede key. */
    crypto_generichash_state st;
    uint8_t zero = 0, d[16];
    crypto_generichash_init(&st, NULL, 0, sizeof d);
    crypto_generichash_update(&st, (const uint8_t *)e->tab->name, e->tab->len);
    crypto_generichash_update(&st, &zero, 1);
    crypto_generichash_update(&st, (const uint8_t *)e->key, e->key_len);
    crypto_generichash_final(&st, d, sizeof d);
    memcpy(out, "gt:", 3);
    memcpy(out + 3, d, sizeof d);
}

/* --- tables and owners --------------------------------------------------------------------- */

static gt_tab_t *tab_find(const pd_gtable_t *t, const char *name, size_t len, uint64_t h)
{
    for (gt_tab_t *b = t->tbuckets[h % GT_TAB_BUCKETS]; b; b = b->hnext) {
        if (b->hash == h && b->len == len && memcmp(b->name, name, len) == 0)
            return b;
    }
    return NULL;
}

static int tab_get(pd_gtable_t *t, const char *name, size_t len, gt_tab_t **out)
{
    uint64_t h = hash_bytes(t, name, len);
    gt_tab_t *b = tab_find(t, name, len, h);
    if (!b) {
        if (t->ntables >= t->max_tables)
            return -PD_ELIMIT;
        b = pd_calloc(1, sizeof *b + len + 1);
        if (!b)
            return -ENOMEM;
        memcpy(b->name, name, len);
        b->len = len;
        b->hash = h;
        b->hnext = t->tbuckets[h % GT_TAB_BUCKETS];
        t->tbuckets[h % GT_TAB_BUCKETS] = b;
        b->prev = t->tables_tail;
        if (t->tables_tail)
            t->tables_tail->next = b;
        else
            t->tables_head = b;
        t->tables_tail = b;
        t->ntables++;
    }
    *out = b;
    return 0;
}

/* Free a table once it holds no entries. */
static void tab_release(pd_gtable_t *t, gt_tab_t *b)
{
    if (b->count)
        return;
    gt_tab_t **pp = &t->tbuckets[b->hash % GT_TAB_BUCKETS];
    while (*pp != b)
        pp = &(*pp)->hnext;
    *pp = b->hnext;
    if (b->prev)
        b->prev->next = b->next;
    else
        t->tables_head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        t->tables_tail = b->prev;
    t->ntables--;
    pd_free(b);
}

gt_owner_t *gt_owner_find(const pd_gtable_t *t, const char *id, size_t len)
{
    uint64_t h = hash_bytes(t, id, len);
    for (gt_owner_t *o = t->obuckets[h % GT_OWNER_BUCKETS]; o; o = o->hnext) {
        if (o->hash == h && o->len == len && memcmp(o->id, id, len) == 0)
            return o;
    }
    return NULL;
}

int gt_owner_get(pd_gtable_t *t, const char *id, size_t len, gt_owner_t **out)
{
    gt_owner_t *o = gt_owner_find(t, id, len);
    if (!o) {
        if (t->nowners >= t->max_owners)
            return -PD_ELIMIT;
        o = pd_calloc(1, sizeof *o + len + 1);
        if (!o)
            return -ENOMEM;
        memcpy(o->id, id, len);
        o->len = len;
        o->hash = hash_bytes(t, id, len);
        o->hnext = t->obuckets[o->hash % GT_OWNER_BUCKETS];
        t->obuckets[o->hash % GT_OWNER_BUCKETS] = o;
        t->nowners++;
    }
    *out = o;
    return 0;
}

/* Free an owner record that no entry uses and that carries no liveness news. */
void gt_owner_release(pd_gtable_t *t, gt_owner_t *o, int force)
{
    if (o->refs || (o->down && !force))
        return;
    gt_owner_t **pp = &t->obuckets[o->hash % GT_OWNER_BUCKETS];
    while (*pp != o)
        pp = &(*pp)->hnext;
    *pp = o->hnext;
    t->nowners--;
    pd_free(o);
}

/* --- entries --------------------------------------------------------------------------------- */

static void ebuckets_grow(pd_gtable_t *t)
{
    size_t n = t->nebuckets * 2;
    gt_ent_t **nb = pd_calloc(n, sizeof *nb);
    if (!nb)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < t->nebuckets; i++) {
        gt_ent_t *e = t->ebuckets[i];
        while (e) {
            gt_ent_t *next = e->hnext;
            e->hnext = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    pd_free(t->ebuckets);
    t->ebuckets = nb;
    t->nebuckets = n;
}

static void ent_link(pd_gtable_t *t, gt_ent_t *e, gt_tab_t *b)
{
    e->tab = b;
    e->hnext = t->ebuckets[e->hash & (t->nebuckets - 1)];
    t->ebuckets[e->hash & (t->nebuckets - 1)] = e;
    e->prev = b->tail;
    if (b->tail)
        b->tail->next = e;
    else
        b->head = e;
    b->tail = e;
    b->count++;
    t->nentries++;
    if (t->nentries > t->nebuckets && t->nebuckets < PD_GTABLE_ENTRIES_MAX)
        ebuckets_grow(t);
}

/* Unlink and free an entry, its table and owner records if they became unused. */
void gt_ent_drop(pd_gtable_t *t, gt_ent_t *e)
{
    gt_ent_t **pp = &t->ebuckets[e->hash & (t->nebuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    gt_tab_t *b = e->tab;
    if (e->prev)
        e->prev->next = e->next;
    else
        b->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        b->tail = e->prev;
    b->count--;
    t->nentries--;
    e->owner->refs--;
    gt_owner_release(t, e->owner, 0);
    tab_release(t, b);
    pd_free(e->value);
    pd_free(e);
}

/* Total order on versions: lamport, owner id, tombstone over value, value bytes. */
static int cmp_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, PD_MIN(alen, blen));
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int cmp_version(const gt_rec_t *r, const gt_ent_t *e)
{
    if (r->lamport != e->lamport)
        return r->lamport < e->lamport ? -1 : 1;
    int c = cmp_bytes(r->owner, r->owner_len, e->owner->id, e->owner->len);
    if (c)
        return c;
    if (!r->deleted != !e->deleted)
        return r->deleted ? 1 : -1;
    return cmp_bytes(r->value ? (const void *)r->value : "", r->value_len,
                     e->value ? (const void *)e->value : "", e->value_len);
}

void gt_view(const gt_ent_t *e, pd_gtable_view_t *v)
{
    v->table = e->tab->name;
    v->key = e->key;
    v->value = e->deleted ? NULL : e->value;
    v->value_len = e->deleted ? 0 : e->value_len;
    v->owner = e->owner->id;
    v->lamport = e->lamport;
    v->deleted = !gt_visible(e);
}

void gt_notify(pd_gtable_t *t, const gt_ent_t *e)
{
    pd_gtable_view_t v;
    gt_view(e, &v);
    if (v.deleted) {
        v.value = NULL;
        v.value_len = 0;
    }
    for (size_t i = 0; i < PD_GTABLE_WATCHERS_MAX; i++) {
        const gt_watch_t *w = &t->watch[i];
        if (w->used && e->tab->len >= w->prefix_len &&
            memcmp(e->tab->name, w->prefix, w->prefix_len) == 0) {
            t->stats.events++;
            w->fn(w->ctx, &v);
        }
    }
}

/* Allocate what a new entry needs (table, the entry itself); nothing is linked yet. */
static int ent_new(pd_gtable_t *t, const gt_rec_t *r, gt_ent_t **e_out, gt_tab_t **tab_out)
{
    if (t->nentries >= t->max_entries)
        return -PD_ELIMIT;
    gt_tab_t *b;
    int rc = tab_get(t, r->table, r->table_len, &b);
    if (rc)
        return rc;
    gt_ent_t *e = pd_calloc(1, sizeof *e + r->key_len + 1);
    if (!e) {
        tab_release(t, b);
        return -ENOMEM;
    }
    memcpy(e->key, r->key, r->key_len);
    e->key_len = r->key_len;
    e->hash = hash_pair(t, r->table, r->table_len, r->key, r->key_len);
    *e_out = e;
    *tab_out = b;
    return 0;
}

/* Point e at its new version; the caller has allocated everything. */
static void ent_set(pd_gtable_t *t, gt_ent_t *e, const gt_rec_t *r, gt_owner_t *o, uint8_t *val,
                    uint64_t now_ms)
{
    gt_owner_t *old = e->owner;
    o->refs++;
    e->owner = o;
    if (old) {
        old->refs--;
        gt_owner_release(t, old, 0);
    }
    pd_free(e->value);
    e->value = val;
    e->value_len = (uint32_t)(r->deleted ? 0 : r->value_len);
    if (val && r->value_len)
        memcpy(val, r->value, r->value_len);
    e->deleted = (uint8_t)(r->deleted != 0);
    e->lamport = r->lamport;
    e->reap_ms = r->deleted ? now_ms + t->tombstone_grace_ms : 0;
    if (r->deleted)
        gt_reap_due(t, e->reap_ms);
}

int gt_apply(pd_gtable_t *t, const gt_rec_t *r, uint64_t now_ms, int *changed_out)
{
    gt_ent_t *e = gt_find(t, r->table, r->table_len, r->key, r->key_len);
    if (e && cmp_version(r, e) <= 0) {
        t->stats.stale++;
        *changed_out = 0;
        return 0;
    }
    int was_visible = e && gt_visible(e);
    gt_owner_t *o;
    int rc = gt_owner_get(t, r->owner, r->owner_len, &o);
    if (rc)
        goto fail;
    uint8_t *val = NULL;
    if (!r->deleted && r->value_len && !(val = pd_malloc(r->value_len))) {
        gt_owner_release(t, o, 0);
        rc = -ENOMEM;
        goto fail;
    }
    gt_tab_t *b = NULL;
    gt_ent_t *fresh = NULL;
    if (!e && (rc = ent_new(t, r, &fresh, &b)) != 0) {
        pd_free(val);
        gt_owner_release(t, o, 0);
        goto fail;
    }
    if (fresh) {
        e = fresh;
        ent_link(t, e, b);
    }
    ent_set(t, e, r, o, val, now_ms);
    t->stats.applied++;
    if (was_visible || gt_visible(e))
        gt_notify(t, e);
    *changed_out = 1;
    return 0;
fail:
    return rc == -PD_ELIMIT ? gt_limit_hit(t, now_ms, "apply") : rc;
}

/* --- public: lifecycle, local writes, lookups, watchers -------------------------------------- */

static uint32_t cap_or(uint32_t v, uint32_t dflt) { return v == 0 || v > dflt ? dflt : v; }

int pd_gtable_create(const pd_gtable_config_t *cfg, pd_gtable_t **out)
{
    PD_ASSERT(cfg && out);
    size_t n = cfg->node_id ? strlen(cfg->node_id) : 0;
    if (name_ok(cfg->node_id ? cfg->node_id : "", n, PD_GTABLE_OWNER_MAX) != 0 ||
        strcmp(cfg->node_id, PD_GTABLE_CLUSTER_OWNER) == 0)
        return -PD_EUSAGE;
    PD_ASSERT(sodium_init() >= 0);
    pd_gtable_t *t = pd_calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->ebuckets = pd_calloc(GT_ENT_BUCKETS_MIN, sizeof *t->ebuckets);
    if (!t->ebuckets) {
        pd_free(t);
        return -ENOMEM;
    }
    t->nebuckets = GT_ENT_BUCKETS_MIN;
    memcpy(t->node_id, cfg->node_id, n);
    t->node_len = n;
    t->tombstone_grace_ms = cfg->tombstone_grace_ms ? cfg->tombstone_grace_ms
                                                    : PD_GTABLE_TOMBSTONE_GRACE_MS_DEFAULT;
    t->owner_grace_ms = cfg->owner_grace_ms ? cfg->owner_grace_ms : PD_GTABLE_OWNER_GRACE_MS_DEFAULT;
    t->max_entries = cap_or(cfg->max_entries, PD_GTABLE_ENTRIES_MAX);
    t->max_tables = cap_or(cfg->max_tables, PD_GTABLE_TABLES_MAX);
    t->max_owners = cap_or(cfg->max_owners, PD_GTABLE_OWNERS_MAX);
    t->log = cfg->log ? cfg->log : &pd_log_null;
    randombytes_buf(t->hkey, sizeof t->hkey);
    *out = t;
    return 0;
}

void pd_gtable_destroy(pd_gtable_t *t)
{
    if (!t)
        return;
    while (t->tables_head) {
        gt_tab_t *b = t->tables_head;
        while (b->count > 1)
            gt_ent_drop(t, b->tail);
        gt_ent_drop(t, b->head); /* frees the table too */
    }
    for (size_t i = 0; i < GT_OWNER_BUCKETS; i++) {
        while (t->obuckets[i])
            gt_owner_release(t, t->obuckets[i], 1);
    }
    pd_free(t->ebuckets);
    pd_free(t);
}

/* A local write: version past the clock and past the entry it replaces. */
static int local_write(pd_gtable_t *t, gt_rec_t *r, uint64_t now_ms, pd_gtable_msg_t *msg_out)
{
    if (!r->owner) {
        r->owner = t->node_id;
        r->owner_len = t->node_len;
    }
    gt_ent_t *e = gt_find(t, r->table, r->table_len, r->key, r->key_len);
    if (r->deleted && (!e || e->deleted))
        return -PD_ENOTFOUND;
    r->lamport = PD_MAX(t->clock, e ? e->lamport : 0) + 1;
    int rc = gt_rec_check(r);
    if (rc)
        return rc == -PD_ELIMIT ? gt_limit_hit(t, now_ms, "size") : rc;
    int changed = 0;
    rc = gt_apply(t, r, now_ms, &changed);
    if (rc)
        return rc;
    PD_ASSERT(changed);
    t->clock = r->lamport;
    if (msg_out) {
        e = gt_find(t, r->table, r->table_len, r->key, r->key_len);
        PD_ASSERT(gt_encode_update(e, msg_out) == 0); /* caps make every entry fit */
    }
    return 0;
}

int pd_gtable_put(pd_gtable_t *t, const char *table, const char *key, const void *value,
                  size_t value_len, uint64_t now_ms, pd_gtable_msg_t *msg_out)
{
    PD_ASSERT(t && table && key && (value || value_len == 0));
    gt_rec_t r = {.table = table, .table_len = strlen(table), .key = key, .key_len = strlen(key),
                  .value = value, .value_len = value_len};
    return local_write(t, &r, now_ms, msg_out);
}

int pd_gtable_del(pd_gtable_t *t, const char *table, const char *key, uint64_t now_ms,
                  pd_gtable_msg_t *msg_out)
{
    PD_ASSERT(t && table && key);
    gt_rec_t r = {.table = table, .table_len = strlen(table), .key = key, .key_len = strlen(key),
                  .deleted = 1};
    return local_write(t, &r, now_ms, msg_out);
}

int pd_gtable_put_cluster(pd_gtable_t *t, const char *table, const char *key, const void *value,
                          size_t value_len, uint64_t now_ms, pd_gtable_msg_t *msg_out)
{
    PD_ASSERT(t && table && key && (value || value_len == 0));
    gt_rec_t r = {.table = table, .table_len = strlen(table), .key = key, .key_len = strlen(key),
                  .value = value, .value_len = value_len, .owner = PD_GTABLE_CLUSTER_OWNER,
                  .owner_len = sizeof PD_GTABLE_CLUSTER_OWNER - 1};
    return local_write(t, &r, now_ms, msg_out);
}

int pd_gtable_del_cluster(pd_gtable_t *t, const char *table, const char *key, uint64_t now_ms,
                          pd_gtable_msg_t *msg_out)
{
    PD_ASSERT(t && table && key);
    gt_rec_t r = {.table = table, .table_len = strlen(table), .key = key, .key_len = strlen(key),
                  .deleted = 1, .owner = PD_GTABLE_CLUSTER_OWNER,
                  .owner_len = sizeof PD_GTABLE_CLUSTER_OWNER - 1};
    return local_write(t, &r, now_ms, msg_out);
}

int pd_gtable_get(const pd_gtable_t *t, const char *table, const char *key, pd_gtable_view_t *out)
{
    PD_ASSERT(t && table && key && out);
    const gt_ent_t *e = gt_find(t, table, strlen(table), key, strlen(key));
    if (!e || !gt_visible(e))
        return -PD_ENOTFOUND;
    gt_view(e, out);
    return 0;
}

static int foreach_tab(const gt_tab_t *b, pd_gtable_iter_fn fn, void *ctx)
{
    for (const gt_ent_t *e = b->head; e; e = e->next) {
        if (!gt_visible(e))
            continue;
        pd_gtable_view_t v;
        gt_view(e, &v);
        int rc = fn(ctx, &v);
        if (rc)
            return rc;
    }
    return 0;
}

int pd_gtable_foreach(const pd_gtable_t *t, const char *table, pd_gtable_iter_fn fn, void *ctx)
{
    PD_ASSERT(t && table && fn);
    size_t n = strlen(table);
    if (n == 0 || n > PD_GTABLE_TABLE_NAME_MAX)
        return 0;
    const gt_tab_t *b = tab_find(t, table, n, hash_bytes(t, table, n));
    return b ? foreach_tab(b, fn, ctx) : 0;
}

int pd_gtable_foreach_prefix(const pd_gtable_t *t, const char *prefix, pd_gtable_iter_fn fn,
                             void *ctx)
{
    PD_ASSERT(t && prefix && fn);
    size_t n = strlen(prefix);
    for (const gt_tab_t *b = t->tables_head; b; b = b->next) {
        if (b->len < n || memcmp(b->name, prefix, n) != 0)
            continue;
        int rc = foreach_tab(b, fn, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

static int count_one(void *ctx, const pd_gtable_view_t *e)
{
    (void)e;
    (*(size_t *)ctx)++;
    return 0;
}

size_t pd_gtable_count(const pd_gtable_t *t, const char *table)
{
    size_t n = 0;
    pd_gtable_foreach(t, table, count_one, &n);
    return n;
}

size_t pd_gtable_stored(const pd_gtable_t *t) { return t->nentries; }
uint64_t pd_gtable_clock(const pd_gtable_t *t) { return t->clock; }
const pd_gtable_stats_t *pd_gtable_stats(const pd_gtable_t *t) { return &t->stats; }

int pd_gtable_watch(pd_gtable_t *t, const char *prefix, pd_gtable_watch_fn fn, void *ctx,
                    int *id_out)
{
    PD_ASSERT(t && prefix && fn && id_out);
    size_t n = strlen(prefix);
    if (n > PD_GTABLE_TABLE_NAME_MAX)
        return -PD_EUSAGE;
    for (int i = 0; i < PD_GTABLE_WATCHERS_MAX; i++) {
        gt_watch_t *w = &t->watch[i];
        if (w->used)
            continue;
        memcpy(w->prefix, prefix, n + 1);
        w->prefix_len = n;
        w->fn = fn;
        w->ctx = ctx;
        w->used = 1;
        *id_out = i;
        return 0;
    }
    return gt_limit_hit(t, 0, "watchers");
}

int pd_gtable_unwatch(pd_gtable_t *t, int id)
{
    if (id < 0 || id >= PD_GTABLE_WATCHERS_MAX || !t->watch[id].used)
        return -PD_ENOTFOUND;
    memset(&t->watch[id], 0, sizeof t->watch[id]);
    return 0;
}
