#include "gossip_setup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gossip_io.h"
#include "pd_err.h"
#include "pd_mp.h"

static int read_small_file(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, cap);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    if ((size_t)n == cap)
        return -PD_ETOOBIG;
    *len = (size_t)n;
    return 0;
}

int pd_gossip_keyring_save(const char *data_dir, const pd_keyring_t *kr)
{
    char text[PD_KEYRING_FILE_MAX];
    size_t len = 0;
    int rc = pd_keyring_save_text(kr, text, sizeof text, &len);
    if (rc == 0)
        rc = pd_write_file_atomic(data_dir, "gossip.keyring", text, len, 0600);
    sodium_memzero(text, sizeof text);
    return rc;
}

int pd_gossip_keyring_load(const pd_config_t *cfg, pd_keyring_t *kr, char *err, size_t errlen)
{
    char text[PD_KEYRING_FILE_MAX], path[PD_PATH_MAX + 32];
    size_t len = 0;
    int from_flag = cfg->gossip_key_file[0] != '\0';
    snprintf(path, sizeof path, "%s", from_flag ? cfg->gossip_key_file : "");
    if (!from_flag)
        snprintf(path, sizeof path, "%s/gossip.keyring", cfg->data_dir);
    int rc = read_small_file(path, text, sizeof text, &len);
    if (rc == -ENOENT && !from_flag) {
        if (cfg->n_join > 0) {
            snprintf(err, errlen, "joining a cluster needs its gossip key: pass --gossip-key-file FILE "
                                  "(a copy of a member's %s/gossip.keyring)", "DATA_DIR");
            return -PD_EUSAGE;
        }
        uint8_t key[PD_KEYRING_KEY_LEN];
        randombytes_buf(key, sizeof key);
        rc = pd_keyring_install(kr, key);
        if (rc == 0)
            rc = pd_keyring_use(kr, key);
        sodium_memzero(key, sizeof key);
        if (rc == 0)
            rc = pd_gossip_keyring_save(cfg->data_dir, kr);
        if (rc)
            snprintf(err, errlen, "cannot create the gossip keyring in %s: %s", cfg->data_dir, pd_strerror(rc));
        return rc;
    }
    if (rc) {
        snprintf(err, errlen, "cannot read gossip keyring %s: %s", path, pd_strerror(rc));
        return rc;
    }
    rc = pd_keyring_load_text(kr, text, len);
    sodium_memzero(text, sizeof text);
    if (rc == 0 && kr->count == 0)
        rc = -PD_EMALFORMED;
    if (rc) {
        snprintf(err, errlen, "gossip keyring %s is not valid (one base64 32-byte key per line): %s", path,
                 pd_strerror(rc));
        return rc;
    }
    if (from_flag && (rc = pd_gossip_keyring_save(cfg->data_dir, kr)) != 0)
        snprintf(err, errlen, "cannot store the gossip keyring in %s: %s", cfg->data_dir, pd_strerror(rc));
    return rc;
}

int pd_gossip_meta_encode(const char *hostname, const char *role, const char *raft_addr, uint8_t *out,
                          size_t cap, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, raft_addr ? 4 : 3);
    pd_mp_pack_kv_str(&pk, "h", hostname);
    pd_mp_pack_kv_str(&pk, "r", role);
    pd_mp_pack_kv_str(&pk, "v", PD_VERSION);
    if (raft_addr)
        pd_mp_pack_kv_str(&pk, "ra", raft_addr); /* manager's Raft transport "IP:PORT" */
    return pd_mp_sbuffer_take(&sb, out, cap, len, 0);
}

int pd_gossip_meta_decode(const uint8_t *meta, size_t len, char *hostname, size_t hcap, char *role, size_t rcap)
{
    hostname[0] = role[0] = '\0';
    msgpack_unpacked u;
    int rc = pd_mp_unpack(meta, len, &u);
    if (rc)
        return rc;
    pd_mp_get_strbuf(&u.data, "h", hostname, hcap);
    pd_mp_get_strbuf(&u.data, "r", role, rcap);
    msgpack_unpacked_destroy(&u);
    return 0;
}

