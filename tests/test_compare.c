/*
 * Tests of the regression gate: the statistics of harness/src/compare.c on
 * values known by hand or from the literature (Mann–Whitney's exact tail,
 * the Benjamini–Hochberg paper's own example, a ratio of medians), then the
 * `compare` verb end to end on databases written through the store API:
 * A/A noise stays quiet, one case 10% slower is caught and named, a machine
 * twice as slow as a whole is not a regression once each run's roof is
 * divided out, and a foreign file, another CPU or no common case is exit 2.
 * Last, the gate as the library offers it (gate.h), called without the CLI.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/compare.h"
#include "attnbench/gate.h"
#include "attnbench/method.h"
#include "attnbench/store.h"
#include "check_main.h"
#include "cli_run.h"
#include "db.h"
#include "internal.h"
#include "tmpdir.h"

/* ---- statistics ------------------------------------------------------------------ */

START_TEST(mwu_exact_small)
{
	/* fully separated 5 and 5: U = 0, one ordering of C(10,5) = 252, both tails */
	double x[5] = {1, 2, 3, 4, 5}, y[5] = {6, 7, 8, 9, 10};
	int exact;
	ck_assert_double_eq_tol(attn_compare_mwu_p(x, 5, y, 5, &exact), 2.0 / 252, 1e-12);
	ck_assert_int_eq(exact, 1);
	ck_assert_double_eq_tol(attn_compare_mwu_p(y, 5, x, 5, NULL), 2.0 / 252, 1e-12);
	/* 3 and 3 with U = 1: U's counts are 1,1,2,3,3,3,3,2,1,1 of 20, so 2·2/20 */
	double a[3] = {1, 2, 4}, b[3] = {3, 5, 6};
	ck_assert_double_eq_tol(attn_compare_mwu_p(a, 3, b, 3, NULL), 0.2, 1e-12);
	/* interleaved samples are no evidence at all */
	double odd[5] = {1, 3, 5, 7, 9}, even[5] = {2, 4, 6, 8, 10};
	ck_assert_double_gt(attn_compare_mwu_p(odd, 5, even, 5, NULL), 0.5);
	/* 15 against 15, separated: 2 / C(30,15) */
	double p[15], q[15];
	for (int i = 0; i < 15; i++)
		p[i] = i, q[i] = 100 + i;
	ck_assert_double_eq_tol(attn_compare_mwu_p(p, 15, q, 15, NULL) * 155117520.0, 2, 1e-9);
}
END_TEST

START_TEST(mwu_normal_and_ties)
{
	double x[60], y[60];
	int exact;
	for (int i = 0; i < 60; i++)
		x[i] = i, y[i] = 1000 + i;
	/* beyond the exact sizes: normal, z = (1800 - 0.5) / sqrt(3600/12 · 121) */
	double p = attn_compare_mwu_p(x, 60, y, 60, &exact);
	ck_assert_int_eq(exact, 0);
	ck_assert_double_eq_tol(p / erfc(1799.5 / sqrt(36300.0) / sqrt(2.0)), 1, 1e-9);
	/* ties force the normal approximation with the tie-corrected variance */
	double a[4] = {1, 1, 2, 3}, b[4] = {3, 4, 5, 5};
	p = attn_compare_mwu_p(a, 4, b, 4, &exact);
	ck_assert_int_eq(exact, 0);
	ck_assert(p > 0 && p < 0.1);
	/* all tied: nothing to tell apart */
	double t[3] = {2, 2, 2};
	ck_assert_double_eq(attn_compare_mwu_p(t, 3, t, 3, NULL), 1);
	ck_assert(isnan(attn_compare_mwu_p(t, 0, t, 3, NULL)));
	double bad[2] = {1, NAN};
	ck_assert(isnan(attn_compare_mwu_p(bad, 2, t, 3, NULL)));
}
END_TEST

