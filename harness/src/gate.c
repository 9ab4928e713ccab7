/*
 * The regression gate's policy (gate.h), next to its statistics
 * (compare.c): what a run is to the gate, how its samples are corrected
 * for a shared machine's moods, how its cases pair with the other run's
 * and when a significant change counts. The reads are the query layer's
 * (query/gate.c); printing and exit codes are the front end's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/fit.h"
#include "attnbench/gate.h"
#include "attnbench/query.h"
#include "attnbench/stats.h"
#include "attnbench/status.h"

static const char *const norm_names[ATTN_GATE_NORM_COUNT] = {"roof_ns", "sgemm", "raw"};

const char *attn_gate_norm_name(enum attn_gate_norm norm)
{
	return (unsigned)norm < ATTN_GATE_NORM_COUNT ? norm_names[norm] : "?";
}

/* ---- a run, as the gate sees it --------------------------------------------------- */

/* The order of shapes: batch, heads, kv_heads, d, causal, mode, dist, threads, n. */
static int shape_order(const struct attn_gate_case *x, const struct attn_gate_case *y)
{
	const int64_t a[] = {x->batch, x->heads, x->kv_heads, x->d, x->causal, x->threads, x->n};
	const int64_t b[] = {y->batch, y->heads, y->kv_heads, y->d, y->causal, y->threads, y->n};
	int c = 0;
	for (int i = 0; !c && i < 7; i++) {
		c = (a[i] > b[i]) - (a[i] < b[i]);
		if (i == 4 && !c)
			c = strcmp(x->mode, y->mode);
		if (i == 4 && !c)
			c = strcmp(x->dist, y->dist);
	}
	return c;
}

/*
 * The pairing order: method, params, then the shape with N last, so a
 * curve's cases sit together in increasing N (and tables read that way).
 * attn_query_gate_cases returns rows sorted the same way.
 */
static int case_order(const struct attn_gate_case *x, const struct attn_gate_case *y)
{
	int c = strcmp(x->method, y->method);
	if (!c)
		c = strcmp(x->params, y->params);
	return c ? c : shape_order(x, y);
}

/*
 * Number the windows: the cases of one shape, every method and params, which
 * a sweep interleaves so that they run at the same time.
 */
static void number_windows(struct attn_gate_run *r)
{
	r->n_win = 0;
	for (int i = 0; i < r->n; i++) {
		int j = 0;
		while (j < i && shape_order(&r->c[j], &r->c[i]))
			j++;
		r->c[i].win = j < i ? r->c[j].win : r->n_win++;
	}
}

void attn_gate_run_free(struct attn_gate_run *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n; i++) {
		free(r->c[i].ns);
		free(r->c[i].roof);
	}
	free(r->c);
	r->c = NULL;
	r->n = 0;
}

/* Append row's samples to c; ATTN_OK or ATTN_ERR_NOMEM. */
static int pool_samples(struct attn_gate_case *c, const struct attn_query_gate_case *row,
                        int *any_roof)
{
	if (row->k == 0)
		return ATTN_OK;
	double *ns = realloc(c->ns, (size_t)(c->k + row->k) * sizeof(double));
	if (ns)
		c->ns = ns;
	double *rf = realloc(c->roof, (size_t)(c->k + row->k) * sizeof(double));
	if (rf)
		c->roof = rf;
	if (!ns || !rf)
		return ATTN_ERR_NOMEM;
	for (int i = 0; i < row->k; i++) {
		c->ns[c->k] = row->ns[i];
		c->roof[c->k] = row->roof[i];
		if (row->roof[i] > 0)
			*any_roof = 1;
		else
			c->all_roof = 0;
		c->k++;
	}
	return ATTN_OK;
}

static void case_from_row(struct attn_gate_case *f, const struct attn_query_gate_case *row)
{
	memset(f, 0, sizeof(*f));
	f->all_roof = 1;
	memcpy(f->method, row->method, sizeof(f->method));
	memcpy(f->params, row->params, sizeof(f->params));
	memcpy(f->mode, row->mode, sizeof(f->mode));
	memcpy(f->dist, row->dist, sizeof(f->dist));
	f->batch = row->batch;
	f->heads = row->heads;
	f->kv_heads = row->kv_heads;
	f->n = row->n;
	f->d = row->d;
	f->causal = row->causal;
	f->threads = row->threads;
	f->ins = row->ins;
	f->run = row->run;
}

