/* peerctl config create / ls / inspect / rm (the store's CONFIG kind, through Raft) and raft status.
 * Writes are proposed (or forwarded to the leader) and answered once applied; reads wait for a
 * ReadIndex, so every manager answers with the latest committed state. */
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

static int alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

int pd_ctl_config_name_check(const char *name, size_t len, char *err, size_t errlen)
{
    if (len == 0 || len > PD_CONFIG_NAME_MAX) {
        snprintf(err, errlen, "invalid config name: must be 1 to %u characters", PD_CONFIG_NAME_MAX);
        return -PD_EUSAGE;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = alnum(c) || ((c == '-' || c == '_' || c == '.') && i > 0 && i + 1 < len);
        if (!ok) {
            snprintf(err, errlen, "invalid config name '%.*s': only letters, digits, '-', '_' and '.' are "
                                  "allowed, starting and ending with a letter or digit", (int)len, name);
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

/* Find a config by id, else by name. */
static const pd_store_obj_t *lookup(const pd_store_t *s, const char *ref, size_t len)
{
    const pd_store_obj_t *o = pd_store_get(s, PD_STORE_CONFIG, ref, len);
    return o ? o : pd_store_get_by_name(s, PD_STORE_CONFIG, ref, len);
}

static const char *store_err(int rc, const char *what, char *err, size_t errlen)
{
    if (rc == -PD_EEXISTS)
        snprintf(err, errlen, "config '%s' already exists", what);
    else if (rc == -PD_ENOTFOUND)
        snprintf(err, errlen, "config '%s' not found", what);
    return err;
}

/* arg: "ID\0NAME" */
static int create_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                       msgpack_packer *pk, char *err, size_t errlen)
{
    const char *id = arg, *name = id + strlen(id) + 1;
    if (rc) {
        store_err(rc, name, err, errlen);
        return rc;
    }
    msgpack_pack_map(pk, 2);
    pd_mp_pack_kv_str(pk, "id", id);
    pd_mp_pack_kv_str(pk, "name", name);
    return 0;
}

int pd_ctl_config_create(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    const char *name;
    size_t nlen;
    const msgpack_object *data = req->args ? pd_mp_get(req->args, "data") : NULL;
    if (!req->args || pd_mp_get_str(req->args, "name", &name, &nlen) != 0 || !data ||
        (data->type != MSGPACK_OBJECT_BIN && data->type != MSGPACK_OBJECT_STR)) {
        snprintf(err, errlen, "config.create needs name and data");
        return -PD_EUSAGE;
    }
    int rc = pd_ctl_config_name_check(name, nlen, err, errlen);
    if (rc)
        return rc;
    size_t dlen = data->type == MSGPACK_OBJECT_BIN ? data->via.bin.size : data->via.str.size;
    const void *dptr = data->type == MSGPACK_OBJECT_BIN ? (const void *)data->via.bin.ptr : data->via.str.ptr;
    if (dlen > PD_CONFIG_DATA_MAX) {
        snprintf(err, errlen, "config data is %zu bytes; the limit is %u bytes (500 KiB)", dlen, PD_CONFIG_DATA_MAX);
        return -PD_ETOOBIG;
    }
    if (!d->raft) {
        snprintf(err, errlen, "this node runs no manager");
        return -PD_ESTATE;
    }
    char id[26];
    pd_store_id_new(pd_raft_node_rng(d), id);
    pd_store_op_t op = {.op = PD_STORE_OP_CREATE, .kind = PD_STORE_CONFIG,
                        .id = {(const uint8_t *)id, (uint32_t)strlen(id)},
                        .name = {(const uint8_t *)name, (uint32_t)nlen},
                        .data = {dptr, (uint32_t)dlen}};
    pd_store_txn_t txn = {.now_ms = wall_ms(), .ops = &op, .n_ops = 1};
    uint8_t *entry = NULL;
    size_t elen = 0;
    rc = pd_store_wire_encode_txn(&txn, &entry, &elen);
    if (rc) {
        snprintf(err, errlen, "cannot encode the config: %s", pd_strerror(rc));
        return rc;
    }
    char arg[26 + PD_CONFIG_NAME_MAX + 2];
    size_t ilen = strlen(id);
    memcpy(arg, id, ilen + 1);
    memcpy(arg + ilen + 1, name, nlen);
    arg[ilen + 1 + nlen] = '\0';
    rc = pd_raft_node_write(d, &d->ctl_cur, entry, elen, create_done, arg, ilen + nlen + 2, err, errlen);
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

static int ls_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                   msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc)
        return rc;
    const pd_store_t *s = pd_raft_node_store(d);
    msgpack_pack_array(pk, pd_store_count(s, PD_STORE_CONFIG));
    for (const pd_store_obj_t *o = pd_store_first(s, PD_STORE_CONFIG); o; o = pd_store_next(o))
        pack_meta(pk, o, 0);
    return 0;
}

int pd_ctl_config_ls(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return pd_raft_node_read(d, &d->ctl_cur, ls_done, NULL, 0, err, errlen);
}

static int is_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0 || (p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t'))
            return 0;
    return 1;
}

static int inspect_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                        msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc)
        return rc;
    const pd_store_obj_t *o = lookup(pd_raft_node_store(d), arg, arg_len);
    if (!o) {
        snprintf(err, errlen, "config '%.*s' not found", (int)arg_len, (const char *)arg);
        return -PD_ENOTFOUND;
    }
    pack_meta(pk, o, 2);
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

