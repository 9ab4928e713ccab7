/*
 * Thread placement (see bind.h). The plan orders the machine's PUs by a
 * policy-specific key and takes the first T: compact sorts by (package,
 * core, PU within core), scatter by (PU within core, core within package,
 * package), so scatter takes the first PU of every core, alternating
 * packages, before any core's second PU.
 */
#include <hwloc.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/bind.h"
#include "attnbench/status.h"

static const char *names[] = {"compact", "scatter", "none"};

const char *attn_bind_name(enum attn_bind_policy p)
{
	return (unsigned)p < 3 ? names[p] : "unknown";
}

int attn_bind_parse(const char *text, enum attn_bind_policy *out, char *err, size_t errlen)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(text, names[i]) == 0) {
			*out = (enum attn_bind_policy)i;
			return ATTN_OK;
		}
	return attn_errf(err, errlen, ATTN_ERR_INVALID,
	                 "bind '%s': expected compact, scatter or none", text);
}

struct pu_key {
	int os_index;
	int k[3]; /* sort key, most significant first */
};

static int cmp_key(const void *a, const void *b)
{
	const struct pu_key *x = a, *y = b;
	for (int i = 0; i < 3; i++)
		if (x->k[i] != y->k[i])
			return x->k[i] < y->k[i] ? -1 : 1;
	return x->os_index - y->os_index;
}

/* Index of o among the children of the same type under its ancestor of `type`. */
static int rank_within(hwloc_topology_t t, hwloc_obj_t o, hwloc_obj_type_t type)
{
	hwloc_obj_t anc = hwloc_get_ancestor_obj_by_type(t, type, o);
	if (!anc)
		return (int)o->logical_index;
	hwloc_obj_t first = hwloc_get_next_obj_inside_cpuset_by_type(t, anc->cpuset, o->type, NULL);
	return first ? (int)(o->logical_index - first->logical_index) : 0;
}

int attn_bind_plan(int threads, enum attn_bind_policy p, int *pus, char *err, size_t errlen)
{
	if (threads < 1)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "threads %d < 1", threads);
	hwloc_topology_t t;
	if (hwloc_topology_init(&t) != 0 || hwloc_topology_load(t) != 0)
		return attn_errf(err, errlen, ATTN_ERR_IO, "hwloc cannot read the topology");
	int n = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
	struct pu_key *keys = calloc(n > 0 ? n : 1, sizeof(*keys));
	if (!keys || n < 1) {
		free(keys);
		hwloc_topology_destroy(t);
		return attn_errf(err, errlen, n < 1 ? ATTN_ERR_IO : ATTN_ERR_NOMEM,
		                 "no processing units to bind to");
	}
	for (int i = 0; i < n; i++) {
		hwloc_obj_t pu = hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, i);
		hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_CORE, pu);
		hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, pu);
		int pkg_i = pkg ? (int)pkg->logical_index : 0;
		int core_in_pkg = core ? rank_within(t, core, HWLOC_OBJ_PACKAGE) : i;
		int pu_in_core = core ? rank_within(t, pu, HWLOC_OBJ_CORE) : 0;
		keys[i].os_index = (int)pu->os_index;
		if (p == ATTN_BIND_SCATTER) {
			keys[i].k[0] = pu_in_core;
			keys[i].k[1] = core_in_pkg;
			keys[i].k[2] = pkg_i;
		} else {
			keys[i].k[0] = pkg_i;
			keys[i].k[1] = core_in_pkg;
			keys[i].k[2] = pu_in_core;
		}
	}
	qsort(keys, n, sizeof(*keys), cmp_key);
	for (int i = 0; i < threads; i++)
		pus[i] = keys[i % n].os_index;
	free(keys);
	hwloc_topology_destroy(t);
	return ATTN_OK;
}

int attn_bind_apply(int threads, enum attn_bind_policy p, int pin_each, char *cpus, size_t len,
                    char *err, size_t errlen)
{
	int *plan = calloc(threads > 0 ? threads : 1, sizeof(*plan));
	int *seen = calloc(threads > 0 ? threads : 1, sizeof(*seen));
	hwloc_topology_t t = NULL;
	int rc = ATTN_OK;
	if (!plan || !seen) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (p != ATTN_BIND_NONE) {
		if ((rc = attn_bind_plan(threads, p, plan, err, errlen)))
			goto out;
		if (hwloc_topology_init(&t) != 0 || hwloc_topology_load(t) != 0) {
			rc = attn_errf(err, errlen, ATTN_ERR_IO, "hwloc cannot read the topology");
			goto out;
		}
		hwloc_bitmap_t all = hwloc_bitmap_alloc();
		for (int i = 0; i < threads; i++)
			hwloc_bitmap_set(all, (unsigned)plan[i]);
		int ok = hwloc_set_cpubind(t, all, HWLOC_CPUBIND_PROCESS) == 0;
		hwloc_bitmap_free(all);
		if (!ok) {
			rc = attn_errf(err, errlen, ATTN_ERR_IO, "hwloc cannot bind the process");
			goto out;
		}
	}
	/*
	 * Start the OpenMP pool here, each worker pinned to its PU; later
	 * regions of the same size reuse these threads.
	 */
	int failed = 0;
#pragma omp parallel num_threads(threads) reduction(+ : failed)
	{
		int me = omp_get_thread_num();
		if (t && pin_each) {
			hwloc_bitmap_t one = hwloc_bitmap_alloc();
			hwloc_bitmap_only(one, (unsigned)plan[me]);
			failed += hwloc_set_cpubind(t, one, HWLOC_CPUBIND_THREAD) != 0;
			hwloc_bitmap_free(one);
		}
		seen[me] = sched_getcpu();
	}
	if (failed) {
		rc = attn_errf(err, errlen, ATTN_ERR_IO, "hwloc cannot bind %d of %d threads",
		               failed, threads);
		goto out;
	}
	size_t used = 0;
	cpus[0] = 0;
	for (int i = 0; i < threads && used + 1 < len; i++) {
		int w = snprintf(cpus + used, len - used, "%s%d", i ? "," : "", seen[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
out:
	if (t)
		hwloc_topology_destroy(t);
	free(plan);
	free(seen);
	return rc;
}
