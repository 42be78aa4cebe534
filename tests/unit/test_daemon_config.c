/* core/daemon: configuration precedence and validation, data-dir lock, stable node id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "datadir.h"
#include "pd_err.h"

static char tmpdir[] = "/tmp/pd_test_cfg_XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_defaults_and_flags(void **state)
{
    (void)state;
    unsetenv("PEERD_SOCK");
    pd_config_t c;
    pd_config_defaults(&c);
    assert_string_equal(c.data_dir, "/var/lib/peerd");
    assert_string_equal(c.socket_path, "/run/peerd/peerd.sock");
    char *argv[] = {"peerd", "--data-dir", "/x", "--socket=/s.sock", "--log-level", "debug",
                    "--advertise-addr", "10.0.0.1:7946", NULL};
    pd_config_action_t act;
    char err[256];
    assert_int_equal(pd_config_parse(&c, 8, argv, &act, err, sizeof err), 0);
    assert_int_equal(act, PD_CONFIG_RUN);
    assert_string_equal(c.data_dir, "/x");
    assert_string_equal(c.socket_path, "/s.sock");
    assert_int_equal(c.log_level, PD_LOG_DEBUG);
    assert_string_equal(c.advertise_addr, "10.0.0.1:7946");
}

static void test_file_then_flags_win(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/peerd.conf", tmpdir);
    write_file(path, "# comment\n\ndata-dir = /from/file\nlog-level=warn\nlisten-addr = [::1]:2377\n");
    pd_config_t c;
    pd_config_defaults(&c);
    char *argv[] = {"peerd", "--data-dir", "/from/flag", "--config", path, NULL};
    pd_config_action_t act;
    char err[256];
    assert_int_equal(pd_config_parse(&c, 5, argv, &act, err, sizeof err), 0);
    assert_string_equal(c.data_dir, "/from/flag"); /* the flag beats the file */
    assert_int_equal(c.log_level, PD_LOG_WARN);   /* the file beats the default */
    assert_string_equal(c.listen_addr, "[::1]:2377");
}

static void test_bad_input(void **state)
{
    (void)state;
    pd_config_t c;
    pd_config_action_t act;
    char err[256];
    char path[256];
    snprintf(path, sizeof path, "%s/bad.conf", tmpdir);
    write_file(path, "data-dir = /ok\nbogus = 1\n");
    pd_config_defaults(&c);
    char *a1[] = {"peerd", "--config", path, NULL};
    assert_int_equal(pd_config_parse(&c, 3, a1, &act, err, sizeof err), -PD_EUSAGE);
    assert_non_null(strstr(err, ":2: unknown setting 'bogus'"));

    char *a2[] = {"peerd", "--advertise-addr", "not-an-ip", NULL};
    pd_config_defaults(&c);
    assert_int_equal(pd_config_parse(&c, 3, a2, &act, err, sizeof err), -PD_EUSAGE);
    assert_non_null(strstr(err, "not-an-ip"));
    char *a3[] = {"peerd", "--frobnicate", NULL};
    assert_int_equal(pd_config_parse(&c, 2, a3, &act, err, sizeof err), -PD_EUSAGE);
    char *a4[] = {"peerd", "--data-dir", NULL};
    assert_int_equal(pd_config_parse(&c, 2, a4, &act, err, sizeof err), -PD_EUSAGE);
    char *a5[] = {"peerd", "--log-level", "loud", NULL};
    assert_int_equal(pd_config_parse(&c, 3, a5, &act, err, sizeof err), -PD_EUSAGE);
    char *a6[] = {"peerd", "--config", "/nonexistent/peerd.conf", NULL};
    assert_int_equal(pd_config_parse(&c, 3, a6, &act, err, sizeof err), -PD_EUSAGE);
    pd_config_defaults(&c);
    char *a7[] = {"peerd", "--help", NULL};
    assert_int_equal(pd_config_parse(&c, 2, a7, &act, err, sizeof err), 0);
    assert_int_equal(act, PD_CONFIG_HELP);
}

static void test_snapshot_flags(void **state)
{
    (void)state;
    pd_config_t c;
    pd_config_action_t act;
    char err[256];
    pd_config_defaults(&c);
    assert_int_equal(c.snapshot_every, 10000);
    assert_int_equal(c.snapshot_mb, 64);
    char *ok[] = {"peerd", "--snapshot-every", "500", "--snapshot-mb=8", NULL};
    assert_int_equal(pd_config_parse(&c, 4, ok, &act, err, sizeof err), 0);
    assert_int_equal(c.snapshot_every, 500);
    assert_int_equal(c.snapshot_mb, 8);
    const char *bad[] = {"0", "4097", "x", "-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *a[] = {"peerd", "--snapshot-mb", (char *)bad[i], NULL};
        pd_config_defaults(&c);
        err[0] = '\0';
        assert_int_equal(pd_config_parse(&c, 3, a, &act, err, sizeof err), -PD_EUSAGE);
        assert_non_null(strstr(err, "1..4096"));
    }
}

