/* peerctl config and secret create / ls / inspect / rm (the store's CONFIG and SECRET kinds,
 * through Raft) and raft status. Both kinds share one code path; they differ only in what inspect
 * may show (a secret's data never leaves the store through the control socket) and in whether
 * empty data is allowed. Writes are proposed (or forwarded to the leader) and answered once
 * applied; reads wait for a ReadIndex, so every manager answers with the latest committed state.
 * A secret's bytes sit in the store's memory in plaintext and reach disk only inside sealed WAL
 * records and snapshot files (seal.h); they are never logged, gossiped or sent in events. */
#include "ctl_config.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "raft_node.h"
#include "store_wire.h"

typedef struct {
    uint8_t kind;      /* pd_store_kind_t */
    const char *noun;  /* "config", "secret" */
    int show_data;     /* inspect returns the data */
    int allow_empty;   /* empty data may be stored */
} obj_kind_t;

static const obj_kind_t kinds[] = {
    {PD_STORE_CONFIG, "config", 1, 1},
    {PD_STORE_SECRET, "secret", 0, 0},
};

/* Completion arguments start with the index into kinds[]. */
static const obj_kind_t *kind_of(const void *arg) { return &kinds[*(const uint8_t *)arg]; }

static int alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

int pd_ctl_object_name_check(const char *noun, const char *name, size_t len, char *err, size_t errlen)
{
    if (len == 0 || len > PD_CONFIG_NAME_MAX) {
        snprintf(err, errlen, "invalid %s name: must be 1 to %u characters", noun, PD_CONFIG_NAME_MAX);
        return -PD_EUSAGE;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = alnum(c) || ((c == '-' || c == '_' || c == '.') && i > 0 && i + 1 < len);
        if (!ok) {
            snprintf(err, errlen, "invalid %s name '%.*s': only letters, digits, '-', '_' and '.' are "
                                  "allowed, starting and ending with a letter or digit", noun, (int)len, name);
            return -PD_EUSAGE;
        }
    }
    return 0;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Find an object by id, else by name. */
static const pd_store_obj_t *lookup(const pd_store_t *s, const obj_kind_t *k, const char *ref, size_t len)
{
    const pd_store_obj_t *o = pd_store_get(s, k->kind, ref, len);
    return o ? o : pd_store_get_by_name(s, k->kind, ref, len);
}

static void store_err(const obj_kind_t *k, int rc, const char *what, char *err, size_t errlen)
{
    if (rc == -PD_EEXISTS)
        snprintf(err, errlen, "%s '%s' already exists", k->noun, what);
    else if (rc == -PD_ENOTFOUND)
        snprintf(err, errlen, "%s '%s' not found", k->noun, what);
}

/* arg: kind | "ID\0NAME" */
static int create_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                       msgpack_packer *pk, char *err, size_t errlen)
{
    const char *id = (const char *)arg + 1, *name = id + strlen(id) + 1;
    if (rc) {
        store_err(kind_of(arg), rc, name, err, errlen);
        return rc;
    }
    msgpack_pack_map(pk, 2);
    pd_mp_pack_kv_str(pk, "id", id);
    pd_mp_pack_kv_str(pk, "name", name);
    return 0;
}

/* The spec: {"labels": {k: v, ...}} from the request's "labels" map (absent: none). */
static int labels_spec(const obj_kind_t *k, const pd_ctl_request_t *req, msgpack_sbuffer *sb, char *err,
                       size_t errlen)
{
    const msgpack_object *l = pd_mp_get(req->args, "labels");
    if (l && l->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, errlen, "%s labels must be a map", k->noun);
        return -PD_EUSAGE;
    }
    uint32_t n = l ? l->via.map.size : 0;
    if (n > PD_OBJECT_LABELS_MAX) {
        snprintf(err, errlen, "too many labels (%u; the limit is %u)", n, PD_OBJECT_LABELS_MAX);
        return -PD_ELIMIT;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pd_mp_pack_cstr(&pk, "labels");
    msgpack_pack_map(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &l->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->val.type != MSGPACK_OBJECT_STR || kv->key.via.str.size == 0 ||
            kv->key.via.str.size > PD_OBJECT_LABEL_MAX || kv->val.via.str.size > PD_OBJECT_LABEL_MAX) {
            snprintf(err, errlen, "invalid label: keys are 1 to %u characters, values at most %u",
                     PD_OBJECT_LABEL_MAX, PD_OBJECT_LABEL_MAX);
            return -PD_EUSAGE;
        }
        msgpack_pack_object(&pk, kv->key);
        msgpack_pack_object(&pk, kv->val);
    }
    return 0;
}

