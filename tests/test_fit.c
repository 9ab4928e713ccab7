/*
 * Tests of the fits (harness/src/fit.c) on synthetic curves whose answers
 * are known: t = 3·N^1.5 has exponent 1.5 with a tight CI; t = N² +
 * 100·N·ln N gives its coefficients back from the non-negative least
 * squares, with N² carrying the cost at large N and N ln N at small N; a
 * linear curve against a quadratic one crosses where they are equal, and
 * curves that do not cross say so. Then the `fit` verb end to end on a tiny
 * sweep: the table, the `fits` rows (replaced, not duplicated, by a second
 * fit) and the errors (an unknown method, an empty database, a foreign file).
 * The theoretical exponent per form and mode (theory.h), and `fit` and
 * `plot` quoting the same one.
 */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "attnbench/fit.h"
#include "attnbench/method.h"
#include "attnbench/theory.h"
#include "check_main.h"
#include "cli_run.h"
#include "db.h"
#include "slurp.h"
#include "tmpdir.h"

#define MAX_PTS 16
#define K       5

/* Relative jitter of the K samples of every point: median 1, spread ±1%. */
static const double jitter[K] = {0.99, 1.0, 1.01, 0.995, 1.005};

struct curve {
	int m;
	double n[MAX_PTS];
	double ns[MAX_PTS][K];
	struct attn_fit_point pts[MAX_PTS];
};

/* N = n0, 2·n0, ... (m points) with samples t(N)·jitter. */
static void make_curve(struct curve *c, double n0, int m, double (*t)(double))
{
	c->m = m;
	for (int i = 0; i < m; i++) {
		c->n[i] = n0 * pow(2, i);
		for (int k = 0; k < K; k++)
			c->ns[i][k] = t(c->n[i]) * jitter[(k + i) % K];
		c->pts[i] = (struct attn_fit_point){c->n[i], c->ns[i], K};
	}
}

static double t_pow15(double n)
{
	return 3 * pow(n, 1.5);
}
static double t_quad_nlogn(double n)
{
	return n * n + 100 * n * log(n);
}
static double t_linear(double n)
{
	return 1000 * n;
}
static double t_quad(double n)
{
	return n * n;
}
static double t_quad2(double n)
{
	return 2 * n * n;
}
static double t_quad_half(double n)
{
	return 0.5 * n * n;
}

START_TEST(exponent_of_a_power_law)
{
	struct curve c;
	make_curve(&c, 256, 7, t_pow15);
	double e, lo, hi, e2, lo2, hi2;
	ck_assert_int_eq(attn_fit_exponent(c.pts, c.m, ATTN_FIT_BOOT, ATTN_FIT_SEED, &e, &lo, &hi),
	                 ATTN_OK);
	ck_assert_double_eq_tol(e, 1.5, 1e-9);
	ck_assert(lo <= e && e <= hi);
	ck_assert_double_lt(hi - lo, 0.02);
	/* the fixed seed makes it repeatable */
	attn_fit_exponent(c.pts, c.m, ATTN_FIT_BOOT, ATTN_FIT_SEED, &e2, &lo2, &hi2);
	ck_assert(lo == lo2 && hi == hi2 && e == e2);
}
END_TEST

START_TEST(nnls_recovers_terms)
{
	double n[8], t[8], coef[ATTN_FIT_TERMS], share[ATTN_FIT_TERMS];
	for (int i = 0; i < 8; i++) {
		n[i] = 128 * pow(2, i);
		t[i] = t_quad_nlogn(n[i]);
	}
	ck_assert_int_eq(attn_fit_nnls(n, t, 8, coef), ATTN_OK);
	ck_assert_double_eq_tol(coef[ATTN_FIT_TERM_N2], 1, 0.01);
	ck_assert_double_eq_tol(coef[ATTN_FIT_TERM_NLOGN], 100, 1);
	/* the absent terms stay negligible next to the present ones */
	ck_assert_double_lt(coef[ATTN_FIT_TERM_N] * n[7] / t[7], 1e-3);
	ck_assert_double_lt(coef[ATTN_FIT_TERM_CONST] / t[0], 1e-3);
	ck_assert_int_eq(attn_fit_shares(coef, n[7], share), ATTN_FIT_TERM_N2);
	ck_assert_double_gt(share[ATTN_FIT_TERM_N2], 0.9);
	ck_assert_double_eq_tol(share[0] + share[1] + share[2] + share[3], 1, 1e-12);
	/* at N = 128, 100·N·ln N is about four times N² */
	ck_assert_int_eq(attn_fit_shares(coef, 128, share), ATTN_FIT_TERM_NLOGN);
}
END_TEST

