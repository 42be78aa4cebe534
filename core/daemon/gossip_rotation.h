/* The swarm's gossip keyring as a Raft-committed record, and its rotation as a small state machine.
 * Pure: no IO, no clock (time comes in), no randomness (the new key comes in).
 *
 * The record (Raft store, kind CLUSTER, id PD_GKR_RECORD_ID) holds the current key, and during a
 * rotation the next one; like everything in Raft it is sealed on disk by the manager's data key.
 * Each phase names the ring every node must hold, and an ack is a member's published key ids
 * (gossip "_gossip"/"keys@<node>", primary first) matching that ring:
 *
 *   phase     ring (primary first)   a member acks when          then the leader commits
 *   idle      {cur}                  -                           (a rotation: install)
 *   install   {cur, next}            it holds next               use
 *   use       {next, cur}            its primary is next         remove
 *   remove    {next}                 it holds next and only it   idle, with cur = next
 *
 * Every pair of consecutive rings can talk to each other (a frame sealed under either primary
 * opens under the other ring), and the leader moves on only when every live member acked, so no
 * live member ever holds a ring its peers cannot read: nobody is marked failed by a rotation.
 * A member that never acks stalls the rotation (reported after a timeout), it never skips it.
 *
 * Record (msgpack map): {v:1, gen, phase, cur: bin32, next: bin32 (install/use/remove), started_ms,
 * phase_ms, rotations}. gen grows by one at every committed change. */
#ifndef PD_GOSSIP_ROTATION_H
#define PD_GOSSIP_ROTATION_H

#include <stddef.h>
#include <stdint.h>

#include "gossip_keyring.h"

#define PD_GKR_RECORD_ID "gossip.keyring"
#define PD_GKR_VERSION 1u
#define PD_GKR_RECORD_MAX 256u
#define PD_GKR_STALL_MS 30000u /* a phase not acked by every live member this long is "stalled" */

typedef enum {
    PD_GKR_IDLE = 0,
    PD_GKR_INSTALL = 1,
    PD_GKR_USE = 2,
    PD_GKR_REMOVE = 3,
} pd_gkr_phase_t;

typedef struct {
    uint64_t gen;
    uint8_t phase;
    uint8_t cur[PD_KEYRING_KEY_LEN];
    uint8_t next[PD_KEYRING_KEY_LEN]; /* meaningful when phase != idle */
    int64_t started_ms;               /* the rotation's start (wall clock of the committing leader) */
    int64_t phase_ms;                 /* when this phase was committed */
    uint64_t rotations;               /* finished rotations */
} pd_gkr_record_t;

/* One member as the leader sees it: reported = it published its key ids. */
typedef struct {
    const char *node_id;
    int reported;
    uint8_t ids[PD_KEYRING_KEYS_MAX][PD_KEYRING_ID_LEN]; /* primary first */
    unsigned n_ids;
} pd_gkr_member_t;

typedef enum {
    PD_GKR_NOTHING = 0, /* idle: nothing to drive */
    PD_GKR_WAIT,        /* some live member has not acked yet */
    PD_GKR_ADVANCE,     /* every live member acked: commit pd_gkr_advance(record) */
} pd_gkr_action_t;

typedef struct {
    pd_gkr_action_t action;
    unsigned acked, members;
    int stalled;          /* waiting for longer than the stall time */
    uint64_t waiting_ms;  /* since the phase was committed */
    unsigned n_waiting;   /* members not acked; the first of them in waiting[] */
    const char *waiting[8];
} pd_gkr_step_t;

const char *pd_gkr_phase_name(uint8_t phase); /* "idle" | "install" | "use" | "remove" | "?" */

/* The first record of a cluster (at init: the keyring made then). */
void pd_gkr_record_init(pd_gkr_record_t *r, const uint8_t cur[PD_KEYRING_KEY_LEN], int64_t now_ms);
/* Start a rotation to next: 0 and *out, or -PD_ESTATE (one is in progress), -PD_EEXISTS (next is
 * the current key, or has its id). */
int pd_gkr_begin(const pd_gkr_record_t *r, const uint8_t next[PD_KEYRING_KEY_LEN], int64_t now_ms,
                 pd_gkr_record_t *out);
/* The record after the current phase: install -> use -> remove -> idle (cur = next). */
void pd_gkr_advance(const pd_gkr_record_t *r, int64_t now_ms, pd_gkr_record_t *out);
/* The ring every node must hold in this record's phase (primary first). 0 or a keyring error. */
int pd_gkr_ring(const pd_gkr_record_t *r, pd_keyring_t *out);
/* The ids of that ring, primary first; returns how many (1 or 2). */
unsigned pd_gkr_ring_ids(const pd_gkr_record_t *r, uint8_t ids[2][PD_KEYRING_ID_LEN]);
/* Does a member holding these ids (primary first) ack the record's phase? */
int pd_gkr_acks(const pd_gkr_record_t *r, const uint8_t (*ids)[PD_KEYRING_ID_LEN], unsigned n_ids);
/* Is a node holding these ids (primary first) already past the record's phase in the same rotation
 * (e.g. a manager restarting while its store replays older records)? Then applying the record's
 * ring would move it backwards, to a ring its peers may no longer read: 1, else 0. */
int pd_gkr_ahead(const pd_gkr_record_t *r, const uint8_t (*ids)[PD_KEYRING_ID_LEN], unsigned n_ids);
/* The leader's decision for the live members (dead and left ones are not passed). */
void pd_gkr_step(const pd_gkr_record_t *r, const pd_gkr_member_t *m, size_t n, int64_t now_ms, uint32_t stall_ms,
                 pd_gkr_step_t *out);

/* Codec. encode: 0 or -PD_ETOOBIG. decode: 0, -PD_EMALFORMED, -PD_EVERSION. */
int pd_gkr_record_encode(const pd_gkr_record_t *r, uint8_t *out, size_t cap, size_t *len);
int pd_gkr_record_decode(const void *data, size_t len, pd_gkr_record_t *out);
void pd_gkr_record_wipe(pd_gkr_record_t *r);

#endif