START_TEST(bh_textbook)
{
	/* Benjamini & Hochberg (1995), section 4: 15 p-values, 4 rejected at 0.05 */
	const double p[15] = {0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
	                      0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000};
	double q[15];
	ck_assert_int_eq(attn_compare_bh(p, 15, q), ATTN_OK);
	int rejected = 0;
	for (int i = 0; i < 15; i++)
		rejected += q[i] < 0.05;
	ck_assert_int_eq(rejected, 4);
	ck_assert_double_eq_tol(q[0], 0.0015, 1e-12);
	ck_assert_double_eq_tol(q[3], 0.0095 * 15 / 4, 1e-12);
	ck_assert_double_eq_tol(q[14], 1, 1e-12);
	/* unsorted input, the running minimum (as R's p.adjust(..., "BH")) and NaN */
	const double p2[5] = {0.01, 0.04, 0.03, NAN, 0.005};
	double q2[5];
	ck_assert_int_eq(attn_compare_bh(p2, 5, q2), ATTN_OK);
	ck_assert_double_eq_tol(q2[0], 0.02, 1e-12);
	ck_assert_double_eq_tol(q2[1], 0.04, 1e-12);
	ck_assert_double_eq_tol(q2[2], 0.04, 1e-12);
	ck_assert(isnan(q2[3]));
	ck_assert_double_eq_tol(q2[4], 0.02, 1e-12);
	ck_assert_int_eq(attn_compare_bh(p2, 0, q2), ATTN_OK);
	ck_assert_int_eq(attn_compare_bh(NULL, 1, q2), ATTN_ERR_INVALID);
}
END_TEST

START_TEST(ratio_with_ci)
{
	double b[15], c[15];
	for (int i = 0; i < 15; i++)
		b[i] = 100 * (1 + 0.01 * ((i * 7) % 15 - 7) / 7.0); /* 99 .. 101 */
	for (int i = 0; i < 15; i++)
		c[i] = 1.10 * b[(i + 4) % 15];
	double r, lo, hi, r2, lo2, hi2;
	ck_assert_int_eq(
	    attn_compare_ratio(b, 15, c, 15, ATTN_COMPARE_BOOT, ATTN_COMPARE_SEED, &r, &lo, &hi),
	    ATTN_OK);
	ck_assert_double_eq_tol(r, 1.10, 1e-12);
	ck_assert(lo <= r && r <= hi);
	ck_assert(lo > 1.07 && hi < 1.13);
	/* the fixed seed makes it repeatable */
	attn_compare_ratio(b, 15, c, 15, ATTN_COMPARE_BOOT, ATTN_COMPARE_SEED, &r2, &lo2, &hi2);
	ck_assert(r == r2 && lo == lo2 && hi == hi2);
	/* the same sample against itself: a CI around 1 */
	attn_compare_ratio(b, 15, b, 15, ATTN_COMPARE_BOOT, ATTN_COMPARE_SEED, &r, &lo, &hi);
	ck_assert(r == 1 && lo < 1 && hi > 1);
	ck_assert_int_eq(attn_compare_ratio(b, 0, c, 15, 10, 1, &r, &lo, &hi), ATTN_ERR_INVALID);
	ck_assert(isnan(r));
	double z[1] = {0};
	ck_assert_int_eq(attn_compare_ratio(z, 1, c, 15, 10, 1, &r, &lo, &hi), ATTN_ERR_INVALID);
}
END_TEST

START_TEST(verdicts)
{
	ck_assert_int_eq(attn_compare_verdict(1.10, 0.001, 0.05, 0.05), ATTN_COMPARE_REGRESSED);
	ck_assert_int_eq(attn_compare_verdict(1.10, 0.2, 0.05, 0.05), ATTN_COMPARE_UNCHANGED);
	/* significant but within the threshold: noise-sized changes never gate */
	ck_assert_int_eq(attn_compare_verdict(1.03, 1e-9, 0.05, 0.05), ATTN_COMPARE_UNCHANGED);
	ck_assert_int_eq(attn_compare_verdict(0.90, 0.001, 0.05, 0.05), ATTN_COMPARE_IMPROVED);
	ck_assert_int_eq(attn_compare_verdict(0.96, 0.001, 0.05, 0.05), ATTN_COMPARE_UNCHANGED);
	ck_assert_int_eq(attn_compare_verdict(1.5, NAN, 0.05, 0.05), ATTN_COMPARE_UNCHANGED);
	ck_assert_str_eq(attn_compare_verdict_name(ATTN_COMPARE_REGRESSED), "regressed");
}
END_TEST

