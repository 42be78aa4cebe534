/* Node records: the spec codec and label edits (store_node.h). */
#include "store_node.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "store_wire.h"

static const char *const role_names[] = {"worker", "manager"};
static const char *const avail_names[] = {"active", "pause", "drain"};

const char *pd_node_role_name(pd_node_role_t r) { return r <= PD_NODE_MANAGER ? role_names[r] : "?"; }
const char *pd_node_avail_name(pd_node_avail_t a) { return a <= PD_NODE_DRAIN ? avail_names[a] : "?"; }

static int name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

int pd_node_role_parse(const char *s, pd_node_role_t *out)
{
    int i = name_index(s, role_names, 2);
    if (i < 0)
        return -PD_EUSAGE;
    *out = (pd_node_role_t)i;
    return 0;
}

int pd_node_avail_parse(const char *s, pd_node_avail_t *out)
{
    int i = name_index(s, avail_names, 3);
    if (i < 0)
        return -PD_EUSAGE;
    *out = (pd_node_avail_t)i;
    return 0;
}

static bool text_ok(const char *s, size_t max, bool is_key)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (is_key && (c == '=' || c == ' ')))
            return false;
    }
    return true;
}

static int label_find(const pd_node_rec_t *r, const char *key, uint32_t *at)
{
    uint32_t i = 0;
    while (i < r->n_labels && strcmp(r->labels[i].key, key) < 0)
        i++;
    *at = i;
    return i < r->n_labels && strcmp(r->labels[i].key, key) == 0;
}

int pd_node_rec_label_set(pd_node_rec_t *r, const char *key, const char *value)
{
    if (!text_ok(key, PD_NODE_LABEL_KEY_MAX, true) ||
        (value[0] && !text_ok(value, PD_NODE_LABEL_VAL_MAX, false)))
        return -PD_EUSAGE;
    uint32_t at;
    if (!label_find(r, key, &at)) {
        if (r->n_labels == PD_NODE_LABELS_MAX)
            return -PD_ELIMIT;
        memmove(&r->labels[at + 1], &r->labels[at], (r->n_labels - at) * sizeof r->labels[0]);
        r->n_labels++;
        strcpy(r->labels[at].key, key);
    }
    strcpy(r->labels[at].value, value);
    return 0;
}

int pd_node_rec_label_rm(pd_node_rec_t *r, const char *key)
{
    uint32_t at;
    if (!label_find(r, key, &at))
        return -PD_ENOTFOUND;
    memmove(&r->labels[at], &r->labels[at + 1], (r->n_labels - at - 1) * sizeof r->labels[0]);
    r->n_labels--;
    return 0;
}

const char *pd_node_rec_label_get(const pd_node_rec_t *r, const char *key)
{
    uint32_t at;
    return label_find(r, key, &at) ? r->labels[at].value : NULL;
}

int pd_node_rec_encode(const pd_node_rec_t *r, uint8_t **out, size_t *len_out)
{
    if (!text_ok(r->hostname, PD_NODE_HOSTNAME_MAX, false) || r->role > PD_NODE_MANAGER ||
        r->avail > PD_NODE_DRAIN || r->n_labels > PD_NODE_LABELS_MAX)
        return -PD_EUSAGE;
    for (uint32_t i = 0; i < r->n_labels; i++)
        if (!text_ok(r->labels[i].key, PD_NODE_LABEL_KEY_MAX, true) ||
            (i > 0 && strcmp(r->labels[i - 1].key, r->labels[i].key) >= 0))
            return -PD_EUSAGE;
    pd_mp_out_t o = {.max = PD_STORE_SPEC_MAX};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &o, pd_mp_out_write);
    msgpack_pack_map(&pk, 5);
    pd_mp_pack_kv_str(&pk, "h", r->hostname);
    pd_mp_pack_kv_str(&pk, "r", pd_node_role_name(r->role));
    pd_mp_pack_kv_str(&pk, "a", pd_node_avail_name(r->avail));
    pd_mp_pack_cstr(&pk, "l");
    msgpack_pack_map(&pk, r->n_labels);
    for (uint32_t i = 0; i < r->n_labels; i++) {
        pd_mp_pack_cstr(&pk, r->labels[i].key);
        pd_mp_pack_cstr(&pk, r->labels[i].value);
    }
    pd_mp_pack_kv_bool(&pk, "rm", r->removed);
    if (o.err) {
        pd_free(o.data);
        return o.err;
    }
    *out = o.data;
    *len_out = o.len;
    return 0;
}

