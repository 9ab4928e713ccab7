/*
 * Sharding a sweep (issue 15): the split of the expanded cases into N
 * shards (attn_sweep_shard_plan) and `sweep --shard I/N` end to end.
 *
 * The split must be a partition (every case in exactly one shard, so the
 * shards' union is the unsharded sweep), the same every time it is asked,
 * balanced by predicted cost rather than by count, and it must keep the
 * interleaving groups (the cases at one shape) whole unless one alone is
 * more than a shard's share. A plugin's stated costs are asked in a child:
 * one that crashes or hangs there must cost its case the floor, never the
 * caller. Through the CLI: each shard records what it is, the shards of one
 * sweep run into their own databases hold exactly the unsharded sweep's
 * cases, --resume keeps to the run's shard, and a complete shard resumed
 * has nothing to do.
 */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/driver.h"
#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"
#include "attnbench/sweep.h"
#include "check_main.h"
#include "cli_run.h"
#include "db.h"
#include "test_registry_util.h"
#include "tmpdir.h"

static char dir[TMPDIR_LEN];
static struct attn_registry *reg;
static struct attn_run_opts ro;

static void setup(void)
{
	tmpdir_make(dir, "shard");
	setenv("ATTNBENCH_DATA_DIR", ATTN_SOURCE_DIR, 1);
	unsetenv("ATTNBENCH_PLUGIN_PATH");
	reg = test_registry_make(NULL, 0);
	attn_run_opts_default(&ro);
}

static void teardown(void)
{
	attn_registry_free(reg);
	tmpdir_remove(dir);
}

/* The cases of a spec given as key/value pairs, NULL-terminated. */
static void expand(struct attn_case_list *cases, const char *const *kv)
{
	struct attn_sweep_spec sp;
	char err[1024];
	ck_assert_int_eq(attn_sweep_spec_init(&sp), ATTN_OK);
	for (int i = 0; kv[i]; i += 2)
		ck_assert_msg(attn_sweep_spec_set(&sp, kv[i], kv[i + 1], err, sizeof(err)) ==
		                  ATTN_OK,
		              "%s", err);
	ck_assert_msg(attn_sweep_expand(&sp, reg, cases, err, sizeof(err)) == ATTN_OK, "%s", err);
	attn_sweep_spec_free(&sp);
}

static void plan(const struct attn_case_list *cases, int n, struct attn_shard_plan *p)
{
	char err[512];
	ck_assert_msg(attn_sweep_shard_plan(cases, reg, &ro, n, p, err, sizeof(err)) == ATTN_OK,
	              "%s", err);
}

static const char *const mixed[] = {"methods", "softmax,flash,linear_elu,retnet,window,performer",
                                    "n",       "256..16384x2",
                                    "threads", "1,2",
                                    "causal",  "both",
                                    NULL};

/* Every case in exactly one shard 1..N, the per-shard counts and costs adding up. */
START_TEST(a_partition_for_every_n)
{
	struct attn_case_list cases;
	expand(&cases, mixed);
	ck_assert_int_gt(cases.count, 100);
	for (int n = 1; n <= 9; n++) {
		struct attn_shard_plan p;
		plan(&cases, n, &p);
		int count = 0;
		double cost = 0, sum = 0;
		for (int s = 0; s < n; s++) {
			count += p.cases[s];
			cost += p.cost[s];
		}
		int per[10] = {0};
		for (int i = 0; i < cases.count; i++) {
			ck_assert_msg(p.shard_of[i] >= 1 && p.shard_of[i] <= n,
			              "case %d in shard %d of %d", i, p.shard_of[i], n);
			per[p.shard_of[i] - 1]++;
			sum += p.case_cost[i];
		}
		ck_assert_int_eq(count, cases.count);
		for (int s = 0; s < n; s++)
			ck_assert_int_eq(per[s], p.cases[s]);
		ck_assert(fabs(cost - p.total_cost) <= 1e-9 * p.total_cost);
		ck_assert(fabs(sum - p.total_cost) <= 1e-9 * p.total_cost);
		attn_shard_plan_free(&p);
	}
	attn_case_list_free(&cases);
}
END_TEST

