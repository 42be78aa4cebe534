/* Gossiped VIP values (see vip_value.h). */
#include "vip_value.h"

#include <arpa/inet.h>
#include <msgpack.h>
#include <string.h>

#include "pd_err.h"
#include "pd_mp.h"

typedef struct {
    uint8_t *out;
    size_t len;
} fixed_buf_t;

static int fixed_write(void *ctx, const char *buf, size_t n)
{
    fixed_buf_t *b = ctx;
    if (b->len + n > PD_VIP_VALUE_MAX)
        return -1;
    memcpy(b->out + b->len, buf, n);
    b->len += n;
    return 0;
}

size_t pd_vip_value_encode(uint32_t addr, uint64_t term, uint8_t out[PD_VIP_VALUE_MAX])
{
    char ip[INET_ADDRSTRLEN];
    struct in_addr a = {.s_addr = htonl(addr)};
    inet_ntop(AF_INET, &a, ip, sizeof ip);
    fixed_buf_t b = {.out = out, .len = 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, fixed_write);
    msgpack_pack_map(&pk, 2); /* at most 1 + 2 + 16 + 2 + 9 bytes: fits */
    pd_mp_pack_kv_str(&pk, "a", ip);
    pd_mp_pack_kv_u64(&pk, "t", term);
    return b.len;
}

int pd_vip_value_decode(const uint8_t *v, size_t len, uint32_t *addr, uint64_t *term)
{
    msgpack_unpacked u;
    if (!v || len == 0 || len > PD_VIP_VALUE_MAX || pd_mp_unpack(v, len, &u) != 0)
        return -PD_EMALFORMED;
    char ip[INET_ADDRSTRLEN];
    struct in_addr a;
    uint64_t t = 0;
    int rc = u.data.type == MSGPACK_OBJECT_MAP && pd_mp_get_strbuf(&u.data, "a", ip, sizeof ip) == 0 &&
                     inet_pton(AF_INET, ip, &a) == 1 && pd_mp_get_u64(&u.data, "t", &t) == 0
                 ? 0
                 : -PD_EMALFORMED;
    msgpack_unpacked_destroy(&u);
    if (rc == 0) {
        *addr = ntohl(a.s_addr);
        *term = t;
    }
    return rc;
}
