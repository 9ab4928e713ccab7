/*
 * bench_linear: the linear-attention family's claims, measured side by side.
 *
 * The survey's dual form says one function can be computed in parallel
 * (O(N²)), recurrent (O(N), the decode path) and chunkwise (O(N), the fast
 * prefill path) forms. This bench measures what that means on this machine,
 * each figure as a ratio of things timed in the same rounds (a slow phase of
 * the shared machine hits all of them alike):
 *
 *   roof    the chunk form at N = 65536, D = 128 against OpenBLAS sgemm
 *           (2048³) timed in the same round: the fraction of the sgemm roof,
 *           GFLOP/s counted by the method's own flops() (target >= 0.40);
 *   forms   recurrent time over chunk time at N = 16384, D = 128, for every
 *           method with both forms (target >= 3);
 *   exp     the time exponent: the least-squares slope of log time on log N
 *           (each N's fastest round), chunk and recurrent over
 *           N = 4096..262144, parallel over 1024..16384 (targets: within 0.1
 *           of 1, within 0.15 of 2);
 *   decode  one decode step at a context of 262144 over one at 1024 (target
 *           <= 1.2: the step does not grow with the context);
 *   cross   linear_elu's chunk form against flash, not causal, D = 64: the
 *           N from which linear_elu is faster, interpolated in log N.
 *
 * Every case is one batch, one head (decode: 4 heads), on --threads threads
 * (default 1), on the gaussian workload with every gate input generated. A
 * round times each kernel for --budget seconds (at least three calls after a
 * warm-up); a figure is the median over --rounds rounds.
 */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/bind.h"
#include "attnbench/calib.h"
#include "attnbench/registry.h"
#include "attnbench/spec.h"
#include "attnbench/stats.h"
#include "attnbench/sysinfo.h"
#include "attnbench/workload.h"
#include "bench.h"

#define MAX_ROUNDS  16
#define MAX_METHODS 32
#define MAX_NS      16
#define ALL_INPUTS  (ATTN_INPUT_LOG_GATE | ATTN_INPUT_GATE_VEC | ATTN_INPUT_BETA)

static const char *const form_names[] = {"parallel", "recurrent", "chunk"};
enum { F_PAR, F_REC, F_CHUNK, N_FORMS };

struct opts {
	int threads, rounds;
	double budget;
	int quick;
	const struct attn_method *methods[MAX_METHODS];
	int n_methods;
};

/* The method's defaults with form=<name>; -1 when it has no such form. */
static int params_with_form(const struct attn_method *m, int form, struct attn_params *p)
{
	char kv[32], err[128];
	attn_params_default(m, p);
	snprintf(kv, sizeof(kv), "form=%s", form_names[form]);
	return attn_params_set(m, p, kv, err, sizeof(err)) ? -1 : 0;
}

static struct attn_shape shape(int64_t n, int64_t d, int heads, int causal, enum attn_mode mode)
{
	return (struct attn_shape){.batch = 1,
	                           .heads = heads,
	                           .kv_heads = heads,
	                           .n = n,
	                           .d = d,
	                           .causal = causal,
	                           .mode = mode};
}

static const char *verdict(int met)
{
	return met ? "met" : "NOT met";
}

/* One side of a paired timing: a kernel and the case it is planned for. */
struct side {
	struct bench_kernel k;
	const struct attn_shape *s;
	const struct attn_inputs *in;
};

/* Plan a (m_a, p_a) and b (m_b, p_b; NULL: the defaults): both or, returning -1, neither. */
static int pair_init(const struct opts *o, struct side *a, const struct attn_method *m_a,
                     const struct attn_params *p_a, struct side *b, const struct attn_method *m_b,
                     const struct attn_params *p_b)
{
	if (bench_kernel_init(&a->k, m_a, p_a, a->s, o->threads, a->in, NULL, 0))
		return -1;
	if (bench_kernel_init(&b->k, m_b, p_b, b->s, o->threads, b->in, NULL, 0)) {
		bench_kernel_free(&a->k);
		return -1;
	}
	return 0;
}

