#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_file.h"

int pd_datadir_mkdirs(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf || !*buf) {
        snprintf(err, errlen, "data dir path is empty or too long");
        return -PD_EUSAGE;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
            return -errno;
        }
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data dir %s: %s", buf, strerror(errno));
        return -errno;
    }
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "data dir %s is not a directory", buf);
        return -ENOTDIR;
    }
    return 0;
}

static long read_holder_pid(int fd)
{
    char pidbuf[32] = {0};
    ssize_t n = pread(fd, pidbuf, sizeof pidbuf - 1, 0);
    return n > 0 ? strtol(pidbuf, NULL, 10) : 0;
}

int pd_datadir_lock(pd_datadir_t *dd, const char *dir, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/peerd.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
        return -errno;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        long pid = read_holder_pid(fd);
        close(fd);
        if (e == EWOULDBLOCK) {
            snprintf(err, errlen, "data dir %s is in use by another peerd (pid %ld)", dir, pid);
            return -PD_ELOCKED;
        }
        snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
        return -e;
    }
    char pidbuf[32];
    int n = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pidbuf, (size_t)n, 0) != n) {
        snprintf(err, errlen, "cannot write lock file %s: %s", path, strerror(errno));
        close(fd);
        return -EIO;
    }
    dd->lock_fd = fd;
    return 0;
}

void pd_datadir_unlock(pd_datadir_t *dd)
{
    if (dd->lock_fd >= 0) {
        if (ftruncate(dd->lock_fd, 0) != 0) {
            /* the lock is released on close regardless; a stale pid is only cosmetic */
        }
        close(dd->lock_fd);
        dd->lock_fd = -1;
    }
}

int pd_node_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n != PD_NODE_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
            return 0;
    }
    return 1;
}

int pd_write_file_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
    char tmp[4200], final[4200];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(final, sizeof final, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno ? errno : EIO;
            close(fd);
            unlink(tmp);
            return -e;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return -e;
    }
    close(fd);
    if (rename(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    return pd_fsync_dir(dir);
}

static void generate_node_id(char out[PD_NODE_ID_LEN + 1])
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    unsigned char rnd[PD_NODE_ID_LEN];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        for (size_t i = 0; i < sizeof rnd; i++) /* getrandom cannot fail for 25 bytes; belt */
            rnd[i] = (unsigned char)rand();
    }
    for (int i = 0; i < PD_NODE_ID_LEN; i++)
        out[i] = alphabet[rnd[i] % 36]; /* 252 of 256 map evenly; the tiny bias is harmless */
    out[PD_NODE_ID_LEN] = '\0';
}

int pd_datadir_node_id(pd_datadir_t *dd, const char *dir, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/node_id", dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char buf[64] = {0};
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!pd_node_id_valid(buf)) {
            snprintf(err, errlen, "%s is corrupt (expected %d characters of [0-9a-z]); refusing to start",
                     path, PD_NODE_ID_LEN);
            return -PD_ECORRUPT;
        }
        memcpy(dd->node_id, buf, PD_NODE_ID_LEN + 1);
        return 0;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -errno;
    }
    char id[PD_NODE_ID_LEN + 2];
    generate_node_id(id);
    id[PD_NODE_ID_LEN] = '\n';
    int rc = pd_write_file_atomic(dir, "node_id", id, PD_NODE_ID_LEN + 1, 0600);
    if (rc) {
        snprintf(err, errlen, "cannot write %s: %s", path, pd_strerror(rc));
        return rc;
    }
    id[PD_NODE_ID_LEN] = '\0';
    memcpy(dd->node_id, id, PD_NODE_ID_LEN + 1);
    return 0;
}
