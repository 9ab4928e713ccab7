/*
 * Guarded memory for a case's buffers: each one is a mapping of its own,
 *
 *     [PROT_NONE page][data, page-aligned][canaries: the rest of the data's
 *     last page and one whole page more][PROT_NONE page]
 *
 * so a method that writes a little past the end of its output or workspace
 * changes canaries (found after the calls, and the count of bytes it wrote
 * past is exact up to the canary span), one that runs further faults on the
 * PROT_NONE page at the first byte (the case's fault handler names the
 * buffer), and one that runs backwards faults before the start. Inputs are
 * turned read-only once filled, so a method that writes its const inputs
 * faults on the first write instead of changing what the oracle later reads.
 * A shared mapping (MAP_SHARED) lets a forked case hand its output back to
 * the parent without a copy through the pipe.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define CANARY 0xA5

static size_t page_bytes(void)
{
	static size_t page;
	if (!page) {
		long p = sysconf(_SC_PAGESIZE);
		page = p > 0 ? (size_t)p : 4096;
	}
	return page;
}

size_t attn__guarded_overhead(size_t bytes)
{
	size_t page = page_bytes();
	size_t data = bytes ? (bytes + page - 1) / page * page : 0;
	return data - bytes + 3 * page;
}

int attn__guarded_alloc(struct attn__guarded *g, size_t bytes, int shared)
{
	memset(g, 0, sizeof(*g));
	size_t page = page_bytes();
	if (bytes > SIZE_MAX - 4 * page)
		return -1;
	size_t data = bytes ? (bytes + page - 1) / page * page : 0;
	size_t total = data + 3 * page;
	char *map = mmap(NULL, total, PROT_READ | PROT_WRITE,
	                 MAP_ANONYMOUS | (shared ? MAP_SHARED : MAP_PRIVATE), -1, 0);
	if (map == MAP_FAILED)
		return -1;
	if (mprotect(map, page, PROT_NONE) != 0 ||
	    mprotect(map + page + data + page, page, PROT_NONE) != 0) {
		munmap(map, total);
		return -1;
	}
	g->map = map;
	g->map_bytes = total;
	g->p = map + page;
	g->bytes = bytes;
	g->canary = data - bytes + page;
	memset((char *)g->p + bytes, CANARY, g->canary);
	return 0;
}

void attn__guarded_free(struct attn__guarded *g)
{
	if (g->map)
		munmap(g->map, g->map_bytes);
	memset(g, 0, sizeof(*g));
}

size_t attn__guarded_overrun(const struct attn__guarded *g)
{
	const unsigned char *c = (const unsigned char *)g->p + g->bytes;
	for (size_t i = g->canary; i > 0; i--)
		if (c[i - 1] != CANARY)
			return i;
	return 0;
}

int attn__guarded_readonly(struct attn__guarded *g, int readonly)
{
	if (!g->map || g->bytes == 0)
		return 0;
	size_t data = g->canary + g->bytes - page_bytes();
	return mprotect(g->p, data, readonly ? PROT_READ : PROT_READ | PROT_WRITE) == 0 ? 0
	                                                                                : -errno;
}

int attn__guarded_where(const struct attn__guarded *g, const void *addr, size_t *offset)
{
	if (!g->map)
		return ATTN__GUARD_OUTSIDE;
	const char *a = addr, *p = g->p, *map = g->map;
	if (a < map || a >= map + g->map_bytes)
		return ATTN__GUARD_OUTSIDE;
	if (a < p) {
		*offset = (size_t)(p - a);
		return ATTN__GUARD_BEFORE;
	}
	*offset = (size_t)(a - p);
	return a < p + g->bytes ? ATTN__GUARD_INSIDE : ATTN__GUARD_AFTER;
}