START_TEST(nnls_stays_non_negative)
{
	/* t = 1000 N - 0.05 N² wants a negative a; NNLS must not give one */
	double n[6], t[6], coef[ATTN_FIT_TERMS];
	for (int i = 0; i < 6; i++) {
		n[i] = 100 * (i + 1);
		t[i] = 1000 * n[i] - 0.05 * n[i] * n[i];
	}
	ck_assert_int_eq(attn_fit_nnls(n, t, 6, coef), ATTN_OK);
	for (int j = 0; j < ATTN_FIT_TERMS; j++)
		ck_assert_double_ge(coef[j], 0);
	ck_assert_double_gt(coef[ATTN_FIT_TERM_N] + coef[ATTN_FIT_TERM_NLOGN], 0);
	double bad = 1;
	ck_assert_int_eq(attn_fit_nnls(n, (double[]){-1, 1, 1, 1, 1, 1}, 6, coef),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_fit_nnls(n, &bad, 0, coef), ATTN_ERR_INVALID);
	/* three points cannot determine four terms: refused */
	ck_assert_int_eq(attn_fit_nnls(n, t, ATTN_FIT_TERMS - 1, coef), ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_fit_nnls(n, t, ATTN_FIT_TERMS, coef), ATTN_OK);
}
END_TEST

START_TEST(crossover_found)
{
	/* 1000·N against N²: equal at N = 1000, faster above */
	struct curve a, b;
	make_curve(&a, 64, 9, t_linear);
	make_curve(&b, 64, 9, t_quad);
	struct attn_fit_crossover x;
	ck_assert_int_eq(attn_fit_cross(a.pts, b.pts, a.m, ATTN_FIT_BOOT, ATTN_FIT_SEED, &x),
	                 ATTN_OK);
	ck_assert_int_eq(x.kind, ATTN_FIT_CROSS_FASTER_ABOVE);
	ck_assert_double_eq_tol(x.n_star, 1000, 10);
	ck_assert(x.ci_lo <= x.n_star && x.n_star <= x.ci_hi);
	ck_assert_double_gt(x.ci_lo, 950);
	ck_assert_double_lt(x.ci_hi, 1050);
	ck_assert_int_eq(x.n_no_cross, 0);
	/* the other way round it is faster below N* */
	ck_assert_int_eq(attn_fit_cross(b.pts, a.pts, a.m, 100, 1, &x), ATTN_OK);
	ck_assert_int_eq(x.kind, ATTN_FIT_CROSS_SLOWER_ABOVE);
	ck_assert_double_eq_tol(x.n_star, 1000, 10);
}
END_TEST

START_TEST(crossover_never_and_always)
{
	struct curve a, b, c;
	make_curve(&a, 64, 6, t_quad2);
	make_curve(&b, 64, 6, t_quad);
	make_curve(&c, 64, 6, t_quad_half);
	struct attn_fit_crossover x;
	ck_assert_int_eq(attn_fit_cross(a.pts, b.pts, 6, 100, 1, &x), ATTN_OK);
	ck_assert_int_eq(x.kind, ATTN_FIT_CROSS_NEVER);
	ck_assert(isnan(x.n_star));
	ck_assert_int_eq(attn_fit_cross(c.pts, b.pts, 6, 100, 1, &x), ATTN_OK);
	ck_assert_int_eq(x.kind, ATTN_FIT_CROSS_ALWAYS_FASTER);
	/* different N, or a single point, are refused */
	make_curve(&c, 128, 6, t_quad_half);
	ck_assert_int_eq(attn_fit_cross(c.pts, b.pts, 6, 100, 1, &x), ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_fit_cross(a.pts, b.pts, 1, 100, 1, &x), ATTN_ERR_INVALID);
	double e, lo, hi;
	ck_assert_int_eq(attn_fit_exponent(a.pts, 1, 100, 1, &e, &lo, &hi), ATTN_ERR_INVALID);
}
END_TEST

/* ---- the verb, end to end ------------------------------------------------ */

static char dir[TMPDIR_LEN];