/* The same spec and N give the same split, asked twice (and so on any machine: no measurement). */
START_TEST(the_split_is_deterministic)
{
	struct attn_case_list a, b;
	expand(&a, mixed);
	expand(&b, mixed);
	struct attn_shard_plan p, q;
	plan(&a, 5, &p);
	plan(&b, 5, &q);
	ck_assert_int_eq(a.count, b.count);
	for (int i = 0; i < a.count; i++) {
		ck_assert_int_eq(p.shard_of[i], q.shard_of[i]);
		ck_assert(p.case_cost[i] == q.case_cost[i]);
	}
	attn_shard_plan_free(&p);
	attn_shard_plan_free(&q);
	attn_case_list_free(&a);
	attn_case_list_free(&b);
}
END_TEST

/*
 * Cost, not count: on a geometric N sweep, an even split by count would
 * put the big shapes' cases together; the cost split keeps the largest
 * shard within what the largest item allows (the greedy's bound: the mean
 * plus the largest item), and well under the count split's largest.
 */
START_TEST(balanced_by_cost_not_count)
{
	struct attn_case_list cases;
	expand(&cases, mixed);
	const int n = 4;
	struct attn_shard_plan p;
	plan(&cases, n, &p);
	double mean = p.total_cost / n, largest = 0, biggest_case = 0;
	for (int s = 0; s < n; s++)
		largest = fmax(largest, p.cost[s]);
	for (int i = 0; i < cases.count; i++)
		biggest_case = fmax(biggest_case, p.case_cost[i]);
	ck_assert_msg(largest <= mean + biggest_case, "largest shard %g, mean %g, largest case %g",
	              largest, mean, biggest_case);
	ck_assert_msg(largest <= 1.15 * mean, "largest shard %g is over 1.15 x the mean %g",
	              largest, mean);
	/* The same count in each shard, in the sweep's order: the last shard gets the big ones. */
	double by_count[4] = {0};
	for (int i = 0; i < cases.count; i++)
		by_count[(long long)i * n / cases.count] += p.case_cost[i];
	double count_largest = 0;
	for (int s = 0; s < n; s++)
		count_largest = fmax(count_largest, by_count[s]);
	ck_assert_msg(largest < 0.8 * count_largest, "cost split %g vs count split %g", largest,
	              count_largest);
	attn_shard_plan_free(&p);
	attn_case_list_free(&cases);
}
END_TEST

/* Groups smaller than a share stay whole; a group alone bigger than a share is split. */
START_TEST(groups_stay_whole_unless_too_big)
{
	struct attn_case_list cases;
	/* Similar groups: none near a share of 3 shards. */
	const char *const even[] = {"methods", "softmax,flash,linear_elu,retnet", "n",
	                            "128,192,256,320,384,448,512,576,640", NULL};
	expand(&cases, even);
	struct attn_shard_plan p;
	plan(&cases, 3, &p);
	ck_assert_int_eq(p.split_groups, 0);
	ck_assert_int_eq(p.groups, 9);
	for (int i = 1; i < cases.count; i++)
		if (attn_case_same_group(&cases.items[i - 1], &cases.items[i]))
			ck_assert_int_eq(p.shard_of[i - 1], p.shard_of[i]);
	attn_shard_plan_free(&p);
	attn_case_list_free(&cases);

	/* Two shapes, one far bigger than the other: 4 shards need the big one split. */
	const char *const lopsided[] = {"methods", "softmax,flash,linear_elu,retnet,window", "n",
	                                "256,16384", NULL};
	expand(&cases, lopsided);
	plan(&cases, 4, &p);
	ck_assert_int_eq(p.groups, 2);
	ck_assert_int_ge(p.split_groups, 1);
	int shards_of_big = 0, seen[5] = {0};
	for (int i = 0; i < cases.count; i++)
		if (cases.items[i].shape.n == 16384 && !seen[p.shard_of[i]]++)
			shards_of_big++;
	ck_assert_int_ge(shards_of_big, 2);
	attn_shard_plan_free(&p);
	attn_case_list_free(&cases);
}
END_TEST