static int create(pd_daemon_t *d, const obj_kind_t *k, const pd_ctl_request_t *req, char *err, size_t errlen)
{
    const char *name;
    size_t nlen;
    const msgpack_object *data = req->args ? pd_mp_get(req->args, "data") : NULL;
    if (!req->args || pd_mp_get_str(req->args, "name", &name, &nlen) != 0 || !data ||
        (data->type != MSGPACK_OBJECT_BIN && data->type != MSGPACK_OBJECT_STR)) {
        snprintf(err, errlen, "%s.create needs name and data", k->noun);
        return -PD_EUSAGE;
    }
    int rc = pd_ctl_object_name_check(k->noun, name, nlen, err, errlen);
    if (rc)
        return rc;
    size_t dlen = data->type == MSGPACK_OBJECT_BIN ? data->via.bin.size : data->via.str.size;
    const void *dptr = data->type == MSGPACK_OBJECT_BIN ? (const void *)data->via.bin.ptr : data->via.str.ptr;
    if (dlen > PD_CONFIG_DATA_MAX) {
        snprintf(err, errlen, "%s data is %zu bytes; the limit is %u bytes (500 KiB)", k->noun, dlen,
                 PD_CONFIG_DATA_MAX);
        return -PD_ETOOBIG;
    }
    if (dlen == 0 && !k->allow_empty) {
        snprintf(err, errlen, "%s data is empty", k->noun);
        return -PD_EUSAGE;
    }
    if (!d->raft) {
        snprintf(err, errlen, "this node runs no manager");
        return -PD_ESTATE;
    }
    msgpack_sbuffer spec;
    msgpack_sbuffer_init(&spec);
    rc = labels_spec(k, req, &spec, err, errlen);
    char id[26] = "";
    if (!rc)
        pd_store_id_new(pd_raft_node_rng(d), id);
    pd_store_op_t op = {.op = PD_STORE_OP_CREATE, .kind = k->kind,
                        .id = {(const uint8_t *)id, (uint32_t)strlen(id)},
                        .name = {(const uint8_t *)name, (uint32_t)nlen},
                        .spec = {(const uint8_t *)spec.data, (uint32_t)spec.size},
                        .data = {dptr, (uint32_t)dlen}};
    pd_store_txn_t txn = {.now_ms = wall_ms(), .ops = &op, .n_ops = 1};
    uint8_t *entry = NULL;
    size_t elen = 0;
    if (!rc && (rc = pd_store_wire_encode_txn(&txn, &entry, &elen)) != 0)
        snprintf(err, errlen, "cannot encode the %s: %s", k->noun, pd_strerror(rc));
    msgpack_sbuffer_destroy(&spec);
    if (rc)
        return rc;
    char arg[1 + 26 + PD_CONFIG_NAME_MAX + 2];
    size_t ilen = strlen(id);
    arg[0] = (char)(k - kinds);
    memcpy(arg + 1, id, ilen + 1);
    memcpy(arg + 2 + ilen, name, nlen);
    arg[2 + ilen + nlen] = '\0';
    rc = pd_raft_node_write(d, &d->ctl_cur, entry, elen, create_done, arg, ilen + nlen + 3, err, errlen);
    pd_free(entry);
    return rc;
}

