/* The data directory: created 0700, locked for one peerd at a time, holding the node identity. */
#ifndef PD_DATADIR_H
#define PD_DATADIR_H

#include <stddef.h>
#include <sys/types.h>

#include "pd_limits.h"

typedef struct {
    int lock_fd; /* held open (flock) for the daemon's lifetime; -1 when not held */
    char node_id[PD_NODE_ID_LEN + 1];
} pd_datadir_t;

/* mkdir -p with mode 0700 for the last component. */
int pd_datadir_mkdirs(const char *path, char *err, size_t errlen);
/* Take the lock file DIR/peerd.lock. If another process holds it, -PD_ELOCKED and an error naming
 * the dir and the holder's pid. */
int pd_datadir_lock(pd_datadir_t *dd, const char *dir, char *err, size_t errlen);
void pd_datadir_unlock(pd_datadir_t *dd);
/* Read DIR/node_id, or generate and durably write one the first time. */
int pd_datadir_node_id(pd_datadir_t *dd, const char *dir, char *err, size_t errlen);
/* Is s a well-formed node id (PD_NODE_ID_LEN chars of [0-9a-z])? */
int pd_node_id_valid(const char *s);
/* Write a whole file durably: temp name, fsync, rename, fsync dir. */
int pd_write_file_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode);

#endif
