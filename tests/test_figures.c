/*
 * `attnbench figures` end to end on the small `test` set
 * (workloads/figures/test.txt): the sweeps run, every figure is drawn as PNG
 * and SVG, index.html carries every figure, Table 1 and the fit table, and
 * headless Chromium loads the page and decodes every image. Then what must
 * fail does, with exit 2 and a message saying why: no gnuplot, a set that
 * does not exist, --no-sweep on a database without the set's runs.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "cli_run.h"
#include "slurp.h"
#include "tmpdir.h"

static char dir[TMPDIR_LEN];

/* The figures the page must show, as `attnbench figures --help` lists them. */
static const char *const figures[] = {
    "fig1_taxonomy",      "fig2_dualform_time", "fig2_dualform_memory", "fig3_masks",
    "fig4_hybrid_state",  "fig4_hybrid_decode", "fig5_time_full",       "fig5_time_linear",
    "fig5_time_sparse",   "fig5_time_hybrid",   "fig6_memory_full",     "fig6_memory_linear",
    "fig6_memory_sparse", "fig6_memory_hybrid", "fig7_accuracy",        "fig8_roofline"};
#define N_FIGURES (int)(sizeof(figures) / sizeof(*figures))

/*
 * The set is drawn once, before the tests fork (an unchecked fixture runs
 * in the runner's process), and each test reads what it drew.
 */
static int drawn = -1;
static char draw_out[sizeof(out)];

static void draw(void)
{
	tmpdir_make(dir, "figures");
	drawn = cli("figures --set test --db %s/f.db --out %s/out --quiet", dir, dir);
	memcpy(draw_out, out, sizeof(out));
}

static void drawn_remove(void)
{
	tmpdir_remove(dir);
}

START_TEST(figures_drawn)
{
	ck_assert_msg(drawn == 0, "figures exited %d:\n%s", drawn, draw_out);
	for (int i = 0; i < N_FIGURES; i++)
		for (int k = 0; k < 2; k++) {
			char path[512];
			struct stat st;
			snprintf(path, sizeof(path), "%s/out/%s.%s", dir, figures[i],
			         k ? "svg" : "png");
			ck_assert_msg(stat(path, &st) == 0 && st.st_size > 1000,
			              "%s missing or nearly empty", path);
		}
}
END_TEST

START_TEST(page_has_everything)
{
	ck_assert_msg(drawn == 0, "figures exited %d:\n%s", drawn, draw_out);
	char path[512];
	snprintf(path, sizeof(path), "%s/out/index.html", dir);
	char *html = slurp(path);
	ck_assert_ptr_nonnull(html);
	for (int i = 0; i < N_FIGURES; i++) {
		char id[128];
		snprintf(id, sizeof(id), "<figure id=\"%s\"><img", figures[i]);
		ck_assert_msg(strstr(html, id), "index.html lacks %s", figures[i]);
	}
	/* Table 1: the forms sweep's methods, with their rule and agreement */
	ck_assert_ptr_nonnull(strstr(html, "<section id=\"table1\">"));
	ck_assert_ptr_nonnull(strstr(html, "<code>deltanet</code>"));
	ck_assert_ptr_nonnull(strstr(html, "β_t k_t v_tᵀ"));
	ck_assert_ptr_nonnull(strstr(html, " at N=256"));
	/* the fit table with flash's row and the provenance of a run */
	ck_assert_ptr_nonnull(strstr(html, "<section id=\"fits\">"));
	ck_assert_ptr_nonnull(strstr(html, "(reference)"));
	ck_assert_ptr_nonnull(strstr(html, "Measured by run"));
	/* self-contained: no image is fetched from elsewhere */
	ck_assert_ptr_null(strstr(html, "<img alt=\"fig1_taxonomy\" src=\"fig"));
	free(html);
}
END_TEST

/* The script gnuplot drew figure `name` from, malloc'd. */
static char *script(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/out/%s.gp", dir, name);
	return slurp(path);
}

