/*
 * Status codes and error messages of the attnbench library.
 *
 * Library functions return an enum attn_status (declared with the plugin ABI
 * in method.h: 0 ok, negative error) and, where a caller needs to know more,
 * write one sentence naming the bad value into a caller-supplied buffer
 * (`char *err, size_t errlen`). Only the CLI prints and exits.
 */
#ifndef ATTNBENCH_STATUS_H
#define ATTNBENCH_STATUS_H

#include <stddef.h>

#include "attnbench/method.h"

/* A short English name for a status code ("out of memory"). */
const char *attn_status_str(int status);

/*
 * printf into err (when err is non-NULL and errlen > 0) and return status,
 * so that error paths read `return attn_errf(err, errlen, ATTN_ERR_INVALID, ...)`.
 */
int attn_errf(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* ATTNBENCH_STATUS_H */
