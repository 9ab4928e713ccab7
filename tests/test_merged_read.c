/*
 * Tests of the readers on a merged database of a sharded sweep: after
 * `attnbench merge`, the shards of one sweep are separate runs that share
 * run_info's sweep_id, and plot, fit, export and compare read them as the
 * one sweep they are. The databases are written through the store API as
 * merge leaves them: a sweep's three shards with interleaved run ids (as
 * inputs merged in any order give), on two hosts with unlike roofs, beside
 * an unsharded run and a shard of another sweep with the same cases at
 * other times, which must not be mixed in. Each check also reads through
 * another shard's id and the default run, and wants the same answer.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/fit.h"
#include "attnbench/gate.h"
#include "attnbench/query.h"
#include "attnbench/store.h"
#include "check_main.h"
#include "cli_run.h"
#include "db.h"
#include "slurp.h"
#include "tmpdir.h"

static char dir[TMPDIR_LEN], err[1024];

static void setup(void)
{
	tmpdir_make(dir, "merged");
}

static void teardown(void)
{
	tmpdir_remove(dir);
}

/* The cases of every run: two methods at four N, so eight, split over the shards. */
static const char *const methods[2] = {"flash", "window"};
static const char *const params[2] = {"bq=64,bk=64", "w=64"};
#define N_CASES 8
#define K       9

/*
 * One run as merge leaves it. shard 0: unsharded (no sweep keys); else the
 * cases i with i % count == shard - 1. `scale` sets the times, so a case of
 * one run is told from another's by its value alone.
 */
struct run_spec {
	const char *sweep_id, *host;
	int shard, count;
	double scale; /* ns of method m at N: scale * n * (m + 1) */
	double sgemm; /* its run_roofs' sgemm GFLOP/s at 1 thread; 0: none */
	uint64_t seed;
};

static void write_run(struct attn_store *st, const struct run_spec *sp, int64_t *run_out)
{
	char shard[16], index[16], count[16], cases[16];
	int mine = 0;
	for (int i = 0; i < N_CASES; i++)
		mine += !sp->shard || i % sp->count == sp->shard - 1;
	snprintf(shard, sizeof(shard), "%d/%d", sp->shard, sp->count);
	snprintf(index, sizeof(index), "%d", sp->shard);
	snprintf(count, sizeof(count), "%d", sp->count);
	snprintf(cases, sizeof(cases), "%d", mine);
	struct attn_kv info[12] = {{"cpu_model", "Test CPU"},    {"cores", "2"},
	                           {"openblas_core", "Haswell"}, {"git_commit", "abc123"},
	                           {"hostname", sp->host},       {"spec_hash", "0123456789abcdef"}};
	int n_info = 6;
	if (sp->shard) {
		info[n_info++] = (struct attn_kv){"sweep_id", sp->sweep_id};
		info[n_info++] = (struct attn_kv){"shard", shard};
		info[n_info++] = (struct attn_kv){"shard_index", index};
		info[n_info++] = (struct attn_kv){"shard_count", count};
		info[n_info++] = (struct attn_kv){"shard_cases", cases};
	}
	int64_t run;
	ck_assert_msg(attn_store_run_begin(st, "attnbench sweep", "n = 256..2048\n", info, n_info,
	                                   &run, err, sizeof(err)) == ATTN_OK,
	              "%s", err);
	if (sp->sgemm > 0) {
		struct attn_roof roof = {.threads = 1,
		                         .fma_gflops = 4 * sp->sgemm,
		                         .sgemm_gflops = sp->sgemm,
		                         .sgemm_n = 512,
		                         .triad_gbps = sp->sgemm / 10};
		snprintf(roof.fma_isa, sizeof(roof.fma_isa), "avx2");
		ck_assert_int_eq(attn_store_run_roof(st, run, &roof, err, sizeof(err)), ATTN_OK);
	}
	uint64_t rng = sp->seed;
	for (int i = 0; i < N_CASES; i++) {
		if (sp->shard && i % sp->count != sp->shard - 1)
			continue;
		int m = i / 4, n = 256 << (i % 4);
		double t = sp->scale * n * (m + 1), ns[K];
		int64_t it[K];
		for (int k = 0; k < K; k++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			ns[k] = t * (1 + 0.01 * ((double)(rng >> 40) / (double)(1 << 24) - 0.5));
			it[k] = 1;
		}
		char key[64];
		snprintf(key, sizeof(key), "%s/%d", methods[m], n);
		struct attn_metric met[6] = {{"median_ns", t, 1, "ns"},
		                             {"ci_lo_ns", 0.99 * t, 1, "ns"},
		                             {"ci_hi_ns", 1.01 * t, 1, "ns"},
		                             {"gflops", 1e6 / t, 1, "GFLOP/s"},
		                             {"arith_intensity", 4.0 + i, 1, "flop/byte"},
		                             {"workspace_bytes", 1024.0 * n, 1, "B"}};
		struct attn_case_record r = {.key = key,
		                             .method = methods[m],
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
		                             .n_metrics = 6,
		                             .metrics = met};
		ck_assert_msg(attn_store_case_write(st, run, &r, err, sizeof(err)) == ATTN_OK, "%s",
		              err);
	}
	ck_assert_int_eq(attn_store_run_set_status(st, run, "complete", err, sizeof(err)), ATTN_OK);
	if (run_out)
		*run_out = run;
}