/*
 * The run's cases from its rows. Rows come in pairing order, so a case
 * measured again, by a resumed sweep, follows its first measurement and its
 * samples pool into it, in case-id order. A case without samples has
 * nothing to compare and is dropped.
 */
static int pool_cases(struct attn_gate_run *r, const struct attn_query_gate_case *rows, int n_rows)
{
	for (int i = 0; i < n_rows; i++) {
		struct attn_gate_case f;
		case_from_row(&f, &rows[i]);
		struct attn_gate_case *x = r->n ? &r->c[r->n - 1] : NULL;
		if (x && case_order(x, &f) == 0) {
			if (isnan(x->ins))
				x->ins = f.ins;
		} else {
			struct attn_gate_case *nc = realloc(r->c, (size_t)(r->n + 1) * sizeof(*nc));
			if (!nc)
				return ATTN_ERR_NOMEM;
			r->c = nc;
			x = &r->c[r->n++];
			*x = f;
		}
		if (pool_samples(x, &rows[i], &r->any_roof_ns) != ATTN_OK)
			return ATTN_ERR_NOMEM;
		if (x->k == 0) {
			free(x->ns);
			free(x->roof);
			r->n--;
		}
	}
	return ATTN_OK;
}

/*
 * What the run recorded about itself. Best effort, as a run made before a
 * key was recorded has none: what cannot be read stays "", which the
 * machine and build checks count as different from any value.
 */
