/* The manager's data key in the data dir (raft_keys.h). */
#include "raft_keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "datadir.h"
#include "keyfile.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "pd_file.h"

/* Read a small file whole: its length, -ENOENT, -PD_ETOOBIG or -errno. */
static int read_small(const char *dir, const char *name, uint8_t *buf, size_t cap)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    int rc = 0;
    while (got <= cap) {
        uint8_t *dst = got < cap ? buf + got : (uint8_t[1]){0};
        ssize_t n = read(fd, dst, got < cap ? cap - got : 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    return rc ? rc : got > cap ? -PD_ETOOBIG : (int)got;
}

/* Does dir/sub hold any file (a log or a snapshot written under some DEK)? */
static int has_files(const char *dir, const char *sub)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *de;
    int found = 0;
    while (!found && (de = readdir(d)) != NULL)
        found = de->d_name[0] != '.';
    closedir(d);
    return found;
}

static int write_dek(pd_raft_keys_t *k, const uint8_t wrap_key[PD_SEAL_KEY_LEN], uint8_t wrap, uint64_t version)
{
    uint8_t f[PD_DEK_FILE_LEN];
    pd_dek_file_encode(f, k->dek, wrap_key, wrap, version);
    int rc = pd_write_file_atomic(k->dir, "dek", f, sizeof f, 0600);
    if (rc == 0) {
        k->wrap = wrap;
        k->setting_version = version;
    }
    return rc;
}

/* A fresh KEK in its own file, then the DEK wrapped by it. */
static int wrap_with_new_kek(pd_raft_keys_t *k, uint64_t version)
{
    uint8_t kek[PD_SEAL_KEY_LEN], f[PD_KEK_FILE_LEN];
    randombytes_buf(kek, sizeof kek);
    pd_kek_file_encode(f, kek);
    int rc = pd_write_file_atomic(k->dir, "kek", f, sizeof f, 0600);
    if (rc == 0)
        rc = write_dek(k, kek, PD_DEK_WRAP_KEK, version);
    sodium_memzero(kek, sizeof kek);
    sodium_memzero(f, sizeof f);
    return rc;
}

static int wrap_with_unlock(pd_raft_keys_t *k, const uint8_t unlock[PD_SEAL_KEY_LEN], uint64_t version)
{
    uint8_t wk[PD_SEAL_KEY_LEN];
    pd_unlock_wrap_key(unlock, wk);
    int rc = write_dek(k, wk, PD_DEK_WRAP_UNLOCK, version);
    sodium_memzero(wk, sizeof wk);
    if (rc)
        return rc;
    memcpy(k->unlock, unlock, PD_SEAL_KEY_LEN);
    char path[4400];
    snprintf(path, sizeof path, "%s/kek", k->dir);
    if (unlink(path) != 0 && errno != ENOENT)
        return -errno;
    return pd_fsync_dir(k->dir);
}

int pd_raft_keys_load(pd_raft_keys_t *k, const char *dir, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    snprintf(k->dir, sizeof k->dir, "%s", dir);
    uint8_t f[PD_DEK_FILE_LEN + 1];
    int n = read_small(dir, "dek", f, sizeof f);
    if (n == -ENOENT) {
        if (has_files(dir, "wal") || has_files(dir, "snap")) {
            snprintf(err, errlen, "%s/dek is missing but %s holds a Raft log or snapshots: they cannot be "
                     "read without it (restore the file, or move %s aside and let the node rejoin)", dir, dir, dir);
            return -PD_ECORRUPT;
        }
        PD_ASSERT(sodium_init() >= 0);
        randombytes_buf(k->dek, sizeof k->dek);
        int rc = wrap_with_new_kek(k, 0);
        if (rc) {
            snprintf(err, errlen, "cannot write the data key files in %s: %s", dir, pd_strerror(rc));
            return rc;
        }
        k->ready = 1;
        return 0;
    }
    if (n < 0 && n != -PD_ETOOBIG) {
        snprintf(err, errlen, "cannot read %s/dek: %s", dir, pd_strerror(n));
        return n;
    }
    if (n < 0 || pd_dek_file_parse(f, (size_t)n, &k->wrap, &k->setting_version) != 0) {
        snprintf(err, errlen, "%s/dek is corrupt or of another version; refusing to start", dir);
        return -PD_ECORRUPT;
    }
    if (k->wrap == PD_DEK_WRAP_UNLOCK)
        return 0; /* locked: pd_raft_keys_unlock */
    uint8_t kf[PD_KEK_FILE_LEN + 1], kek[PD_SEAL_KEY_LEN];
    int kn = read_small(dir, "kek", kf, sizeof kf);
    int rc = kn < 0 ? kn : pd_kek_file_parse(kf, (size_t)kn, kek);
    if (rc == 0)
        rc = pd_dek_file_unwrap(f, (size_t)n, kek, k->dek);
    sodium_memzero(kek, sizeof kek);
    sodium_memzero(kf, sizeof kf);
    if (rc) {
        snprintf(err, errlen, "cannot unwrap the data key %s/dek with %s/kek: %s; refusing to start", dir, dir,
                 rc == -ENOENT ? "the kek file is missing" : rc == -PD_EAUTH ? "the keys do not match"
                                                           : pd_strerror(rc));
        return rc == -ENOENT ? -PD_ECORRUPT : rc;
    }
    k->ready = 1;
    return 0;
}

