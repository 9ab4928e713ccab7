/*
 * Thread placement with hwloc. A case asks for T threads; the policy picks T
 * processing units (PUs) and the runner binds the case's process to them
 * and each OpenMP thread to one of them, so a method's threads neither
 * migrate nor pile up on one core:
 *   compact  fill a core's PUs, then the next core, then the next package
 *            (threads share caches: the usual choice for one case at a time)
 *   scatter  one PU per core, spreading across packages first (threads get
 *            private caches and memory bandwidth)
 *   none     no binding; the kernel places threads
 * When T exceeds the PUs, PUs are reused in the same order (oversubscribed;
 * the run records it through the CPU list).
 */
#ifndef ATTNBENCH_BIND_H
#define ATTNBENCH_BIND_H

#include <stddef.h>

enum attn_bind_policy { ATTN_BIND_COMPACT = 0, ATTN_BIND_SCATTER = 1, ATTN_BIND_NONE = 2 };

const char *attn_bind_name(enum attn_bind_policy p);
int attn_bind_parse(const char *text, enum attn_bind_policy *out, char *err, size_t errlen);

/*
 * The OS indices of the PUs the policy gives T threads, in thread order,
 * into pus[0..threads). ATTN_ERR_INVALID for threads < 1, ATTN_ERR_IO when
 * the topology cannot be read.
 */
int attn_bind_plan(int threads, enum attn_bind_policy p, int *pus, char *err, size_t errlen);

/*
 * Bind the calling process to the plan's PUs and start OpenMP's `threads`
 * workers; with `pin_each`, each is bound to its own PU (libgomp keeps them
 * for later regions of the same size). Writes the CPUs each thread then ran
 * on, "0,1", into cpus. With ATTN_BIND_NONE nothing is bound and the CPUs
 * observed are written.
 *
 * Pin each thread only for OpenMP work. A thread inherits its creator's
 * binding, so a BLAS library that starts its workers from a pinned main
 * thread would put them all on the main thread's one PU.
 */
int attn_bind_apply(int threads, enum attn_bind_policy p, int pin_each, char *cpus, size_t len,
                    char *err, size_t errlen);

#endif /* ATTNBENCH_BIND_H */
