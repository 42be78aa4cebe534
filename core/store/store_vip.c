/* Service VIPs in the store: the range, the name -> address table (sorted by name, binary search),
 * the VIP_ALLOC / VIP_RELEASE entries (codec and apply). Allocation scans the addresses in use in
 * order, so the same table and range always give the same lowest free address. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "store_int.h"
#include "store_wire.h"

/* ---- range and names -------------------------------------------------------------------------- */

static uint32_t mask_of(uint8_t prefix) { return prefix ? ~(uint32_t)0 << (32 - prefix) : 0; }

int pd_store__vip_range_ok(uint32_t net, uint64_t prefix)
{
    return prefix >= PD_STORE_VIP_PREFIX_MIN && prefix <= PD_STORE_VIP_PREFIX_MAX &&
           (net & ~mask_of((uint8_t)prefix)) == 0;
}

int pd_store_vip_range_parse(const char *cidr, pd_store_vip_range_t *out, char *err, size_t errlen)
{
    char buf[32];
    const char *slash = cidr ? strchr(cidr, '/') : NULL;
    if (!slash || (size_t)(slash - cidr) >= sizeof buf) {
        snprintf(err, errlen, "'%s' is not an IPv4 CIDR (A.B.C.D/P)", cidr ? cidr : "");
        return -PD_EUSAGE;
    }
    memcpy(buf, cidr, (size_t)(slash - cidr));
    buf[slash - cidr] = '\0';
    struct in_addr a;
    char *end;
    unsigned long p = strtoul(slash + 1, &end, 10);
    if (inet_pton(AF_INET, buf, &a) != 1 || slash[1] == '\0' || *end) {
        snprintf(err, errlen, "'%s' is not an IPv4 CIDR (A.B.C.D/P)", cidr);
        return -PD_EUSAGE;
    }
    uint32_t net = ntohl(a.s_addr);
    if (p < PD_STORE_VIP_PREFIX_MIN || p > PD_STORE_VIP_PREFIX_MAX) {
        snprintf(err, errlen, "VIP range '%s': the prefix must be /%u to /%u", cidr, PD_STORE_VIP_PREFIX_MIN,
                 PD_STORE_VIP_PREFIX_MAX);
        return -PD_EUSAGE;
    }
    if (!pd_store__vip_range_ok(net, p)) {
        snprintf(err, errlen, "VIP range '%s' has host bits set", cidr);
        return -PD_EUSAGE;
    }
    out->net = net;
    out->prefix = (uint8_t)p;
    return 0;
}

int pd_store_vip_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > PD_STORE_VIP_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

void pd_store__vip_bounds(const pd_store_vip_range_t *r, uint32_t *first, uint32_t *last)
{
    *first = r->net + 1;                       /* not the network address */
    *last = (r->net | ~mask_of(r->prefix)) - 1; /* not the broadcast address */
}

/* ---- table ------------------------------------------------------------------------------------ */

