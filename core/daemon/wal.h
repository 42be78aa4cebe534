/* Raft write-ahead log: the durable half of the raft loop contract (raft.h), with no libuv.
 *
 * On disk: a directory of segment files wal-<seq 16 hex>-<first index 16 hex>.log. The first index
 * in the name is the log's last index + 1 when the segment was created (entries below it may still
 * appear later, after a suffix truncation). Each segment is:
 *
 *   header  (PD_WAL_HEADER_LEN = 32 bytes, big-endian)
 *           "peerdWAL" | u32 version (1 plain, 2 sealed) | u64 seq | u64 first index
 *           | u32 crc32c(previous 28 bytes)
 *   records [u32 payload length][u32 crc32c over type byte + payload][u8 type][payload]
 *           ENTRY       u64 index | u64 term | u8 entry type | u32 data length | data
 *           HARD_STATE  u64 term | u64 vote | u64 commit
 *           SNAPSHOT    u64 index | u64 term | u8 flags
 *
 * Sealed (version 2, the daemon's: opened with a data key, seal.h): every record's type has
 * PD_WAL_REC_SEALED set and its payload is nonce | the payload above encrypted | tag, with the type
 * byte as associated data; the CRC covers the sealed bytes. A record whose CRC holds but whose tag
 * does not is no torn write (that breaks the CRC): the scan reports FORGED and open refuses, like
 * corruption. A plain segment in a sealed log (or the reverse) refuses to open (-PD_EVERSION).
 *
 * Replay semantics, in record order: the last HARD_STATE wins; an ENTRY at index i drops every
 * entry at index >= i and then appends (the later record wins); a SNAPSHOT with PD_WAL_SNAP_INSTALL
 * drops every entry and sets the snapshot marker (a snapshot received from the leader); without
 * the flag it only advances the marker (a local compaction point; entries stay). A new segment
 * starts with copies of the durable hard state and marker, so deleting old segments never loses
 * them.
 *
 * Group commit: pd_wal_append_* only encode into an in-memory batch; pd_wal_sync writes the batch
 * with one pwrite and one fdatasync (rotation, rare, adds a new file and a directory fsync). The
 * daemon calls pd_wal_sync once per loop turn, before sending any message:
 *
 *   pd_raft_ready(r, &rd);
 *   if (rd.snapshot) pd_snapfile_write(...);      // the snapshot file first, then its marker
 *   pd_wal_append_ready(wal, &rd);
 *   pd_wal_sync(wal);                             // durable: now send rd.msgs, apply, advance
 *
 * Recovery (pd_wal_open): segments are replayed in sequence order. A torn tail of the LAST segment
 * (incomplete header or payload, a bad last record with nothing valid after it, a zero-filled
 * tail) is cut off with ftruncate + fsync and logged. Anything else (a bad record followed by valid
 * data, a bad record anywhere in an older segment, a missing segment in the sequence, a bad
 * segment header, entries that start above the snapshot marker) refuses to open with -PD_ECORRUPT
 * and an error naming the file and byte offset. One case errs on the side of refusing: on power
 * loss during the final batch's write, a later page may reach the disk while an earlier one does not;
 * that reads as a bad record followed by valid data. The batch was never acknowledged (its
 * fdatasync did not return), so an operator may cut the file at the named offset.
 *
 * Errors while writing (EIO, ENOSPC, a failed fdatasync) are sticky: the WAL refuses every later
 * append and sync with the same code, since what reached the disk is unknown; restart and recover.
 * Not thread-safe: one owner (the loop thread). */
#ifndef PD_WAL_H
#define PD_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "pd_buf.h"
#include "pd_log.h"
#include "raft.h"
#include "seal.h"

#define PD_WAL_VERSION 1u
#define PD_WAL_VERSION_SEALED 2u
#define PD_WAL_HEADER_LEN 32u
#define PD_WAL_REC_HDR_LEN 9u                           /* length + crc + type */
#define PD_WAL_ENTRY_DATA_MAX (8u << 20)                /* one entry's data */
#define PD_WAL_ENTRY_FIXED_LEN 21u                      /* entry payload without data */
#define PD_WAL_PAYLOAD_MAX (PD_WAL_ENTRY_DATA_MAX + PD_WAL_ENTRY_FIXED_LEN)
#define PD_WAL_HARD_STATE_LEN 24u
#define PD_WAL_SNAPSHOT_LEN 17u
#define PD_WAL_SEGMENT_BYTES_DEFAULT (64ull << 20)      /* rotate once a segment reaches this */
#define PD_WAL_SEGMENT_BYTES_MIN 256ull                 /* small values are for tests */
#define PD_WAL_BATCH_MAX (128u << 20)                   /* unsynced bytes; beyond: -PD_ELIMIT */
#define PD_WAL_SEGMENTS_MAX 65536u                      /* files in one WAL directory */