/* Without a certificate the start flags decide: a token join, init, gossip-only, or wait. */
static void test_start_mode(void **state)
{
    (void)state;
    pd_config_t c;
    pd_config_action_t act;
    char err[512] = "";
    pd_config_defaults(&c);
    assert_int_equal(pd_config_start_mode(&c), PD_START_WAIT); /* no flags: waits, as dockerd does */
    char *a[] = {"peerd", "--init"};
    assert_int_equal(pd_config_parse(&c, 2, a, &act, err, sizeof err), 0);
    assert_int_equal(c.init, 1);
    assert_int_equal(pd_config_start_mode(&c), PD_START_INIT);
    char *bad[] = {"peerd", "--init=maybe"};
    pd_config_defaults(&c);
    assert_int_equal(pd_config_parse(&c, 2, bad, &act, err, sizeof err), 0); /* not "false"/"0" */
    assert_int_equal(c.init, 1);
    char *j[] = {"peerd", "--join-token", "PDTKN-1-abc", "--join-manager", "10.0.0.1:2377"};
    pd_config_defaults(&c);
    assert_int_equal(pd_config_parse(&c, 5, j, &act, err, sizeof err), 0);
    assert_string_equal(c.join_token, "PDTKN-1-abc");
    assert_string_equal(c.join_manager, "10.0.0.1:2377");
    assert_int_equal(pd_config_start_mode(&c), PD_START_JOIN);
    char *g[] = {"peerd", "--join", "10.0.0.1", "--gossip-key-file", "/k"};
    pd_config_defaults(&c);
    assert_int_equal(pd_config_parse(&c, 5, g, &act, err, sizeof err), 0);
    assert_int_equal(pd_config_start_mode(&c), PD_START_GOSSIP_ONLY);
    assert_int_equal(c.worker, 0); /* the daemon sets it: no Raft for a gossip-only member */
}