/* The colour of the plot line whose title starts with `title` in gp, into rgb[8]. */
static void colour_of(const char *gp, const char *title, char rgb[8])
{
	char want[128];
	snprintf(want, sizeof(want), "title '%s", title);
	const char *t = strstr(gp, want);
	ck_assert_msg(t, "no series titled %s in:\n%s", title, gp);
	const char *line = t;
	while (line > gp && line[-1] != '\n')
		line--;
	const char *lc = strstr(line, "lc rgb '");
	ck_assert_msg(lc && lc < t, "series %s has no colour", title);
	snprintf(rgb, 8, "%.7s", lc + 8);
}

/*
 * What a reviewer reads off the figures: one colour per method; hybrid
 * stacks by their models' names with what they save against all-softmax;
 * no constant parameter in a label; measured memory beside the declared;
 * the accuracy chart as points labelled with N; a window's slope fitted
 * over N > w only.
 */
START_TEST(figures_read_right)
{
	ck_assert_msg(drawn == 0, "figures exited %d:\n%s", drawn, draw_out);
	char a[8], b[8];
	char *gp = script("fig5_time_sparse");
	colour_of(gp, "moba", a);
	colour_of(gp, "window", b);
	ck_assert_msg(strcmp(a, b) != 0, "moba and window share colour %s", a);
	ck_assert_msg(strstr(gp, "N > w=512"), "window's slope regime unsaid:\n%s", gp);
	free(gp);

	gp = script("fig4_hybrid_state");
	ck_assert_ptr_nonnull(strstr(gp, "title 'MiniMax-01 (7 lightning : 1 softmax)"));
	ck_assert_ptr_nonnull(strstr(gp, "vs all-softmax at N=1024"));
	ck_assert_ptr_null(strstr(gp, "stack="));
	colour_of(gp, "MiniMax-01 (7", a);
	colour_of(gp, "MiniMax-01 depth", b);
	ck_assert_str_eq(a, b); /* a stack and its baseline: one colour, two line styles */
	colour_of(gp, "Jamba (7", b);
	ck_assert_str_ne(a, b);
	free(gp);

	gp = script("fig2_dualform_time");
	ck_assert_ptr_nonnull(strstr(gp, "title 'retnet[form=parallel]"));
	ck_assert_msg(!strstr(gp, "C=") && !strstr(gp, "gamma="), "constant params:\n%s", gp);
	free(gp);

	gp = script("fig6_memory_linear");
	/* a panel per measure, titled with it */
	ck_assert_ptr_nonnull(strstr(gp, "declared workspace"));
	ck_assert_ptr_nonnull(strstr(gp, "measured: tracked peak"));
	ck_assert_ptr_nonnull(strstr(gp, "measured: RSS growth"));
	free(gp);

	gp = script("fig7_accuracy");
	ck_assert_ptr_nonnull(strstr(gp, " with points "));
	ck_assert_ptr_null(strstr(gp, "linespoints"));
	/* N by marker size, with a size key, not a label at every point */
	ck_assert_ptr_nonnull(strstr(gp, "ps variable"));
	ck_assert_ptr_nonnull(strstr(gp, "title 'N="));
	ck_assert_ptr_null(strstr(gp, "with labels"));
	ck_assert_ptr_nonnull(strstr(gp, "set yrange ["));
	free(gp);
}
END_TEST

/*
 * Chromium loads the page headless; the page's script writes on <body> how
 * many images decoded out of how many, and --dump-dom prints the DOM after
 * the load event.
 */