typedef enum {
    PD_WAL_REC_ENTRY = 1,
    PD_WAL_REC_HARD_STATE = 2,
    PD_WAL_REC_SNAPSHOT = 3,
} pd_wal_rec_type_t;

#define PD_WAL_REC_SEALED 0x80u /* type bit: the payload is sealed */
#define PD_WAL_SNAP_INSTALL 1u /* SNAPSHOT flag: drop every entry (installed from the leader) */

typedef struct pd_wal pd_wal_t;

typedef struct {
    const char *dir;         /* created (one level, 0700) if missing */
    uint64_t segment_bytes;  /* rotation size; 0 = PD_WAL_SEGMENT_BYTES_DEFAULT */
    const pd_log_t *log;     /* borrowed; NULL = discard */
    const uint8_t *key;      /* PD_SEAL_KEY_LEN bytes (copied): seal every record; NULL = plain */
} pd_wal_opts_t;

/* What recovery found: ready to hand to pd_raft_new (see pd_wal_state_to_raft). */
typedef struct {
    int has_hs;
    pd_raft_hard_state_t hs;
    int has_snap;                 /* a snapshot marker: the snapshot file at snap_index is durable */
    uint64_t snap_index, snap_term;
    pd_raft_entry_t *entries;     /* contiguous; entries and data owned (pd_wal_state_free) */
    size_t n_entries;
    uint64_t first_index;         /* of entries[0]; snap_index + 1 when there are none */
    uint64_t last_index;          /* of the last entry; snap_index when there are none */
    uint32_t n_segments;
    uint64_t truncated_bytes;     /* torn tail cut from the last segment (0: clean) */
} pd_wal_state_t;

typedef struct {
    uint64_t bytes_written;       /* segment bytes: records, plus headers of new segments */
    uint64_t records;             /* records written */
    uint64_t entries;             /* entry records written */
    uint64_t syncs;               /* pd_wal_sync calls that wrote a batch */
    uint64_t fdatasyncs;          /* fdatasync on segment files (1 per batch, +1 per rotation) */
    uint64_t dir_fsyncs;          /* fsync of the directory (segment create/remove) */
    uint64_t segments_created, segments_removed;
    uint64_t pending_bytes;       /* encoded, not yet written */
} pd_wal_stats_t;

/* Open (creating the first segment of a new WAL) and replay. *wal_out and *state_out are written
 * only on success; err (may be NULL) gets a one-line message on failure.
 * 0, -PD_ECORRUPT, -PD_EUSAGE, -PD_ELIMIT (too many segments), -ENOMEM, -errno. */
int pd_wal_open(const pd_wal_opts_t *opts, pd_wal_t **wal_out, pd_wal_state_t *state_out,
                char *err, size_t errlen);
/* Close without syncing: unsynced appends are dropped. NULL is a no-op. */
void pd_wal_close(pd_wal_t *w);
void pd_wal_state_free(pd_wal_state_t *st);
/* Borrow st's hard state and entries into a raft config (the snapshot comes from snapfile.h).
 * pd_raft_new copies them, so st may be freed afterwards. */
void pd_wal_state_to_raft(const pd_wal_state_t *st, pd_raft_config_t *cfg);

/* Buffer records for the next sync. Entries must satisfy snap_index < index <= last_index + 1
 * (index <= last_index truncates the suffix) and data <= PD_WAL_ENTRY_DATA_MAX; all n are checked
 * before any is buffered. 0, -PD_EUSAGE, -PD_ETOOBIG, -PD_ELIMIT (sync first), -ENOMEM, or the
 * sticky write error. */
int pd_wal_append_entries(pd_wal_t *w, const pd_raft_entry_t *entries, size_t n);
int pd_wal_append_hard_state(pd_wal_t *w, const pd_raft_hard_state_t *hs);
/* flags: PD_WAL_SNAP_INSTALL, or 0 for a compaction point (needs index <= last_index). */
int pd_wal_append_snapshot(pd_wal_t *w, uint64_t index, uint64_t term, unsigned flags);
/* rd's snapshot marker (install), entries and hard state, in that order: a torn batch keeps a
 * prefix of its records, so a hard state that survives has its entries (its commit never points
 * past the recovered log). */
int pd_wal_append_ready(pd_wal_t *w, const pd_raft_ready_t *rd);
/* Write the batch and fdatasync once; rotates first when the segment is full. 0 when nothing is
 * pending (no IO). */
