/* Pure pieces of certificate renewal and CA rotation (unit-tested in tests/unit/test_ca_plan.c):
 * the record a manager keeps per issued certificate, the roots' id that managers gossip, and the
 * leader's test for "every live node is on the new root" that ends a rotation. */
#ifndef PD_CA_PLAN_H
#define PD_CA_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "pki.h"

/* Raft store records, kind CLUSTER (the store is sealed on disk by the manager's data key). */
#define PD_CA_REC_CERT "ca.cert"     /* the current root's certificate, PEM */
#define PD_CA_REC_KEY "ca.key"       /* its private key, PEM: never in a file */
#define PD_CA_REC_PREV "ca.prev"     /* the previous root during a rotation, PEM */
#define PD_CA_REC_EXPIRY "ca.expiry" /* node certificate validity, decimal seconds */
#define PD_CA_REC_NODE "cert."       /* + node id: the certificate last issued to it */
#define PD_CA_GOSSIP_TABLE "ca"      /* gossip table the leader publishes the roots' id in */
#define PD_CA_GOSSIP_KEY "roots"

/* "cert.<node id>" data: "<issuer digest, 64 hex> <serial hex> <not_after> <role>". */
#define PD_CA_CERTREC_MAX 160
typedef struct {
    uint8_t issuer[PD_PKI_DIGEST_LEN];
    char serial[2 * 20 + 1];
    int64_t not_after_s;
    pd_pki_role_t role;
} pd_ca_certrec_t;

size_t pd_ca_certrec_format(const pd_ca_certrec_t *r, char *out, size_t cap);
/* 0, or -PD_EMALFORMED. */
int pd_ca_certrec_parse(const void *data, size_t len, pd_ca_certrec_t *out);

/* The roots' id: "<current digest, 16 hex>:<previous, 16 hex or ->" (fits PD_CA_ROOTS_ID_LEN + 1).
 * A node whose own bundle gives another id renews (a new root to move to, or an old one to drop). */
#define PD_CA_ROOTS_ID_LEN 33
void pd_ca_roots_id(const uint8_t cur[PD_PKI_DIGEST_LEN], const uint8_t *prev, char out[PD_CA_ROOTS_ID_LEN + 1]);

void pd_ca_hex(const uint8_t *b, size_t n, char *out); /* 2n chars + NUL */

/* One node as the leader sees it for a rotation. issuer NULL: no certificate recorded. */
typedef struct {
    const char *node_id;
    int live;                   /* Ready in gossip */
    int removed;                /* a tombstone record */
    int manager;                /* its record's role */
    const uint8_t *issuer;
} pd_ca_node_t;

/* How many live, not removed nodes (workers only, when workers_only) still hold a certificate from
 * another root than cur (or none recorded); 0 means the rotation is complete and the old root may
 * go. *first names one of them.
 * Order of a rotation: workers move first, managers once no worker is left on the old root. A
 * worker trusts only the old root until it renews, so it must renew through a manager whose
 * certificate is still from the old root; managers trust both roots from the start. */
size_t pd_ca_rotation_pending(const uint8_t cur[PD_PKI_DIGEST_LEN], const pd_ca_node_t *nodes, size_t n,
                              int workers_only, const char **first);
/* A manager holds back its move to the new root while workers are pending, for at most this long
 * after the rotation began; while it waits it renews only in the last fifth of its certificate's
 * life (an ordinary renewal would move it too). */
#define PD_CA_MANAGER_WAIT_MS 120000u

/* Parse a validity such as "90d", "12h", "45m", "40s" or plain seconds into seconds: 0, or
 * -PD_EUSAGE (bad text, below PD_PKI_NODE_MIN_S, above PD_PKI_NODE_DAYS_MAX days). */
int pd_ca_expiry_parse(const char *s, int64_t *out);

#endif