/* Bad combinations and the removed flags: refused with a message that names the replacement. */
static void test_start_flags_refused(void **state)
{
    (void)state;
    pd_config_t c;
    pd_config_action_t act;
    char err[512];
    struct {
        int argc;
        char *argv[6];
        const char *want;
    } cases[] = {
        {3, {"peerd", "--bootstrap-expect", "3"}, "--init"},
        {2, {"peerd", "--bootstrap-expect=1"}, "--join-token MANAGER-TOKEN --join-manager ADDR:2377"},
        {2, {"peerd", "--worker"}, "--join-token WORKER-TOKEN"},
        {3, {"peerd", "--join-token", "PDTKN-1-abc"}, "go together"},
        {3, {"peerd", "--join-manager", "10.0.0.1"}, "go together"},
        {3, {"peerd", "--join-manager", "manager.example"}, "not IP[:PORT]"},
        {6, {"peerd", "--init", "--join-token", "t", "--join-manager", "10.0.0.1"}, "only one"},
        {4, {"peerd", "--init", "--join", "10.0.0.1"}, "gossip-only"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pd_config_defaults(&c);
        err[0] = '\0';
        assert_int_equal(pd_config_parse(&c, cases[i].argc, cases[i].argv, &act, err, sizeof err), -PD_EUSAGE);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
    }
    char path[256];
    snprintf(path, sizeof path, "%s/old.conf", tmpdir);
    write_file(path, "bootstrap-expect = 3\n");
    char *f[] = {"peerd", "--config", path, NULL};
    pd_config_defaults(&c);
    assert_int_equal(pd_config_parse(&c, 3, f, &act, err, sizeof err), -PD_EUSAGE);
    assert_non_null(strstr(err, "old.conf:1: --bootstrap-expect was removed"));
    char *h[] = {"peerd", "--help"}; /* help still prints */
    pd_config_defaults(&c);
    assert_int_equal(pd_config_parse(&c, 2, h, &act, err, sizeof err), 0);
    assert_int_equal(act, PD_CONFIG_HELP);
    assert_non_null(strstr(pd_config_usage(), "--join-token"));
    assert_null(strstr(pd_config_usage(), "--bootstrap-expect N"));
}

static void test_vip_flags(void **state)
{
    (void)state;
    pd_config_t c;
    pd_config_action_t act;
    char err[256];
    pd_config_defaults(&c);
    assert_string_equal(c.vip_range, PD_VIP_RANGE_DEFAULT);
    assert_int_equal(c.vip_grace_s, 600);
    assert_int_equal(c.worker, 0);
    char *ok[] = {"peerd", "--vip-range", "172.30.0.0/20", "--vip-grace=30", NULL};
    assert_int_equal(pd_config_parse(&c, 4, ok, &act, err, sizeof err), 0);
    assert_string_equal(c.vip_range, "172.30.0.0/20");
    assert_int_equal(c.vip_grace_s, 30);
    const char *bad[] = {"10.96.0.1/16", "10.96.0.0/31", "10.96.0.0", "fd00::/64", "nope"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *a[] = {"peerd", "--vip-range", (char *)bad[i], NULL};
        pd_config_defaults(&c);
        err[0] = '\0';
        assert_int_equal(pd_config_parse(&c, 3, a, &act, err, sizeof err), -PD_EUSAGE);
        assert_non_null(strstr(err, "--vip-range"));
    }
    char *g[] = {"peerd", "--vip-grace", "-1", NULL};
    assert_int_equal(pd_config_parse(&c, 3, g, &act, err, sizeof err), -PD_EUSAGE);
    char path[256];
    snprintf(path, sizeof path, "%s/vip.conf", tmpdir);
    write_file(path, "vip-range = 10.50.0.0/24\njoin-token = PDTKN-1-x\njoin-manager = 10.0.0.1\n");
    char *f[] = {"peerd", "--config", path, NULL};
    pd_config_defaults(&c);
    assert_int_equal(pd_config_parse(&c, 3, f, &act, err, sizeof err), 0);
    assert_string_equal(c.vip_range, "10.50.0.0/24");
    assert_string_equal(c.join_manager, "10.0.0.1");
}

static void test_hostport(void **state)
{
    (void)state;
    char host[64];
    uint16_t port;
    assert_int_equal(pd_config_parse_hostport("127.0.0.1", host, sizeof host, &port), 0);
    assert_int_equal(port, 0);
    assert_int_equal(pd_config_parse_hostport("127.0.0.1:7946", host, sizeof host, &port), 0);
    assert_int_equal(port, 7946);
    assert_int_equal(pd_config_parse_hostport("fe80::1", host, sizeof host, &port), 0);
    assert_int_equal(pd_config_parse_hostport("[fe80::1]:53", host, sizeof host, &port), 0);
    assert_string_equal(host, "fe80::1");
    assert_int_equal(port, 53);
    assert_int_equal(pd_config_parse_hostport("1.2.3.4:0", host, sizeof host, &port), -PD_EUSAGE);
    assert_int_equal(pd_config_parse_hostport("1.2.3.4:70000", host, sizeof host, &port), -PD_EUSAGE);
    assert_int_equal(pd_config_parse_hostport("host:1", host, sizeof host, &port), -PD_EUSAGE);
    assert_int_equal(pd_config_parse_hostport("[::1]x", host, sizeof host, &port), -PD_EUSAGE);
}

static void test_lock_and_node_id(void **state)
{
    (void)state;
    char dir[256], err[512];
    snprintf(dir, sizeof dir, "%s/data/nested", tmpdir);
    assert_int_equal(pd_datadir_mkdirs(dir, err, sizeof err), 0);
    pd_datadir_t a = {.lock_fd = -1}, b = {.lock_fd = -1};
    assert_int_equal(pd_datadir_lock(&a, dir, err, sizeof err), 0);
    assert_int_equal(pd_datadir_lock(&b, dir, err, sizeof err), -PD_ELOCKED);
    char want[64];
    snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, dir));
    assert_int_equal(pd_datadir_node_id(&a, dir, err, sizeof err), 0);
    assert_true(pd_node_id_valid(a.node_id));
    char first[PD_NODE_ID_LEN + 1];
    memcpy(first, a.node_id, sizeof first);
    pd_datadir_unlock(&a);
    assert_int_equal(pd_datadir_lock(&b, dir, err, sizeof err), 0);
    assert_int_equal(pd_datadir_node_id(&b, dir, err, sizeof err), 0);
    assert_string_equal(b.node_id, first); /* stable across restarts */
    pd_datadir_unlock(&b);

    char path[300];
    snprintf(path, sizeof path, "%s/node_id", dir);
    write_file(path, "garbage\n");
    assert_int_equal(pd_datadir_node_id(&b, dir, err, sizeof err), -PD_ECORRUPT);
    assert_non_null(strstr(err, "corrupt"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_flags), cmocka_unit_test(test_file_then_flags_win),
        cmocka_unit_test(test_bad_input),          cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_lock_and_node_id),    cmocka_unit_test(test_vip_flags), cmocka_unit_test(test_start_mode), cmocka_unit_test(test_snapshot_flags),
        cmocka_unit_test(test_start_flags_refused),
    };
    return cmocka_run_group_tests_name("daemon_config", tests, setup, teardown);
}