/* ---- databases for the verb --------------------------------------------------- */

static char dir[TMPDIR_LEN];
static char err[1024];

static void setup(void)
{
	tmpdir_make(dir, "compare");
}

static void teardown(void)
{
	tmpdir_remove(dir);
}

/* What one synthetic run looks like. */
struct db_spec {
	const char *cpu;    /* run_info cpu_model; NULL: "Test CPU" */
	const char *prefix; /* prepended to every method name (no common cases) */
	double jitter;      /* samples uniform in ±jitter around their time */
	double machine;     /* the whole machine slower by this (ns and roofs) */
	int roof_ns;        /* store an sgemm time beside every sample */
	double sgemm;       /* run_roofs' sgemm GFLOP/s at 1 thread; 0: none */
	const char *slow;   /* this method is slower ... */
	double factor;      /* ... by this factor ... */
	double slow_pow;    /* ... times (n/256)^slow_pow ... */
	int slow_n;         /* ... at this N only (0: at every N) */
	double build;       /* every method slower by this, the roofs not (0: 1) */
	int window_n;       /* the machine slower by window_factor while this N ran */
	double window_factor;
	double ins;         /* instructions of the slow method, relative; 0: no counter */
	const char *inject; /* run_info inject_slowdown */
	const char *build_type, *compiler, *cflags; /* run_info; NULL: not recorded */
	uint64_t seed;
};

static const char *const methods[5] = {"flash", "window", "linear", "performer", "bigbird"};
static const char *const params[5] = {"bq=64,bk=64", "w=64", "", "features=64", "block=64"};
#define K 15

static double noise(uint64_t *s, double jitter)
{
	return 1 + jitter * (2 * ((double)(attn__rng_next(s) >> 11) * 0x1p-53) - 1);
}

/* 20 ok cases: five methods at N = 256 .. 2048, K samples each. */
static void make_db(const char *path, const struct db_spec *sp)
{
	struct attn_store *st = db_store_open(path, 1);
	struct attn_kv info[8] = {{"cpu_model", sp->cpu ? sp->cpu : "Test CPU"},
	                          {"cores", "2"},
	                          {"openblas_core", "Haswell"},
	                          {"git_commit", "abc123"}};
	int n_info = 4;
	const char *opt_keys[] = {"inject_slowdown", "build_type", "compiler", "cflags"};
	const char *opt_vals[] = {sp->inject, sp->build_type, sp->compiler, sp->cflags};
	for (int i = 0; i < 4; i++)
		if (opt_vals[i])
			info[n_info++] = (struct attn_kv){opt_keys[i], opt_vals[i]};
	int64_t run;
	ck_assert_int_eq(attn_store_run_begin(st, "attnbench sweep", "spec", info, n_info, &run,
	                                      err, sizeof(err)),
	                 ATTN_OK);
	if (sp->sgemm > 0) {
		struct attn_roof roof = {.threads = 1,
		                         .fma_gflops = 100,
		                         .sgemm_gflops = sp->sgemm,
		                         .sgemm_n = 512,
		                         .triad_gbps = 10};
		ck_assert_int_eq(attn_store_run_roof(st, run, &roof, err, sizeof(err)), ATTN_OK);
	}
	uint64_t rng = sp->seed;
	for (int m = 0; m < 5; m++)
		for (int n = 256; n <= 2048; n *= 2) {
			double speed = sp->machine * (n == sp->window_n ? sp->window_factor : 1);
			double t = 1000.0 * n * (m + 1) * speed * (sp->build > 0 ? sp->build : 1);
			double ins = 1e6 * n * (m + 1);
			if (sp->slow && strcmp(methods[m], sp->slow) == 0 &&
			    (!sp->slow_n || n == sp->slow_n)) {
				t *= sp->factor * pow(n / 256.0, sp->slow_pow);
				ins *= sp->ins;
			}
			double ns[K], roof[K];
			int64_t it[K];
			for (int k = 0; k < K; k++) {
				ns[k] = t * noise(&rng, sp->jitter);
				roof[k] = 5e4 * speed * noise(&rng, sp->jitter);
				it[k] = 1;
			}
			char name[64], key[96];
			snprintf(name, sizeof(name), "%s%s", sp->prefix ? sp->prefix : "",
			         methods[m]);
			snprintf(key, sizeof(key), "%s/%d", name, n);
			struct attn_metric met = {"counter:PAPI_TOT_INS", ins, sp->ins > 0, "1"};
			struct attn_case_record r = {.key = key,
			                             .method = name,
			                             .family = "full",
			                             .params = params[m],
			                             .batch = 1,
			                             .heads = 4,
			                             .kv_heads = 4,
			                             .n = n,
			                             .d = 64,
			                             .causal = 1,
			                             .mode = "prefill",
			                             .dist = "gaussian",
			                             .threads = 1,
			                             .seed = 1,
			                             .status = "ok",
			                             .message = "",
			                             .n_samples = K,
			                             .sample_ns = ns,
			                             .sample_iters = it,
			                             .sample_roof_ns = sp->roof_ns ? roof : NULL,
			                             .n_metrics = 1,
			                             .metrics = &met};
			ck_assert_msg(attn_store_case_write(st, run, &r, err, sizeof(err)) ==
			                  ATTN_OK,
			              "%s", err);
		}
	ck_assert_int_eq(attn_store_run_set_status(st, run, "complete", err, sizeof(err)), ATTN_OK);
	attn_store_close(st);
}

