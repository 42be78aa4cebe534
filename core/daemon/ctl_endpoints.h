#ifndef PD_CTL_ENDPOINTS_H
#define PD_CTL_ENDPOINTS_H

#include "daemon.h"

int pd_service_name_valid(const char *s, size_t n);
int pd_ctl_service_register(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_service_deregister(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
/* ctl_service_ls.c */
int pd_ctl_service_ls(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_service_endpoints(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);

#endif