int pd_raft_keys_unlock(pd_raft_keys_t *k, const char *text, size_t len, char *err, size_t errlen)
{
    if (k->ready || k->wrap != PD_DEK_WRAP_UNLOCK) {
        snprintf(err, errlen, "this node is not locked");
        return -PD_ESTATE;
    }
    uint8_t unlock[PD_SEAL_KEY_LEN], wk[PD_SEAL_KEY_LEN], f[PD_DEK_FILE_LEN + 1];
    if (pd_unlock_key_parse(text, len, unlock) != 0) {
        snprintf(err, errlen, "invalid unlock key: expected %s followed by 43 base64 characters",
                 PD_UNLOCK_KEY_PREFIX);
        return -PD_EUSAGE;
    }
    int n = read_small(k->dir, "dek", f, sizeof f);
    pd_unlock_wrap_key(unlock, wk);
    int rc = n < 0 ? n : pd_dek_file_unwrap(f, (size_t)n, wk, k->dek);
    sodium_memzero(wk, sizeof wk);
    if (rc == 0) {
        memcpy(k->unlock, unlock, sizeof unlock);
        k->ready = 1;
    } else if (rc == -PD_EAUTH) {
        snprintf(err, errlen, "invalid unlock key: it does not unlock this node's data key (after a rotation "
                 "while this node was down, use the key from before the rotation)");
    } else {
        snprintf(err, errlen, "cannot read %s/dek: %s", k->dir, pd_strerror(rc));
    }
    sodium_memzero(unlock, sizeof unlock);
    return rc;
}

int pd_autolock_setting(const pd_store_t *s, const uint8_t **key, uint64_t *version)
{
    const pd_store_obj_t *o = s ? pd_store_get(s, PD_STORE_CLUSTER, PD_AUTOLOCK_ID, strlen(PD_AUTOLOCK_ID)) : NULL;
    *version = o ? o->version : 0;
    *key = o && o->data_len == PD_SEAL_KEY_LEN ? o->data : NULL;
    return *key != NULL;
}

int pd_raft_keys_follow(pd_raft_keys_t *k, const pd_store_t *s, const pd_log_t *log)
{
    const uint8_t *key;
    uint64_t version;
    int on = pd_autolock_setting(s, &key, &version);
    if (!k->ready || version <= k->setting_version || version == k->failed_version)
        return 0; /* replaying history older than the file, nothing new, or already failed */
    int rewrap = on ? k->wrap != PD_DEK_WRAP_UNLOCK || sodium_memcmp(key, k->unlock, PD_SEAL_KEY_LEN) != 0
                    : k->wrap != PD_DEK_WRAP_KEK;
    int rc = !rewrap ? 0 : on ? wrap_with_unlock(k, key, version) : wrap_with_new_kek(k, version);
    if (rc) {
        k->failed_version = version;
        PD_ERROR(log, "cannot re-wrap the data key for autolock=%s err=%s (tried again at the next change "
                      "of the setting or restart)", on ? "on" : "off", pd_strerror(rc));
        return rc;
    }
    k->setting_version = version;
    if (rewrap)
        PD_INFO(log, "data key wrapped for autolock=%s (setting version %llu)", on ? "on" : "off",
                (unsigned long long)version);
    return 0;
}

void pd_raft_keys_wipe(pd_raft_keys_t *k) { sodium_memzero(k, sizeof *k); }
