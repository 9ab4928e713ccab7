/*
 * Tests of survey Fig. 3 (harness/report/fig_masks.c) on a database made by
 * hand: a causal 8x8 window mask with the method's density stored, the same
 * method and parameters again at a larger N but non-causal (the panel must
 * keep the causal one), a 16x16 mask without a density metric (the title
 * must fall back to the kept block fraction and say so), a 300x300 mask
 * that is drawn max-pooled, and parameters given as 0 (auto), titled with
 * the values the methods reported choosing (their param.NAME metrics). One
 * call draws both pictures, each .dat matrix is the mask, and a run without
 * masks is a usage error that says how to get them.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attnbench/report.h"
#include "attnbench/status.h"
#include "attnbench/store.h"
#include "check_main.h"
#include "db.h"
#include "slurp.h"
#include "tmpdir.h"

static void add_case(sqlite3 *db, long id, long run, const char *method, const char *params, long n,
                     int causal)
{
	char q[1024];
	snprintf(q, sizeof(q),
	         "INSERT INTO cases(id, run_id, key, method, family, params, batch, heads, "
	         "kv_heads, n, d, causal, mode, dist, threads, seed, status, finished_at) VALUES "
	         "(%ld, %ld, 'k%ld', '%s', 'sparse', '%s', 1, 1, 1, %ld, 64, %d, 'prefill', "
	         "'local', 1, 42, 'ok', 'now')",
	         id, run, id, method, params, n, causal);
	db_exec(db, q);
}

static void add_mask(sqlite3 *db, long case_id, int nqb, int nkb, const unsigned char *m)
{
	sqlite3_stmt *s;
	ck_assert(sqlite3_prepare_v2(db, "INSERT INTO masks VALUES (?, 0, ?, ?, ?)", -1, &s,
	                             NULL) == SQLITE_OK);
	sqlite3_bind_int64(s, 1, case_id);
	sqlite3_bind_int(s, 2, nqb);
	sqlite3_bind_int(s, 3, nkb);
	sqlite3_bind_blob(s, 4, m, nqb * nkb, SQLITE_STATIC);
	ck_assert(sqlite3_step(s) == SQLITE_DONE);
	sqlite3_finalize(s);
}

/* Read a .dat matrix of 0/1 (comment lines skipped) into m; its rows and columns. */
static void read_dat(const char *path, unsigned char *m, int cap, int *rows, int *cols)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	char line[4096];
	int n = 0;
	*rows = *cols = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		int c = 0;
		for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n")) {
			ck_assert(n < cap);
			m[n++] = (unsigned char)atoi(t);
			c++;
		}
		ck_assert(*rows == 0 || c == *cols);
		*cols = c;
		(*rows)++;
	}
	fclose(f);
}