START_TEST(chromium_shows_every_image)
{
	ck_assert_msg(drawn == 0, "figures exited %d:\n%s", drawn, draw_out);
	const char *browser = NULL;
	static const char *const names[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser"};
	for (int i = 0; i < 2 && !browser; i++)
		if (access(names[i], X_OK) == 0)
			browser = names[i];
	ck_assert_msg(browser, "chromium not found: apt-get install chromium "
	                       "(sh scripts/setup.sh test installs it)");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "HOME=%s timeout 120 %s --headless --no-sandbox --disable-gpu "
	         "--no-first-run --user-data-dir=%s/chromium --virtual-time-budget=10000 "
	         "--dump-dom file://%s/out/index.html 2>/dev/null",
	         dir, browser, dir, dir);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	static char dom[1 << 16];
	size_t n = 0, got;
	char chunk[8192];
	while ((got = fread(chunk, 1, sizeof(chunk), p)) > 0) {
		/* keep the head of the page and the <body> tag; the images are long */
		char *body = memmem(chunk, got, "<body", 5);
		if (body && n == 0) {
			size_t keep = got - (size_t)(body - chunk);
			n = keep < sizeof(dom) - 1 ? keep : sizeof(dom) - 1;
			memcpy(dom, body, n);
		}
	}
	dom[n] = 0;
	int st = pclose(p);
	ck_assert_msg(st == 0, "chromium exited with status %d", st);
	char want[64];
	snprintf(want, sizeof(want), "data-images=\"%d/%d\"", N_FIGURES, N_FIGURES);
	ck_assert_msg(strstr(dom, want), "chromium: expected %s on <body>, got: %.200s", want, dom);
}
END_TEST

START_TEST(no_gnuplot)
{
	char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	setenv("PATH", "/nonexistent", 1);
	int rc = cli("figures --set test --db /tmp/nodb.db --out /tmp/noout");
	if (path)
		setenv("PATH", path, 1);
	free(path);
	ck_assert_int_eq(rc, 2);
	ck_assert_msg(strstr(out, "gnuplot-nox"), "%s", out);
}
END_TEST

START_TEST(unknown_set)
{
	ck_assert_int_eq(cli("figures --set nosuchset --db /tmp/x.db --out /tmp/x"), 2);
	ck_assert_msg(strstr(out, "nosuchset.txt"), "%s", out);
	ck_assert_int_eq(cli("figures --set ../etc --db /tmp/x.db"), 2);
	ck_assert_msg(strstr(out, "--set '../etc'"), "%s", out);
	ck_assert_int_eq(cli("figures --bogus"), 2);
}
END_TEST

START_TEST(no_sweep_without_runs)
{
	char tmp[TMPDIR_LEN];
	tmpdir_make(tmp, "figures_empty");
	ck_assert_int_eq(cli("sweep --methods flash --n 64 --min-time 0 --roof-budget 0 --quiet "
	                     "--db %s/e.db",
	                     tmp),
	                 0);
	ck_assert_int_eq(cli("figures --set test --no-sweep --db %s/e.db --out %s/o", tmp, tmp), 2);
	ck_assert_msg(strstr(out, "no run of the 'test/complexity' sweep"), "%s", out);
	tmpdir_remove(tmp);
}
END_TEST

START_TEST(help)
{
	ck_assert_int_eq(cli("figures --help"), 0);
	/* the help names each figure up to its variant: fig5_time_FAMILY, fig2_dualform_* */
	for (int i = 0; i < N_FIGURES; i++) {
		char stem[64];
		snprintf(stem, sizeof(stem), "%s", figures[i]);
		char *second = strchr(strchr(stem, '_') + 1, '_');
		if (second)
			*second = 0;
		ck_assert_msg(strstr(out, stem), "help lacks %s", stem);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("figures");
	TCase *tc = tcase_create("figures");
	tcase_add_unchecked_fixture(tc, draw, drawn_remove);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, help);
	tcase_add_test(tc, unknown_set);
	tcase_add_test(tc, no_gnuplot);
	tcase_add_test(tc, no_sweep_without_runs);
	tcase_add_test(tc, figures_drawn);
	tcase_add_test(tc, page_has_everything);
	tcase_add_test(tc, figures_read_right);
	tcase_add_test(tc, chromium_shows_every_image);
	suite_add_tcase(s, tc);
	return attn_test_run(s, CK_NORMAL);
}