/* Two databases a.db and b.db from the specs; their paths in pa and pb. */
static char pa[512], pb[512];
static void make_pair(const struct db_spec *a, const struct db_spec *b)
{
	snprintf(pa, sizeof(pa), "%s/a.db", dir);
	snprintf(pb, sizeof(pb), "%s/b.db", dir);
	remove(pa);
	remove(pb);
	make_db(pa, a);
	make_db(pb, b);
}

/* ---- the verb end to end ----------------------------------------------------------- */

/* `attnbench compare` of a.db against b.db with more options; its exit code. */
static int compare(const char *more)
{
	return cli("compare --baseline %s --current %s %s", pa, pb, more);
}

START_TEST(a_a_is_quiet)
{
	struct db_spec a = {.jitter = 0.03, .machine = 1, .roof_ns = 1, .seed = 1};
	struct db_spec b = a;
	b.seed = 2;
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "compared 20 cases: 0 regressed, 0 improved, 20 unchanged, 0 "
	                          "isolated, 0 unreliable (threshold 5%, alpha 0.05, FDR by "
	                          "Benjamini–Hochberg)") == out,
	              "%s", out);
	ck_assert_msg(strstr(out, "no case flagged"), "%s", out);
	ck_assert_msg(strstr(out, "20 by the sgemm probes of their window"), "%s", out);
	/* --verbose lists every pair */
	ck_assert_int_eq(compare("--verbose"), 0);
	ck_assert_msg(strstr(out, "unchanged  bigbird"), "%s", out);
}
END_TEST

