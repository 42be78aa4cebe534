/* peerd: one per host. Parses configuration, takes the data-dir lock, loads the node identity and
 * runs the event loop until SIGINT/SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "pd_clock.h"
#include "pd_err.h"

int main(int argc, char **argv)
{
    static pd_daemon_t d;
    char err[4400] = "";
    pd_config_action_t action;
    pd_config_defaults(&d.cfg);
    if (pd_config_parse(&d.cfg, argc, argv, &action, err, sizeof err) != 0) {
        fprintf(stderr, "peerd: %s\n%s", err, pd_config_usage());
        return 2;
    }
    if (action == PD_CONFIG_HELP) {
        fputs(pd_config_usage(), stdout);
        return 0;
    }
    if (action == PD_CONFIG_VERSION) {
        printf("peerd %s\n", PD_VERSION);
        return 0;
    }
    /* A client that hangs up before its reply is written must cost an EPIPE, not the daemon. */
    signal(SIGPIPE, SIG_IGN);
    d.log = (pd_log_t){pd_log_stderr_sink, NULL, d.cfg.log_level, "daemon", NULL};
    d.dd.lock_fd = -1;
    if (pd_datadir_mkdirs(d.cfg.data_dir, err, sizeof err) != 0 ||
        pd_datadir_lock(&d.dd, d.cfg.data_dir, err, sizeof err) != 0) {
        fprintf(stderr, "peerd: %s\n", err);
        return 1;
    }
    char abs_dir[PD_PATH_MAX];
    if (realpath(d.cfg.data_dir, abs_dir)) /* logs and `peerctl info` show where state really is */
        snprintf(d.cfg.data_dir, sizeof d.cfg.data_dir, "%s", abs_dir);
    if (pd_datadir_node_id(&d.dd, d.cfg.data_dir, err, sizeof err) != 0) {
        fprintf(stderr, "peerd: %s\n", err);
        pd_datadir_unlock(&d.dd);
        return 1;
    }
    d.log.node = d.dd.node_id;
    if (gethostname(d.hostname, sizeof d.hostname - 1) != 0)
        snprintf(d.hostname, sizeof d.hostname, "unknown");
    d.start_wall_ms = pd_clock_wall(&pd_clock_real);
    int code = pd_daemon_run(&d);
    pd_datadir_unlock(&d.dd);
    if (code == PD_DAEMON_RESTART) { /* swarm leave: the same process, fresh, waiting for init/join */
        char **args = calloc((size_t)argc + 1, sizeof *args);
        int n = 0;
        for (int i = 0; args && i < argc; i++)
            if (strcmp(argv[i], "--init") != 0)
                args[n++] = argv[i];
        if (args)
            execv("/proc/self/exe", args);
        fprintf(stderr, "peerd: cannot restart after 'swarm leave'\n");
        return 1;
    }
    return code;
}