static void pack_meta(msgpack_packer *pk, const pd_store_obj_t *o, uint32_t extra)
{
    msgpack_pack_map(pk, 6 + extra);
    pd_mp_pack_kv_str(pk, "id", o->id);
    pd_mp_pack_kv_str(pk, "name", o->name);
    pd_mp_pack_kv_u64(pk, "version", o->version);
    pd_mp_pack_kv_i64(pk, "created_ms", o->created_ms);
    pd_mp_pack_kv_i64(pk, "updated_ms", o->updated_ms);
    pd_mp_pack_kv_u64(pk, "size", o->data_len);
}

/* The spec's labels map as "labels" (an empty map when there are none). */
static void pack_labels(msgpack_packer *pk, const pd_store_obj_t *o)
{
    pd_mp_pack_cstr(pk, "labels");
    msgpack_unpacked u;
    const msgpack_object *l = NULL;
    int have = o->spec_len && pd_mp_unpack(o->spec, o->spec_len, &u) == 0;
    if (have)
        l = pd_mp_get(&u.data, "labels");
    if (l && l->type == MSGPACK_OBJECT_MAP)
        msgpack_pack_object(pk, *l);
    else
        msgpack_pack_map(pk, 0);
    if (have)
        msgpack_unpacked_destroy(&u);
}

static int ls_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                   msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc)
        return rc;
    const obj_kind_t *k = kind_of(arg);
    const pd_store_t *s = pd_raft_node_store(d);
    msgpack_pack_array(pk, pd_store_count(s, k->kind));
    for (const pd_store_obj_t *o = pd_store_first(s, k->kind); o; o = pd_store_next(o))
        pack_meta(pk, o, 0);
    return 0;
}

static int ls(pd_daemon_t *d, const obj_kind_t *k, char *err, size_t errlen)
{
    uint8_t arg = (uint8_t)(k - kinds);
    return pd_raft_node_read(d, &d->ctl_cur, ls_done, &arg, 1, err, errlen);
}

static int is_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0 || (p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t'))
            return 0;
    return 1;
}

static int pack_data(msgpack_packer *pk, const pd_store_obj_t *o)
{
    int text = is_text(o->data, o->data_len);
    pd_mp_pack_kv_str(pk, "encoding", text ? "text" : "base64");
    pd_mp_pack_cstr(pk, "data");
    if (text) {
        msgpack_pack_str(pk, o->data_len);
        msgpack_pack_str_body(pk, o->data, o->data_len);
        return 0;
    }
    size_t cap = sodium_base64_encoded_len(o->data_len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = pd_malloc(cap);
    if (!b64)
        return -ENOMEM;
    sodium_bin2base64(b64, cap, o->data, o->data_len, sodium_base64_VARIANT_ORIGINAL);
    pd_mp_pack_cstr(pk, b64);
    pd_free(b64);
    return 0;
}

/* After a read barrier that ended with rc: the object arg (kind | ref) names. 0 or an error. */
static int resolve(pd_daemon_t *d, int rc, const void *arg, size_t arg_len, const pd_store_obj_t **out, char *err,
                   size_t errlen)
{
    if (rc)
        return rc;
    const obj_kind_t *k = kind_of(arg);
    const char *ref = (const char *)arg + 1;
    *out = lookup(pd_raft_node_store(d), k, ref, arg_len - 1);
    if (*out)
        return 0;
    snprintf(err, errlen, "%s '%.*s' not found", k->noun, (int)arg_len - 1, ref);
    return -PD_ENOTFOUND;
}

static int inspect_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                        msgpack_packer *pk, char *err, size_t errlen)
{
    const pd_store_obj_t *o;
    if ((rc = resolve(d, rc, arg, arg_len, &o, err, errlen)) != 0)
        return rc;
    int show = kind_of(arg)->show_data;
    pack_meta(pk, o, show ? 3 : 1);
    pack_labels(pk, o);
    return show ? pack_data(pk, o) : 0;
}