START_TEST(one_slower_case_is_named)
{
	struct db_spec a = {.jitter = 0.01, .machine = 1, .roof_ns = 1, .seed = 1, .ins = 1};
	struct db_spec b = a;
	b.seed = 2;
	b.slow = "window";
	b.factor = 1.10;
	b.ins = 1.0; /* the same instructions: worth a note */
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 1, "%s", out);
	ck_assert_msg(strstr(out, "compared 20 cases: 4 regressed, 0 improved, 16 unchanged"), "%s",
	              out);
	ck_assert_msg(strstr(out, "regressed  window"), "%s", out);
	ck_assert_msg(!strstr(out, "regressed  flash") && !strstr(out, "regressed  linear"), "%s",
	              out);
	ck_assert_msg(strstr(out, "1.10"), "%s", out);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "attnbench plot --db %s --run 1 --methods window --causal 1 --mode prefill "
	         "--threads 1 --d 64",
	         pb);
	ck_assert_msg(strstr(out, cmd), "%s", out);
	ck_assert_msg(strstr(out, "executed the same instructions"), "%s", out);
	/* a threshold above the slowdown lets it pass */
	ck_assert_msg(compare("--threshold 15%") == 0, "%s", out);
	/* the other way round it is an improvement, which passes */
	ck_assert_msg(cli("compare --baseline %s --current %s", pb, pa) == 0, "%s", out);
	ck_assert_msg(strstr(out, "0 regressed, 4 improved"), "%s", out);
	/* markdown and json carry the same */
	ck_assert_int_eq(compare("--format markdown"), 1);
	ck_assert_msg(strstr(out, "| regressed | window"), "%s", out);
	ck_assert_int_eq(compare("--format json"), 1);
	ck_assert_msg(strstr(out, "\"regressed\": 4") && strstr(out, "\"plot\": \"attnbench plot"),
	              "%s", out);
}
END_TEST

/*
 * One case of a method slower while its other shapes are not is one slow
 * process, not a change in the code: reported as isolated, not failing.
 */
START_TEST(one_shape_alone_is_isolated)
{
	struct db_spec a = {.jitter = 0.01, .machine = 1, .roof_ns = 1, .seed = 1};
	struct db_spec b = a;
	b.seed = 2;
	b.slow = "window";
	b.factor = 1.20;
	b.slow_n = 1024;
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "0 regressed, 0 improved, 19 unchanged, 1 isolated"), "%s", out);
	ck_assert_msg(strstr(out, "isolated  window"), "%s", out);
}
END_TEST

/*
 * A build that slows every method alike (the probe unmoved) is not told from
 * a neighbour's load: not gating, but the grid's median ratio says it.
 */
START_TEST(whole_build_is_reported)
{
	struct db_spec a = {.jitter = 0.01, .machine = 1, .roof_ns = 1, .seed = 1};
	struct db_spec b = a;
	b.seed = 2;
	b.build = 1.15;
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "all cases together: median ratio 1.1"), "%.1500s", out);
}
END_TEST

/* A shape whose window ran 3 times slower in B (the probe saw it) is not judged. */
START_TEST(disturbed_window_is_unreliable)
{
	struct db_spec a = {.jitter = 0.01, .machine = 1, .roof_ns = 1, .seed = 1};
	struct db_spec b = a;
	b.seed = 2;
	b.window_n = 512;
	b.window_factor = 3;
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "15 unchanged, 0 isolated, 5 unreliable"), "%s", out);
}
END_TEST

START_TEST(machine_slowdown_is_normalised)
{
	/* B's machine is twice as slow in everything, the sgemm beside each sample too */
	struct db_spec a = {.jitter = 0.01, .machine = 1, .roof_ns = 1, .seed = 1};
	struct db_spec b = a;
	b.seed = 2;
	b.machine = 2;
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "0 regressed, 0 improved, 20 unchanged"), "%s", out);
	/* the run's own sgemm roof does the same when samples carry none */
	a.roof_ns = b.roof_ns = 0;
	a.sgemm = 100;
	b.sgemm = 50;
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "20 by the run's sgemm roof"), "%s", out);
	/* with no roof at all, raw times: said, and the methods judged against each other */
	a.sgemm = b.sgemm = 0;
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "neither run measured a roof"), "%s", out);
}
END_TEST

