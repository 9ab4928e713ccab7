/*
 * Sharding (driver.h, attn_sweep_shard_plan): the expanded cases of one
 * sweep split into N disjoint shards whose union is the sweep, the same on
 * every machine, balanced by what the cases are predicted to cost.
 *
 * A case's cost is the time the measurement protocol would spend on it on
 * a nominal core: the stated FLOPs over ATTN_SHARD_FLOPS per thread plus
 * the stated bytes over ATTN_SHARD_BYTES make one call, and the protocol
 * turns calls into time (at least warmup_s warming up, then at least
 * min_reps calls and min_time_s), over a floor every case pays (the fork,
 * the inputs, the check). Nothing measured enters, so every machine that
 * expands the spec computes the same figures and the same split; only
 * ratios between cases matter to the balance.
 *
 * The unit of the split is the interleaving group (the cases at one shape,
 * which run round-robin so that a drift in machine speed hits them alike):
 * groups stay whole, except one that alone would cost more than a shard's
 * share (total / N), which no split of whole groups could balance; such a
 * group is dealt into the fewest parts that fit a share, each part
 * interleaved on its own, and the plan counts it as split. Items are then
 * placed largest first on the least loaded shard (ties: the lower index),
 * a greedy that is within 4/3 of the best and exact in its ties.
 *
 * The costs come from the methods' own flops() and bytes(): a built-in's
 * are called here; a plugin's are asked in a child process, so a plugin
 * that crashes or hangs in them costs its case the floor, never the sweep.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attnbench/driver.h"
#include "attnbench/instance.h"
#include "attnbench/status.h"
#include "internal.h"

/* What a case's stated figures mean to the protocol, per call. */
struct stated {
	int supported;
	double flops, bytes;
};

static void stated_of(const struct attn_case *c, struct stated *out)
{
	char why[256];
	out->supported =
	    attn_call_supports(c->method, &c->shape, &c->params, why, sizeof(why)) == ATTN_OK;
	out->flops = out->supported ? attn_call_flops(c->method, &c->shape, &c->params) : 0;
	out->bytes = out->supported ? attn_call_bytes(c->method, &c->shape, &c->params) : 0;
}

/*
 * The plugin cases' stated figures, asked in a child: it writes one record
 * per case; a child that dies or stays silent for ATTN_SHARD_PROBE_S leaves
 * the case it was on unstated, and a new child goes on after it.
 */
#define ATTN_SHARD_PROBE_S 10.0
static void stated_guarded(const struct attn_case *cases, const int *which, int n,
                           struct stated *out)
{
	for (int from = 0; from < n;) {
		int fd[2];
		if (pipe(fd) != 0)
			return; /* the rest stay unstated: the floor */
		pid_t parent = getpid();
		pid_t pid = fork();
		if (pid < 0) {
			close(fd[0]);
			close(fd[1]);
			return;
		}
		if (pid == 0) {
			close(fd[0]);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			for (int i = from; i < n; i++) {
				struct stated s;
				stated_of(&cases[which[i]], &s);
				if (write(fd[1], &s, sizeof(s)) != (ssize_t)sizeof(s))
					_exit(1);
			}
			_exit(0);
		}
		close(fd[1]);
		int i = from;
		size_t got = 0;
		struct stated s;
		while (i < n) {
			struct pollfd p = {.fd = fd[0], .events = POLLIN};
			int r = poll(&p, 1, (int)(ATTN_SHARD_PROBE_S * 1000));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			ssize_t k = read(fd[0], (char *)&s + got, sizeof(s) - got);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			got += (size_t)k;
			if (got == sizeof(s)) {
				out[i++] = s;
				got = 0;
			}
		}
		close(fd[0]);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		from = i < n ? i + 1 : n; /* case i is left unstated */
	}
}

double attn_shard_case_cost(const struct attn_case *c, int supported, double flops, double bytes,
                            const struct attn_run_opts *ro)
{
	const double floor_s = 0.05;
	if (!supported || !isfinite(flops) || !isfinite(bytes) || flops < 0 || bytes < 0)
		return floor_s;
	int t = c->threads > 0 ? c->threads : 1;
	double compute = flops / (ATTN_SHARD_FLOPS * t);
	/* A call past --max-call-time is skipped, not run (the runner's precheck). */
	if (ro->max_call_s > 0 && compute > ro->max_call_s)
		return floor_s;
	double call = compute + bytes / ATTN_SHARD_BYTES;
	double warm = fmax(ro->warmup_s, call);
	double timed = fmax(fmin(ro->min_time_s, (ro->max_reps > 0 ? ro->max_reps : 1) * call),
	                    (ro->min_reps > 0 ? ro->min_reps : 1) * call);
	return floor_s + warm + timed;
}

int attn_case_same_group(const struct attn_case *a, const struct attn_case *b)
{
	return memcmp(&a->shape, &b->shape, sizeof(a->shape)) == 0 && a->dist == b->dist &&
	       a->threads == b->threads && a->seed == b->seed;
}

/* An item of the split: cases [first, first + n) of `order`, placed together. */
struct item {
	int first, n;
	double cost;
	int seq; /* its place in the sweep, the tie-break */
};