/*
 * merged.db: run 1 unsharded (times x1000), runs 2, 4, 5 the shards 1/3,
 * 3/3, 2/3 of sweep "s/3" (x10, on node-a and node-b, sgemm 100 and 300
 * GFLOP/s), run 3 shard 1/2 of sweep "x/2" (x100000). The sweep is the
 * newest run's.
 */
static char merged[512];
static void make_merged(const char *path, const char *sweep_id, uint64_t seed)
{
	struct attn_store *st;
	remove(path);
	st = db_store_open(path, ATTN_STORE_CREATE);
	const struct run_spec runs[5] = {
	    {NULL, "solo", 0, 0, 1000, 100, seed + 1},
	    {sweep_id, "node-a", 1, 3, 10, 100, seed + 2},
	    {"x/2", "node-c", 1, 2, 100000, 100, seed + 3},
	    {sweep_id, "node-b", 3, 3, 10, 300, seed + 4},
	    {sweep_id, "node-b", 2, 3, 10, 300, seed + 5},
	};
	for (int i = 0; i < 5; i++) {
		int64_t run;
		write_run(st, &runs[i], &run);
		ck_assert_int_eq(run, i + 1);
	}
	attn_store_close(st);
}

static void make_default(void)
{
	snprintf(merged, sizeof(merged), "%s/merged.db", dir);
	make_merged(merged, "s/3", 0);
}

/* ---- the run set, as the query layer resolves it ------------------------------------- */

