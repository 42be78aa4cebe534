/* Pure pieces of renewal and rotation: records, roots' id, rotation completeness (ca_plan.h). */
#include "ca_plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"

void pd_ca_hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex(const char *s, size_t chars, uint8_t *out)
{
    for (size_t i = 0; i < chars; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -PD_EMALFORMED;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

size_t pd_ca_certrec_format(const pd_ca_certrec_t *r, char *out, size_t cap)
{
    char hex[2 * PD_PKI_DIGEST_LEN + 1];
    pd_ca_hex(r->issuer, PD_PKI_DIGEST_LEN, hex);
    int n = snprintf(out, cap, "%s %s %" PRId64 " %s", hex, r->serial[0] ? r->serial : "0", r->not_after_s,
                     pd_pki_role_name(r->role));
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int pd_ca_certrec_parse(const void *data, size_t len, pd_ca_certrec_t *out)
{
    char buf[PD_CA_CERTREC_MAX], hex[2 * PD_PKI_DIGEST_LEN + 2], serial[sizeof out->serial + 1], role[16];
    long long after = 0;
    if (len == 0 || len >= sizeof buf || memchr(data, '\0', len))
        return -PD_EMALFORMED;
    memcpy(buf, data, len);
    buf[len] = '\0';
    pd_ca_certrec_t r;
    memset(&r, 0, sizeof r);
    if (sscanf(buf, "%65s %41s %lld %15s", hex, serial, &after, role) != 4 ||
        strlen(hex) != 2 * PD_PKI_DIGEST_LEN || unhex(hex, 2 * PD_PKI_DIGEST_LEN, r.issuer) != 0 ||
        strlen(serial) >= sizeof r.serial || strspn(serial, "0123456789abcdef") != strlen(serial))
        return -PD_EMALFORMED;
    r.role = strcmp(role, "manager") == 0 ? PD_PKI_ROLE_MANAGER
             : strcmp(role, "worker") == 0 ? PD_PKI_ROLE_WORKER
                                           : PD_PKI_ROLE_NONE;
    if (r.role == PD_PKI_ROLE_NONE)
        return -PD_EMALFORMED;
    memcpy(r.serial, serial, strlen(serial) + 1);
    r.not_after_s = after;
    *out = r;
    return 0;
}

void pd_ca_roots_id(const uint8_t cur[PD_PKI_DIGEST_LEN], const uint8_t *prev, char out[PD_CA_ROOTS_ID_LEN + 1])
{
    pd_ca_hex(cur, 8, out);
    out[16] = ':';
    if (prev)
        pd_ca_hex(prev, 8, out + 17);
    else
        memcpy(out + 17, "-", 2);
}

size_t pd_ca_rotation_pending(const uint8_t cur[PD_PKI_DIGEST_LEN], const pd_ca_node_t *nodes, size_t n,
                              int workers_only, const char **first)
{
    size_t pending = 0;
    *first = NULL;
    for (size_t i = 0; i < n; i++) {
        const pd_ca_node_t *x = &nodes[i];
        if (!x->live || x->removed || (workers_only && x->manager))
            continue; /* a node down for the whole rotation must rejoin */
        if (x->issuer && memcmp(x->issuer, cur, PD_PKI_DIGEST_LEN) == 0)
            continue;
        if (!*first)
            *first = x->node_id;
        pending++;
    }
    return pending;
}

int pd_ca_expiry_parse(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -PD_EUSAGE;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    int64_t unit = 1;
    if (end && *end) {
        if (end[1] != '\0')
            return -PD_EUSAGE;
        switch (*end) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return -PD_EUSAGE;
        }
    }
    if (end == s || v <= 0 || v > (long long)PD_PKI_NODE_DAYS_MAX * 86400)
        return -PD_EUSAGE;
    int64_t secs = (int64_t)v * unit;
    if (secs < PD_PKI_NODE_MIN_S || secs > (int64_t)PD_PKI_NODE_DAYS_MAX * 86400)
        return -PD_EUSAGE;
    *out = secs;
    return 0;
}