static int str_copy(const msgpack_object *o, char *buf, size_t cap)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap)
        return -PD_EMALFORMED;
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return strlen(buf) == o->via.str.size ? 0 : -PD_EMALFORMED; /* no NUL inside */
}

static int decode_labels(const msgpack_object *l, pd_node_rec_t *r)
{
    if (!l || l->type != MSGPACK_OBJECT_MAP)
        return -PD_EMALFORMED;
    if (l->via.map.size > PD_NODE_LABELS_MAX)
        return -PD_ELIMIT;
    for (uint32_t i = 0; i < l->via.map.size; i++) {
        char key[PD_NODE_LABEL_KEY_MAX + 1], val[PD_NODE_LABEL_VAL_MAX + 1];
        if (str_copy(&l->via.map.ptr[i].key, key, sizeof key) || str_copy(&l->via.map.ptr[i].val, val, sizeof val))
            return -PD_EMALFORMED;
        uint32_t at;
        if (label_find(r, key, &at) || pd_node_rec_label_set(r, key, val) != 0)
            return -PD_EMALFORMED; /* duplicate or invalid key */
    }
    return 0;
}

int pd_node_rec_decode(const void *spec, size_t len, pd_node_rec_t *out)
{
    msgpack_unpacked u;
    if (len == 0 || pd_mp_unpack(spec, len, &u) != 0)
        return -PD_EMALFORMED;
    pd_node_rec_t *r = pd_calloc(1, sizeof *r);
    if (!r) {
        msgpack_unpacked_destroy(&u);
        return -ENOMEM;
    }
    char role[16], avail[16];
    int rm = 0;
    int rc = u.data.type == MSGPACK_OBJECT_MAP ? 0 : -PD_EMALFORMED;
    const msgpack_object *h = rc == 0 ? pd_mp_get(&u.data, "h") : NULL;
    if (rc == 0 && (!h || str_copy(h, r->hostname, sizeof r->hostname) ||
                    !text_ok(r->hostname, PD_NODE_HOSTNAME_MAX, false) ||
                    pd_mp_get_strbuf(&u.data, "r", role, sizeof role) ||
                    pd_mp_get_strbuf(&u.data, "a", avail, sizeof avail) || pd_mp_get_bool(&u.data, "rm", &rm)))
        rc = -PD_EMALFORMED;
    pd_node_role_t ro;
    pd_node_avail_t av;
    if (rc == 0 && (pd_node_role_parse(role, &ro) || pd_node_avail_parse(avail, &av)))
        rc = -PD_EMALFORMED;
    if (rc == 0)
        rc = decode_labels(pd_mp_get(&u.data, "l"), r);
    msgpack_unpacked_destroy(&u);
    if (rc == 0) {
        r->role = (uint8_t)ro;
        r->avail = (uint8_t)av;
        r->removed = rm != 0;
        *out = *r;
    }
    pd_free(r);
    return rc;
}

int pd_node_rec_get(const pd_store_t *s, const char *node_id, pd_node_rec_t *out)
{
    const pd_store_obj_t *o = s ? pd_store_get(s, PD_STORE_NODE, node_id, strlen(node_id)) : NULL;
    if (!o)
        return -PD_ENOTFOUND;
    return pd_node_rec_decode(o->spec, o->spec_len, out);
}

bool pd_node_rec_is_removed(const pd_store_t *s, const char *node_id)
{
    pd_node_rec_t *r = pd_malloc(sizeof *r);
    bool removed = r && pd_node_rec_get(s, node_id, r) == 0 && r->removed;
    pd_free(r);
    return removed;
}
