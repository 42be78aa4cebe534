/* A manager's data key (DEK) for its Raft log and snapshots: loaded from the data dir at start,
 * unlocked with the unlock key when autolocked, and re-wrapped when the cluster's autolock setting
 * changes (file formats and the key hierarchy in keyfile.h; docs/secrets.md).
 *
 * The autolock setting lives in the replicated store: the CLUSTER object PD_AUTOLOCK_ID, whose data
 * is the 32-byte unlock key while autolock is on and empty while it is off. Every manager follows
 * it: on, its DEK file is wrapped by the unlock key and the KEK file is deleted; off, a new KEK is
 * written first and the DEK wrapped by it. */
#ifndef PD_RAFT_KEYS_H
#define PD_RAFT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "pd_log.h"
#include "seal.h"
#include "store.h"

#define PD_AUTOLOCK_ID "autolock"

typedef struct {
    char dir[4200];                   /* the raft directory: dek and kek live here */
    int ready;                        /* dek is known (unlocked) */
    uint8_t dek[PD_SEAL_KEY_LEN];
    uint8_t wrap;                     /* how the dek file is wrapped now (pd_dek_wrap_t) */
    uint64_t setting_version;         /* store version of the autolock setting it follows */
    uint64_t failed_version;          /* a re-wrap for this version failed (logged once) */
    uint8_t unlock[PD_SEAL_KEY_LEN];  /* wrap == UNLOCK: the unlock key it is wrapped with */
} pd_raft_keys_t;

/* Read DIR/dek; the first time (no dek file and no log yet) make a DEK and a KEK. 0 with
 * k->ready set, or 0 with k->ready clear when the file is wrapped by the unlock key (locked);
 * else an error with a message (a log without a dek file, a corrupt or missing key file). */
int pd_raft_keys_load(pd_raft_keys_t *k, const char *dir, char *err, size_t errlen);
/* Unwrap with an unlock key in text form. 0; -PD_EUSAGE (not an unlock key); -PD_EAUTH (not this
 * node's unlock key); -PD_ESTATE (not locked). */
int pd_raft_keys_unlock(pd_raft_keys_t *k, const char *text, size_t len, char *err, size_t errlen);
/* The store's autolock setting: 1 on (*key borrowed, 32 bytes), 0 off; *version 0 if never set. */
int pd_autolock_setting(const pd_store_t *s, const uint8_t **key, uint64_t *version);
/* Re-wrap the dek file when the store's setting is newer than the one it follows. 0 or -errno
 * (logged once per setting version). */
int pd_raft_keys_follow(pd_raft_keys_t *k, const pd_store_t *s, const pd_log_t *log);
void pd_raft_keys_wipe(pd_raft_keys_t *k);

#endif