START_TEST(data_errors_are_exit_2)
{
	struct db_spec a = {.jitter = 0.01, .machine = 1, .roof_ns = 1, .seed = 1};
	struct db_spec b = a;
	b.cpu = "Other CPU";
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 2, "%s", out);
	ck_assert_msg(strstr(out, "different machines") && strstr(out, "cpu_model"), "%s", out);
	ck_assert_msg(compare("--allow-other-machine") == 0, "%s", out);
	/* no common case */
	b.cpu = NULL;
	b.prefix = "x";
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 2, "%s", out);
	ck_assert_msg(strstr(out, "no matching cases"), "%s", out);
	/* a file that is not attnbench's, and one that is not there */
	char junk[600];
	snprintf(junk, sizeof(junk), "%s/junk.db", dir);
	FILE *f = fopen(junk, "w");
	ck_assert(f != NULL);
	fputs("not a database at all, just text\n", f);
	fclose(f);
	ck_assert_msg(cli("compare --baseline %s --current %s", pa, junk) == 2, "%s", out);
	ck_assert_msg(strstr(out, "junk.db"), "%s", out);
	ck_assert_int_eq(cli("compare --baseline %s/none.db --current %s", dir, pa), 2);
	/* usage */
	ck_assert_int_eq(cli("compare --baseline %s", pa), 2);
	ck_assert_int_eq(cli("compare --baseline %s --current %s --alpha 2", pa, pa), 2);
	ck_assert_int_eq(cli("compare --baseline %s --current %s --baseline-run 9", pa, pa), 2);
	ck_assert_int_eq(cli("compare --help"), 0);
}
END_TEST

/*
 * A current run built as Debug with ASan, 3x slower everywhere, against a
 * Release baseline: once exit 0 (every method alike moved, so the gate saw
 * no method of its own regress); now refused naming both builds, and with
 * --allow-build-mismatch compared under a loud warning that the JSON
 * records.
 */
START_TEST(build_mismatch_is_refused)
{
	struct db_spec a = {.jitter = 0.01,
	                    .machine = 1,
	                    .roof_ns = 1,
	                    .seed = 1,
	                    .build_type = "Release",
	                    .compiler = "GNU 12.2.0",
	                    .cflags = "-O3 -DNDEBUG -march=native"};
	struct db_spec b = a;
	b.seed = 2;
	b.build = 3;
	b.build_type = "Debug";
	b.cflags = "-g -fsanitize=address -fno-omit-frame-pointer";
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 2, "%.1500s", out);
	ck_assert_msg(strstr(out, "built differently") && strstr(out, "--allow-build-mismatch"),
	              "%s", out);
	ck_assert_msg(strstr(out, "build_type 'Release' vs 'Debug'"), "%s", out);
	ck_assert_msg(strstr(out, "cflags '-O3 -DNDEBUG -march=native' vs '-g -fsanitize=address "
	                          "-fno-omit-frame-pointer'"),
	              "%s", out);
	ck_assert_msg(!strstr(out, "compared 20 cases"), "%s", out);
	/* the override compares, warns (stderr, folded into out here) and records it */
	ck_assert_msg(compare("--allow-build-mismatch") == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "WARNING: comparing runs built differently"), "%s", out);
	ck_assert_msg(strstr(out, "WARNING: other build (--allow-build-mismatch): build_type"),
	              "%s", out);
	ck_assert_msg(strstr(out, "median ratio 3.000 as measured") ||
	                  strstr(out, ", 3.000 as measured"),
	              "%s", out);
	ck_assert_msg(compare("--allow-build-mismatch --format json") == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "\"build_mismatch\": \"build_type 'Release' vs 'Debug'; cflags"),
	              "%s", out);
	/* each key alone is enough; the compiler named with both values */
	b = a;
	b.seed = 2;
	b.compiler = "Clang 16.0.6";
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 2, "%s", out);
	ck_assert_msg(strstr(out, "compiler 'GNU 12.2.0' vs 'Clang 16.0.6'"), "%s", out);
	/* a run that lacks the record is not taken to be alike */
	b = a;
	b.seed = 2;
	b.cflags = NULL;
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 2, "%s", out);
	ck_assert_msg(strstr(out, "cflags '-O3 -DNDEBUG -march=native' vs '?'"), "%s", out);
	/* builds alike: no word of it */
	b = a;
	b.seed = 2;
	make_pair(&a, &b);
	ck_assert_msg(compare("--format json") == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "\"build_mismatch\": null"), "%s", out);
}
END_TEST

