/*
 * Guard bytes for the method suites: a buffer is followed by GUARD_BYTES of
 * a known pattern, and a kernel that writes past its end changes them.
 */
#ifndef ATTN_TEST_GUARD_H
#define ATTN_TEST_GUARD_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define GUARD_BYTES 64
#define GUARD_FILL  0xA5

/*
 * 64-byte aligned block of `bytes` filled with `fill`, followed by
 * GUARD_BYTES of GUARD_FILL.
 */
static inline void *guarded_alloc(size_t bytes, int fill)
{
	size_t total = (bytes + GUARD_BYTES + 63) & ~(size_t)63;
	unsigned char *p = aligned_alloc(64, total);
	ck_assert_ptr_nonnull(p);
	memset(p, fill, bytes);
	memset(p + bytes, GUARD_FILL, GUARD_BYTES);
	return p;
}

/* 1 when the GUARD_BYTES after block[0, bytes) are untouched. */
static inline int guard_intact(const void *block, size_t bytes)
{
	const unsigned char *g = (const unsigned char *)block + bytes;
	for (int i = 0; i < GUARD_BYTES; i++)
		if (g[i] != GUARD_FILL)
			return 0;
	return 1;
}

#endif /* ATTN_TEST_GUARD_H */
