/*
 * Tests of survey Fig. 1 (harness/report/fig_taxonomy.c), called directly
 * rather than through a verb: the real workloads/figures/taxonomy.txt drawn
 * against the built-in registry names every registered method and gives a
 * non-empty PNG and SVG from one call; a malformed line is refused with its
 * file and line named; a plugin the registry lacks is drawn as "not
 * implemented", and the registered methods a file leaves out appear as "(not
 * in the survey)".
 *
 * The figure is the report layer's, linked from the library; its message
 * goes into last_error for the tests to read.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/registry.h"
#include "attnbench/report.h"
#include "attnbench/status.h"
#include "check_main.h"
#include "slurp.h"
#include "test_registry_util.h"
#include "tmpdir.h"

static char last_error[1024];

static char dir[TMPDIR_LEN];
static struct attn_registry *reg;
static char caption[2048];
static const char *const png[] = {"png"}, *const both[] = {"png", "svg"};

static void setup(void)
{
	tmpdir_make(dir, "figtaxo");
	reg = test_registry_make(NULL, 0);
	last_error[0] = 0;
}

static void teardown(void)
{
	attn_registry_free(reg);
	tmpdir_remove(dir);
}

/* dir/name, in a buffer the next call reuses. */
static const char *in_dir(const char *name)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* Write `text` to dir/name and return its path, in in_dir's buffer. */
static const char *put(const char *name, const char *text)
{
	const char *path = in_dir(name);
	FILE *f = fopen(path, "w");
	ck_assert(f != NULL);
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(real_file_names_every_method)
{
	ck_assert_msg(attn_report_have_gnuplot(), "gnuplot not found: apt-get install gnuplot-nox");
	const char *taxo = ATTN_SOURCE_DIR "/workloads/figures/taxonomy.txt";
	ck_assert_int_eq(attn_fig_taxonomy(reg, taxo, dir, "fig1", both, 2, caption,
	                                   sizeof(caption), last_error, sizeof(last_error)),
	                 ATTN_OK);
	ck_assert_int_gt(file_size(in_dir("fig1.png")), 1000);
	ck_assert_int_gt(file_size(in_dir("fig1.svg")), 1000);
	ck_assert_int_eq(file_size(in_dir("fig1.log")), -1); /* removed on success */
	char *gp = slurp(in_dir("fig1.gp"));
	for (int i = 0; i < attn_registry_count(reg); i++) {
		const struct attn_method *m = attn_registry_at(reg, i);
		char tag[96];
		snprintf(tag, sizeof(tag), "[%s]", m->name);
		if (m->flags & ATTN_METHOD_ORACLE_ONLY)
			ck_assert_msg(!strstr(gp, tag), "oracle %s drawn", m->name);
		else
			ck_assert_msg(strstr(gp, tag) != NULL, "%s not drawn", m->name);
	}
	/* The survey's examples: implemented, not implemented, a leaf the brief adds. */
	ck_assert_ptr_nonnull(strstr(gp, "'Performer  [performer]'"));
	ck_assert_ptr_nonnull(strstr(gp, "'Hedgehog  (not implemented)'"));
	ck_assert_ptr_nonnull(strstr(gp, "'MiniMax-01  [hybrid]'"));
	ck_assert_ptr_nonnull(strstr(gp, "'Local window  [window]'"));
	ck_assert_ptr_null(strstr(gp, "not in the survey)'"));
	ck_assert_msg(strstr(caption, "taxonomy.txt") && strstr(caption, "leaves") &&
	                  strstr(caption, "4 branches"),
	              "%s", caption);

	/* A bad format is refused before anything is drawn, even after a good one. */
	static const char *const bad_format[] = {"png", "pdf"};
	ck_assert_int_eq(attn_fig_taxonomy(reg, taxo, dir, "nopdf", bad_format, 2, NULL, 0,
	                                   last_error, sizeof(last_error)),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(file_size(in_dir("nopdf.png")), -1);
	free(gp);
}
END_TEST

START_TEST(malformed_lines_name_file_and_line)
{
	static const struct {
		const char *text, *says;
	} bad[] = {
	    {"# a comment\n\nlinear | gates | GLA\n", ":3: 3 fields"},
	    {"linear | gates | GLA | gla | extra\n", ":1: 5 fields"},
	    {"linear | gates |  | gla\n", ":1: the survey example is empty"},
	    {"linear | gates | GLA | gla\nlinear |  | GLA | gla\n",
	     ":2: the sub-category is empty"},
	    {"dense | gates | GLA | gla\n", ":1: unknown branch 'dense'"},
	    {"# nothing but comments\n", "no leaves"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		const char *path = put("bad.txt", bad[i].text);
		last_error[0] = 0;
		ck_assert_int_eq(attn_fig_taxonomy(reg, path, dir, "bad", png, 1, caption,
		                                   sizeof(caption), last_error, sizeof(last_error)),
		                 ATTN_ERR_FORMAT);
		ck_assert_msg(strstr(last_error, "bad.txt") && strstr(last_error, bad[i].says),
		              "case %zu: '%s'", i, last_error);
	}
	ck_assert_int_eq(attn_fig_taxonomy(reg, "/nonexistent/taxo.txt", dir, "bad", png, 1, NULL,
	                                   0, last_error, sizeof(last_error)),
	                 ATTN_ERR_IO);
	ck_assert_ptr_nonnull(strstr(last_error, "/nonexistent/taxo.txt"));
}
END_TEST

START_TEST(unregistered_plugin_not_implemented)
{
	const char *path = put("small.txt", "linear | gates | GLA | gla\n"
	                                    "linear | gates | Imaginary | nosuch\n"
	                                    "sparse | fixed | Local window | window\n");
	ck_assert_int_eq(attn_fig_taxonomy(reg, path, dir, "small", png, 1, caption,
	                                   sizeof(caption), last_error, sizeof(last_error)),
	                 ATTN_OK);
	char *gp = slurp(in_dir("small.gp"));
	ck_assert_ptr_nonnull(strstr(gp, "'GLA  [gla]'"));
	ck_assert_ptr_nonnull(strstr(gp, "'Imaginary  (not implemented)'"));
	ck_assert_ptr_nonnull(strstr(gp, "plugin 'nosuch' is not registered"));
	/* the methods the file leaves out, under their own family */
	ck_assert_ptr_nonnull(strstr(gp, "'[performer]  (not in the survey)'"));
	ck_assert_ptr_nonnull(strstr(gp, "'[flash]  (not in the survey)'"));
	ck_assert_ptr_null(strstr(gp, "[reference]"));
	ck_assert_int_gt(file_size(in_dir("small.png")), 1000);
	ck_assert_msg(strstr(caption, "3 leaves") && strstr(caption, "2 of the 3 leaves"), "%s",
	              caption);
	free(gp);
}
END_TEST

static Suite *figures_taxo_suite(void)
{
	Suite *s = suite_create("figures_taxo");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, real_file_names_every_method);
	tcase_add_test(tc, malformed_lines_name_file_and_line);
	tcase_add_test(tc, unregistered_plugin_not_implemented);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return attn_test_run(figures_taxo_suite(), CK_NORMAL);
}
