/* Control operations on the replicated store (configs and secrets) and the manager's Raft status. */
#ifndef PD_CTL_CONFIG_H
#define PD_CTL_CONFIG_H

#include <stddef.h>

#include "daemon.h"

#define PD_CONFIG_NAME_MAX 64u
#define PD_CONFIG_DATA_MAX (500u * 1024u) /* Docker's config and secret size cap */
#define PD_OBJECT_LABELS_MAX 64u          /* labels on one config or secret */
#define PD_OBJECT_LABEL_MAX 255u          /* bytes of a label's key or value */

/* Docker's rule for config and secret names: letters, digits, '-', '_', '.', starting and ending
 * with a letter or digit, at most 64 bytes. 0, or -PD_EUSAGE with a message (naming noun) in err. */
int pd_ctl_object_name_check(const char *noun, const char *name, size_t len, char *err, size_t errlen);

/* "config.*" and "secret.*": the operation's first word picks the kind. Secrets: inspect never
 * returns the data, and empty data is refused. */
int pd_ctl_object_create(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_object_ls(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_object_inspect(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_object_rm(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_raft_status(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);

#endif