/*
 * Each round times a, then b, for `budget` seconds each, so a slow phase of the machine hits
 * both alike; ta and tb get every round's times. Returns the median over rounds of b's time over
 * a's: the per-round ratio is what cancels the slow phases.
 */
static double pair_time(const struct opts *o, struct side *a, struct side *b, double budget,
                        double *ta, double *tb)
{
	double r[MAX_ROUNDS];
	for (int q = 0; q < o->rounds; q++) {
		ta[q] = bench_kernel_time(&a->k, o->threads, budget);
		tb[q] = bench_kernel_time(&b->k, o->threads, budget);
		r[q] = tb[q] / ta[q];
	}
	return bench_median(r, o->rounds);
}

/* ---- roof: the chunk form against sgemm ---------------------------------------- */

static void run_roof(const struct opts *o, const char *const *names, int n_names)
{
	const struct attn_shape s = shape(o->quick ? 16384 : 65536, 128, 1, 1, ATTN_MODE_PREFILL);
	struct attn_workload w;
	if (attn_workload_alloc(&s, ALL_INPUTS, ATTN_DIST_GAUSSIAN, 42, &w)) {
		printf("roof: out of memory for N = %lld\n", (long long)s.n);
		return;
	}
	printf("\n## roof: chunk form, N=%lld D=128, %d thread(s), vs sgemm 2048^3 in the same "
	       "rounds (target >= 0.40)\n",
	       (long long)s.n, o->threads);
	printf("%-16s %10s %10s %8s %s\n", "method", "GFLOP/s", "sgemm", "ratio", "");
	for (int i = 0; i < n_names; i++) {
		const struct attn_method *m = NULL;
		for (int j = 0; j < o->n_methods; j++)
			if (strcmp(o->methods[j]->name, names[i]) == 0)
				m = o->methods[j];
		struct attn_params p;
		struct bench_kernel k;
		char msg[256];
		if (!m || params_with_form(m, F_CHUNK, &p) ||
		    bench_kernel_init(&k, m, &p, &s, o->threads, &w.in, msg, sizeof(msg))) {
			printf("%-16s not measured: %s\n", names[i],
			       m ? msg : "not registered (or not in --methods)");
			continue;
		}
		double flops = attn_call_flops(m, &s, &p), g[MAX_ROUNDS], sg[MAX_ROUNDS],
		       r[MAX_ROUNDS];
		for (int k_ = 0; k_ < o->rounds; k_++) {
			bench_settle(o->threads);
			sg[k_] = attn_roof_sgemm_gflops(o->threads, 2048, o->budget);
			g[k_] = flops / bench_kernel_time(&k, o->threads, o->budget) / 1e9;
			r[k_] = g[k_] / sg[k_];
		}
		double ratio = bench_median(r, o->rounds);
		printf("%-16s %10.1f %10.1f %8.3f %s\n", m->name, bench_median(g, o->rounds),
		       bench_median(sg, o->rounds), ratio, verdict(ratio >= 0.40));
		fflush(stdout);
		bench_kernel_free(&k);
	}
	attn_workload_free(&w);
}

/* ---- forms: recurrent over chunk --------------------------------------------- */

