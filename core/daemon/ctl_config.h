/* Control operations on the replicated store (configs) and the manager's Raft status. */
#ifndef PD_CTL_CONFIG_H
#define PD_CTL_CONFIG_H

#include <stddef.h>

#include "daemon.h"

#define PD_CONFIG_NAME_MAX 64u
#define PD_CONFIG_DATA_MAX (500u * 1024u) /* Docker's config size cap */

/* Docker's rule for config names: letters, digits, '-', '_', '.', starting and ending with a letter
 * or digit, at most 64 bytes. 0, or -PD_EUSAGE with a message in err. */
int pd_ctl_config_name_check(const char *name, size_t len, char *err, size_t errlen);

int pd_ctl_config_create(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_config_ls(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_config_inspect(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_config_rm(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_raft_status(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);

#endif
