/* status.c - status names and the thread-local error detail. */
#include "tokgeo/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char tg_err_buf[1024];

const char *tg_status_name(tg_status s) {
    static const char *const names[TG_STATUS_COUNT] = {
        [TG_OK] = "TG_OK",
        [TG_ERR_NOMEM] = "TG_ERR_NOMEM",
        [TG_ERR_VALUE] = "TG_ERR_VALUE",
        [TG_ERR_TYPE] = "TG_ERR_TYPE",
        [TG_ERR_INDEX] = "TG_ERR_INDEX",
        [TG_ERR_FORMAT] = "TG_ERR_FORMAT",
        [TG_ERR_IO] = "TG_ERR_IO",
        [TG_ERR_OVERFLOW] = "TG_ERR_OVERFLOW",
        [TG_ERR_BUDGET] = "TG_ERR_BUDGET",
        [TG_ERR_SPECIAL] = "TG_ERR_SPECIAL",
        [TG_ERR_UNICODE] = "TG_ERR_UNICODE",
        [TG_ERR_INTERRUPTED] = "TG_ERR_INTERRUPTED",
        [TG_ERR_INTERNAL] = "TG_ERR_INTERNAL",
    };
    if ((int)s < 0 || s >= TG_STATUS_COUNT || names[s] == NULL) return "TG_ERR_UNKNOWN";
    return names[s];
}

tg_status tg_fail(tg_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tg_err_buf, sizeof tg_err_buf, fmt, ap);
    va_end(ap);
    if (n < 0) tg_err_buf[0] = '\0';
    return s;
}

const char *tg_last_error(void) { return tg_err_buf; }

void tg_clear_error(void) { tg_err_buf[0] = '\0'; }