/* Request "ref" into arg = kind | ref. */
static int ref_arg(const obj_kind_t *k, const pd_ctl_request_t *req, uint8_t *arg, size_t *arg_len, char *err,
                   size_t errlen)
{
    const char *ref;
    size_t len;
    if (!req->args || pd_mp_get_str(req->args, "ref", &ref, &len) != 0 || len == 0 || len > PD_STORE_NAME_MAX) {
        snprintf(err, errlen, "a %s NAME or ID is required", k->noun);
        return -PD_EUSAGE;
    }
    arg[0] = (uint8_t)(k - kinds);
    memcpy(arg + 1, ref, len);
    *arg_len = len + 1;
    return 0;
}

static int inspect(pd_daemon_t *d, const obj_kind_t *k, const pd_ctl_request_t *req, char *err, size_t errlen)
{
    uint8_t arg[1 + PD_STORE_NAME_MAX];
    size_t len;
    int rc = ref_arg(k, req, arg, &len, err, errlen);
    return rc ? rc : pd_raft_node_read(d, &d->ctl_cur, inspect_done, arg, len, err, errlen);
}

/* arg: kind | id | NUL */
static int rm_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                   msgpack_packer *pk, char *err, size_t errlen)
{
    const char *id = (const char *)arg + 1;
    if (rc) {
        store_err(kind_of(arg), rc, id, err, errlen);
        return rc;
    }
    msgpack_pack_map(pk, 1);
    pd_mp_pack_kv_str(pk, "id", id);
    return 0;
}

/* After the read barrier: resolve the name, then delete by id. */
static int rm_resolved(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                       msgpack_packer *pk, char *err, size_t errlen)
{
    const pd_store_obj_t *o;
    if ((rc = resolve(d, rc, arg, arg_len, &o, err, errlen)) != 0)
        return rc;
    pd_store_op_t op = {.op = PD_STORE_OP_DELETE, .kind = o->kind, .id = {(const uint8_t *)o->id, o->id_len}};
    pd_store_txn_t txn = {.now_ms = wall_ms(), .ops = &op, .n_ops = 1};
    uint8_t *entry = NULL;
    size_t elen = 0;
    rc = pd_store_wire_encode_txn(&txn, &entry, &elen);
    if (rc)
        return rc;
    uint8_t done_arg[1 + PD_STORE_ID_MAX + 1];
    done_arg[0] = *(const uint8_t *)arg;
    memcpy(done_arg + 1, o->id, o->id_len + 1);
    rc = pd_raft_node_write(d, tok, entry, elen, rm_done, done_arg, o->id_len + 2, err, errlen);
    pd_free(entry);
    return rc;
}

static int rm(pd_daemon_t *d, const obj_kind_t *k, const pd_ctl_request_t *req, char *err, size_t errlen)
{
    uint8_t arg[1 + PD_STORE_NAME_MAX];
    size_t len;
    int rc = ref_arg(k, req, arg, &len, err, errlen);
    return rc ? rc : pd_raft_node_read(d, &d->ctl_cur, rm_resolved, arg, len, err, errlen);
}

/* The kind an operation is about: "config.create" -> config. */
static const obj_kind_t *kind_for(const pd_ctl_request_t *req)
{
    size_t n = strcspn(req->op, ".");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i].noun) == n && strncmp(req->op, kinds[i].noun, n) == 0)
            return &kinds[i];
    return &kinds[0]; /* ctl_handlers registers only the nouns above */
}

int pd_ctl_object_create(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return create(d, kind_for(req), req, err, errlen);
}

int pd_ctl_object_ls(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return ls(d, kind_for(req), err, errlen);
}

int pd_ctl_object_inspect(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return inspect(d, kind_for(req), req, err, errlen);
}

int pd_ctl_object_rm(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return rm(d, kind_for(req), req, err, errlen);
}

int pd_ctl_raft_status(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return pd_raft_node_status(d, pk, err, errlen);
}
