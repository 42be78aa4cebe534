/* Key and certificate files: written 0600 atomically, read bounded with errors naming the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pki.h"
#include "pd_file.h"

int pd_pki_file_write(const char *dir, const char *name, const void *data, size_t len, char *err,
                      size_t errlen)
{
    PD_ASSERT(dir && name && (data || len == 0) && err);
    char tmp[4200], path[4200];
    if (strchr(name, '/') || (size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        snprintf(err, errlen, "bad file name %s/%s", dir, name);
        return -PD_EUSAGE;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    /* A stale temp file from a crash may have any mode: remove it, then create exclusively. */
    if (unlink(tmp) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove stale %s: %s", tmp, strerror(errno));
        return -errno;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(e));
        return -e;
    }
    const char *step = "write";
    int rc = fchmod(fd, 0600) == 0 ? 0 : -errno; /* 0600 whatever the umask said */
    if (rc == 0)
        rc = pd_write_all(fd, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno, step = "fsync";
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno, step = "rename into place";
    if (rc != 0) {
        unlink(tmp);
        snprintf(err, errlen, "cannot %s %s: %s", step, path, strerror(-rc));
        return rc;
    }
    if ((rc = pd_fsync_dir(dir)) != 0)
        snprintf(err, errlen, "cannot fsync directory %s: %s", dir, strerror(-rc));
    return rc;
}

int pd_pki_file_read(const char *path, char *buf, size_t cap, size_t *len, int private_key, char *err,
                     size_t errlen)
{
    PD_ASSERT(path && buf && cap > 1 && len && err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : -errno;
    if (rc == 0 && !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        rc = -PD_EUSAGE;
    } else if (rc == 0 && private_key && (st.st_mode & 077)) {
        snprintf(err, errlen, "%s holds a private key but is accessible to group or others (mode %04o); "
                 "expected 0600", path, (unsigned)(st.st_mode & 07777));
        rc = -PD_EAUTH;
    } else if (rc == 0 && (size_t)st.st_size > cap - 1) {
        snprintf(err, errlen, "%s is too large (%lld bytes, at most %zu)", path, (long long)st.st_size, cap - 1);
        rc = -PD_ETOOBIG;
    }
    size_t got = 0;
    while (rc == 0 && got < cap - 1) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        }
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (rc == 0 && got == cap - 1) { /* it grew since fstat: refuse rather than truncate */
        char extra;
        if (read(fd, &extra, 1) > 0) {
            snprintf(err, errlen, "%s is too large (more than %zu bytes)", path, cap - 1);
            rc = -PD_ETOOBIG;
        }
    }
    close(fd);
    if (rc == 0 && got == 0) {
        snprintf(err, errlen, "%s is empty", path);
        rc = -PD_EMALFORMED;
    }
    if (rc != 0) {
        sodium_memzero(buf, cap);
        return rc;
    }
    buf[got] = '\0';
    *len = got;
    return 0;
}