/* With no --advertise-addr: the first up, non-loopback IPv4 address, else loopback. */
static void pick_advertise(char *out, size_t cap)
{
    struct ifaddrs *ifs = NULL, *i;
    snprintf(out, cap, "127.0.0.1");
    if (getifaddrs(&ifs) != 0)
        return;
    for (i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
            !(i->ifa_flags & IFF_UP))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, (socklen_t)cap);
        break;
    }
    freeifaddrs(ifs);
}

static void on_gossip_fatal(void *ctx, const char *why)
{
    pd_daemon_t *d = ctx;
    fprintf(stderr, "peerd: %s\n", why);
    d->exit_code = 1;
    pd_daemon_shutdown(d, "join failed");
}

/* Our metadata: hostname, role (--worker or not, as it is now) and Raft address. */
static void self_meta(const pd_daemon_t *d, uint8_t *meta, size_t cap, size_t *len)
{
    char raft_addr[PD_ADDR_MAX + 8], bind_host[PD_ADDR_MAX];
    uint16_t raft_port = 0;
    pd_config_parse_hostport(d->cfg.listen_addr, bind_host, sizeof bind_host, &raft_port);
    snprintf(raft_addr, sizeof raft_addr, strchr(d->advertise_host, ':') ? "[%s]:%u" : "%s:%u", d->advertise_host,
             raft_port ? raft_port : 2377u);
    pd_gossip_meta_encode(d->hostname, d->cfg.worker ? "worker" : "manager", raft_addr, meta, cap, len);
}

int pd_daemon_gossip_republish_meta(pd_daemon_t *d)
{
    uint8_t meta[512];
    size_t len = 0;
    if (!d->gossip)
        return -PD_ESTATE;
    self_meta(d, meta, sizeof meta, &len);
    int rc = pd_gagent_set_meta(pd_gossip_io_agent(d->gossip), pd_gossip_io_now(d->gossip), meta, len);
    if (rc == 0)
        pd_gossip_io_flush(d->gossip);
    return rc;
}

int pd_daemon_gossip_start(pd_daemon_t *d, char *err, size_t errlen)
{
    char host[PD_ADDR_MAX], bind_host[PD_ADDR_MAX];
    uint16_t port = 0;
    if (d->cfg.advertise_addr[0])
        pd_config_parse_hostport(d->cfg.advertise_addr, host, sizeof host, &port);
    else
        pick_advertise(host, sizeof host);
    snprintf(d->advertise_host, sizeof d->advertise_host, "%s", host);
    pd_config_parse_hostport(d->cfg.listen_addr, bind_host, sizeof bind_host, &port);
    if (!d->cfg.gossip_plaintext) {
        int rc = pd_gossip_keyring_load(&d->cfg, &d->keyring, err, errlen);
        if (rc)
            return rc;
    }
    uint8_t meta[512];
    size_t meta_len = 0;
    self_meta(d, meta, sizeof meta, &meta_len);
    const char *joins[PD_JOIN_MAX];
    for (unsigned i = 0; i < d->cfg.n_join; i++)
        joins[i] = d->cfg.join[i];
    pd_gossip_io_config_t gc = {
        .node_id = d->dd.node_id,
        .bind_host = bind_host,
        .advertise_host = d->advertise_host,
        .port = d->cfg.gossip_port,
        .join = joins,
        .n_join = d->cfg.n_join,
        .join_retries = d->cfg.join_retries,
        .keyring = &d->keyring,
        .allow_plaintext = d->cfg.gossip_plaintext,
        .meta = meta,
        .meta_len = meta_len,
        .log = &d->log,
        .on_fatal = on_gossip_fatal,
        .ctx = d,
    };
    return pd_gossip_io_start(d->loop, &gc, &d->gossip, err, errlen);
}