int pd_wal_sync(pd_wal_t *w);
/* Delete whole old segments holding only entries below first_index (raft's first index after
 * pd_raft_compact). Needs first_index <= durable snapshot marker + 1 (-PD_EUSAGE otherwise); the
 * active segment is never deleted. *removed_out (may be NULL) gets the number deleted. */
int pd_wal_release(pd_wal_t *w, uint64_t first_index, unsigned *removed_out);

uint64_t pd_wal_last_index(const pd_wal_t *w);  /* including unsynced appends */
uint64_t pd_wal_snap_index(const pd_wal_t *w);  /* including unsynced appends */
void pd_wal_stats(const pd_wal_t *w, pd_wal_stats_t *out);

/* --- Pure codec (no IO; fuzzed) ------------------------------------------------------------- */

typedef enum {
    PD_WAL_SCAN_CLEAN = 0,   /* the whole buffer is valid records */
    PD_WAL_SCAN_TORN = 1,    /* valid records, then an unfinished tail with nothing valid after */
    PD_WAL_SCAN_CORRUPT = 2, /* a bad record with a valid record somewhere after it */
    PD_WAL_SCAN_FORGED = 3,  /* sealed: a record's CRC holds but its tag does not (wrong key, tampering) */
} pd_wal_scan_status_t;

typedef struct {
    pd_wal_scan_status_t status;
    size_t valid_len;        /* bytes of whole valid records from the start (= bad record offset) */
    size_t n_records;        /* records in the valid prefix */
    size_t next_valid;       /* CORRUPT: offset of the first valid record after the bad one */
    const char *reason;      /* static text for TORN / CORRUPT, NULL when CLEAN */
} pd_wal_scan_t;

/* Called for each record of the valid prefix, in order; a nonzero return stops the scan and is
 * returned by pd_wal_scan. The payload is borrowed from the scanned buffer. */
typedef int (*pd_wal_record_fn)(void *ctx, uint8_t type, const uint8_t *payload, uint32_t len,
                                size_t offset);

/* Scan a record area (a segment without its header). A record is valid when its header is
 * complete, its length fits the buffer and PD_WAL_PAYLOAD_MAX, its type is known, its length is
 * exact for its type (an entry's data length agrees) and the CRC matches; with a key (sealed log)
 * its type must carry PD_WAL_REC_SEALED and its tag must verify, without one it must not. The
 * callback gets the type byte as stored and, for a sealed record, the sealed payload
 * (pd_wal_unseal opens it). Returns 0 or the callback's code; *out is always written. */
int pd_wal_scan(const uint8_t *buf, size_t len, const uint8_t *key, pd_wal_record_fn fn, void *ctx,
                pd_wal_scan_t *out);
/* Is the record at buf valid (as above)? Returns its total length, or 0. */
size_t pd_wal_record_valid(const uint8_t *buf, size_t len, const uint8_t *key);
/* Open a sealed payload (type as stored) into out (len - PD_SEAL_OVERHEAD bytes). 0 or -PD_EAUTH. */
int pd_wal_unseal(const uint8_t *key, uint8_t type, const uint8_t *payload, uint32_t len, uint8_t *out);

/* Whole framed records into w (sticky error -PD_ETOOBIG when it does not fit), sealed in place
 * when seal is not NULL (PD_SEAL_OVERHEAD more bytes; no allocation). */
void pd_wal_encode_entry(pd_wbuf_t *w, const pd_raft_entry_t *e, pd_sealer_t *seal);
void pd_wal_encode_hard_state(pd_wbuf_t *w, const pd_raft_hard_state_t *hs, pd_sealer_t *seal);
void pd_wal_encode_snapshot(pd_wbuf_t *w, uint64_t index, uint64_t term, uint8_t flags, pd_sealer_t *seal);
size_t pd_wal_entry_record_len(const pd_raft_entry_t *e); /* unsealed */

/* Payload decoders (after pd_wal_scan). out->data borrows from payload. 0 or -PD_EMALFORMED. */
int pd_wal_decode_entry(const uint8_t *payload, uint32_t len, pd_raft_entry_t *out);
int pd_wal_decode_hard_state(const uint8_t *payload, uint32_t len, pd_raft_hard_state_t *out);
int pd_wal_decode_snapshot(const uint8_t *payload, uint32_t len, uint64_t *index, uint64_t *term,
                           uint8_t *flags);

/* Segment header: encode into out[PD_WAL_HEADER_LEN]; check returns 0 or -PD_ECORRUPT
 * (-PD_EVERSION for another version) and the seq / first index it holds, and whether the segment
 * is sealed. */
void pd_wal_header_encode(uint8_t *out, uint64_t seq, uint64_t first_index, int sealed);
int pd_wal_header_check(const uint8_t *buf, size_t len, uint64_t *seq, uint64_t *first_index, int *sealed);

#endif
