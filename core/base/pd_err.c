#include "pd_err.h"

#include <string.h>

const char *pd_strerror(int code)
{
    if (code == 0)
        return "success";
    switch (-code) {
#define PD_ERR_MSG(name, c, msg) \
    case c:                      \
        return msg;
        PD_ERR_MAP(PD_ERR_MSG)
#undef PD_ERR_MSG
    default:
        break;
    }
    if (code < 0 && -code < 1000)
        return strerror(-code);
    return "unknown error";
}

const char *pd_err_name(int code)
{
    if (code == 0)
        return "OK";
    switch (-code) {
#define PD_ERR_NAME(name, c, msg) \
    case c:                       \
        return "PD_E" #name;
        PD_ERR_MAP(PD_ERR_NAME)
#undef PD_ERR_NAME
    default:
        break;
    }
    if (code < 0 && -code < 1000) {
        const char *n = strerrorname_np(-code);
        return n ? n : "E?";
    }
    return "UNKNOWN";
}