/* The committed baseline opens, pairs with itself and passes. */
START_TEST(committed_baseline)
{
	const char *base = ATTN_SOURCE_DIR "/results/baseline/ci.db";
	ck_assert_msg(cli("compare --baseline %s --current %s", base, base) == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "compared 36 cases: 0 regressed"), "%.1500s", out);
}
END_TEST

START_TEST(notes_and_curves)
{
	/*
	 * window's curve steepens from N^1 to N^1.3, in a run made as a gate
	 * test: unchanged at the smallest N, so its flagged cases are isolated
	 * (not gating) and the curve check names it.
	 */
	struct db_spec a = {.jitter = 0.01, .machine = 1, .roof_ns = 1, .seed = 1};
	struct db_spec b = a;
	b.seed = 2;
	b.slow = "window";
	b.factor = 1;
	b.slow_pow = 0.3;
	b.inject = "window:1.10";
	make_pair(&a, &b);
	ck_assert_msg(compare("") == 0, "%.1500s", out);
	ck_assert_msg(strstr(out, "isolated  window"), "%.1500s", out);
	ck_assert_msg(strstr(out, "was a gate test: inject_slowdown=window:1.10"), "%s", out);
	ck_assert_msg(strstr(out, "`window` (w=64) went from N^1.00 to N^1.30"), "%s", out);
	ck_assert_msg(!strstr(out, "`flash`"), "%s", out);
}
END_TEST

/* ---- the gate as a library call ------------------------------------------------------ */

