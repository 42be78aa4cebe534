/* Small POSIX file helpers shared by everything that must know its bytes reached the disk (WAL,
 * snapshot files, the data dir, key files): whole writes that survive EINTR and short writes, and
 * a directory fsync (what makes a create or rename durable). Errors are -errno (-EIO for a write
 * that made no progress). */
#ifndef PD_FILE_H
#define PD_FILE_H

#include <stddef.h>
#include <stdint.h>

int pd_write_all(int fd, const void *data, size_t len);
int pd_pwrite_all(int fd, const void *data, size_t len, uint64_t off);
int pd_fsync_dir(const char *dir);

#endif