static void load_provenance(struct attn_gate_run *r)
{
	struct attn_query_gate_head h;
	char v[256];
	attn_query_gate_head(r->st, r->id, &h, NULL, 0);
	memcpy(r->commit, h.commit, sizeof(r->commit));
	memcpy(r->host, h.host, sizeof(r->host));
	memcpy(r->started, h.started, sizeof(r->started));
	memcpy(r->cpu_model, h.cpu_model, sizeof(r->cpu_model));
	memcpy(r->run_ids, h.run_ids, sizeof(r->run_ids));
	r->n_runs = h.n_runs;
	/* run_info's cpu_model (the sweep's own reading) wins over the runs column */
	attn_query_gate_info(r->st, r->id, "cpu_model", v, sizeof(v), NULL, 0);
	if (v[0])
		snprintf(r->cpu_model, sizeof(r->cpu_model), "%s", v);
	static const struct {
		const char *key;
		size_t off, len;
	} keys[] = {
	    {"cores", offsetof(struct attn_gate_run, cores), sizeof(r->cores)},
	    {"openblas_core", offsetof(struct attn_gate_run, openblas_core),
	     sizeof(r->openblas_core)},
	    {"inject_slowdown", offsetof(struct attn_gate_run, inject), sizeof(r->inject)},
	    {"build_type", offsetof(struct attn_gate_run, build_type), sizeof(r->build_type)},
	    {"compiler", offsetof(struct attn_gate_run, compiler), sizeof(r->compiler)},
	    {"cflags", offsetof(struct attn_gate_run, cflags), sizeof(r->cflags)},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		attn_query_gate_info(r->st, r->id, keys[i].key, (char *)r + keys[i].off,
		                     keys[i].len, NULL, 0);
	char err[256];
	if (attn_store_run_roofs_load(r->st, r->id, r->roofs, ATTN_GATE_MAX_ROOFS, &r->n_roofs, err,
	                              sizeof(err)))
		r->n_roofs = 0;
}

/*
 * Each case's sgemm roof, from the roofs of the run it came from: the
 * shards of one sweep may have run on machines with unlike roofs, and a
 * case is normalised by its own machine's. Rows come sorted by shape, not
 * run, so the roofs of the last run read are kept for the next case.
 */
static void case_roofs(struct attn_gate_run *r)
{
	char err[256];
	struct attn_roof roofs[ATTN_GATE_MAX_ROOFS];
	int n = 0;
	int64_t have = -1;
	for (int i = 0; i < r->n; i++) {
		struct attn_gate_case *c = &r->c[i];
		if (c->run != have) {
			if (c->run == r->id) {
				memcpy(roofs, r->roofs, sizeof(roofs));
				n = r->n_roofs;
			} else if (attn_store_run_roofs_load(r->st, c->run, roofs,
			                                     ATTN_GATE_MAX_ROOFS, &n, err,
			                                     sizeof(err))) {
				n = 0;
			}
			have = c->run;
		}
		c->sgemm = 0;
		for (int k = 0; k < n && !c->sgemm; k++)
			if (roofs[k].threads == c->threads && roofs[k].sgemm_gflops > 0)
				c->sgemm = roofs[k].sgemm_gflops;
	}
}

int attn_gate_load(struct attn_store *st, int64_t run_id, struct attn_gate_run *out, char *err,
                   size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->st = st;
	int64_t found;
	int rc = attn_query_latest_ok_run(st, run_id, &found, err, errlen);
	if (rc != ATTN_OK)
		return rc;
	if (!found) {
		if (run_id)
			return attn_errf(err, errlen, ATTN_ERR_NOTFOUND,
			                 "run %lld has no ok cases (or does not exist)",
			                 (long long)run_id);
		return attn_errf(err, errlen, ATTN_ERR_NOTFOUND, "no run with ok cases");
	}
	out->id = found;
	load_provenance(out);

	struct attn_query_gate_case *rows;
	int n_rows;
	char why[512];
	rc = attn_query_gate_cases(st, out->id, &rows, &n_rows, why, sizeof(why));
	if (rc == ATTN_ERR_NOMEM)
		return attn_errf(err, errlen, rc, "out of memory");
	if (rc != ATTN_OK)
		return attn_errf(err, errlen, rc, "reading cases: %s", why);
	rc = pool_cases(out, rows, n_rows);
	attn_query_gate_cases_free(rows, n_rows);
	if (rc != ATTN_OK) {
		attn_gate_run_free(out);
		return attn_errf(err, errlen, rc, "out of memory");
	}
	case_roofs(out);
	number_windows(out);
	return ATTN_OK;
}

/* ---- the rounds' correction --------------------------------------------------------- */

/*
 * The roof of each case's window: the median of the roof_ns of every sample
 * of every case of its shape. A sweep interleaves the repetitions of the
 * methods at one shape, so they share that window, and its median is the
 * machine's speed then. Each process's own probe is not used alone: it
 * runs in that method's process, after that method's sample, and its
 * caches, pages and threads bias it by several percent either way, which
 * would be read as the method's change.
 */
static int group_roofs(struct attn_gate_run *r)
{
	int total = 0;
	for (int i = 0; i < r->n; i++)
		total += r->c[i].k;
	double *v = malloc((size_t)(total ? total : 1) * sizeof(double));
	if (!v)
		return ATTN_ERR_NOMEM;
	for (int w = 0; w < r->n_win; w++) {
		int m = 0;
		for (int j = 0; j < r->n; j++)
			if (r->c[j].win == w && r->c[j].all_roof)
				for (int k = 0; k < r->c[j].k; k++)
					v[m++] = r->c[j].roof[k];
		double g = m ? attn_stats_median_inplace(v, m) : 0;
		for (int j = 0; j < r->n; j++)
			if (r->c[j].win == w)
				r->c[j].group_roof = g;
	}
	free(v);
	return ATTN_OK;
}

/*
 * The machine's speed round by round, read from the methods themselves. A
 * sweep interleaves its methods at one shape: repetition r of every case
 * runs in the same round, within a fraction of a second. On a shared
 * machine that speed moves from round to round by tens of percent (a
 * neighbour's memory traffic, which an in-cache sgemm probe does not feel),
 * and it moves all the methods of the round together. So each sample is
 * divided by its round's factor: the median, over the window's cases, of
 * the sample over its case's median. One method's own change moves one of
 * the many ratios a factor is the median of, so it survives. Windows of
 * fewer than three cases are left as they are. raw_med keeps each case's
 * median as measured.
 */
static int peer_rounds(struct attn_gate_run *r)
{
	int maxk = 0;
	for (int i = 0; i < r->n; i++)
		maxk = r->c[i].k > maxk ? r->c[i].k : maxk;
	double *med = malloc((size_t)(r->n ? r->n : 1) * sizeof(double));
	double *v = malloc((size_t)(r->n + maxk + 1) * sizeof(double));
	if (!med || !v) {
		free(med);
		free(v);
		return ATTN_ERR_NOMEM;
	}
	for (int i = 0; i < r->n; i++) {
		memcpy(v, r->c[i].ns, (size_t)r->c[i].k * sizeof(double));
		med[i] = r->c[i].raw_med = attn_stats_median_inplace(v, r->c[i].k);
	}
	for (int w = 0; w < r->n_win; w++) {
		int members = 0;
		for (int j = 0; j < r->n; j++)
			members += r->c[j].win == w;
		if (members < 3)
			continue;
		for (int rep = 0; rep < maxk; rep++) {
			int m = 0;
			for (int j = 0; j < r->n; j++)
				if (r->c[j].win == w && rep < r->c[j].k && med[j] > 0)
					v[m++] = r->c[j].ns[rep] / med[j];
			if (m < 3)
				continue;
			double f = attn_stats_median_inplace(v, m);
			for (int j = 0; j < r->n; j++)
				if (r->c[j].win == w && rep < r->c[j].k && f > 0)
					r->c[j].ns[rep] /= f;
		}
	}
	free(med);
	free(v);
	return ATTN_OK;
}

/* Both, once per run: a second gate on the same runs must not divide twice. */
static int correct_rounds(struct attn_gate_run *base, struct attn_gate_run *cur)
{
	struct attn_gate_run *runs[2] = {base, cur};
	for (int i = 0; i < 2; i++)
		if (!runs[i]->corrected && group_roofs(runs[i]) != ATTN_OK)
			return ATTN_ERR_NOMEM;
	for (int i = 0; i < 2; i++) {
		if (runs[i]->corrected)
			continue;
		if (peer_rounds(runs[i]) != ATTN_OK)
			return ATTN_ERR_NOMEM;
		runs[i]->corrected = 1;
	}
	return ATTN_OK;
}

/* ---- pairing and testing -------------------------------------------------------- */

/*
 * One case's samples in the pair's unit, into out[k]: ns / the median
 * roof_ns of its shape's window, ns x sgemm GFLOP/s (its run's sgemm roof;
 * time in units of its flop rate), or ns.
 */
static void normalise(const struct attn_gate_case *c, enum attn_gate_norm norm, double gflops,
                      double *out)
{
	for (int i = 0; i < c->k; i++)
		out[i] = norm == ATTN_GATE_NORM_GROUP_ROOF ? c->ns[i] / c->group_roof
		         : norm == ATTN_GATE_NORM_RUN_ROOF ? c->ns[i] * gflops
		                                           : c->ns[i];
}

/* Ratio, CI, p of one pair; ATTN_OK or ATTN_ERR_NOMEM. */
static int test_pair(struct attn_gate_pair *p)
{
	const struct attn_gate_case *b = p->b, *c = p->c;
	double gb = b->sgemm, gc = c->sgemm;
	p->norm = b->all_roof && c->all_roof && b->group_roof > 0 && c->group_roof > 0
	              ? ATTN_GATE_NORM_GROUP_ROOF
	          : gb > 0 && gc > 0 ? ATTN_GATE_NORM_RUN_ROOF
	                             : ATTN_GATE_NORM_RAW;
	double *x = malloc((size_t)(b->k + c->k) * sizeof(double));
	if (!x)
		return ATTN_ERR_NOMEM;
	double *y = x + b->k;
	normalise(b, p->norm, gb, x);
	normalise(c, p->norm, gc, y);
	p->med_b = b->raw_med;
	p->med_c = c->raw_med;
	attn_compare_ratio(x, b->k, y, c->k, ATTN_COMPARE_BOOT, ATTN_COMPARE_SEED, &p->ratio,
	                   &p->lo, &p->hi);
	p->p = attn_compare_mwu_p(y, c->k, x, b->k, &p->exact);
	p->ins_ratio = b->ins > 0 && c->ins > 0 ? c->ins / b->ins : NAN;
	free(x);
	return ATTN_OK;
}

/* Pair the cases of the two sorted runs; the pairs are malloc'd (NULL out of memory). */
static struct attn_gate_pair *match(const struct attn_gate_run *a, const struct attn_gate_run *b,
                                    int *n, int *only_a, int *only_b)
{
	struct attn_gate_pair *p = malloc((size_t)(a->n ? a->n : 1) * sizeof(*p));
	*n = *only_a = *only_b = 0;
	if (!p)
		return NULL;
	int i = 0, j = 0;
	while (i < a->n || j < b->n) {
		int c = i >= a->n ? 1 : j >= b->n ? -1 : case_order(&a->c[i], &b->c[j]);
		if (c < 0) {
			i++, (*only_a)++;
		} else if (c > 0) {
			j++, (*only_b)++;
		} else {
			memset(&p[*n], 0, sizeof(*p));
			p[*n].b = &a->c[i++];
			p[(*n)++].c = &b->c[j++];
		}
	}
	return p;
}

/* "" when the three values agree, else "name 'a' vs 'b'" for each that differs, "; " apart. */
static void diff3(const char *const names[3], const char *const va[3], const char *const vb[3],
                  char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	for (int i = 0; i < 3; i++)
		if (strcmp(va[i], vb[i]) != 0 && used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s '%s' vs '%s'",
			                         used ? "; " : "", names[i], va[i][0] ? va[i] : "?",
			                         vb[i][0] ? vb[i] : "?");
}

/* Machine class: "" when the runs agree, else what differs. */
static void machine_diff(const struct attn_gate_run *a, const struct attn_gate_run *b, char *buf,
                         size_t len)
{
	const char *const names[] = {"cpu_model", "cores", "openblas_core"};
	const char *const va[] = {a->cpu_model, a->cores, a->openblas_core};
	const char *const vb[] = {b->cpu_model, b->cores, b->openblas_core};
	diff3(names, va, vb, buf, len);
}

/*
 * Build: "" when the runs were built alike, else what differs. A value one
 * run lacks (made before it was recorded) counts as different: unknown is
 * not the same.
 */
static void build_diff(const struct attn_gate_run *a, const struct attn_gate_run *b, char *buf,
                       size_t len)
{
	const char *const names[] = {"build_type", "compiler", "cflags"};
	const char *const va[] = {a->build_type, a->compiler, a->cflags};
	const char *const vb[] = {b->build_type, b->compiler, b->cflags};
	diff3(names, va, vb, buf, len);
}

/* ---- judging ------------------------------------------------------------------------ */

/*
 * Where a shape's window ran at a speed 2.5 times off the run's usual speed
 * relative to the other run, no normalisation is trusted: its pairs are
 * UNRELIABLE. v holds n doubles of scratch.
 */
static void mark_unreliable(struct attn_gate_pair *pairs, int n, double *v)
{
	int m = 0;
	for (int i = 0; i < n; i++)
		if (pairs[i].norm == ATTN_GATE_NORM_GROUP_ROOF)
			v[m++] = pairs[i].c->group_roof / pairs[i].b->group_roof;
	double usual = attn_stats_median_inplace(v, m);
	for (int i = 0; i < n; i++) {
		struct attn_gate_pair *p = &pairs[i];
		double speed = p->c->group_roof / p->b->group_roof / usual;
		if (p->norm == ATTN_GATE_NORM_GROUP_ROOF && (speed > 2.5 || speed < 1 / 2.5))
			p->v = ATTN_COMPARE_UNRELIABLE;
	}
}

/*
 * Each pair's ratio relative to its window's median ratio, into rel (the
 * ratio itself where the window holds fewer than three methods). A build
 * that slows every method alike is therefore not judged here: on a shared
 * machine it looks exactly like a neighbour's load, which the in-cache
 * sgemm probe does not see (measured: whole runs 10-35% slower with the
 * probe within 3%). The grid's median ratio is reported for it instead.
 */
static void relative_ratios(const struct attn_gate_pair *pairs, int n, int n_win, double *v,
                            double *rel)
{
	for (int w = 0; w < n_win; w++) {
		int k = 0;
		for (int j = 0; j < n; j++)
			if (pairs[j].b->win == w)
				v[k++] = pairs[j].ratio;
		double med = k < 3 ? 1 : attn_stats_median_inplace(v, k);
		for (int j = 0; j < n; j++)
			if (pairs[j].b->win == w)
				rel[j] = pairs[j].ratio / med;
	}
}

/*
 * What the test alone cannot see. Two things make a case look changed on a
 * shared machine without any change in the code, and the gate must not fail
 * on either (measured on this project's runner: in A/A pairs of the ci
 * preset single cases differ by up to 15% with tight CIs):
 *  - A process has a speed of its own (where its pages and buffers land in
 *    the caches, which CPU its interrupts hit): one case of a run can be
 *    several percent slow for its whole life. A change in the code moves a
 *    method at all its shapes.
 *  - Contention slows methods unlike sgemm: the probe tracks a machine that
 *    is slower as a whole, less well one whose memory another tenant is
 *    using.
 * So a flagged pair counts only when its method moved the same way at every
 * shape, each shape's ratio taken relative to the median ratio of all
 * methods measured in the same window (what the same machine state did to
 * the others): beyond the threshold at the median of its shapes and beyond
 * half the threshold at each. Otherwise it is ISOLATED, reported and not
 * gating.
 */
static int judge(struct attn_gate_pair *pairs, int n, int n_win, double threshold)
{
	double *v = malloc((size_t)(n ? n : 1) * sizeof(double));
	double *rel = malloc((size_t)(n ? n : 1) * sizeof(double));
	if (!v || !rel) {
		free(v);
		free(rel);
		return ATTN_ERR_NOMEM;
	}
	mark_unreliable(pairs, n, v);
	relative_ratios(pairs, n, n_win, v, rel);
	for (int i = 0; i < n; i++) {
		struct attn_gate_pair *p = &pairs[i];
		if (p->v != ATTN_COMPARE_REGRESSED && p->v != ATTN_COMPARE_IMPROVED)
			continue;
		int k = 0, all = 0;
		for (int j = 0; j < n; j++) {
			if (strcmp(pairs[j].b->method, p->b->method) ||
			    strcmp(pairs[j].b->params, p->b->params))
				continue;
			all++;
			if (pairs[j].v != ATTN_COMPARE_UNRELIABLE)
				v[k++] = rel[j];
		}
		double lo = INFINITY, hi = 0;
		for (int j = 0; j < k; j++)
			lo = fmin(lo, v[j]), hi = fmax(hi, v[j]);
		double med = attn_stats_median_inplace(v, k), half = 1 + threshold / 2;
		if (all > 1 && k < 2)
			p->v = ATTN_COMPARE_UNRELIABLE; /* nothing left to confirm it by */
		else if (p->v == ATTN_COMPARE_REGRESSED
		             ? !(med > 1 + threshold && lo > half)
		             : !(med < 1 / (1 + threshold) && hi < 1 / half))
			p->v = ATTN_COMPARE_ISOLATED;
	}
	free(v);
	free(rel);
	return ATTN_OK;
}

/* ---- the curve check ------------------------------------------------------------------ */

/*
 * The curves fitted in both runs whose exponent CIs do not overlap, into
 * r->curves. A fit that fails leaves a note, not an error: the curves never
 * gate.
 */
static int curve_moves(const struct attn_gate_run *base, const struct attn_gate_run *cur,
                       struct attn_gate_report *r)
{
	struct attn_fit_row *fb = NULL, *fc = NULL;
	int nb = 0, nc = 0, n = 0;
	int64_t used;
	char err[512];
	if (attn_fit_run(base->st, base->id, NULL, 0, 3, ATTN_FIT_BOOT, ATTN_FIT_SEED, &used, &fb,
	                 &nb, err, sizeof(err)) ||
	    attn_fit_run(cur->st, cur->id, NULL, 0, 3, ATTN_FIT_BOOT, ATTN_FIT_SEED, &used, &fc,
	                 &nc, err, sizeof(err))) {
		snprintf(r->curve_note, sizeof(r->curve_note), "curves not compared: %s", err);
		free(fb);
		return ATTN_OK;
	}
	struct attn_gate_curve *v = calloc((size_t)(nb ? nb : 1), sizeof(*v));
	for (int i = 0; v && i < nb; i++)
		for (int j = 0; j < nc; j++) {
			const struct attn_fit_row *a = &fb[i], *b = &fc[j];
			if (strcmp(a->method, b->method) || strcmp(a->params, b->params) ||
			    strcmp(a->family, b->family) || !isfinite(a->exponent) ||
			    !isfinite(b->exponent))
				continue;
			if (!(b->ci_lo > a->ci_hi || b->ci_hi < a->ci_lo))
				continue;
			struct attn_gate_curve *m = &v[n++];
			snprintf(m->method, sizeof(m->method), "%s", a->method);
			snprintf(m->params, sizeof(m->params), "%s", a->params);
			snprintf(m->family, sizeof(m->family), "%s", a->family);
			m->e_b = a->exponent, m->lo_b = a->ci_lo, m->hi_b = a->ci_hi;
			m->e_c = b->exponent, m->lo_c = b->ci_lo, m->hi_c = b->ci_hi;
		}
	free(fb);
	free(fc);
	r->curves = v;
	r->n_curves = v ? n : 0;
	return v ? ATTN_OK : ATTN_ERR_NOMEM;
}

/* ---- the gate ----------------------------------------------------------------------- */

/* Test every pair, then q over the grid and each pair's verdict. */
static int test_pairs(struct attn_gate_report *r)
{
	double *pv = malloc((size_t)r->n * sizeof(double));
	double *qv = malloc((size_t)r->n * sizeof(double));
	int rc = pv && qv ? ATTN_OK : ATTN_ERR_NOMEM;
	for (int i = 0; rc == ATTN_OK && i < r->n; i++) {
		rc = test_pair(&r->pairs[i]);
		pv[i] = r->pairs[i].p;
	}
	if (rc == ATTN_OK && attn_compare_bh(pv, r->n, qv) != ATTN_OK)
		rc = ATTN_ERR_NOMEM;
	for (int i = 0; rc == ATTN_OK && i < r->n; i++) {
		struct attn_gate_pair *p = &r->pairs[i];
		p->q = qv[i];
		p->v = attn_compare_verdict(p->ratio, p->q, r->alpha, r->threshold);
		r->n_norm[p->norm]++;
	}
	free(pv);
	free(qv);
	return rc;
}

/* The grid's median ratios and the counts of verdicts. */
static int summarise(struct attn_gate_report *r)
{
	double *g = malloc((size_t)(2 * r->n) * sizeof(double));
	if (!g)
		return ATTN_ERR_NOMEM;
	for (int i = 0; i < r->n; i++) {
		g[i] = r->pairs[i].ratio;
		g[r->n + i] = r->pairs[i].med_c / r->pairs[i].med_b;
	}
	r->grid = attn_stats_median_inplace(g, r->n);
	r->grid_raw = attn_stats_median_inplace(g + r->n, r->n);
	free(g);
	for (int i = 0; i < r->n; i++) {
		r->n_reg += r->pairs[i].v == ATTN_COMPARE_REGRESSED;
		r->n_imp += r->pairs[i].v == ATTN_COMPARE_IMPROVED;
		r->n_iso += r->pairs[i].v == ATTN_COMPARE_ISOLATED;
		r->n_unrel += r->pairs[i].v == ATTN_COMPARE_UNRELIABLE;
	}
	return ATTN_OK;
}

static int nomem(char *err, size_t errlen)
{
	return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
}

int attn_gate_run(struct attn_gate_run *base, struct attn_gate_run *cur,
                  const struct attn_gate_options *opt, struct attn_gate_report *out, char *err,
                  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->base = base;
	out->cur = cur;
	out->threshold = opt->threshold;
	out->alpha = opt->alpha;
	if (correct_rounds(base, cur) != ATTN_OK)
		return nomem(err, errlen);
	machine_diff(base, cur, out->machine, sizeof(out->machine));
	if (out->machine[0] && !opt->allow_other_machine) {
		out->refused = ATTN_GATE_OTHER_MACHINE;
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "the runs are from different machines (%s)", out->machine);
	}
	build_diff(base, cur, out->build, sizeof(out->build));
	if (out->build[0] && !opt->allow_build_mismatch) {
		out->refused = ATTN_GATE_OTHER_BUILD;
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "the runs were built differently (%s)", out->build);
	}
	out->pairs = match(base, cur, &out->n, &out->only_base, &out->only_cur);
	if (!out->pairs)
		return nomem(err, errlen);
	if (out->n == 0) {
		out->refused = ATTN_GATE_NO_MATCH;
		return attn_errf(
		    err, errlen, ATTN_ERR_INVALID,
		    "no matching cases: baseline run %lld has %d ok cases, current run "
		    "%lld has %d, none alike in method, params and shape",
		    (long long)base->id, base->n, (long long)cur->id, cur->n);
	}
	if (test_pairs(out) != ATTN_OK ||
	    judge(out->pairs, out->n, base->n_win, opt->threshold) != ATTN_OK ||
	    summarise(out) != ATTN_OK || curve_moves(base, cur, out) != ATTN_OK)
		return nomem(err, errlen);
	return ATTN_OK;
}

void attn_gate_report_free(struct attn_gate_report *r)
{
	if (!r)
		return;
	free(r->pairs);
	free(r->curves);
	r->pairs = NULL;
	r->curves = NULL;
	r->n = r->n_curves = 0;
}

int attn_gate_same_work(const struct attn_gate_pair *p)
{
	return p->v == ATTN_COMPARE_REGRESSED && isfinite(p->ins_ratio) &&
	       fabs(p->ins_ratio - 1) <= 0.01;
}