START_TEST(masks_figure)
{
	char dir[TMPDIR_LEN], path[1024], err[1024];
	tmpdir_make(dir, "figmasks");
	snprintf(path, sizeof(path), "%s/r.db", dir);
	struct attn_store *st;
	/* The store makes the schema; the rows go in through a connection of the test's own. */
	st = db_store_open(path, 1);
	attn_store_close(st);
	sqlite3 *db;
	ck_assert(sqlite3_open(path, &db) == SQLITE_OK);
	db_exec(db, "INSERT INTO runs(id, started_at, status, command, spec, hostname) VALUES "
	            "(1, 'now', 'complete', 'sweep', '', 'testhost'), "
	            "(2, 'now', 'complete', 'sweep', '', 'testhost')");

	/* Causal window of 3 blocks: kept when i - 2 <= j <= i. */
	unsigned char win[64], wide[256], mix[256];
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++)
			win[i * 8 + j] = j <= i && j >= i - 2;
	add_case(db, 1, 1, "window", "w=24,b=8", 64, 1);
	add_mask(db, 1, 8, 8, win);
	db_exec(db, "INSERT INTO metrics VALUES (1, 'density', 0.29, '1')");
	/* Larger but non-causal: must lose to the causal case. */
	memset(wide, 1, sizeof(wide));
	add_case(db, 2, 1, "window", "w=24,b=8", 128, 0);
	add_mask(db, 2, 16, 16, wide);
	/* No density metric: the title falls back to the kept blocks. */
	int kept = 0;
	for (int i = 0; i < 256; i++)
		kept += mix[i] = (i * 7) % 32 < 5 && i % 16 <= i / 16;
	add_case(db, 3, 1, "moba", "b=8,topk=2", 128, 1);
	add_mask(db, 3, 16, 16, mix);
	/* 300 blocks a side: pooled 2x2 to 150x150. */
	static unsigned char big[300 * 300];
	for (int i = 0; i < 300; i++)
		big[i * 300 + i] = 1;
	add_case(db, 4, 1, "dilated", "w=8,r=2,b=8", 2400, 1);
	add_mask(db, 4, 300, 300, big);
	add_case(db, 5, 2, "flash", "", 64, 1);
	/* Fractions as the engine stores them: whole below the diagonal, about half on it. */
	unsigned char frac[64];
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++)
			frac[i * 8 + j] = j < i ? 255 : j == i ? 129 : 0;
	add_case(db, 6, 1, "nsa", "b=8,gate=0.333333333", 64, 1);
	add_mask(db, 6, 8, 8, frac);
	/* Chosen by the method (0: auto): titled with its param.NAME metrics. */
	add_case(db, 7, 1, "strided", "w=0,r=0,b=8", 64, 1);
	add_mask(db, 7, 8, 8, win);
	db_exec(db, "INSERT INTO metrics VALUES (7, 'param.w', 8, '1'), (7, 'param.r', 8, '1')");
	add_case(db, 8, 1, "kmeans", "b=8,clusters=0,iters=4", 64, 1);
	add_mask(db, 8, 8, 8, win);
	db_exec(db, "INSERT INTO metrics VALUES (8, 'param.clusters', 8, '1'), "
	            "(8, 'param.extra', 2.5, '1')");
	ck_assert(sqlite3_close(db) == SQLITE_OK);
	st = db_store_open(path, ATTN_STORE_READONLY);

	char out[256], caption[2048];
	snprintf(out, sizeof(out), "%s/fig", dir);
	static const char *const formats[] = {"png", "svg"};
	ck_assert_int_eq(attn_fig_masks(st, path, 1, out, "masks", formats, 2, caption,
	                                sizeof(caption), err, sizeof(err)),
	                 ATTN_OK);
	ck_assert_msg(strstr(caption, "Kept-block masks") && strstr(caption, "max-pooled"), "%s",
	              caption);
	struct stat sb;
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/masks.%s", out, formats[i]);
		ck_assert_msg(stat(path, &sb) == 0 && sb.st_size > 0, "%s", path);
	}

	static unsigned char got[150 * 150];
	int rows, cols;
	snprintf(path, sizeof(path), "%s/masks_00.dat", out);
	read_dat(path, got, sizeof(got), &rows, &cols);
	ck_assert_int_eq(rows, 8);
	ck_assert_int_eq(cols, 8);
	ck_assert(memcmp(got, win, 64) == 0);
	snprintf(path, sizeof(path), "%s/masks_01.dat", out);
	read_dat(path, got, sizeof(got), &rows, &cols);
	ck_assert_int_eq(rows, 16);
	ck_assert_int_eq(cols, 16);
	ck_assert(memcmp(got, mix, 256) == 0);
	snprintf(path, sizeof(path), "%s/masks_02.dat", out);
	read_dat(path, got, sizeof(got), &rows, &cols);
	ck_assert_int_eq(rows, 150);
	ck_assert_int_eq(cols, 150);
	for (int i = 0; i < 150; i++)
		for (int j = 0; j < 150; j++)
			ck_assert_int_eq(got[i * 150 + j], i == j);
	/* A partial block is drawn as its kept fraction, the title's numbers rounded. */
	snprintf(path, sizeof(path), "%s/masks_03.dat", out);
	char *fd = slurp(path);
	ck_assert_msg(strstr(fd, "\n0.506 0 0 0 0 0 0 0\n1 0.506 0 "), "%s", fd);
	free(fd);
	snprintf(path, sizeof(path), "%s/masks_06.dat", out);
	ck_assert(stat(path, &sb) != 0);

	snprintf(path, sizeof(path), "%s/masks.gp", out);
	char *gp = slurp(path), want[128];
	ck_assert_msg(strstr(gp, "'window  w=24,b=8'") && strstr(gp, "'N=64, 8x8 blocks'") &&
	                  strstr(gp, "'density 0.29'"),
	              "%s", gp);
	ck_assert(strstr(gp, "N=128 non-causal") == NULL);
	snprintf(want, sizeof(want), "'density %.3g (of blocks kept)'", kept / 256.0);
	ck_assert_msg(strstr(gp, want), "%s not in\n%s", want, gp);
	ck_assert(strstr(gp, "'N=2400, 300x300 blocks, max-pooled 2x2'"));
	ck_assert_msg(strstr(gp, "'nsa  b=8,gate=0.3333'") && strstr(gp, "set colorbox"), "%s", gp);
	ck_assert_msg(strstr(gp, "'strided  w=8,r=8,b=8'") &&
	                  strstr(gp, "'kmeans  b=8,clusters=8,iters=4,extra=2.5'") &&
	                  !strstr(gp, "=0,") && !strstr(gp, "=0'"),
	              "%s", gp);

	/* Run 2 has a case but no mask. */
	ck_assert_int_eq(attn_fig_masks(st, "r.db", 2, out, "none", formats, 1, caption,
	                                sizeof(caption), err, sizeof(err)),
	                 ATTN_ERR_NOTFOUND);
	ck_assert_str_eq(caption, "");
	snprintf(path, sizeof(path), "%s/none.gp", out);
	ck_assert(stat(path, &sb) != 0);

	attn_store_close(st);
	tmpdir_remove(dir);
	free(gp);
}
END_TEST

static Suite *figures_masks_suite(void)
{
	Suite *s = suite_create("figures_masks");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, masks_figure);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return attn_test_run(figures_masks_suite(), CK_NORMAL);
}