START_TEST(run_set_heads)
{
	make_default();
	struct attn_store *st = db_store_open(merged, ATTN_STORE_READONLY);
	int64_t head;
	const int64_t want[6] = {0, 1, 2, 3, 2, 2};
	for (int run = 1; run <= 5; run++) {
		ck_assert_int_eq(attn_query_run_set_head(st, run, &head, err, sizeof(err)),
		                 ATTN_OK);
		ck_assert_int_eq(head, want[run]);
		ck_assert_int_eq(attn_query_latest_ok_run(st, run, &head, err, sizeof(err)),
		                 ATTN_OK);
		ck_assert_int_eq(head, want[run]);
	}
	/* the default: the newest run with an ok case (5) stands for its sweep */
	ck_assert_int_eq(attn_query_latest_ok_run(st, 0, &head, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(head, 2);
	ck_assert_int_eq(attn_query_run_set_head(st, 99, &head, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(head, 0);

	struct attn_query_run r;
	ck_assert_int_eq(attn_query_run_info(st, 4, &r, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(r.n_runs, 3);
	ck_assert_int_eq(r.n_cases, N_CASES);
	ck_assert_int_eq(r.n_ok, N_CASES);
	ck_assert_str_eq(r.run_ids, "2, 4, 5");
	ck_assert_str_eq(r.shards, "1/3, 3/3, 2/3");
	ck_assert_str_eq(r.hosts, "node-a, node-b");
	ck_assert_str_eq(r.hostname, "node-b");
	ck_assert_str_eq(r.sweep_id, "s/3");
	attn_query_run_info_free(&r);
	/* an unsharded run is a set of one, as before */
	ck_assert_int_eq(attn_query_run_info(st, 1, &r, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(r.n_runs, 1);
	ck_assert_int_eq(r.n_cases, N_CASES);
	ck_assert_str_eq(r.run_ids, "1");
	ck_assert_ptr_null(r.shards);
	ck_assert_ptr_null(r.sweep_id);
	attn_query_run_info_free(&r);
	/* a shard of another sweep is alone in its set */
	ck_assert_int_eq(attn_query_run_info(st, 3, &r, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(r.n_runs, 1);
	ck_assert_int_eq(r.n_cases, 4);
	ck_assert_str_eq(r.shards, "1/2");
	attn_query_run_info_free(&r);
	attn_store_close(st);
}
END_TEST

/* ---- plot ----------------------------------------------------------------------------- */

/*
 * `plot --metric time` of run (0: the default) into DIR/NAME: the text of
 * its .dat files, concatenated in series order, into buf.
 */
static void plot_dats(const char *name, int run, const char *metric, char *buf, size_t len)
{
	char runopt[32] = "";
	if (run)
		snprintf(runopt, sizeof(runopt), "--run %d", run);
	ck_assert_msg(
	    cli("plot --db %s %s --metric %s --out %s/%s", merged, runopt, metric, dir, name) == 0,
	    "%s", out);
	buf[0] = 0;
	for (int i = 0;; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s/%s_%02d.dat", dir, name, metric, i);
		if (file_size(path) < 0)
			break;
		char *s = slurp(path);
		ck_assert(strlen(buf) + strlen(s) < len);
		strcat(buf, s);
		free(s);
	}
}

/* How many data lines (not "#") of dats have y = scale * n * (m + 1) for some case. */
static int points_at(const char *dats, double scale)
{
	int hits = 0;
	for (const char *l = dats; *l;) {
		const char *e = strchr(l, '\n');
		double x, y;
		if (*l != '#' && sscanf(l, "%lf %lf", &x, &y) == 2)
			for (int m = 0; m < 2; m++)
				hits += fabs(y - scale * x * (m + 1)) < 1e-6 * y;
		l = e ? e + 1 : l + strlen(l);
	}
	return hits;
}

START_TEST(plot_reads_every_shard)
{
	make_default();
	static char a[65536], b[65536], c[65536], d[65536];
	plot_dats("p0", 0, "time", a, sizeof(a));
	/* all eight cases of the sweep, once each, and nothing of the other two runs */
	ck_assert_msg(points_at(a, 10) == N_CASES, "%s", a);
	ck_assert_int_eq(points_at(a, 1000), 0);
	ck_assert_int_eq(points_at(a, 100000), 0);
	/* any shard's id draws the same chart */
	plot_dats("p2", 2, "time", b, sizeof(b));
	plot_dats("p4", 4, "time", c, sizeof(c));
	plot_dats("p5", 5, "time", d, sizeof(d));
	ck_assert_str_eq(a, b);
	ck_assert_str_eq(a, c);
	ck_assert_str_eq(a, d);
	/* the caption names the shards and both hosts, not one shard's */
	char path[1024];
	snprintf(path, sizeof(path), "%s/p4/time.gp", dir);
	char *gp = slurp(path);
	ck_assert_msg(strstr(gp, "runs 2, 4, 5 (shards 1/3, 3/3, 2/3) on hosts node-a, node-b "
	                         "(Test CPU), commit abc123"),
	              "%s", gp);
	free(gp);
	/* the unsharded run and the other sweep's shard read alone, as before */
	plot_dats("p1", 1, "time", b, sizeof(b));
	ck_assert_int_eq(points_at(b, 1000), N_CASES);
	ck_assert_int_eq(points_at(b, 10), 0);
	snprintf(path, sizeof(path), "%s/p1/time.gp", dir);
	gp = slurp(path);
	ck_assert_msg(strstr(gp, "'attnbench time: run 1 on solo (Test CPU), commit abc123'"), "%s",
	              gp);
	free(gp);
	plot_dats("p3", 3, "time", c, sizeof(c));
	ck_assert_int_eq(points_at(c, 100000), 4);
	ck_assert_int_eq(points_at(c, 10) + points_at(c, 1000), 0);
}
END_TEST

START_TEST(roofline_says_whose_roofs)
{
	make_default();
	ck_assert_msg(cli("plot --db %s --run 5 --metric roof --out %s/r", merged, dir) == 0, "%s",
	              out);
	/* node-b's 300 GFLOP/s is not node-a's 100: one is drawn, named, and the mix is told */
	ck_assert_msg(strstr(out, "more than 5% away from run 2's (on node-a)"), "%s", out);
	char path[1024];
	snprintf(path, sizeof(path), "%s/r/roof.gp", dir);
	char *gp = slurp(path);
	ck_assert_msg(strstr(gp, "'sgemm roof 100 GFLOP/s, run 2 on node-a'"), "%s", gp);
	ck_assert_msg(!strstr(gp, "300 GFLOP/s"), "%s", gp);
	free(gp);
	/* a run alone keeps its legend as it was */
	ck_assert_msg(cli("plot --db %s --run 1 --metric roof --out %s/r1", merged, dir) == 0, "%s",
	              out);
	ck_assert_msg(!strstr(out, "5% away"), "%s", out);
	snprintf(path, sizeof(path), "%s/r1/roof.gp", dir);
	gp = slurp(path);
	ck_assert_msg(strstr(gp, "'sgemm roof 100 GFLOP/s'"), "%s", gp);
	free(gp);
}
END_TEST

/* ---- fit ------------------------------------------------------------------------------ */

START_TEST(fit_reads_every_shard)
{
	make_default();
	struct attn_store *st = db_store_open(merged, ATTN_STORE_READONLY);
	for (int run = 0; run <= 5; run++) {
		if (run == 1 || run == 3)
			continue;
		struct attn_fit_row *rows;
		int n;
		int64_t used;
		ck_assert_msg(attn_fit_run(st, run, NULL, 0, 3, 200, 1, &used, &rows, &n, err,
		                           sizeof(err)) == ATTN_OK,
		              "%s", err);
		ck_assert_int_eq(used, 2);
		ck_assert_int_eq(n, 2);
		for (int i = 0; i < n; i++) {
			/* four N of one curve, from three shards: a slope of 1 */
			ck_assert_int_eq(rows[i].n_points, 4);
			ck_assert_double_eq_tol(rows[i].n_min, 256, 1e-9);
			ck_assert_double_eq_tol(rows[i].n_max, 2048, 1e-9);
			ck_assert_double_eq_tol(rows[i].exponent, 1, 0.02);
		}
		free(rows);
	}
	struct attn_fit_row *rows;
	int n;
	int64_t used;
	ck_assert_int_eq(
	    attn_fit_run(st, 3, NULL, 0, 3, 200, 1, &used, &rows, &n, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(used, 3);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(rows[0].n_points + rows[1].n_points, 4);
	free(rows);
	attn_store_close(st);

	/* the verb: the same table for every shard's id, naming the shards */
	static char first[65536];
	ck_assert_msg(cli("fit --db %s --run 4", merged) == 0, "%s", out);
	snprintf(first, sizeof(first), "%s", out);
	ck_assert_msg(strstr(out, "runs 2, 4, 5 (3 shards of one sweep): 2 fitted curves (stored "
	                          "in `fits` under run 2)"),
	              "%s", out);
	ck_assert_msg(cli("fit --db %s --run 5", merged) == 0, "%s", out);
	ck_assert_str_eq(out, first);
	ck_assert_msg(cli("fit --db %s", merged) == 0, "%s", out);
	ck_assert_str_eq(out, first);
	ck_assert_int_eq(db_file_int(merged, "SELECT count(*) FROM fits WHERE run_id = 2"), 2);
	ck_assert_int_eq(db_file_int(merged, "SELECT count(*) FROM fits WHERE run_id IN (4, 5)"),
	                 0);
	ck_assert_msg(cli("fit --db %s --run 1", merged) == 0, "%s", out);
	ck_assert_msg(strstr(out, "run 1: 2 fitted curves (stored in `fits`)"), "%s", out);
}
END_TEST

/* ---- export --------------------------------------------------------------------------- */

/* The number of lines of s. */
static int lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

START_TEST(export_reads_every_shard)
{
	make_default();
	static char first[65536];
	ck_assert_msg(cli("export --db %s --run 2 --format csv", merged) == 0, "%s", out);
	snprintf(first, sizeof(first), "%s", out);
	ck_assert_int_eq(lines(out), 1 + N_CASES);
	/* a shard sweep's rows name their machine and shard */
	ck_assert_msg(strncmp(out, "id,run_id,method,", 17) == 0, "%s", out);
	ck_assert_msg(strstr(out, ",message,info,hostname,cpu_model,shard,"), "%.300s", out);
	ck_assert_msg(strstr(out, ",node-a,Test CPU,1/3,"), "%s", out);
	ck_assert_msg(strstr(out, ",node-b,Test CPU,2/3,"), "%s", out);
	ck_assert_msg(strstr(out, ",node-b,Test CPU,3/3,"), "%s", out);
	ck_assert_msg(!strstr(out, "solo") && !strstr(out, "node-c"), "%s", out);
	/* every case once: its run_id one of the shards' */
	int per_run[6] = {0};
	for (const char *l = strchr(out, '\n') + 1; *l; l = strchr(l, '\n') + 1) {
		long id, run;
		ck_assert_int_eq(sscanf(l, "%ld,%ld,", &id, &run), 2);
		ck_assert(run >= 1 && run <= 5);
		per_run[run]++;
	}
	ck_assert_int_eq(per_run[1] + per_run[3], 0);
	ck_assert_int_eq(per_run[2], 3);
	ck_assert_int_eq(per_run[5], 3);
	ck_assert_int_eq(per_run[4], 2);
	ck_assert_msg(cli("export --db %s --run 4 --format csv", merged) == 0, "%s", out);
	ck_assert_str_eq(out, first);
	/* JSON: each run of the sweep with its own provenance */
	ck_assert_msg(cli("export --db %s --run 5 --format json", merged) == 0, "%s", out);
	ck_assert_msg(strstr(out, "\"id\": 2, ") && strstr(out, "\"id\": 4, ") &&
	                  strstr(out, "\"id\": 5, "),
	              "%s", out);
	ck_assert_msg(!strstr(out, "\"hostname\": \"solo\"") && !strstr(out, "node-c"), "%s", out);
	ck_assert_msg(strstr(out, "\"shard\": \"3/3\""), "%s", out);
	/* an unsharded run: its own cases, its machine on every row, no shard */
	ck_assert_msg(cli("export --db %s --run 1 --format csv", merged) == 0, "%s", out);
	ck_assert_int_eq(lines(out), 1 + N_CASES);
	ck_assert_msg(strstr(out, ",message,info,hostname,cpu_model,shard,git_commit,"), "%.300s",
	              out);
	ck_assert_msg(strstr(out, ",solo,Test CPU,,") && !strstr(out, "/3,"), "%s", out);
	ck_assert_msg(cli("export --db %s --run 3 --format csv", merged) == 0, "%s", out);
	ck_assert_int_eq(lines(out), 1 + 4);
}
END_TEST

/* ---- compare -------------------------------------------------------------------------- */

START_TEST(compare_pairs_whole_sweeps)
{
	make_default();
	char other[512];
	snprintf(other, sizeof(other), "%s/other.db", dir);
	make_merged(other, "t/3", 100);
	/* the library: a side is its whole sweep, each case with its own run's roof */
	struct attn_store *st = db_store_open(merged, ATTN_STORE_READONLY);
	struct attn_gate_run g;
	ck_assert_msg(attn_gate_load(st, 4, &g, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_eq(g.id, 2);
	ck_assert_int_eq(g.n_runs, 3);
	ck_assert_str_eq(g.run_ids, "2, 4, 5");
	ck_assert_str_eq(g.host, "node-a, node-b");
	ck_assert_str_eq(g.cpu_model, "Test CPU");
	ck_assert_int_eq(g.n, N_CASES);
	for (int i = 0; i < g.n; i++) {
		ck_assert(g.c[i].run == 2 || g.c[i].run == 4 || g.c[i].run == 5);
		ck_assert_double_eq(g.c[i].sgemm, g.c[i].run == 2 ? 100 : 300);
	}
	attn_gate_run_free(&g);
	ck_assert_msg(attn_gate_load(st, 1, &g, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_eq(g.n_runs, 1);
	ck_assert_int_eq(g.n, N_CASES);
	ck_assert_str_eq(g.host, "solo");
	attn_gate_run_free(&g);
	attn_store_close(st);

	/* the verb: every case of the sweep paired, whichever shard names it */
	static char first[65536];
	ck_assert_msg(cli("compare --baseline %s --current %s --baseline-run 4 --current-run 5",
	                  merged, other) == 0,
	              "%s", out);
	ck_assert_msg(strstr(out, "compared 8 cases: 0 regressed"), "%s", out);
	ck_assert_msg(strstr(out, "unmatched: 0 cases only in the baseline, 0 only in the current"),
	              "%s", out);
	ck_assert_msg(strstr(out, "runs 2, 4, 5 (3 shards of one sweep; commits abc123 on node-a, "
	                          "node-b"),
	              "%s", out);
	snprintf(first, sizeof(first), "%s", out);
	ck_assert_msg(cli("compare --baseline %s --current %s --baseline-run 2 --current-run 4",
	                  merged, other) == 0,
	              "%s", out);
	ck_assert_str_eq(out, first);
	ck_assert_msg(cli("compare --baseline %s --current %s", merged, other) == 0, "%s", out);
	ck_assert_str_eq(out, first);
	/* JSON lists the runs of each side */
	ck_assert_msg(cli("compare --baseline %s --current %s --format json", merged, other) == 0,
	              "%s", out);
	ck_assert_msg(strstr(out, "\"run\": 2, \"runs\": [2, 4, 5], \"hostname\": \"node-a, "
	                          "node-b\""),
	              "%s", out);
	/*
	 * The sweep against the unsharded run: all eight pair, a hundredfold
	 * faster as measured; normalised by each case's own run's roof, node-a's
	 * three cases (sgemm 100, as the baseline's) stay 0.010 and node-b's five
	 * (sgemm 300) read 0.030.
	 */
	ck_assert_msg(cli("compare --baseline %s --current %s --baseline-run 1 --current-run 4",
	                  merged, merged) == 0,
	              "%s", out);
	ck_assert_msg(strstr(out, "compared 8 cases: 0 regressed, 8 improved"), "%s", out);
	int at_a = 0, at_b = 0;
	for (const char *p = out; (p = strstr(p, " 0.010 [0.010, 0.010] ")); p++)
		at_a++;
	for (const char *p = out; (p = strstr(p, " 0.030 [0.030, 0.030] ")); p++)
		at_b++;
	ck_assert_msg(at_a == 3 && at_b == 5, "%s", out);
	/* the other sweep's shard alone has four cases */
	ck_assert_int_eq(cli("compare --baseline %s --current %s --baseline-run 3 --current-run 3",
	                     merged, other),
	                 0);
	ck_assert_msg(strstr(out, "compared 4 cases"), "%s", out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("merged_read");
	TCase *t = tcase_create("merged");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, run_set_heads);
	tcase_add_test(t, plot_reads_every_shard);
	tcase_add_test(t, roofline_says_whose_roofs);
	tcase_add_test(t, fit_reads_every_shard);
	tcase_add_test(t, export_reads_every_shard);
	tcase_add_test(t, compare_pairs_whole_sweeps);
	suite_add_tcase(s, t);
	return attn_test_run(s, CK_NORMAL);
}