/* Open a.db and b.db read-only and load their newest runs. */
static void load_pair(struct attn_store **sa, struct attn_store **sb, struct attn_gate_run *ra,
                      struct attn_gate_run *rb)
{
	*sa = db_store_open(pa, ATTN_STORE_READONLY);
	*sb = db_store_open(pb, ATTN_STORE_READONLY);
	ck_assert_msg(attn_gate_load(*sa, 0, ra, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_msg(attn_gate_load(*sb, 0, rb, err, sizeof(err)) == ATTN_OK, "%s", err);
}

static void close_pair(struct attn_store *sa, struct attn_store *sb, struct attn_gate_run *ra,
                       struct attn_gate_run *rb)
{
	attn_gate_run_free(ra);
	attn_gate_run_free(rb);
	attn_store_close(sa);
	attn_store_close(sb);
}

START_TEST(library_gate)
{
	struct db_spec a = {.jitter = 0.01, .machine = 1, .roof_ns = 1, .seed = 1, .ins = 1};
	struct db_spec b = a;
	b.seed = 2;
	b.slow = "window";
	b.factor = 1.10;
	make_pair(&a, &b);
	struct attn_store *sa, *sb;
	struct attn_gate_run ra, rb;
	load_pair(&sa, &sb, &ra, &rb);
	/* five methods at four N: four windows of five cases, K samples each */
	ck_assert_int_eq(ra.id, 1);
	ck_assert_int_eq(ra.n, 20);
	ck_assert_int_eq(ra.n_win, 4);
	ck_assert_int_eq(ra.c[0].k, K);
	ck_assert_int_eq(ra.any_roof_ns, 1);
	ck_assert_str_eq(ra.cpu_model, "Test CPU");
	ck_assert_str_eq(ra.openblas_core, "Haswell");

	struct attn_gate_options opt = ATTN_GATE_OPTIONS_INIT;
	struct attn_gate_report g;
	ck_assert_msg(attn_gate_run(&ra, &rb, &opt, &g, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_eq(g.refused, ATTN_GATE_ACCEPTED);
	ck_assert_int_eq(g.n, 20);
	ck_assert_int_eq(g.only_base + g.only_cur, 0);
	ck_assert_int_eq(g.n_reg, 4);
	ck_assert_int_eq(g.n_imp + g.n_iso + g.n_unrel, 0);
	ck_assert_int_eq(g.n_norm[ATTN_GATE_NORM_GROUP_ROOF], 20);
	ck_assert(g.machine[0] == 0 && g.build[0] == 0);
	double ratios[20];
	for (int i = 0; i < g.n; i++) {
		const struct attn_gate_pair *p = &g.pairs[i];
		ratios[i] = p->ratio;
		ck_assert_str_eq(p->b->method, p->c->method);
		ck_assert(p->b->n == p->c->n);
		if (strcmp(p->c->method, "window") == 0) {
			ck_assert_int_eq(p->v, ATTN_COMPARE_REGRESSED);
			ck_assert_msg(p->ratio > 1.07 && p->ratio < 1.13, "%g", p->ratio);
			ck_assert(p->lo <= p->ratio && p->ratio <= p->hi);
			ck_assert(attn_gate_same_work(p)); /* b.ins = 1: the same instructions */
		} else {
			ck_assert_int_eq(p->v, ATTN_COMPARE_UNCHANGED);
		}
	}
	attn_gate_report_free(&g);
	/* a second gate on the same runs corrects no round twice: the same ratios */
	ck_assert_int_eq(attn_gate_run(&ra, &rb, &opt, &g, err, sizeof(err)), ATTN_OK);
	for (int i = 0; i < g.n; i++)
		ck_assert(g.pairs[i].ratio == ratios[i]);
	attn_gate_report_free(&g);
	/* a run that is not there */
	struct attn_gate_run rx;
	ck_assert_int_eq(attn_gate_load(sa, 9, &rx, err, sizeof(err)), ATTN_ERR_NOTFOUND);
	ck_assert_msg(strstr(err, "run 9 has no ok cases"), "%s", err);
	close_pair(sa, sb, &ra, &rb);

	/* another machine class: refused, naming what differs, unless allowed */
	b = a;
	b.seed = 2;
	b.cpu = "Other CPU";
	make_pair(&a, &b);
	load_pair(&sa, &sb, &ra, &rb);
	ck_assert_int_eq(attn_gate_run(&ra, &rb, &opt, &g, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_int_eq(g.refused, ATTN_GATE_OTHER_MACHINE);
	ck_assert_msg(strstr(g.machine, "cpu_model 'Test CPU' vs 'Other CPU'"), "%s", g.machine);
	attn_gate_report_free(&g);
	opt.allow_other_machine = 1;
	ck_assert_int_eq(attn_gate_run(&ra, &rb, &opt, &g, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(g.n, 20);
	ck_assert_int_eq(g.n_reg, 0);
	attn_gate_report_free(&g);
	close_pair(sa, sb, &ra, &rb);

	/* no case in common: each side's cases counted, nothing compared */
	b = a;
	b.seed = 2;
	b.prefix = "x";
	make_pair(&a, &b);
	load_pair(&sa, &sb, &ra, &rb);
	ck_assert_int_eq(attn_gate_run(&ra, &rb, &opt, &g, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_int_eq(g.refused, ATTN_GATE_NO_MATCH);
	ck_assert_int_eq(g.only_base, 20);
	ck_assert_int_eq(g.only_cur, 20);
	ck_assert_msg(strstr(err, "no matching cases"), "%s", err);
	attn_gate_report_free(&g);
	close_pair(sa, sb, &ra, &rb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("compare");
	TCase *t = tcase_create("stats");
	tcase_add_test(t, mwu_exact_small);
	tcase_add_test(t, mwu_normal_and_ties);
	tcase_add_test(t, bh_textbook);
	tcase_add_test(t, ratio_with_ci);
	tcase_add_test(t, verdicts);
	suite_add_tcase(s, t);
	t = tcase_create("verb");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, a_a_is_quiet);
	tcase_add_test(t, one_slower_case_is_named);
	tcase_add_test(t, one_shape_alone_is_isolated);
	tcase_add_test(t, disturbed_window_is_unreliable);
	tcase_add_test(t, whole_build_is_reported);
	tcase_add_test(t, committed_baseline);
	tcase_add_test(t, machine_slowdown_is_normalised);
	tcase_add_test(t, data_errors_are_exit_2);
	tcase_add_test(t, notes_and_curves);
	tcase_add_test(t, build_mismatch_is_refused);
	tcase_add_test(t, library_gate);
	suite_add_tcase(s, t);
	return attn_test_run(s, CK_NORMAL);
}