static int item_cmp(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	if (a->cost != b->cost)
		return a->cost > b->cost ? -1 : 1;
	return a->seq - b->seq;
}

/* idx[0..k) by cost, largest first (ties: the earlier case); groups are small. */
static void sort_by_cost(int *idx, int k, const double *cost)
{
	for (int a = 1; a < k; a++) {
		int v = idx[a], b = a;
		for (; b > 0 && (cost[idx[b - 1]] < cost[v] ||
		                 (cost[idx[b - 1]] == cost[v] && idx[b - 1] > v));
		     b--)
			idx[b] = idx[b - 1];
		idx[b] = v;
	}
}

static int lightest(const double *load, int count)
{
	int best = 0;
	for (int s = 1; s < count; s++)
		if (load[s] < load[best])
			best = s;
	return best;
}

int attn_sweep_shard_plan(const struct attn_case_list *cases, const struct attn_registry *reg,
                          const struct attn_run_opts *ro, int count, struct attn_shard_plan *out,
                          char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (count < 1 || count > ATTN_MAX_SHARDS)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "%d shards: expected 1 to %d",
		                 count, ATTN_MAX_SHARDS);
	int n = cases->count;
	size_t nn = n > 0 ? (size_t)n : 1;
	struct stated *st = calloc(nn, sizeof(*st));
	int *plugin = calloc(nn, sizeof(*plugin)), n_plugin = 0;
	int *order = calloc(nn, sizeof(*order));
	struct item *items = calloc(nn, sizeof(*items));
	out->count = count;
	out->shard_of = calloc(nn, sizeof(*out->shard_of));
	out->case_cost = calloc(nn, sizeof(*out->case_cost));
	out->cost = calloc((size_t)count, sizeof(*out->cost));
	out->cases = calloc((size_t)count, sizeof(*out->cases));
	int rc = ATTN_OK;
	if (!st || !plugin || !order || !items || !out->shard_of || !out->case_cost || !out->cost ||
	    !out->cases) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (int i = 0; i < n; i++) {
		const struct attn_case *c = &cases->items[i];
		int builtin = 1;
		for (int k = 0; reg && k < attn_registry_count(reg); k++)
			if (attn_registry_at(reg, k) == c->method)
				builtin = strcmp(attn_registry_origin(reg, k), "built-in") == 0;
		if (builtin)
			stated_of(c, &st[i]);
		else
			plugin[n_plugin++] = i;
	}
	if (n_plugin) {
		struct stated *ps = calloc((size_t)n_plugin, sizeof(*ps));
		if (!ps) {
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
			goto done;
		}
		stated_guarded(cases->items, plugin, n_plugin, ps);
		for (int k = 0; k < n_plugin; k++)
			st[plugin[k]] = ps[k];
		free(ps);
	}
	double total = 0;
	for (int i = 0; i < n; i++) {
		out->case_cost[i] = attn_shard_case_cost(&cases->items[i], st[i].supported,
		                                         st[i].flops, st[i].bytes, ro);
		total += out->case_cost[i];
		order[i] = i;
	}
	out->total_cost = total;
	/* The items: whole groups, and the parts of a group too big for one share. */
	double share = total / count;
	int n_items = 0;
	for (int i = 0, j; i < n; i = j) {
		double g = 0;
		for (j = i; j < n && attn_case_same_group(&cases->items[i], &cases->items[j]); j++)
			g += out->case_cost[j];
		out->groups++;
		int parts = g > share && j - i > 1 ? (int)ceil(g / share) : 1;
		if (parts > j - i)
			parts = j - i;
		if (parts == 1) {
			items[n_items++] = (struct item){i, j - i, g, i};
			continue;
		}
		/* Deal the group's cases, largest first, onto its lightest part. */
		out->split_groups++;
		sort_by_cost(order + i, j - i, out->case_cost);
		double *load = calloc((size_t)parts, sizeof(*load));
		int *part = calloc((size_t)(j - i), sizeof(*part));
		if (!load || !part) {
			free(load);
			free(part);
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
			goto done;
		}
		for (int k = i; k < j; k++) {
			int p = lightest(load, parts);
			part[order[k] - i] = p;
			load[p] += out->case_cost[order[k]];
		}
		/* Each part's cases back in the sweep's order, the parts one after another. */
		int w = i;
		for (int p = 0; p < parts; p++) {
			int first = w;
			for (int k = i; k < j; k++)
				if (part[k - i] == p)
					order[w++] = k;
			items[n_items++] = (struct item){first, w - first, load[p], first};
		}
		free(load);
		free(part);
	}
	qsort(items, (size_t)n_items, sizeof(*items), item_cmp);
	for (int t = 0; t < n_items; t++) {
		int s = lightest(out->cost, count);
		out->cost[s] += items[t].cost;
		out->cases[s] += items[t].n;
		for (int k = items[t].first; k < items[t].first + items[t].n; k++)
			out->shard_of[order[k]] = s + 1;
	}
done:
	free(st);
	free(plugin);
	free(order);
	free(items);
	if (rc)
		attn_shard_plan_free(out);
	return rc;
}

void attn_shard_plan_free(struct attn_shard_plan *p)
{
	free(p->shard_of);
	free(p->case_cost);
	free(p->cost);
	free(p->cases);
	memset(p, 0, sizeof(*p));
}