static int ref_arg(const pd_ctl_request_t *req, const char **ref, size_t *len, char *err, size_t errlen)
{
    if (!req->args || pd_mp_get_str(req->args, "ref", ref, len) != 0 || *len == 0 || *len > PD_STORE_NAME_MAX) {
        snprintf(err, errlen, "a config NAME or ID is required");
        return -PD_EUSAGE;
    }
    return 0;
}

int pd_ctl_config_inspect(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    const char *ref;
    size_t len;
    int rc = ref_arg(req, &ref, &len, err, errlen);
    return rc ? rc : pd_raft_node_read(d, &d->ctl_cur, inspect_done, ref, len, err, errlen);
}

static int rm_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                   msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc) {
        store_err(rc, arg, err, errlen);
        return rc;
    }
    msgpack_pack_map(pk, 1);
    pd_mp_pack_kv_str(pk, "id", arg);
    return 0;
}

/* After the read barrier: resolve the name, then delete by id. */
static int rm_resolved(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                       msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc)
        return rc;
    const pd_store_obj_t *o = lookup(pd_raft_node_store(d), arg, arg_len);
    if (!o) {
        snprintf(err, errlen, "config '%.*s' not found", (int)arg_len, (const char *)arg);
        return -PD_ENOTFOUND;
    }
    pd_store_op_t op = {.op = PD_STORE_OP_DELETE, .kind = PD_STORE_CONFIG,
                        .id = {(const uint8_t *)o->id, o->id_len}};
    pd_store_txn_t txn = {.now_ms = wall_ms(), .ops = &op, .n_ops = 1};
    uint8_t *entry = NULL;
    size_t elen = 0;
    rc = pd_store_wire_encode_txn(&txn, &entry, &elen);
    if (rc)
        return rc;
    rc = pd_raft_node_write(d, tok, entry, elen, rm_done, o->id, o->id_len + 1, err, errlen);
    pd_free(entry);
    return rc;
}

int pd_ctl_config_rm(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    const char *ref;
    size_t len;
    int rc = ref_arg(req, &ref, &len, err, errlen);
    return rc ? rc : pd_raft_node_read(d, &d->ctl_cur, rm_resolved, ref, len, err, errlen);
}

int pd_ctl_raft_status(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return pd_raft_node_status(d, pk, err, errlen);
}
