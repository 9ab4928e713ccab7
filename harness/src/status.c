/*
 * Status names, the error-message helper, and the small utilities the rest of
 * the harness shares (aligned allocation, the clock, saturating size math).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attnbench/status.h"
#include "internal.h"

const char *attn_status_str(int status)
{
	switch (status) {
	case ATTN_OK: return "ok";
	case ATTN_ERR_INVALID: return "invalid argument";
	case ATTN_ERR_UNSUPPORTED: return "unsupported";
	case ATTN_ERR_NOMEM: return "out of memory";
	case ATTN_ERR_IO: return "I/O error";
	case ATTN_ERR_FORMAT: return "malformed input";
	case ATTN_ERR_NOTFOUND: return "not found";
	case ATTN_ERR_ABI: return "ABI version mismatch";
	case ATTN_ERR_DUPLICATE: return "duplicate name";
	case ATTN_ERR_DB: return "database error";
	case ATTN_ERR_INTERNAL: return "internal error";
	default: return "unknown status";
	}
}

int attn_errf(char *err, size_t errlen, int status, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

void attn__append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

void *attn__alloc(size_t bytes)
{
	/* aligned_alloc wants a multiple of the alignment. */
	size_t rounded = (bytes + 63) & ~(size_t)63;
	if (rounded < bytes)
		return NULL;
	if (rounded == 0)
		rounded = 64;
	void *p = aligned_alloc(64, rounded);
	if (p)
		memset(p, 0, rounded);
	return p;
}

void attn__free(void *p)
{
	free(p);
}

uint64_t attn__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

char *attn__strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

size_t attn__mul_sat(size_t a, size_t b)
{
	if (a != 0 && b > SIZE_MAX / a)
		return SIZE_MAX;
	return a * b;
}

size_t attn__add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}
