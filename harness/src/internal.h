/*
 * Helpers shared inside the harness (attn__ names): not part of the public
 * headers, not for plugins.
 */
#ifndef ATTNBENCH_INTERNAL_H
#define ATTNBENCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* 64-byte aligned, zeroed allocation of at least `bytes` (NULL on failure). */
void *attn__alloc(size_t bytes);
void attn__free(void *p);

/*
 * Guarded memory (guard.c): a buffer in a mapping of its own, page-aligned,
 * followed by canaries (the rest of its last page and one page more) and a
 * PROT_NONE page, with a PROT_NONE page before it. shared: MAP_SHARED, so a
 * forked child's writes reach the parent.
 */
struct attn__guarded {
	char *map; /* the whole mapping */
	size_t map_bytes;
	void *p;       /* the data, page-aligned, zeroed */
	size_t bytes;  /* the data's size */
	size_t canary; /* canary bytes right after the data */
};
int attn__guarded_alloc(struct attn__guarded *g, size_t bytes, int shared);
void attn__guarded_free(struct attn__guarded *g);
/* Bytes past the end that were written (the furthest changed canary), 0 if none. */
size_t attn__guarded_overrun(const struct attn__guarded *g);
/* Make the data read-only (1) or writable again (0); 0 or -errno. */
int attn__guarded_readonly(struct attn__guarded *g, int readonly);
/* The mapping's bytes beyond the data's own, for memory predictions. */
size_t attn__guarded_overhead(size_t bytes);
/* Where addr lies: outside the mapping, before the data, inside it or after it (offset set). */
enum { ATTN__GUARD_OUTSIDE, ATTN__GUARD_BEFORE, ATTN__GUARD_INSIDE, ATTN__GUARD_AFTER };
int attn__guarded_where(const struct attn__guarded *g, const void *addr, size_t *offset);

/* Monotonic clock in nanoseconds. */
uint64_t attn__now_ns(void);

/*
 * The sgemm the roofs are measured with (calib.c): `reps` products
 * c = a b of (n, n) row-major matrices, the ns they took; and the operands'
 * values, irregular and in [0.25, 1.25) (never zero or denormal).
 */
uint64_t attn__sgemm_reps(int n, const float *a, const float *b, float *c, int64_t reps);
void attn__fill_operand(float *x, size_t count, uint32_t salt);

/* strdup that returns NULL on failure (C11 has no strdup). */
char *attn__strdup(const char *s);

/* s without its leading and trailing white space: cut in place, a pointer into s. */
char *attn__trim(char *s);

/*
 * One line of a "key = value" file (sweep specs, peer descriptors), cut in
 * place: '#' starts a comment, white space around both sides goes. Returns
 * 1 with *key and *val set, 0 for a blank or comment line, -1 for a line
 * with no '=' (*key is then the whole trimmed line, for the message).
 */
int attn__kv_line(char *line, char **key, char **val);

/* FNV-1a, 64 bits, of bytes[0..n) continuing from h (start: ATTN__FNV_BASIS). */
#define ATTN__FNV_BASIS 0xcbf29ce484222325ull
uint64_t attn__fnv1a64(uint64_t h, const void *bytes, size_t n);

/* Append printf text to the NUL-terminated buf of len bytes, truncating quietly. */
void attn__append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Multiply sizes, saturating at SIZE_MAX instead of wrapping. */
size_t attn__mul_sat(size_t a, size_t b);
size_t attn__add_sat(size_t a, size_t b);

/*
 * A "Name:   1234 kB" field of a /proc file (meminfo, self/status) in bytes;
 * 0 when the file or the field cannot be read.
 */
size_t attn__proc_kb_field(const char *path, const char *field);

/*
 * A process's start time in clock ticks after boot, field 22 of
 * /proc/PID/stat, and whether it is a zombie (dead, not yet reaped); -1 when
 * the file cannot be read (no such process, or no /proc).
 */
long long attn__proc_start(long long pid, int *zombie);

/*
 * In a subreaper (PR_SET_CHILD_SUBREAPER), whose orphaned descendants all
 * become its children: kill and reap every one, daemons included, until
 * none is left (at most 2 s). Returns how many were still alive when
 * killed; *first (if non-NULL and 0) gets the first pid found, exited or not.
 */
int attn__reap_descendants(long long *first);

/* splitmix64's output function (Stafford's Mix13): a bijection on 64 bits. */
static inline uint64_t attn__mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * The bootstrap's pieces (stats.c), shared by fit.c and compare.c so their
 * resamples come from one generator: splitmix64, whose stream is fixed by
 * the seed; the median of one resample with replacement of x[0..k) (buf
 * holds k); the q-quantile (0..1) of x[0..m), sorted in place, linear
 * between ranks (NaN for m < 1).
 */
uint64_t attn__rng_next(uint64_t *state);
double attn__resample_median(const double *x, int k, double *buf, uint64_t *rng);
double attn__quantile_inplace(double *x, int m, double q);

struct attn_store;
struct sqlite3 *attn__store_handle(struct attn_store *st);
/* The path the store was opened with, for messages. */
const char *attn__store_path(struct attn_store *st);
/*
 * An input of `attnbench merge`, opened as ATTN_STORE_READONLY opens, but
 * at any schema version up to this build's (*version says which), so that
 * merge.c can migrate a private copy of an old one.
 */
int attn__store_open_input(const char *path, struct attn_store **out, int *version, char *err,
                           size_t errlen);

#endif /* ATTNBENCH_INTERNAL_H */