START_TEST(fit_verb)
{
	tmpdir_make(dir, "fit");
	setenv("ATTNBENCH_DATA_DIR", ATTN_SOURCE_DIR, 1);
	unsetenv("ATTNBENCH_PLUGIN_PATH");
	ck_assert_int_eq(cli("fit --help"), 0);
	ck_assert_ptr_nonnull(strstr(out, "crossover"));

	char db[TMPDIR_LEN + 16];
	snprintf(db, sizeof(db), "%s/f.db", dir);
	ck_assert_int_eq(cli("sweep --methods 'flash,window[w=32],retnet' --n 64..512x2 --d 16 "
	                     "--heads 1 --causal=1 --mode prefill --threads 1 --min-time 0.005 "
	                     "--roof-budget 0 --db %s",
	                     db),
	                 0);
	ck_assert_int_eq(cli("fit --db %s", db), 0);
	ck_assert_msg(strstr(out, "(reference)") && strstr(out, "window") &&
	                  strstr(out, "retnet") && strstr(out, "d=16 h=1/1"),
	              "%s", out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM fits"), 3);
	/* a second fit replaces the rows; json and markdown parse the same run */
	ck_assert_int_eq(cli("fit --db %s --format json --methods window", db), 0);
	ck_assert_msg(strstr(out, "\"method\": \"window\"") && strstr(out, "\"exponent\": "), "%s",
	              out);
	ck_assert_int_eq(cli("fit --db %s --format markdown --min-points 9", db), 0);
	ck_assert_msg(strstr(out, "| flash") && strstr(out, "not fitted"), "%s", out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM fits"), 3);

	/*
	 * a curve of three N: its exponent is fitted, but four terms on three
	 * points name no dominant term, and the note says why
	 */
	char db3[TMPDIR_LEN + 16];
	snprintf(db3, sizeof(db3), "%s/f3.db", dir);
	ck_assert_int_eq(cli("sweep --methods 'window[w=32]' --n 64..256x2 --d 16 --heads 1 "
	                     "--causal=1 --mode prefill --threads 1 --min-time 0.005 "
	                     "--roof-budget 0 --db %s",
	                     db3),
	                 0);
	ck_assert_int_eq(cli("fit --db %s --format json", db3), 0);
	ck_assert_msg(strstr(out, "\"points\": 3") && strstr(out, "\"dominant\": null") &&
	                  strstr(out, "fewer than the model's 4 terms"),
	              "%s", out);
	ck_assert_int_eq(cli("fit --db %s", db3), 0);
	ck_assert_msg(strstr(out, "no dominant term"), "%s", out);

	/* errors: a method the run lacks, a missing run, no runs, a foreign file */
	ck_assert_int_eq(cli("fit --db %s --methods window,nosuch", db), 2);
	ck_assert_ptr_nonnull(strstr(out, "'nosuch'"));
	ck_assert_int_eq(cli("fit --db %s --run 9", db), 2);
	ck_assert_ptr_nonnull(strstr(out, "no run 9"));
	ck_assert_int_eq(cli("fit --db %s --format xml", db), 2);
	char path[TMPDIR_LEN + 16];
	snprintf(path, sizeof(path), "%s/e.db", dir);
	db_file_exec(path, "CREATE TABLE x(a)");
	ck_assert_int_eq(cli("fit --db %s", path), 3);
	ck_assert_ptr_nonnull(strstr(out, "another program"));
	snprintf(path, sizeof(path), "%s/empty.db", dir);
	db_file_copy(db, path);
	db_file_exec(path, "DELETE FROM runs");
	ck_assert_int_eq(cli("fit --db %s", path), 2);
	ck_assert_ptr_nonnull(strstr(out, "no runs"));
	tmpdir_remove(dir);
}
END_TEST

extern const struct attn_method attn_method_window, attn_method_moba, attn_method_retnet,
    attn_method_flash;

/* The rules of theory.h on the cases: window and moba decode, retnet's forms. */
START_TEST(theory_per_form_and_mode)
{
	static const struct {
		const struct attn_method *m;
		const char *params;
		int decode;
		double t;
		int other_form; /* not the default form: no memory exponent claimed */
	} cs[] = {
	    {&attn_method_window, "w=32", 0, 1, 0},
	    {&attn_method_window, "w=32", 1, 0, 0},
	    {&attn_method_moba, "", 0, 2, 0},
	    {&attn_method_moba, "", 1, 1, 0},
	    {&attn_method_retnet, "form=parallel", 0, 2, 1},
	    {&attn_method_retnet, "form=chunk,C=64", 0, 1, 0},
	    {&attn_method_retnet, "form=recurrent", 1, 0, 1},
	    {&attn_method_flash, NULL, 0, 2, 0},
	    {&attn_method_flash, NULL, 1, 1, 0},
	};
	for (size_t i = 0; i < sizeof(cs) / sizeof(*cs); i++) {
		double t = NAN, mem = NAN;
		ck_assert_int_eq(attn_method_theory(cs[i].m, cs[i].params, cs[i].decode, &t, &mem),
		                 0);
		ck_assert_msg(t == cs[i].t, "%s[%s] decode=%d: theory %g, want %g", cs[i].m->name,
		              cs[i].params ? cs[i].params : "", cs[i].decode, t, cs[i].t);
		if (cs[i].other_form)
			ck_assert(isnan(mem));
		else
			ck_assert(mem == cs[i].m->mem_exp);
	}
	double t = 0;
	ck_assert_int_eq(attn_method_theory(NULL, "", 0, &t, NULL), -1);
	ck_assert(isnan(t));
	ck_assert(attn_theory_is_decode("d=16 h=1/1 b=1 causal decode t=1 gaussian"));
	ck_assert(!attn_theory_is_decode("d=16 h=1/1 b=1 causal prefill t=1 gaussian"));
}
END_TEST

/* The line of text holding `a`, then `b` after it, or NULL. */
static const char *line_with(const char *text, const char *a, const char *b)
{
	for (const char *l = text; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		const char *pa = strstr(l, a);
		if (pa && pa < l + len) {
			const char *pb = strstr(pa, b);
			if (pb && pb < l + len)
				return l;
		}
		l = e ? e + 1 : NULL;
	}
	return NULL;
}

/*
 * plot's legend and fit's theory column give the same exponent for the
 * issue's three cases: window and moba decode (0 and 1) and
 * retnet[form=parallel] (2), measured over four N.
 */
START_TEST(plot_and_fit_agree_on_theory)
{
	tmpdir_make(dir, "fit_theory");
	setenv("ATTNBENCH_DATA_DIR", ATTN_SOURCE_DIR, 1);
	unsetenv("ATTNBENCH_PLUGIN_PATH");
	static const struct {
		const char *methods, *mode, *method, *theory;
	} cs[] = {
	    {"window[w=32],moba", "decode", "window", "(theory 0)"},
	    {"window[w=32],moba", "decode", "moba", "(theory 1)"},
	    {"retnet[form=parallel]", "prefill", "retnet", "(theory 2)"},
	};
	for (int i = 0; i < 3; i++) {
		char db[TMPDIR_LEN + 16];
		snprintf(db, sizeof(db), "%s/%s.db", dir, cs[i].mode);
		if (i != 1)
			ck_assert_msg(cli("sweep --methods '%s' --n 128..1024x2 --d 16 --heads 1 "
			                  "--causal=1 --mode %s --threads 1 --min-time 0.002 "
			                  "--roof-budget 0 --db %s",
			                  cs[i].methods, cs[i].mode, db) == 0,
			              "%s", out);
		ck_assert_int_eq(cli("fit --db %s --format json --methods %s", db, cs[i].method),
		                 0);
		char want[64];
		snprintf(want, sizeof(want), "\"theory\": %c", cs[i].theory[8]);
		ck_assert_msg(strstr(out, want), "%s: want %s in %s", cs[i].method, want, out);
		ck_assert_msg(cli("plot --db %s --metric time --methods %s --out %s/out", db,
		                  cs[i].method, dir) == 0,
		              "%s", out);
		char path[TMPDIR_LEN + 32];
		snprintf(path, sizeof(path), "%s/out/time.gp", dir);
		char *gp = slurp(path);
		ck_assert_ptr_nonnull(gp);
		ck_assert_msg(line_with(gp, cs[i].method, cs[i].theory), "%s: no '%s' in\n%s",
		              cs[i].method, cs[i].theory, gp);
		free(gp);
	}
	tmpdir_remove(dir);
}
END_TEST

static Suite *fit_suite(void)
{
	Suite *s = suite_create("fit");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, exponent_of_a_power_law);
	tcase_add_test(tc, nnls_recovers_terms);
	tcase_add_test(tc, nnls_stays_non_negative);
	tcase_add_test(tc, crossover_found);
	tcase_add_test(tc, crossover_never_and_always);
	tcase_add_test(tc, fit_verb);
	tcase_add_test(tc, theory_per_form_and_mode);
	tcase_add_test(tc, plot_and_fit_agree_on_theory);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return attn_test_run(fit_suite(), CK_NORMAL);
}
