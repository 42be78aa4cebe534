/* msgpack helpers over msgpack-c. Decoding untrusted bytes goes through pd_mp_unpack, which first
 * walks the input with a bounded validator (depth cap; every declared array/map count must fit in
 * the bytes left) so msgpack-c never sizes an allocation from an attacker's count. */
#ifndef PD_MP_H
#define PD_MP_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* Check that data holds exactly one well-formed msgpack object (nothing after it). */
int pd_mp_validate(const void *data, size_t len, unsigned max_depth);
/* Validate, then unpack into `out` (caller calls msgpack_unpacked_destroy on success). */
int pd_mp_unpack(const void *data, size_t len, msgpack_unpacked *out);

/* Map lookups by string key; NULL / -PD_ENOTFOUND if missing, -PD_EMALFORMED on a wrong type. */
const msgpack_object *pd_mp_get(const msgpack_object *map, const char *key);
int pd_mp_get_u64(const msgpack_object *map, const char *key, uint64_t *out);
int pd_mp_get_i64(const msgpack_object *map, const char *key, int64_t *out);
int pd_mp_get_bool(const msgpack_object *map, const char *key, int *out);
/* Borrowed pointer into the unpacked object (not NUL-terminated). */
int pd_mp_get_str(const msgpack_object *map, const char *key, const char **ptr, size_t *len);
/* Copy a string value into buf (NUL-terminated); -PD_ETOOBIG if it does not fit. */
int pd_mp_get_strbuf(const msgpack_object *map, const char *key, char *buf, size_t cap);
int pd_mp_str_eq(const msgpack_object *o, const char *s);
/* A text value copied into buf, NUL-terminated, its length in *len (may be NULL): -PD_EMALFORMED
 * when missing, not a string, holding a NUL, or not shorter than cap. */
int pd_mp_get_text(const msgpack_object *map, const char *key, char *buf, size_t cap, size_t *len);

/* A growable msgpack output buffer with a size cap, for msgpack_packer_init(&pk, &out,
 * pd_mp_out_write). Memory comes from pd_alloc; errors are sticky (-PD_ETOOBIG past max, -ENOMEM).
 * The caller owns data (pd_free) and checks err once after packing. */
typedef struct {
    uint8_t *data;
    size_t len, cap, max;
    int err;
} pd_mp_out_t;
int pd_mp_out_write(void *ctx, const char *buf, size_t n);

/* Packing shorthands. */
void pd_mp_pack_cstr(msgpack_packer *pk, const char *s);
void pd_mp_pack_kv_str(msgpack_packer *pk, const char *key, const char *val);
void pd_mp_pack_kv_strn(msgpack_packer *pk, const char *key, const char *val, size_t len);
void pd_mp_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t val);
void pd_mp_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t val);
void pd_mp_pack_kv_bool(msgpack_packer *pk, const char *key, int val);

/* Copy what sb holds into out (cap bytes) and set *len, then free sb (wiping it first when secret:
 * key material). 0, or -PD_ETOOBIG (nothing copied). */
int pd_mp_sbuffer_take(msgpack_sbuffer *sb, void *out, size_t cap, size_t *len, int secret);

#endif