/* A plugin that crashes (or hangs) in supports() costs its cases the floor, not the caller. */
static void guarded_plugin(const char *name)
{
	test_plugin_load(reg, name);
	char methods[128];
	snprintf(methods, sizeof(methods), "softmax,%s", name);
	const char *const kv[] = {"methods", methods, "n", "64,4096", NULL};
	struct attn_case_list cases;
	expand(&cases, kv);
	ck_assert_int_eq(cases.count, 4);
	struct attn_shard_plan p;
	plan(&cases, 2, &p);
	double floor_cost = attn_shard_case_cost(&cases.items[0], 0, 0, 0, &ro);
	for (int i = 0; i < cases.count; i++)
		if (cases.items[i].method != attn_registry_find(reg, "softmax"))
			ck_assert(p.case_cost[i] == floor_cost);
		else
			ck_assert(p.case_cost[i] > floor_cost);
	attn_shard_plan_free(&p);
	attn_case_list_free(&cases);
}

START_TEST(a_crashing_plugin_costs_the_floor)
{
	guarded_plugin("hostile_supports_crash");
}
END_TEST

START_TEST(a_hanging_plugin_costs_the_floor)
{
	guarded_plugin("hostile_supports_hang");
}
END_TEST

START_TEST(bad_shard_arguments_are_refused)
{
	const char *bad[] = {"0/3", "4/3", "1/0", "x/3", "1/x", "1/3/4", "-1/3", "1/", "/3", "2/1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ck_assert_int_eq(cli("sweep --dry-run --shard %s", bad[i]), 2);
		ck_assert_msg(strstr(out, "--shard '") && strstr(out, "expected I/N"), "%s: %s",
		              bad[i], out);
	}
	ck_assert_int_eq(cli("sweep --dry-run --sweep-id x"), 2);
	ck_assert_msg(strstr(out, "goes with --shard"), "%s", out);
	ck_assert_int_eq(cli("figures --no-sweep --shard 1/2"), 2);
}
END_TEST

#define SPEC                                                                                       \
	"--methods softmax,flash,linear_elu,window --n 64,128,256 --causal=both --min-time 0.005 " \
	"--min-reps 2 --warmup 0.001 --roof-budget 0 --counters none --quiet"

