/* Raft snapshot files: one file per snapshot, snap-<term 16 hex>-<index 16 hex>.snap, in a
 * directory of their own (no libuv).
 *
 * File (big-endian):
 *   header   "peerdSNP" | u32 version (1) | u32 flags (0) | u64 index | u64 term
 *            | u32 membership length | u64 data length                       (44 bytes)
 *   body     membership bytes | data bytes
 *   trailer  u32 crc32c over header + body
 * The size must be exact and the header's index/term must match the name.
 *
 * Sealed (flags bit PD_SNAPFILE_SEALED, the daemon's): the body is nonce | membership and data
 * encrypted together | tag (seal.h), with the header as associated data; the lengths in the
 * header are the plaintext's. A file that fails authentication is corrupt; a sealed file without a
 * key, or a plain one with a key, is refused (-PD_EVERSION).
 *
 * Writing: <name>.tmp, fsync, rename to <name>, fsync the directory; a crash leaves either the old
 * set of snapshots or the new one complete, plus possibly a .tmp file, which load and prune delete.
 *
 * Loading picks the newest (highest index, then term). Policy when the newest is corrupt: REFUSE
 * by default (-PD_ECORRUPT naming the file), because the WAL may already have released the entries
 * an older snapshot would need, and silently going back in time hides bit rot. An operator (or a
 * caller that checks the WAL still covers older_index + 1, see pd_wal_state_t.first_index) can pass
 * PD_SNAPFILE_FALLBACK to skip corrupt files and load the newest valid one; each skip is logged.
 * Retention: pd_snapfile_prune keeps the newest N. */
#ifndef PD_SNAPFILE_H
#define PD_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "pd_log.h"
#include "raft.h"

#define PD_SNAPFILE_VERSION 1u
#define PD_SNAPFILE_HEADER_LEN 44u
#define PD_SNAPFILE_TRAILER_LEN 4u
#define PD_SNAPFILE_MEMBERSHIP_MAX (64u << 10)
#define PD_SNAPFILE_DATA_MAX (256u << 20) /* = raft's snapshot cap */
#define PD_SNAPFILE_FILES_MAX 4096u       /* snapshot files considered in one directory */
#define PD_SNAPFILE_KEEP_DEFAULT 3u

#define PD_SNAPFILE_FALLBACK 1u
#define PD_SNAPFILE_SEALED 1u   /* header flag */ /* load: skip corrupt newer snapshots instead of refusing */

typedef struct {
    uint64_t index, term;
    const uint8_t *membership; /* borrowed from the loaded file */
    uint32_t membership_len;
    const uint8_t *data;
    size_t data_len;
    int sealed;                /* parse: membership and data are still sealed (pd_snapfile_unseal) */
    char name[48];             /* file name (no directory) */
    unsigned skipped;          /* corrupt newer files skipped (PD_SNAPFILE_FALLBACK) */
    uint8_t *mem;              /* the file's bytes; owned */
} pd_snapfile_t;

/* Durably write a snapshot, sealed under key (PD_SEAL_KEY_LEN bytes) unless it is NULL. The
 * directory is created (0700) if missing. A file of the same name is replaced. 0, -PD_ETOOBIG,
 * -PD_EUSAGE, -ENOMEM, -errno; err (may be NULL) gets a message. */
int pd_snapfile_write(const char *dir, uint64_t index, uint64_t term, const void *membership,
                      size_t membership_len, const void *data, size_t data_len, const uint8_t *key,
                      char *err, size_t errlen);
/* Load the newest snapshot (deleting leftover temp files), opened with key (NULL: plain files).
 * -PD_ENOTFOUND when there is none (or no directory); -PD_ECORRUPT when the newest is corrupt or
 * fails authentication (or, with FALLBACK, all are); -PD_EVERSION when it is sealed and key is
 * NULL or the reverse; -errno; -ENOMEM. *out is written only on success; free it with
 * pd_snapfile_free. */
int pd_snapfile_load(const char *dir, unsigned flags, const uint8_t *key, const pd_log_t *log,
                     pd_snapfile_t *out, char *err, size_t errlen);
void pd_snapfile_free(pd_snapfile_t *s);
/* Delete all but the newest `keep` (>= 1) snapshots, and leftover temp files. *removed_out (may be
 * NULL) gets the number of snapshots deleted. */
int pd_snapfile_prune(const char *dir, unsigned keep, unsigned *removed_out);

/* Pure: check a whole file image; on success fills index, term, sealed and borrowed pointers in
 * *out (name, mem, skipped untouched); a sealed file's pointers are where unseal puts the
 * plaintext. -PD_ECORRUPT / -PD_EVERSION, with *why (may be NULL) set. */
int pd_snapfile_parse(const uint8_t *buf, size_t len, pd_snapfile_t *out, const char **why);
/* Pure: open a parsed sealed image in place (buf as parsed). 0, -PD_EAUTH (the body is then
 * unusable), or
 * -PD_EUSAGE when s is not sealed. */
int pd_snapfile_unseal(uint8_t *buf, size_t len, const pd_snapfile_t *s, const uint8_t *key);

/* Membership bytes for a raft configuration: u32 n_voters | u32 n_learners | u64 ids. */
#define PD_SNAPFILE_CONF_MAX (8u + 8u * 2u * PD_RAFT_NODES_MAX)
size_t pd_snapfile_conf_encode(const pd_raft_conf_t *c, uint8_t out[PD_SNAPFILE_CONF_MAX]);
int pd_snapfile_conf_decode(const uint8_t *buf, size_t len, pd_raft_conf_t *out);
/* A loaded snapshot as raft sees it (data borrowed from s; membership decoded). -PD_ECORRUPT. */
int pd_snapfile_to_raft(const pd_snapfile_t *s, pd_raft_snapshot_t *out);

#endif