static void run_forms(const struct opts *o)
{
	const struct attn_shape s = shape(o->quick ? 4096 : 16384, 128, 1, 1, ATTN_MODE_PREFILL);
	struct attn_workload w;
	if (attn_workload_alloc(&s, ALL_INPUTS, ATTN_DIST_GAUSSIAN, 42, &w)) {
		printf("forms: out of memory\n");
		return;
	}
	printf("\n## forms: recurrent time / chunk time, N=%lld D=128, %d thread(s) (target >= "
	       "3)\n",
	       (long long)s.n, o->threads);
	printf("%-16s %12s %12s %8s\n", "method", "chunk ms", "recurrent ms", "ratio");
	for (int i = 0; i < o->n_methods; i++) {
		const struct attn_method *m = o->methods[i];
		struct attn_params pc, pr;
		struct side kc = {.s = &s, .in = &w.in}, kr = kc;
		if (params_with_form(m, F_CHUNK, &pc) || params_with_form(m, F_REC, &pr) ||
		    pair_init(o, &kc, m, &pc, &kr, m, &pr))
			continue;
		double tc[MAX_ROUNDS], tr[MAX_ROUNDS];
		double ratio = pair_time(o, &kc, &kr, o->budget, tc, tr);
		printf("%-16s %12.2f %12.2f %8.2f %s\n", m->name, 1e3 * bench_median(tc, o->rounds),
		       1e3 * bench_median(tr, o->rounds), ratio, verdict(ratio >= 3.0));
		fflush(stdout);
		bench_kernel_free(&kc.k);
		bench_kernel_free(&kr.k);
	}
	attn_workload_free(&w);
}

/* ---- exp: time exponents -------------------------------------------------------- */

/*
 * Median time t[m][f][ni] of every (method, form) at every N of `ns` that
 * the form is measured at (the parallel form only up to par_max), NaN where
 * not measured. A round visits every N and every kernel, so a slow phase of
 * the machine lands on all N alike instead of bending the slope; kernels are
 * planned per visit (the parallel forms of the delta rules hold N² floats),
 * the workloads of all N stay allocated.
 */
/*
 * The least of n times (NaN when none is finite). Other work on the machine
 * only ever slows a kernel down, so across rounds the fastest is the least
 * disturbed estimate; a slope through medians inherits whichever N a busy
 * stretch happened to hit.
 */
static double fastest(const double *x, int n)
{
	double m = NAN;
	for (int i = 0; i < n; i++)
		if (isfinite(x[i]) && !(x[i] >= m))
			m = x[i];
	return m;
}

static void exp_measure(const struct opts *o, const int64_t *ns, int n_ns, int64_t par_max,
                        int64_t d, double t[][N_FORMS][MAX_NS])
{
	static double x[MAX_METHODS][N_FORMS][MAX_NS][MAX_ROUNDS];
	struct attn_workload w[MAX_NS];
	struct attn_shape s[MAX_NS];
	for (int i = 0; i < o->n_methods; i++)
		for (int f = 0; f < N_FORMS; f++)
			for (int ni = 0; ni < n_ns; ni++)
				t[i][f][ni] = NAN;
	for (int ni = 0; ni < n_ns; ni++) {
		s[ni] = shape(ns[ni], d, 1, 1, ATTN_MODE_PREFILL);
		if (attn_workload_alloc(&s[ni], ALL_INPUTS, ATTN_DIST_GAUSSIAN, 42, &w[ni])) {
			printf("exp: out of memory at N = %lld\n", (long long)ns[ni]);
			for (int k = 0; k < ni; k++)
				attn_workload_free(&w[k]);
			return;
		}
	}
	for (int r = 0; r < o->rounds; r++) {
		for (int ni = 0; ni < n_ns; ni++)
			for (int i = 0; i < o->n_methods; i++)
				for (int f = 0; f < N_FORMS; f++) {
					struct attn_params p;
					struct bench_kernel k;
					x[i][f][ni][r] = NAN;
					if ((f == F_PAR && ns[ni] > par_max) ||
					    params_with_form(o->methods[i], f, &p) ||
					    bench_kernel_init(&k, o->methods[i], &p, &s[ni],
					                      o->threads, &w[ni].in, NULL, 0))
						continue;
					x[i][f][ni][r] =
					    bench_kernel_time(&k, o->threads, o->budget);
					bench_kernel_free(&k);
				}
		fprintf(stderr, "exp: round %d of %d done\n", r + 1, o->rounds);
	}
	for (int i = 0; i < o->n_methods; i++)
		for (int f = 0; f < N_FORMS; f++)
			for (int ni = 0; ni < n_ns; ni++)
				t[i][f][ni] = fastest(x[i][f][ni], o->rounds);
	for (int ni = 0; ni < n_ns; ni++)
		attn_workload_free(&w[ni]);
}