/* The keys of every case of the n databases, sorted, one per line, into buf. */
static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void case_keys(const char *const *files, int n, char *buf, size_t len)
{
	static char *keys[4096];
	int k = 0;
	for (int f = 0; f < n; f++) {
		sqlite3 *db = db_file_open(files[f]);
		sqlite3_stmt *s;
		ck_assert(sqlite3_prepare_v2(db, "SELECT key FROM cases", -1, &s, NULL) ==
		          SQLITE_OK);
		while (sqlite3_step(s) == SQLITE_ROW && k < 4096)
			keys[k++] = strdup((const char *)sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
	qsort(keys, (size_t)k, sizeof(*keys), key_cmp);
	buf[0] = 0;
	for (int i = 0; i < k; i++) {
		ck_assert(strlen(buf) + strlen(keys[i]) + 2 < len);
		strcat(buf, keys[i]);
		strcat(buf, "\n");
		free(keys[i]);
	}
}

/* The distinct values of run_info key over the n databases. */
static int distinct_info(const char *const *files, int n, const char *key)
{
	char seen[8][256];
	int k = 0;
	for (int f = 0; f < n; f++) {
		sqlite3 *db = db_file_open(files[f]);
		sqlite3_stmt *s;
		ck_assert(sqlite3_prepare_v2(db, "SELECT value FROM run_info WHERE key = ?", -1, &s,
		                             NULL) == SQLITE_OK);
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *v = (const char *)sqlite3_column_text(s, 0);
			int dup = 0;
			for (int i = 0; i < k; i++)
				dup |= strcmp(seen[i], v) == 0;
			if (!dup && k < 8)
				snprintf(seen[k++], sizeof(seen[0]), "%s", v);
		}
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
	return k;
}

START_TEST(three_shards_hold_the_sweep)
{
	static char whole[65536], parts[65536];
	for (int i = 1; i <= 3; i++) {
		ck_assert_msg(cli("sweep " SPEC " --shard %d/3 --db %s/s%d.db", i, dir, i) == 0,
		              "%s", out);
		char path[256], sql[256];
		snprintf(path, sizeof(path), "%s/s%d.db", dir, i);
		snprintf(sql, sizeof(sql),
		         "SELECT value = '%d/3' FROM run_info WHERE key = 'shard'", i);
		ck_assert_int_eq(db_file_int(path, sql), 1);
		ck_assert_int_eq(db_file_int(path, "SELECT count(*) FROM run_info WHERE key IN "
		                                   "('shard_index','shard_count','sweep_id',"
		                                   "'spec_hash','shard_cases','sweep_cases',"
		                                   "'shard_cost','sweep_cost')"),
		                 8);
		ck_assert_int_eq(db_file_int(path,
		                             "SELECT (SELECT count(*) FROM cases) = (SELECT "
		                             "value FROM run_info WHERE key = 'shard_cases')"),
		                 1);
		ck_assert_int_eq(db_file_int(path, "SELECT value FROM run_info WHERE key = "
		                                   "'sweep_cases'"),
		                 24);
	}
	/* One sweep id, one spec hash: the default id is the hash and N. */
	char f1[256], f2[256], f3[256], fw[256];
	snprintf(f1, sizeof(f1), "%s/s1.db", dir);
	snprintf(f2, sizeof(f2), "%s/s2.db", dir);
	snprintf(f3, sizeof(f3), "%s/s3.db", dir);
	snprintf(fw, sizeof(fw), "%s/whole.db", dir);
	const char *const files[] = {f1, f2, f3};
	ck_assert_int_eq(distinct_info(files, 3, "sweep_id"), 1);
	ck_assert_int_eq(distinct_info(files, 3, "spec_hash"), 1);
	ck_assert_msg(cli("sweep " SPEC " --db %s", fw) == 0, "%s", out);
	const char *const whole_file[] = {fw};
	case_keys(whole_file, 1, whole, sizeof(whole));
	case_keys(files, 3, parts, sizeof(parts));
	ck_assert_str_eq(parts, whole);
	ck_assert_int_eq(distinct_info(whole_file, 1, "spec_hash"), 1);
	/* Sorted keys of 24 cases, none twice. */
	int lines = 0;
	for (char *c = parts; *c; c++)
		lines += *c == '\n';
	ck_assert_int_eq(lines, 24);
}
END_TEST

START_TEST(resume_keeps_to_the_shard)
{
	ck_assert_msg(cli("sweep " SPEC " --shard 2/3 --db %s/s.db", dir) == 0, "%s", out);
	/* Complete: nothing to resume, and that is not an error. */
	ck_assert_int_eq(cli("sweep --shard 2/3 --resume --db %s/s.db", dir), 0);
	ck_assert_msg(strstr(out, "shard 2/3 is complete already"), "%s", out);
	ck_assert_int_eq(cli("sweep --shard 1/3 --resume --db %s/s.db", dir), 2);
	/* Unfinished: mark it so and resume; a different shard is refused naming both. */
	char path[256];
	snprintf(path, sizeof(path), "%s/s.db", dir);
	sqlite3 *db = db_file_open(path);
	db_exec(db, "UPDATE runs SET status = 'interrupted'");
	db_exec(db, "PRAGMA foreign_keys = ON");
	db_exec(db, "DELETE FROM cases WHERE id = (SELECT MAX(id) FROM cases)");
	sqlite3_close(db);
	ck_assert_int_eq(cli("sweep --shard 1/3 --resume --db %s/s.db", dir), 2);
	ck_assert_msg(strstr(out, "is shard 2/3, not 1/3"), "%s", out);
	ck_assert_int_eq(cli("sweep --shard 2/3 --sweep-id other --resume --db %s/s.db", dir), 2);
	ck_assert_msg(strstr(out, "not other"), "%s", out);
	ck_assert_msg(cli("sweep --resume --db %s/s.db --quiet", dir) == 0, "%s", out);
	ck_assert_int_eq(db_file_int(path, "SELECT (SELECT count(*) FROM cases) = (SELECT value "
	                                   "FROM run_info WHERE key = 'shard_cases')"),
	                 1);
	ck_assert_int_eq(db_file_int(path, "SELECT count(*) FROM runs WHERE status = 'complete'"),
	                 1);
	/* An unsharded run is not resumed as a shard. */
	ck_assert_msg(cli("sweep " SPEC " --db %s/u.db", dir) == 0, "%s", out);
	snprintf(path, sizeof(path), "%s/u.db", dir);
	db = db_file_open(path);
	db_exec(db, "UPDATE runs SET status = 'interrupted'");
	sqlite3_close(db);
	ck_assert_int_eq(cli("sweep --shard 1/3 --resume --db %s/u.db", dir), 2);
	ck_assert_msg(strstr(out, "is a whole sweep"), "%s", out);
}
END_TEST

/* figures --shard: each sweep of the set sharded into one db; run again, nothing is redone. */
START_TEST(figures_shard_runs_and_resumes)
{
	ck_assert_msg(
	    cli("figures --set test --shard 1/2 --sweep-id t --db %s/f1.db --quiet", dir) == 0,
	    "%s", out);
	char path[256];
	snprintf(path, sizeof(path), "%s/f1.db", dir);
	ck_assert_int_eq(db_file_int(path, "SELECT count(*) FROM runs"), 4);
	ck_assert_int_eq(db_file_int(path, "SELECT count(DISTINCT value) FROM run_info WHERE key = "
	                                   "'sweep_id' AND value LIKE 't/%'"),
	                 4);
	ck_assert_int_eq(db_file_int(path, "SELECT count(*) FROM run_info WHERE key = 'figures'"),
	                 4);
	long long cases = db_file_int(path, "SELECT count(*) FROM cases");
	ck_assert_msg(cli("figures --set test --shard 1/2 --sweep-id t --db %s/f1.db", dir) == 0,
	              "%s", out);
	ck_assert_msg(strstr(out, "complete already"), "%s", out);
	ck_assert_int_eq(db_file_int(path, "SELECT count(*) FROM runs"), 4);
	ck_assert_int_eq(db_file_int(path, "SELECT count(*) FROM cases"), cases);
}
END_TEST

static Suite *shard_suite(void)
{
	Suite *s = suite_create("shard");
	TCase *plan_tc = tcase_create("plan");
	tcase_add_checked_fixture(plan_tc, setup, teardown);
	tcase_set_timeout(plan_tc, 120);
	tcase_add_test(plan_tc, a_partition_for_every_n);
	tcase_add_test(plan_tc, the_split_is_deterministic);
	tcase_add_test(plan_tc, balanced_by_cost_not_count);
	tcase_add_test(plan_tc, groups_stay_whole_unless_too_big);
	tcase_add_test(plan_tc, a_crashing_plugin_costs_the_floor);
	tcase_add_test(plan_tc, a_hanging_plugin_costs_the_floor);
	suite_add_tcase(s, plan_tc);
	TCase *cli_tc = tcase_create("cli");
	tcase_add_checked_fixture(cli_tc, setup, teardown);
	tcase_set_timeout(cli_tc, 300);
	tcase_add_test(cli_tc, bad_shard_arguments_are_refused);
	tcase_add_test(cli_tc, three_shards_hold_the_sweep);
	tcase_add_test(cli_tc, resume_keeps_to_the_shard);
	tcase_add_test(cli_tc, figures_shard_runs_and_resumes);
	suite_add_tcase(s, cli_tc);
	return s;
}

int main(void)
{
	return attn_test_run(shard_suite(), CK_NORMAL);
}