static int name_cmp(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

/* Index of name, or where it would go (*found 0). */
static uint32_t vip_search(const pd_store_t *s, const char *name, size_t len, int *found)
{
    uint32_t lo = 0, hi = s->n_vips;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(name, len, s->vips[mid].name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = 0;
    return lo;
}

int pd_store_vip_range(const pd_store_t *s, pd_store_vip_range_t *out)
{
    if (!s->has_vip_range)
        return -PD_ENOTFOUND;
    *out = s->vip_range;
    return 0;
}

int pd_store_vip_get(const pd_store_t *s, const char *name, size_t len, uint32_t *addr)
{
    int found;
    uint32_t i = vip_search(s, name, len, &found);
    if (!found)
        return -PD_ENOTFOUND;
    *addr = s->vips[i].addr;
    return 0;
}

size_t pd_store_vip_count(const pd_store_t *s) { return s->n_vips; }

void pd_store_vip_at(const pd_store_t *s, size_t i, const char **name, uint32_t *addr)
{
    PD_ASSERT(i < s->n_vips);
    *name = s->vips[i].name;
    *addr = s->vips[i].addr;
}

static int vip_reserve(pd_store_t *s)
{
    if (s->n_vips < s->vips_cap)
        return 0;
    uint32_t cap = s->vips_cap ? s->vips_cap * 2 : 16;
    pd_store__vip_t *v = pd_realloc(s->vips, (size_t)cap * sizeof *v);
    if (!v)
        return -ENOMEM;
    s->vips = v;
    s->vips_cap = cap;
    return 0;
}

int pd_store__vip_insert(pd_store_t *s, const char *name, size_t len, uint32_t addr)
{
    int found;
    uint32_t at = vip_search(s, name, len, &found);
    PD_ASSERT(!found && len <= PD_STORE_VIP_NAME_MAX);
    if (vip_reserve(s) != 0)
        return -ENOMEM;
    memmove(&s->vips[at + 1], &s->vips[at], (size_t)(s->n_vips - at) * sizeof *s->vips);
    memcpy(s->vips[at].name, name, len);
    s->vips[at].name[len] = '\0';
    s->vips[at].addr = addr;
    s->n_vips++;
    return 0;
}

void pd_store__vip_clear(pd_store_t *s)
{
    pd_free(s->vips);
    s->vips = NULL;
    s->n_vips = s->vips_cap = 0;
    s->has_vip_range = 0;
    memset(&s->vip_range, 0, sizeof s->vip_range);
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The lowest address of the range no VIP holds: 0 and *out, -PD_ELIMIT (range full) or -ENOMEM. */
static int lowest_free(const pd_store_t *s, uint32_t *out)
{
    uint32_t first, last;
    pd_store__vip_bounds(&s->vip_range, &first, &last);
    uint32_t *used = NULL, n = 0;
    if (s->n_vips) {
        used = pd_malloc((size_t)s->n_vips * sizeof *used);
        if (!used)
            return -ENOMEM;
        for (uint32_t i = 0; i < s->n_vips; i++)
            if (s->vips[i].addr >= first && s->vips[i].addr <= last)
                used[n++] = s->vips[i].addr;
        qsort(used, n, sizeof *used, u32_cmp);
    }
    uint64_t cand = first;
    for (uint32_t i = 0; i < n && used[i] <= cand; i++)
        if (used[i] == cand)
            cand++;
    pd_free(used);
    if (cand > last)
        return -PD_ELIMIT;
    *out = (uint32_t)cand;
    return 0;
}

/* ---- entries ---------------------------------------------------------------------------------- */

static int encode_entry(uint8_t type, const char *name, const pd_store_vip_range_t *range, uint8_t **out,
                        size_t *len_out)
{
    if (!name || !pd_store_vip_name_valid(name, strlen(name)) ||
        (range && !pd_store__vip_range_ok(range->net, range->prefix)))
        return -PD_EUSAGE;
    pd_mp_out_t o = {.max = PD_STORE_ENTRY_MAX};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &o, pd_mp_out_write);
    uint8_t t = type;
    pd_mp_out_write(&o, (const char *)&t, 1);
    msgpack_pack_map(&pk, range ? 2 : 1);
    pd_mp_pack_kv_str(&pk, "n", name);
    if (range) {
        pd_mp_pack_cstr(&pk, "r");
        msgpack_pack_array(&pk, 2);
        msgpack_pack_uint32(&pk, range->net);
        msgpack_pack_uint8(&pk, range->prefix);
    }
    if (o.err) {
        pd_free(o.data);
        return o.err;
    }
    *out = o.data;
    *len_out = o.len;
    return 0;
}

int pd_store_wire_encode_vip_alloc(const char *name, const pd_store_vip_range_t *range, uint8_t **out,
                                   size_t *len_out)
{
    if (!range)
        return -PD_EUSAGE;
    return encode_entry(PD_STORE_ENTRY_VIP_ALLOC, name, range, out, len_out);
}

int pd_store_wire_encode_vip_release(const char *name, uint8_t **out, size_t *len_out)
{
    return encode_entry(PD_STORE_ENTRY_VIP_RELEASE, name, NULL, out, len_out);
}

typedef struct {
    char name[PD_STORE_VIP_NAME_MAX + 1];
    size_t len;
    pd_store_vip_range_t range;
} vip_cmd_t;

static int decode_cmd(const uint8_t *p, size_t len, int alloc, vip_cmd_t *c)
{
    msgpack_unpacked up;
    int rc = len > PD_STORE_ENTRY_MAX ? -PD_ETOOBIG : pd_mp_unpack(p + 1, len - 1, &up);
    if (rc)
        return rc;
    rc = -PD_EMALFORMED;
    const msgpack_object *m = &up.data, *r;
    const char *nm;
    if (m->type == MSGPACK_OBJECT_MAP && pd_mp_get_str(m, "n", &nm, &c->len) == 0 &&
        pd_store_vip_name_valid(nm, c->len)) {
        memcpy(c->name, nm, c->len);
        c->name[c->len] = '\0';
        rc = 0;
        if (alloc) {
            r = pd_mp_get(m, "r");
            if (!r || r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != 2 ||
                r->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                r->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                r->via.array.ptr[0].via.u64 > UINT32_MAX ||
                !pd_store__vip_range_ok((uint32_t)r->via.array.ptr[0].via.u64, r->via.array.ptr[1].via.u64))
                rc = -PD_EMALFORMED;
            else {
                c->range.net = (uint32_t)r->via.array.ptr[0].via.u64;
                c->range.prefix = (uint8_t)r->via.array.ptr[1].via.u64;
            }
        }
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

static int vip_alloc(pd_store_t *s, const vip_cmd_t *c, int *result)
{
    uint32_t addr;
    if (pd_store_vip_get(s, c->name, c->len, &addr) == 0) {
        *result = 0; /* already has one: stable for its lifetime */
        return 0;
    }
    if (s->n_vips >= PD_STORE_VIPS_MAX) {
        *result = -PD_ELIMIT;
        return 0;
    }
    int fresh_range = !s->has_vip_range;
    if (fresh_range) {
        s->vip_range = c->range;
        s->has_vip_range = 1;
    }
    int rc = lowest_free(s, &addr);
    if (rc == 0)
        rc = pd_store__vip_insert(s, c->name, c->len, addr);
    if (rc == -ENOMEM) {
        if (fresh_range)
            s->has_vip_range = 0;
        return rc;
    }
    *result = rc; /* -PD_ELIMIT: the range is full */
    return 0;
}

static void vip_release(pd_store_t *s, const vip_cmd_t *c, int *result)
{
    int found;
    uint32_t i = vip_search(s, c->name, c->len, &found);
    if (!found) {
        *result = -PD_ENOTFOUND;
        return;
    }
    memmove(&s->vips[i], &s->vips[i + 1], (size_t)(s->n_vips - i - 1) * sizeof *s->vips);
    s->n_vips--;
    *result = 0;
}

int pd_store__vip_apply(pd_store_t *s, const uint8_t *p, size_t len, pd_store_result_t *r)
{
    int alloc = (p[0] & PD_STORE_ENTRY_TYPE_MASK) == PD_STORE_ENTRY_VIP_ALLOC;
    vip_cmd_t c;
    int rc = decode_cmd(p, len, alloc, &c);
    if (rc == -ENOMEM)
        return rc;
    if (rc) { /* every manager rejects the same bytes alike: consume the entry */
        r->rc = rc;
        return 0;
    }
    if (alloc)
        return vip_alloc(s, &c, &r->rc);
    vip_release(s, &c, &r->rc);
    return 0;
}
