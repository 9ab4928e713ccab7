/*
 * What machine and build a run happened on: provenance recorded with every
 * run (commit, compiler, flags, CPU, topology and caches from hwloc, memory,
 * OpenBLAS configuration, library versions), and the memory the runner may
 * still hand out.
 */
#ifndef ATTNBENCH_SYSINFO_H
#define ATTNBENCH_SYSINFO_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/store.h"

#define ATTN_SYSINFO_MAX 64

struct attn_sysinfo {
	int n;
	struct attn_kv kv[ATTN_SYSINFO_MAX]; /* point into `text` */
	char text[16384];
	size_t used;
	/* The topology figures the harness itself uses. */
	int cores;
	int pus;
	size_t l1d_bytes, l2_bytes, l3_bytes;
};

/* Gather everything; a part that cannot be read is recorded as "unknown". */
int attn_sysinfo_collect(struct attn_sysinfo *si);
const char *attn_sysinfo_get(const struct attn_sysinfo *si, const char *key);
/* Add one key (printf-style value); silently dropped when the table is full. */
void attn_sysinfo_put(struct attn_sysinfo *si, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * When OpenBLAS fell back to generic kernels on a CPU it does not know,
 * set OPENBLAS_CORETYPE to the matching AVX-512 or AVX2 set and re-execute
 * the program (argv as given to main). Returns only when nothing was done.
 * Every program that times OpenBLAS calls it first thing in main().
 */
void attn_openblas_core_fixup(char **argv);

/* MemAvailable from /proc/meminfo, in bytes (0 if unreadable). */
size_t attn_mem_available(void);

#endif /* ATTNBENCH_SYSINFO_H */