static void run_exp(const struct opts *o, int64_t d)
{
	int64_t ns[MAX_NS];
	int n_ns = 0;
	const int64_t top = o->quick ? 65536 : 262144, par_max = o->quick ? 8192 : 16384;
	for (int64_t n = 1024; n <= top; n *= 2)
		ns[n_ns++] = n;
	static double t[MAX_METHODS][N_FORMS][MAX_NS];
	exp_measure(o, ns, n_ns, par_max, d, t);

	printf("\n## exp: time exponent (least-squares slope of log t on log N), D=%lld, %d "
	       "thread(s)\n",
	       (long long)d, o->threads);
	printf("## chunk, recurrent over N=4096..%lld (target |b-1| <= 0.1); parallel over "
	       "N=1024..%lld (target |b-2| <= 0.15)\n",
	       (long long)top, (long long)par_max);
	printf("%-16s %-9s %7s   %s\n", "method", "form", "b", "ms at each N");
	for (int i = 0; i < o->n_methods; i++)
		for (int f = 0; f < N_FORMS; f++) {
			double xs[MAX_NS], ys[MAX_NS];
			int m = 0;
			for (int ni = 0; ni < n_ns; ni++) {
				if (isnan(t[i][f][ni]) || (f != F_PAR && ns[ni] < 4096))
					continue;
				xs[m] = (double)ns[ni];
				ys[m++] = t[i][f][ni];
			}
			if (m == 0)
				continue;
			double b = attn_stats_loglog_slope(xs, ys, m, NULL);
			double want = f == F_PAR ? 2.0 : 1.0, tol = f == F_PAR ? 0.15 : 0.1;
			printf("%-16s %-9s %7.3f %-7s", o->methods[i]->name, form_names[f], b,
			       verdict(fabs(b - want) <= tol));
			for (int k = 0; k < m; k++)
				printf(" %lld:%.3g", (long long)xs[k], 1e3 * ys[k]);
			printf("\n");
		}
	fflush(stdout);
}

/* ---- decode: one step, context 1024 vs 262144 -------------------------------------- */

static void run_decode(const struct opts *o)
{
	const int64_t ns[2] = {1024, o->quick ? 65536 : 262144};
	printf("\n## decode: one step (4 heads, D=128, %d thread(s)) at context %lld over %lld "
	       "(target <= 1.2)\n",
	       o->threads, (long long)ns[1], (long long)ns[0]);
	printf("%-16s %10s %10s %8s\n", "method", "short us", "long us", "ratio");
	struct attn_workload w[2];
	struct attn_shape s[2];
	for (int j = 0; j < 2; j++) {
		s[j] = shape(ns[j], 128, 4, 1, ATTN_MODE_DECODE);
		if (attn_workload_alloc(&s[j], ALL_INPUTS, ATTN_DIST_GAUSSIAN, 42, &w[j])) {
			printf("decode: out of memory\n");
			if (j)
				attn_workload_free(&w[0]);
			return;
		}
	}
	for (int i = 0; i < o->n_methods; i++) {
		const struct attn_method *m = o->methods[i];
		struct side k[2] = {{.s = &s[0], .in = &w[0].in}, {.s = &s[1], .in = &w[1].in}};
		if (pair_init(o, &k[0], m, NULL, &k[1], m, NULL))
			continue;
		double t0[MAX_ROUNDS], t1[MAX_ROUNDS];
		double ratio = pair_time(o, &k[0], &k[1], o->budget / 4, t0, t1);
		printf("%-16s %10.2f %10.2f %8.2f %s\n", m->name, 1e6 * bench_median(t0, o->rounds),
		       1e6 * bench_median(t1, o->rounds), ratio, verdict(ratio <= 1.2));
		fflush(stdout);
		bench_kernel_free(&k[0].k);
		bench_kernel_free(&k[1].k);
	}
	attn_workload_free(&w[0]);
	attn_workload_free(&w[1]);
}

