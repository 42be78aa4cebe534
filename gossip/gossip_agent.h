/* The gossip agent: one node's SWIM membership, endpoint table and encrypted frames composed into
 * a single sans-IO object. The daemon's libuv shell, the simulator and the benchmarks all drive
 * this same code: bytes and time in; sealed frames to send, membership events and a deadline out.
 *
 * The endpoint table rides on SWIM as its delegate: local writes are broadcast (superseding older
 * queued versions of the same key), received updates that win LWW are re-broadcast, push/pull
 * carries the full table, and a node declared dead or left has its entries hidden until it
 * refutes or rejoins. */
#ifndef PD_GOSSIP_AGENT_H
#define PD_GOSSIP_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "gossip_crypto.h"
#include "gossip_keyring.h"
#include "gossip_table.h"
#include "swim.h"

typedef struct pd_gagent pd_gagent_t;

typedef struct {
    const char *node_id;
    pd_swim_addr_t addr;
    const uint8_t *meta;
    size_t meta_len;
    const pd_keyring_t *keyring; /* copied; empty means plaintext (only with allow_plaintext) */
    const char *label;           /* cluster label, bound into every frame as associated data */
    int allow_plaintext;         /* debugging only */
    int deterministic_nonces;    /* draw nonces from the rng passed in (simulation, benchmarks) */
    pd_swim_config_t swim;
    const pd_log_t *log;
} pd_gagent_config_t;

typedef struct {
    pd_swim_addr_t to;
    const uint8_t *data; /* a sealed frame; borrowed until pd_gagent_advance */
    size_t len;
    int stream; /* send over TCP (push/pull, fallback probe), not UDP */
} pd_gagent_pkt_t;

typedef struct {
    const pd_gagent_pkt_t *pkts;
    size_t n_pkts;
    const pd_swim_event_t *events;
    size_t n_events;
    uint64_t next_deadline_ms;
} pd_gagent_ready_t;

typedef struct {
    uint64_t frames_in, frames_out, bytes_in, bytes_out;
    uint64_t decode_errors; /* authenticated frames SWIM refused */
    uint64_t seal_errors;
} pd_gagent_stats_t;

void pd_gagent_config_default(pd_gagent_config_t *cfg);
int pd_gagent_create(const pd_gagent_config_t *cfg, uint64_t now_ms, pd_gagent_t **out);
void pd_gagent_destroy(pd_gagent_t *a);

/* A frame from the network (stream: it came over TCP). Bad frames are counted and dropped. */
int pd_gagent_recv(pd_gagent_t *a, uint64_t now_ms, pd_rng_t *rng, const pd_swim_addr_t *from,
                   const uint8_t *frame, size_t len, int stream);
int pd_gagent_tick(pd_gagent_t *a, uint64_t now_ms, pd_rng_t *rng);
int pd_gagent_join(pd_gagent_t *a, uint64_t now_ms, pd_rng_t *rng, const pd_swim_addr_t *seeds, size_t n);
int pd_gagent_leave(pd_gagent_t *a, uint64_t now_ms, pd_rng_t *rng);
int pd_gagent_set_meta(pd_gagent_t *a, uint64_t now_ms, const uint8_t *meta, size_t len);

/* Endpoint table writes owned by this node, spread to every node. */
int pd_gagent_put(pd_gagent_t *a, uint64_t now_ms, const char *table, const char *key, const void *value,
                  size_t len);
int pd_gagent_del(pd_gagent_t *a, uint64_t now_ms, const char *table, const char *key);
/* The same under the cluster pseudo owner (PD_GTABLE_CLUSTER_OWNER): entries no node's death hides. */
int pd_gagent_put_cluster(pd_gagent_t *a, uint64_t now_ms, const char *table, const char *key,
                          const void *value, size_t len);
int pd_gagent_del_cluster(pd_gagent_t *a, uint64_t now_ms, const char *table, const char *key);

/* Seal the core's outbox into frames. Valid until pd_gagent_advance. */
int pd_gagent_ready(pd_gagent_t *a, pd_rng_t *rng, pd_gagent_ready_t *out);
void pd_gagent_advance(pd_gagent_t *a);

pd_swim_t *pd_gagent_swim(pd_gagent_t *a);
pd_gtable_t *pd_gagent_table(pd_gagent_t *a);
/* The live keyring: change it with install/use/remove; frames use it from the next call on. */
pd_keyring_t *pd_gagent_keyring(pd_gagent_t *a);
const pd_gcrypto_stats_t *pd_gagent_crypto_stats(const pd_gagent_t *a);
const pd_gagent_stats_t *pd_gagent_stats(const pd_gagent_t *a);

#endif