/* ---- cross: linear_elu chunk vs flash ------------------------------------------- */

static void run_cross(const struct opts *o, const struct attn_registry *reg)
{
	const struct attn_method *lin = attn_registry_find(reg, "linear_elu");
	const struct attn_method *fl = attn_registry_find(reg, "flash");
	if (!lin || !fl)
		return;
	printf("\n## cross: linear_elu (chunk) vs flash, not causal, D=64, %d thread(s)\n",
	       o->threads);
	printf("%-8s %12s %12s %10s\n", "N", "flash ms", "linear ms", "flash/lin");
	double prev_n = NAN, prev_r = NAN, cross = NAN;
	for (int64_t n = 16; n <= (o->quick ? 4096 : 16384); n *= 2) {
		const struct attn_shape s = shape(n, 64, 1, 0, ATTN_MODE_PREFILL);
		struct attn_workload w;
		struct attn_params p;
		if (attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 42, &w))
			break;
		struct side kl = {.s = &s, .in = &w.in}, kf = kl;
		if (params_with_form(lin, F_CHUNK, &p) ||
		    pair_init(o, &kl, lin, &p, &kf, fl, NULL)) {
			attn_workload_free(&w);
			break;
		}
		/* linear first, so the pair's ratio (second over first) is flash over linear */
		double tf[MAX_ROUNDS], tl[MAX_ROUNDS];
		double ratio = pair_time(o, &kl, &kf, o->budget, tl, tf);
		printf("%-8lld %12.3f %12.3f %10.2f\n", (long long)n,
		       1e3 * bench_median(tf, o->rounds), 1e3 * bench_median(tl, o->rounds), ratio);
		fflush(stdout);
		/* the first N where flash/linear passes 1, interpolated in log N, log ratio */
		if (isnan(cross) && ratio >= 1.0) {
			if (isnan(prev_r))
				cross = (double)n;
			else
				cross = exp(log(prev_n) + (log((double)n) - log(prev_n)) *
				                              (0.0 - log(prev_r)) /
				                              (log(ratio) - log(prev_r)));
		}
		prev_n = (double)n;
		prev_r = ratio;
		bench_kernel_free(&kl.k);
		bench_kernel_free(&kf.k);
		attn_workload_free(&w);
	}
	if (isnan(cross))
		printf("crossover: never in range (flash stays faster)\n");
	else
		printf("crossover: linear_elu chunk is faster than flash from N ~ %.0f\n", cross);
}

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: bench_linear [--only roof,forms,exp,decode,cross] [--methods a,b,...]\n"
	       "                    [--threads T] [--rounds R] [--budget S] [--exp-d D] [--quick]\n"
	       "\n"
	       "The linear family's targets, each a ratio of kernels timed in the same rounds:\n"
	       "  roof    chunk form at N=65536 D=128 over sgemm 2048^3 (retnet, gla,\n"
	       "          gated_deltanet)\n"
	       "  forms   recurrent / chunk time at N=16384 D=128\n"
	       "  exp     time exponents: chunk and recurrent over N=4096..262144, parallel\n"
	       "          over 1024..16384 (D=--exp-d, default 64)\n"
	       "  decode  decode step at context 262144 over 1024\n"
	       "  cross   the N from which linear_elu (chunk) beats flash, not causal, D=64\n"
	       "Defaults: every linear method with a `form` parameter, --threads 1 --rounds 3\n"
	       "--budget 0.3. --quick: smaller N everywhere (a smoke run, not the targets).\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {{"only", required_argument, 0, 'o'},
	                                      {"methods", required_argument, 0, 'm'},
	                                      {"threads", required_argument, 0, 't'},
	                                      {"rounds", required_argument, 0, 'r'},
	                                      {"budget", required_argument, 0, 'b'},
	                                      {"exp-d", required_argument, 0, 'd'},
	                                      {"quick", no_argument, 0, 'q'},
	                                      {"help", no_argument, 0, 'h'},
	                                      {0, 0, 0, 0}};
	attn_openblas_core_fixup(argv);
	struct opts o = {.threads = 1, .rounds = 3, .budget = 0.3};
	const char *only = "roof,forms,exp,decode,cross", *names = NULL;
	int64_t exp_d = 64;
	int c;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'o': only = optarg; break;
		case 'm': names = optarg; break;
		case 't': o.threads = atoi(optarg); break;
		case 'r': o.rounds = atoi(optarg); break;
		case 'b': o.budget = atof(optarg); break;
		case 'd': exp_d = atoll(optarg); break;
		case 'q': o.quick = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.threads < 1 || o.rounds < 1 || o.rounds > MAX_ROUNDS || !(o.budget > 0) ||
	    exp_d < 1 || exp_d > 1024) {
		fprintf(stderr,
		        "bench_linear: --threads >= 1, --rounds 1..%d, --budget > 0, "
		        "--exp-d 1..1024\n",
		        MAX_ROUNDS);
		return 2;
	}
	static const char *const sections[] = {"roof", "forms", "exp", "decode", "cross"};
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s", only);
	for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ",")) {
		int ok = 0;
		for (int i = 0; i < 5; i++)
			ok |= strcmp(tok, sections[i]) == 0;
		if (!ok) {
			fprintf(stderr,
			        "bench_linear: --only: unknown section '%s' (roof, forms, exp, "
			        "decode, cross)\n",
			        tok);
			return 2;
		}
	}

	char err[512];
	struct attn_registry *reg;
	if (attn_registry_init(&reg, err, sizeof(err))) {
		fprintf(stderr, "bench_linear: %s\n", err);
		return 2;
	}
	for (int i = 0; i < attn_registry_count(reg) && o.n_methods < MAX_METHODS; i++) {
		const struct attn_method *m = attn_registry_at(reg, i);
		struct attn_params p;
		if (m->family == ATTN_FAMILY_LINEAR && params_with_form(m, F_REC, &p) == 0)
			o.methods[o.n_methods++] = m;
	}
	if (names) {
		o.n_methods = 0;
		snprintf(tmp, sizeof(tmp), "%s", names);
		for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ",")) {
			const struct attn_method *m = attn_registry_find(reg, tok);
			if (!m) {
				fprintf(stderr,
				        "bench_linear: --methods: no method '%s' (attnbench "
				        "list)\n",
				        tok);
				return 2;
			}
			if (o.n_methods < MAX_METHODS)
				o.methods[o.n_methods++] = m;
		}
	}

	/* Bound to T PUs, threads not pinned one by one: sgemm runs here too. */
	char cpus[256];
	attn_bind_apply(o.threads, ATTN_BIND_COMPACT, 0, cpus, sizeof(cpus), err, sizeof(err));
	struct attn_sysinfo si;
	attn_sysinfo_collect(&si);
	printf("# bench_linear: %s, OpenBLAS %s, %s; %d thread(s) on cpus %s, %d rounds, %.2f s "
	       "per measurement%s\n",
	       attn_sysinfo_get(&si, "cpu_model"), attn_sysinfo_get(&si, "openblas_core"),
	       attn_sysinfo_get(&si, "git_commit"), o.threads, cpus, o.rounds, o.budget,
	       o.quick ? " (--quick: not the target sizes)" : "");

	static const char *const roof_methods[] = {"retnet", "gla", "gated_deltanet"};
	if (strstr(only, "roof"))
		run_roof(&o, roof_methods, 3);
	if (strstr(only, "forms"))
		run_forms(&o);
	if (strstr(only, "exp"))
		run_exp(&o, exp_d);
	if (strstr(only, "decode"))
		run_decode(&o);
	if (strstr(only, "cross"))
		run_cross(&o, reg);
	attn_registry_free(reg);
	return 0;
}
