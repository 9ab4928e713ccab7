/*
 * Tests of the sweep spec parser (spec.c): numeric axes, method lists with
 * parameter grids, and the canonical parameter text.
 *
 * The method lists are parsed against synthetic descriptors registered here
 * (names prefixed "tst_", with INT, REAL and ENUM parameters), so the tests
 * hold whatever built-in methods exist. Every error test checks the message
 * names the offending token and its offset, since that is what a user sees.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attnbench/bind.h"
#include "attnbench/registry.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"
#include "attnbench/sweep.h"
#include "check_main.h"
#include "test_registry_util.h"

/* --- synthetic methods ---------------------------------------------------- */

static size_t dummy_ws(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, int threads)
{
	(void)m;
	(void)s;
	(void)p;
	(void)threads;
	return 0;
}

static double dummy_count(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p)
{
	(void)m;
	(void)s;
	(void)p;
	return 1.0;
}

static int dummy_forward(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, const struct attn_inputs *in, float *out,
                         void *ws, const struct attn_ctx *ctx)
{
	(void)m;
	(void)s;
	(void)p;
	(void)in;
	(void)out;
	(void)ws;
	(void)ctx;
	return ATTN_OK;
}

static const struct attn_param_spec alpha_params[] = {
    {"block", ATTN_PARAM_INT, 64, 16, 1024, NULL, "tile size"},
    {"decay", ATTN_PARAM_REAL, 0.9, 0, 1, NULL, "decay rate"},
    {"form", ATTN_PARAM_ENUM, 0, 0, 0, "parallel|recurrent|chunk", "computation form"},
    {"depth", ATTN_PARAM_INT, 1, 1, 1000000, NULL, "a wide range"},
};

static const struct attn_method tst_alpha = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "tst_alpha",
    .family = ATTN_FAMILY_LINEAR,
    .category = "test",
    .summary = "synthetic method with parameters",
    .citation = "none",
    .flags = ATTN_METHOD_EXACT,
    .tolerance = 1e-4,
    .n_params = 4,
    .params = alpha_params,
    .workspace_bytes = dummy_ws,
    .flops = dummy_count,
    .bytes = dummy_count,
    .forward = dummy_forward,
};

static const struct attn_method tst_beta = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "tst_beta",
    .family = ATTN_FAMILY_FULL,
    .category = "test",
    .summary = "synthetic method without parameters",
    .citation = "none",
    .flags = ATTN_METHOD_EXACT,
    .tolerance = 1e-4,
    .workspace_bytes = dummy_ws,
    .flops = dummy_count,
    .bytes = dummy_count,
    .forward = dummy_forward,
};

static const struct attn_param_spec oracle_params[] = {
    {"C", ATTN_PARAM_INT, 32, 1, 4096, NULL, "chunk"},
};

static const struct attn_method tst_oracle = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "tst_oracle",
    .family = ATTN_FAMILY_FULL,
    .category = "test",
    .summary = "synthetic oracle-only method",
    .citation = "none",
    .flags = ATTN_METHOD_EXACT | ATTN_METHOD_ORACLE_ONLY,
    .tolerance = 1e-4,
    .n_params = 1,
    .params = oracle_params,
    .workspace_bytes = dummy_ws,
    .flops = dummy_count,
    .bytes = dummy_count,
    .forward = dummy_forward,
};

static struct attn_registry *reg;

static void setup(void)
{
	char err[256];

	reg = test_registry_make(NULL, 0);
	ck_assert_msg(attn_registry_add(reg, &tst_alpha, "test", err, sizeof(err)) == ATTN_OK, "%s",
	              err);
	ck_assert_msg(attn_registry_add(reg, &tst_beta, "test", err, sizeof(err)) == ATTN_OK, "%s",
	              err);
	ck_assert_msg(attn_registry_add(reg, &tst_oracle, "test", err, sizeof(err)) == ATTN_OK,
	              "%s", err);
}

static void teardown(void)
{
	attn_registry_free(reg);
	reg = NULL;
}

/* --- helpers -------------------------------------------------------------- */

static void expect_axis(const char *text, int64_t min, int64_t max, const int64_t *want, int n)
{
	struct attn_axis axis;
	char err[512] = "";
	int rc = attn_axis_parse(text, min, max, &axis, err, sizeof(err));

	ck_assert_msg(rc == ATTN_OK, "'%s' failed: %s", text, err);
	ck_assert_msg(axis.count == n, "'%s': %d values, want %d", text, axis.count, n);
	for (int i = 0; i < n; i++)
		ck_assert_msg(axis.values[i] == want[i], "'%s': value %d is %lld, want %lld", text,
		              i, (long long)axis.values[i], (long long)want[i]);
	attn_axis_free(&axis);
	ck_assert_ptr_null(axis.values);
}

/* The parse fails with ATTN_ERR_INVALID and the message holds both needles. */
static void expect_axis_err(const char *text, int64_t min, int64_t max, const char *needle1,
                            const char *needle2)
{
	struct attn_axis axis;
	char err[512] = "";
	int rc = attn_axis_parse(text, min, max, &axis, err, sizeof(err));

	ck_assert_msg(rc == ATTN_ERR_INVALID, "'%s' gave %d, not an error", text, rc);
	ck_assert_ptr_null(axis.values);
	ck_assert_int_eq(axis.count, 0);
	ck_assert_msg(strstr(err, needle1), "'%s': message \"%s\" lacks \"%s\"", text, err,
	              needle1);
	if (needle2)
		ck_assert_msg(strstr(err, needle2), "'%s': message \"%s\" lacks \"%s\"", text, err,
		              needle2);
}

static void expect_methods_err(const char *text, const char *needle1, const char *needle2)
{
	struct attn_method_list list;
	char err[1024] = "";
	int rc = attn_methods_parse(text, reg, &list, err, sizeof(err));

	ck_assert_msg(rc == ATTN_ERR_INVALID, "'%s' gave %d, not an error", text, rc);
	ck_assert_ptr_null(list.items);
	ck_assert_int_eq(list.count, 0);
	ck_assert_msg(strstr(err, needle1), "'%s': message \"%s\" lacks \"%s\"", text, err,
	              needle1);
	if (needle2)
		ck_assert_msg(strstr(err, needle2), "'%s': message \"%s\" lacks \"%s\"", text, err,
		              needle2);
}

static struct attn_method_list parse_methods_ok(const char *text)
{
	struct attn_method_list list;
	char err[1024] = "";
	int rc = attn_methods_parse(text, reg, &list, err, sizeof(err));

	ck_assert_msg(rc == ATTN_OK, "'%s' failed: %s", text, err);
	return list;
}

static void format_params(const struct attn_method *m, const struct attn_params *p, char *buf,
                          size_t len)
{
	int n = attn_params_format(m, p, buf, len);
	ck_assert_int_ge(n, 0);
	ck_assert_uint_lt((size_t)n, len);
}

/* --- numeric axes --------------------------------------------------------- */

START_TEST(test_axis_single_and_lists)
{
	expect_axis("64", 1, 1 << 20, (int64_t[]){64}, 1);
	expect_axis("64,128,32", 1, 1 << 20, (int64_t[]){64, 128, 32}, 3);
	expect_axis("0", 0, 10, (int64_t[]){0}, 1);
	expect_axis("65536", 1, 65536, (int64_t[]){65536}, 1);
	expect_axis("9223372036854775807", 0, INT64_MAX, (int64_t[]){INT64_MAX}, 1);
}
END_TEST

START_TEST(test_axis_ranges)
{
	expect_axis("256..65536x2", 1, 1 << 20,
	            (int64_t[]){256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536}, 9);
	/* The end need not be reached exactly. */
	expect_axis("256..1000x2", 1, 1 << 20, (int64_t[]){256, 512}, 2);
	expect_axis("1..100x10", 1, 1000, (int64_t[]){1, 10, 100}, 3);
	expect_axis("1..8+1", 1, 64, (int64_t[]){1, 2, 3, 4, 5, 6, 7, 8}, 8);
	expect_axis("0..10+5", 0, 64, (int64_t[]){0, 5, 10}, 3);
	expect_axis("0..11+5", 0, 64, (int64_t[]){0, 5, 10}, 3);
	expect_axis("7..7x2", 1, 64, (int64_t[]){7}, 1);
	expect_axis("7..7+3", 1, 64, (int64_t[]){7}, 1);
	/* A range near the top of int64 must stop without overflowing. */
	expect_axis("4611686018427387904..9223372036854775807x2", 0, INT64_MAX,
	            (int64_t[]){INT64_C(4611686018427387904)}, 1);
	expect_axis("9223372036854775800..9223372036854775807+5", 0, INT64_MAX,
	            (int64_t[]){INT64_C(9223372036854775800), INT64_C(9223372036854775805)}, 2);
}
END_TEST

START_TEST(test_axis_suffixes)
{
	expect_axis("1k,2K,1m,3M", 1, INT64_MAX, (int64_t[]){1024, 2048, 1048576, 3145728}, 4);
	expect_axis("1k..4kx2", 1, INT64_MAX, (int64_t[]){1024, 2048, 4096}, 3);
	expect_axis("1k..3k+1k", 1, INT64_MAX, (int64_t[]){1024, 2048, 3072}, 3);
	expect_axis("256..1Kx2", 1, INT64_MAX, (int64_t[]){256, 512, 1024}, 3);
}
END_TEST

START_TEST(test_axis_dedup_and_mixed)
{
	expect_axis("64,32,64,1..4+1,2", 1, 1024, (int64_t[]){64, 32, 1, 2, 3, 4}, 6);
	expect_axis("1m,1M,1048576", 1, INT64_MAX, (int64_t[]){1048576}, 1);
	expect_axis("16,256..1024x2,1..3+1,16,512", 1, 4096,
	            (int64_t[]){16, 256, 512, 1024, 1, 2, 3}, 7);
}
END_TEST

START_TEST(test_axis_limit_exact)
{
	struct attn_axis axis;
	char err[256];

	ck_assert_int_eq(attn_axis_parse("1..100000+1", 1, INT64_MAX, &axis, err, sizeof(err)),
	                 ATTN_OK);
	ck_assert_int_eq(axis.count, 100000);
	ck_assert_int_eq(axis.values[0], 1);
	ck_assert_int_eq(axis.values[99999], 100000);
	attn_axis_free(&axis);
	expect_axis_err("1..100001+1", 1, INT64_MAX, "expands to 100001 values, more than 100000",
	                NULL);
}
END_TEST

START_TEST(test_axis_bad_structure)
{
	expect_axis_err("", 1, 100, "empty axis", NULL);
	expect_axis_err("64,,128", 1, 1000, "empty item at offset 3", "'64,,128'");
	expect_axis_err(",64", 1, 1000, "empty item at offset 0", NULL);
	expect_axis_err("64,128,", 1, 1000, "trailing ',' at offset 6", NULL);
	expect_axis_err("256..x2", 1, 1 << 20, "expected a number after '..' at offset 5",
	                "found 'x2'");
	expect_axis_err("256..1024", 1, 1 << 20, "expected 'x' (geometric) or '+' (linear)",
	                "at offset 9, found the end of the text");
	expect_axis_err("1..8x", 1, 100, "expected a factor after 'x' at offset 5", NULL);
	expect_axis_err("1..8+", 1, 100, "expected a step after '+' at offset 5", NULL);
	expect_axis_err("64;128", 1, 1000, "at offset 2, found ';'", NULL);
	expect_axis_err("abc", 1, 1000, "expected a number at offset 0, found 'abc'", NULL);
	expect_axis_err("64.5", 1, 1000, "expected a whole number at offset 0, found '64.5'", NULL);
	expect_axis_err("1e3", 1, 10000, "expected a whole number at offset 0, found '1e3'", NULL);
}
END_TEST

START_TEST(test_axis_bad_values)
{
	expect_axis_err("-5", 0, 100, "negative number '-5' at offset 0", NULL);
	expect_axis_err("64,-1", 0, 100, "negative number '-1' at offset 3", NULL);
	expect_axis_err("99999999999999999999", 0, INT64_MAX, "'99999999999999999999'",
	                "does not fit in 64 bits");
	expect_axis_err("9223372036854775807k", 0, INT64_MAX, "does not fit in 64 bits",
	                "at offset 0");
	expect_axis_err("300", 1, 256, "'300' (= 300) at offset 0 is above the maximum 256", NULL);
	expect_axis_err("64,1k", 1, 256, "'1k' (= 1024) at offset 3 is above the maximum 256",
	                NULL);
	expect_axis_err("0", 1, 256, "'0' (= 0) at offset 0 is below the minimum 1", NULL);
	expect_axis_err("1..512x2", 1, 256, "'512' (= 512) at offset 3 is above the maximum", NULL);
	expect_axis_err("512..256x2", 1, 1024, "range end '256' at offset 5",
	                "less than its start 512");
	expect_axis_err("1..8x1", 1, 100, "geometric factor '1' at offset 5 must be at least 2",
	                NULL);
	expect_axis_err("0..8x2", 0, 100, "geometric range cannot start at 0", NULL);
	expect_axis_err("1..8+0", 1, 100, "linear step '0' at offset 5 must be at least 1", NULL);
	expect_axis_err("1..1M+1", 1, INT64_MAX, "range '1..1M+1' at offset 0",
	                "expands to 1048576 values");
	expect_axis_err("1..60000+1,60001..120000+1", 1, INT64_MAX, "more than 100000 values",
	                NULL);
	expect_axis_err("64g", 1, 1000, "unknown suffix 'g' at offset 2", "k, K, m or M");
	expect_axis_err("64kb", 1, INT64_MAX, "unknown suffix 'kb' at offset 2", NULL);
	expect_axis_err("1..1024y2", 1, INT64_MAX, "unknown suffix 'y' at offset 7", NULL);
}
END_TEST

/* --- method lists --------------------------------------------------------- */

START_TEST(test_methods_plain)
{
	struct attn_method_list list = parse_methods_ok("tst_alpha,tst_beta,tst_oracle");

	ck_assert_int_eq(list.count, 3);
	ck_assert_ptr_eq(list.items[0].method, &tst_alpha);
	ck_assert_ptr_eq(list.items[1].method, &tst_beta);
	ck_assert_ptr_eq(list.items[2].method, &tst_oracle);
	/* Parameters not named take their defaults. */
	ck_assert_int_eq(list.items[0].params.count, 4);
	ck_assert_double_eq(list.items[0].params.v[0], 64);
	ck_assert_double_eq(list.items[0].params.v[1], 0.9);
	ck_assert_double_eq(list.items[0].params.v[2], 0);
	ck_assert_double_eq(list.items[0].params.v[3], 1);
	ck_assert_int_eq(list.items[1].params.count, 0);
	ck_assert_double_eq(list.items[2].params.v[0], 32);
	attn_method_list_free(&list);
	ck_assert_ptr_null(list.items);
}
END_TEST

START_TEST(test_methods_grid_order)
{
	struct attn_method_list list =
	    parse_methods_ok("tst_beta,tst_alpha[block=16,32;form=chunk,recurrent]");
	static const double want[][2] = {{16, 2}, {16, 1}, {32, 2}, {32, 1}};

	ck_assert_int_eq(list.count, 5);
	ck_assert_ptr_eq(list.items[0].method, &tst_beta);
	/* The parameter written last varies fastest. */
	for (int i = 0; i < 4; i++) {
		const struct attn_method_case *c = &list.items[i + 1];
		ck_assert_ptr_eq(c->method, &tst_alpha);
		ck_assert_double_eq(c->params.v[0], want[i][0]);
		ck_assert_double_eq(c->params.v[2], want[i][1]);
		ck_assert_double_eq(c->params.v[1], 0.9);
		ck_assert_double_eq(c->params.v[3], 1);
	}
	attn_method_list_free(&list);
}
END_TEST

START_TEST(test_methods_grid_cartesian)
{
	struct attn_method_list list = parse_methods_ok(
	    "tst_alpha[form=parallel,recurrent,chunk;block=16..128x2;decay=0.5,1e-3]");
	char buf[128];

	ck_assert_int_eq(list.count, 3 * 4 * 2);
	format_params(&tst_alpha, &list.items[0].params, buf, sizeof(buf));
	ck_assert_str_eq(buf, "block=16,decay=0.5,form=parallel,depth=1");
	format_params(&tst_alpha, &list.items[1].params, buf, sizeof(buf));
	ck_assert_str_eq(buf, "block=16,decay=0.001,form=parallel,depth=1");
	format_params(&tst_alpha, &list.items[2].params, buf, sizeof(buf));
	ck_assert_str_eq(buf, "block=32,decay=0.5,form=parallel,depth=1");
	format_params(&tst_alpha, &list.items[8].params, buf, sizeof(buf));
	ck_assert_str_eq(buf, "block=16,decay=0.5,form=recurrent,depth=1");
	format_params(&tst_alpha, &list.items[23].params, buf, sizeof(buf));
	ck_assert_str_eq(buf, "block=128,decay=0.001,form=chunk,depth=1");
	attn_method_list_free(&list);

	list = parse_methods_ok("tst_alpha[block=16..1024+1;depth=1..99+1]");
	ck_assert_int_eq(list.count, 1009 * 99);
	attn_method_list_free(&list);
}
END_TEST

START_TEST(test_methods_values)
{
	struct attn_method_list list =
	    parse_methods_ok("tst_alpha[decay=0,1,.25,2.5e-1,+0.5;block=1k]");

	/* 0.25 written twice is one case. */
	ck_assert_int_eq(list.count, 4);
	ck_assert_double_eq(list.items[0].params.v[1], 0);
	ck_assert_double_eq(list.items[1].params.v[1], 1);
	ck_assert_double_eq(list.items[2].params.v[1], 0.25);
	ck_assert_double_eq(list.items[3].params.v[1], 0.5);
	ck_assert_double_eq(list.items[0].params.v[0], 1024);
	attn_method_list_free(&list);
}
END_TEST

START_TEST(test_methods_dedup)
{
	struct attn_method_list list = parse_methods_ok(
	    "tst_alpha,tst_beta,tst_alpha[block=64],tst_beta,tst_alpha[block=32,64,32]");

	ck_assert_int_eq(list.count, 3);
	ck_assert_ptr_eq(list.items[0].method, &tst_alpha);
	ck_assert_double_eq(list.items[0].params.v[0], 64);
	ck_assert_ptr_eq(list.items[1].method, &tst_beta);
	ck_assert_ptr_eq(list.items[2].method, &tst_alpha);
	ck_assert_double_eq(list.items[2].params.v[0], 32);
	attn_method_list_free(&list);
}
END_TEST

START_TEST(test_methods_all)
{
	struct attn_method_list list = parse_methods_ok("all");
	int want = 0, j = 0;

	for (int i = 0; i < attn_registry_count(reg); i++)
		if (!(attn_registry_at(reg, i)->flags & ATTN_METHOD_ORACLE_ONLY))
			want++;
	ck_assert_int_eq(list.count, want);
	for (int i = 0; i < attn_registry_count(reg); i++) {
		const struct attn_method *m = attn_registry_at(reg, i);
		struct attn_params def;
		if (m->flags & ATTN_METHOD_ORACLE_ONLY)
			continue;
		attn_params_default(m, &def);
		ck_assert_ptr_eq(list.items[j].method, m);
		ck_assert_int_eq(list.items[j].params.count, def.count);
		for (int k = 0; k < def.count; k++)
			ck_assert_double_eq(list.items[j].params.v[k], def.v[k]);
		j++;
	}
	for (int i = 0; i < list.count; i++)
		ck_assert_ptr_ne(list.items[i].method, &tst_oracle);
	attn_method_list_free(&list);

	/* An oracle can still be named, and `all` twice adds nothing. */
	list = parse_methods_ok("all,tst_oracle,all");
	ck_assert_int_eq(list.count, want + 1);
	ck_assert_ptr_eq(list.items[want].method, &tst_oracle);
	attn_method_list_free(&list);
}
END_TEST

START_TEST(test_methods_bad_names)
{
	expect_methods_err("", "empty method list", NULL);
	expect_methods_err("flsh", "unknown method 'flsh' at offset 0", "known: ");
	expect_methods_err("tst_alpah", "(did you mean 'tst_alpha'?)", "--plugin FILE.so");
	expect_methods_err("tst_beta,flsh", "unknown method 'flsh' at offset 9", "tst_alpha");
	expect_methods_err("tst_alpha,", "trailing ',' at offset 9", NULL);
	expect_methods_err("tst_alpha,,tst_beta", "empty item at offset 10", NULL);
	expect_methods_err(",tst_alpha", "empty item at offset 0", NULL);
	expect_methods_err("all[block=16]", "'all' at offset 0 takes no parameter grid", NULL);
	expect_methods_err("[block=16]", "expected a method name at offset 0, found '['", NULL);
	expect_methods_err("tst_alpha;tst_beta", "at offset 9, found ';'", NULL);
}
END_TEST

START_TEST(test_methods_bad_grids)
{
	expect_methods_err("tst_alpha[blok=64]", "unknown parameter 'blok' for method 'tst_alpha'",
	                   "at offset 10; its parameters: block, decay, form, depth");
	expect_methods_err("tst_beta[x=1]", "unknown parameter 'x' for method 'tst_beta'",
	                   "it has no parameters");
	expect_methods_err("tst_alpha[block=2048]", "'2048' (= 2048) at offset 16",
	                   "above the maximum 1024 of 'block'");
	expect_methods_err("tst_alpha[block=8]", "below the minimum 16 of 'block'", NULL);
	expect_methods_err("tst_alpha[block=16..2kx2]", "'2k' (= 2048) at offset 20", NULL);
	expect_methods_err("tst_alpha[decay=1.5]", "'1.5' at offset 16 is outside [0, 1]",
	                   "'decay'");
	expect_methods_err("tst_alpha[decay=-0.1]", "'-0.1' at offset 16 is outside", NULL);
	expect_methods_err("tst_alpha[decay=abc]",
	                   "expected a number for 'decay' at offset 16, found 'abc'", NULL);
	expect_methods_err("tst_alpha[decay=nan]", "found 'nan'", NULL);
	expect_methods_err("tst_alpha[decay=0.5x]", "found '0.5x'", NULL);
	expect_methods_err("tst_alpha[block=64.5]",
	                   "expected a whole number at offset 16, found '64.5'", NULL);
	expect_methods_err("tst_alpha[form=chnk]", "unknown choice 'chnk' for 'form' at offset 15",
	                   "choices: parallel, recurrent, chunk");
	expect_methods_err("tst_alpha[block=16;block=32]", "duplicate parameter 'block'",
	                   "at offset 19");
	expect_methods_err("tst_alpha[block=16", "missing ']' to close the '[' at offset 9", NULL);
	expect_methods_err("tst_alpha[block=16;form=chunk", "missing ']'", NULL);
	expect_methods_err("tst_alpha]", "unmatched ']' at offset 9", NULL);
	expect_methods_err("tst_alpha[block=16]]", "unmatched ']' at offset 19", NULL);
	expect_methods_err("tst_alpha[block=16]x",
	                   "expected ',' or the end after the grid at offset 19, found 'x'", NULL);
	expect_methods_err("tst_alpha[]", "empty parameter grid for 'tst_alpha' at offset 9", NULL);
	expect_methods_err("tst_alpha[block]", "expected '=' after 'block' at offset 15", NULL);
	expect_methods_err("tst_alpha[block=]", "expected a value for 'block' at offset 16",
	                   "found ']'");
	expect_methods_err("tst_alpha[block=16,]", "expected a value for 'block' at offset 19",
	                   NULL);
	expect_methods_err("tst_alpha[block=16;]", "expected a parameter name at offset 19", NULL);
	expect_methods_err("tst_alpha[block=[16]]", "expected a value for 'block' at offset 16",
	                   "found '['");
	expect_methods_err("tst_alpha[block=16=32]", "expected ',', ';' or ']' after the value",
	                   "offset 18");
	expect_methods_err("tst_alpha[block=-16]", "negative number '-16' at offset 16", NULL);
	expect_methods_err("tst_alpha[block=16..1024+1;depth=1..100+1]",
	                   "more than 100000 combinations", "offset 9");
	expect_methods_err("tst_alpha[depth=1..60000+1],tst_alpha[depth=60001..120000+1]",
	                   "more than 100000 combinations", "offset 37");
}
END_TEST

/* --- parameter text ------------------------------------------------------- */

START_TEST(test_params_format_and_set)
{
	struct attn_params p;
	char buf[128], err[512];

	attn_params_default(&tst_alpha, &p);
	format_params(&tst_alpha, &p, buf, sizeof(buf));
	ck_assert_str_eq(buf, "block=64,decay=0.9,form=parallel,depth=1");

	ck_assert_int_eq(attn_params_set(&tst_alpha, &p, "form=chunk", err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_params_set(&tst_alpha, &p, "decay=1e-3", err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_params_set(&tst_alpha, &p, "block=1k", err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_params_set(&tst_alpha, &p, "depth=123456", err, sizeof(err)),
	                 ATTN_OK);
	format_params(&tst_alpha, &p, buf, sizeof(buf));
	ck_assert_str_eq(buf, "block=1024,decay=0.001,form=chunk,depth=123456");
	ck_assert_double_eq(attn_params_get(&tst_alpha, &p, "decay", -1), 0.001);
	ck_assert_double_eq(attn_params_get(&tst_alpha, &p, "form", -1), 2);
	ck_assert_double_eq(attn_params_get(&tst_alpha, &p, "nope", -1), -1);

	/* Like snprintf: the length it needed, whatever the buffer. */
	ck_assert_int_eq(attn_params_format(&tst_alpha, &p, NULL, 0), (int)strlen(buf));
	ck_assert_int_eq(attn_params_format(&tst_alpha, &p, buf, 6), 46);
	ck_assert_str_eq(buf, "block");

	attn_params_default(&tst_beta, &p);
	buf[0] = 'x';
	ck_assert_int_eq(attn_params_format(&tst_beta, &p, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_params_round_trip)
{
	struct attn_method_list list = parse_methods_ok(
	    "tst_alpha[form=parallel,chunk;block=16..1024x4;decay=0,0.1,0.3333333333,1]");

	ck_assert_int_eq(list.count, 2 * 4 * 4);
	for (int i = 0; i < list.count; i++) {
		const struct attn_method_case *c = &list.items[i];
		struct attn_params q;
		char text[128], again[128], err[512];
		char *save = NULL;

		format_params(c->method, &c->params, text, sizeof(text));
		attn_params_default(c->method, &q);
		q.v[0] = q.v[1] = q.v[2] = -7;
		strcpy(again, text);
		for (char *kv = strtok_r(again, ",", &save); kv; kv = strtok_r(NULL, ",", &save))
			ck_assert_msg(attn_params_set(c->method, &q, kv, err, sizeof(err)) ==
			                  ATTN_OK,
			              "'%s': %s", kv, err);
		format_params(c->method, &q, again, sizeof(again));
		ck_assert_str_eq(again, text);
		ck_assert_double_eq(q.v[0], c->params.v[0]);
		ck_assert_double_eq(q.v[2], c->params.v[2]);
		ck_assert_double_eq_tol(q.v[1], c->params.v[1], 1e-9);
	}
	attn_method_list_free(&list);
}
END_TEST

START_TEST(test_params_set_errors)
{
	static const struct {
		const char *kv, *needle;
	} cases[] = {
	    {"blok=1", "unknown parameter 'blok' for method 'tst_alpha' at offset 0"},
	    {"block", "expected '=' after the parameter name at offset 5"},
	    {"=16", "expected a parameter name at offset 0"},
	    {"block=", "expected a value for 'block' at offset 6"},
	    {"block=16..32x2", "expected a single value for 'block' at offset 6"},
	    {"block=2048", "above the maximum 1024 of 'block'"},
	    {"block=16,32", "expected the end after the value at offset 8, found ','"},
	    {"block=3.5", "expected a whole number at offset 6, found '3.5'"},
	    {"form=x", "unknown choice 'x' for 'form' at offset 5; choices: parallel, recurrent"},
	    {"decay=0.5x", "expected a number for 'decay' at offset 6, found '0.5x'"},
	    {"decay=1e999", "outside [0, 1]"},
	};
	struct attn_params p, before;
	char err[512];

	attn_params_default(&tst_alpha, &p);
	before = p;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(attn_params_set(&tst_alpha, &p, cases[i].kv, err, sizeof(err)) ==
		                  ATTN_ERR_INVALID,
		              "'%s' was accepted", cases[i].kv);
		ck_assert_msg(strstr(err, cases[i].needle), "'%s': message \"%s\" lacks \"%s\"",
		              cases[i].kv, err, cases[i].needle);
		ck_assert_msg(strncmp(err, "'", 1) == 0 && strstr(err, cases[i].kv),
		              "message \"%s\" does not quote the text", err);
		ck_assert_msg(memcmp(&p, &before, sizeof(p)) == 0, "'%s' changed the params",
		              cases[i].kv);
	}
}
END_TEST

START_TEST(test_choice_name)
{
	char buf[16];

	ck_assert_int_eq(attn_param_choice_name(&alpha_params[2], 0, buf, sizeof(buf)), ATTN_OK);
	ck_assert_str_eq(buf, "parallel");
	ck_assert_int_eq(attn_param_choice_name(&alpha_params[2], 2, buf, sizeof(buf)), ATTN_OK);
	ck_assert_str_eq(buf, "chunk");
	ck_assert_int_eq(attn_param_choice_name(&alpha_params[2], 3, buf, sizeof(buf)),
	                 ATTN_ERR_NOTFOUND);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(attn_param_choice_name(&alpha_params[2], -1, buf, sizeof(buf)),
	                 ATTN_ERR_NOTFOUND);
	ck_assert_int_eq(attn_param_choice_name(&alpha_params[2], 1, buf, 4), ATTN_ERR_INVALID);
	ck_assert_str_eq(buf, "rec");
	ck_assert_int_eq(attn_param_choice_name(&alpha_params[0], 0, buf, sizeof(buf)),
	                 ATTN_ERR_NOTFOUND);
}
END_TEST

/*
 * A spec file's sweep settings are kept apart: checked as they are read,
 * out of the canonical text, and given back as the options they stand for
 * in the order they were first set; the old options line is refused.
 */
START_TEST(test_sweep_spec_options)
{
	struct attn_sweep_spec sp;
	char err[512];

	ck_assert_int_eq(attn_sweep_spec_init(&sp), ATTN_OK);
	int nomem = 1;
	ck_assert_ptr_null(attn_sweep_spec_options(&sp, &nomem));
	ck_assert_int_eq(nomem, 0);
	ck_assert_int_eq(attn_sweep_spec_load_text(&sp,
	                                           "n = 64\nmin_reps = 5  # a comment\n"
	                                           "d = 16\n  roof-probe =1\nmin_reps = 7\n"
	                                           "interleave = 0\ndump_mask = 0\n"
	                                           "counters = perf::TASK-CLOCK\n",
	                                           "t.spec", err, sizeof(err)),
	                 ATTN_OK);
	char *opts = attn_sweep_spec_options(&sp, &nomem);
	ck_assert_ptr_nonnull(opts);
	ck_assert_str_eq(opts, "--min-reps 7 --roof-probe --no-interleave --counters "
	                       "perf::TASK-CLOCK");
	free(opts);
	char *text = attn_sweep_spec_text(&sp);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_null(strstr(text, "min_reps"));
	ck_assert_ptr_null(strstr(text, "roof"));
	ck_assert_ptr_nonnull(strstr(text, "n = 64"));
	free(text);
	attn_sweep_spec_free(&sp);
	ck_assert_ptr_null(sp.setting[ATTN_PROTO_MIN_REPS]);

	/* bad settings and the old options line: refused naming file, line and value */
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"min_reps = zz\n", "t.spec:1: min_reps 'zz': expected a whole number in 1..1000000"},
	    {"n = 64\ntimeout = 0\n",
	     "t.spec:2: timeout '0': expected a positive number of seconds"},
	    {"mem_limit = 8X\n", "t.spec:1: mem_limit '8X': expected a size like 8G or 512M"},
	    {"roof_probe = yes\n", "t.spec:1: roof_probe 'yes': expected 0 or 1"},
	    {"bind = diagonal\n", "t.spec:1: bind 'diagonal': expected compact, scatter or none"},
	    {"roof_budget = -1\n", "t.spec:1: roof_budget '-1': expected seconds >= 0"},
	    {"options = --min-reps 15\n", "t.spec:1: 'options = --min-reps 15': sweep options are "
	                                  "keys of their own now"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ck_assert_int_eq(attn_sweep_spec_init(&sp), ATTN_OK);
		ck_assert_int_eq(
		    attn_sweep_spec_load_text(&sp, bad[i].text, "t.spec", err, sizeof(err)),
		    ATTN_ERR_INVALID);
		ck_assert_msg(strstr(err, bad[i].want), "%s: %s", bad[i].text, err);
		attn_sweep_spec_free(&sp);
	}
}
END_TEST

/* --- issue 13: values that were changed or dropped without a word --------- */

/*
 * An enum choice longer than the 60 bytes a message quotes is still a
 * choice: the parser once cut every token at 60 bytes, so it never matched.
 */
#define LONG_CHOICE "a_choice_name_that_is_much_longer_than_sixty_bytes_of_text_abcdefghij"
static const struct attn_param_spec long_params[] = {
    {"form", ATTN_PARAM_ENUM, 0, 0, 0, "short|" LONG_CHOICE, "a form with a long name"},
};
static const struct attn_method tst_long = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "tst_long",
    .family = ATTN_FAMILY_FULL,
    .category = "test",
    .summary = "synthetic method with a long enum choice",
    .citation = "none",
    .flags = ATTN_METHOD_EXACT,
    .tolerance = 1e-4,
    .n_params = 1,
    .params = long_params,
    .workspace_bytes = dummy_ws,
    .flops = dummy_count,
    .bytes = dummy_count,
    .forward = dummy_forward,
};

START_TEST(test_long_enum_choice)
{
	struct attn_params p;
	char err[1024] = "", buf[256];

	ck_assert_uint_gt(strlen(LONG_CHOICE), 60);
	attn_params_default(&tst_long, &p);
	ck_assert_msg(attn_params_set(&tst_long, &p, "form=" LONG_CHOICE, err, sizeof(err)) ==
	                  ATTN_OK,
	              "%s", err);
	ck_assert_double_eq(p.v[0], 1);
	format_params(&tst_long, &p, buf, sizeof(buf));
	ck_assert_str_eq(buf, "form=" LONG_CHOICE);
	/* one byte short or long of it is no choice, and the message says which */
	ck_assert_int_eq(attn_params_set(&tst_long, &p, "form=" LONG_CHOICE "k", err, sizeof(err)),
	                 ATTN_ERR_INVALID);
	ck_assert_msg(strstr(err, "unknown choice"), "%s", err);
	ck_assert_int_eq(attn_params_set(&tst_long, &p, "form=a_choice", err, sizeof(err)),
	                 ATTN_ERR_INVALID);
	ck_assert_double_eq(p.v[0], 1);
}
END_TEST

/*
 * A real beyond a double's range was stored as something the user did not
 * write: 1e-400 as 0. Now refused; a zero written as zero is still zero.
 */
START_TEST(test_real_underflow)
{
	static const char *const bad[] = {"decay=1e-400", "decay=1e-310", "decay=0.5e-330",
	                                  "decay=000.0001e-400"};
	struct attn_params p, before;
	char err[512];

	attn_params_default(&tst_alpha, &p);
	before = p;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		ck_assert_msg(attn_params_set(&tst_alpha, &p, bad[i], err, sizeof(err)) ==
		                  ATTN_ERR_INVALID,
		              "'%s' was accepted", bad[i]);
		ck_assert_msg(strstr(err, bad[i] + 6) && strstr(err, "too small for a double"),
		              "'%s': %s", bad[i], err);
		ck_assert_msg(memcmp(&p, &before, sizeof(p)) == 0, "'%s' changed the params",
		              bad[i]);
	}
	static const char *const zero[] = {"decay=0", "decay=0.0", "decay=0e-400", "decay=-0.0"};
	for (size_t i = 0; i < sizeof(zero) / sizeof(*zero); i++) {
		ck_assert_msg(attn_params_set(&tst_alpha, &p, zero[i], err, sizeof(err)) == ATTN_OK,
		              "'%s': %s", zero[i], err);
		ck_assert_double_eq(p.v[1], 0);
	}
	ck_assert_int_eq(attn_params_set(&tst_alpha, &p, "decay=2.5e-300", err, sizeof(err)),
	                 ATTN_OK);
	ck_assert_double_eq(p.v[1], 2.5e-300);
	/* a long but exact real (more than the old 64-byte buffer) */
	ck_assert_msg(attn_params_set(&tst_alpha, &p,
	                              "decay=0.25000000000000000000000000000000000000000000000"
	                              "00000000000000000000000",
	                              err, sizeof(err)) == ATTN_OK,
	              "%s", err);
	ck_assert_double_eq(p.v[1], 0.25);
}
END_TEST

/* Expanding a spec with one key changed; the error text, "" when it expanded. */
static int expand_with(const char *key, const char *value, char *err, size_t errlen)
{
	struct attn_sweep_spec sp;
	struct attn_case_list cases;
	ck_assert_int_eq(attn_sweep_spec_init(&sp), ATTN_OK);
	ck_assert_int_eq(attn_sweep_spec_set(&sp, "methods", "tst_beta", err, errlen), ATTN_OK);
	ck_assert_int_eq(attn_sweep_spec_set(&sp, "n", "64", err, errlen), ATTN_OK);
	ck_assert_int_eq(attn_sweep_spec_set(&sp, key, value, err, errlen), ATTN_OK);
	err[0] = '\0';
	int rc = attn_sweep_expand(&sp, reg, &cases, err, errlen);
	if (rc == ATTN_OK) {
		ck_assert_int_ge(cases.count, 1);
		attn_case_list_free(&cases);
	}
	attn_sweep_spec_free(&sp);
	return rc;
}

START_TEST(test_sweep_dist_and_seed)
{
	static const struct {
		const char *key, *value, *needle;
	} bad[] = {
	    {"dist", "gaussian,,", "empty element at offset 9"},
	    {"dist", "gaussian,", "empty element at offset 9"},
	    {"dist", ",local", "empty element at offset 0"},
	    {"dist", "gaussian, ,local", "empty element at offset 9"},
	    {"dist", "", "empty element at offset 0"},
	    {"seed", "18446744073709551616", "above the largest seed"},
	    {"seed", "99999999999999999999999", "99999999999999999999999"},
	    {"seed", "-1", "non-negative"},
	};
	char err[512];
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ck_assert_msg(expand_with(bad[i].key, bad[i].value, err, sizeof(err)) ==
		                  ATTN_ERR_INVALID,
		              "%s '%s' was accepted", bad[i].key, bad[i].value);
		ck_assert_msg(strstr(err, bad[i].needle) && strstr(err, bad[i].value),
		              "%s '%s': %s", bad[i].key, bad[i].value, err);
	}
	ck_assert_msg(expand_with("dist", "gaussian,local , needle", err, sizeof(err)) == ATTN_OK,
	              "%s", err);
	ck_assert_msg(expand_with("seed", "18446744073709551615", err, sizeof(err)) == ATTN_OK,
	              "%s", err);
}
END_TEST

/* The cases a spec with causal and mode set expands to. */
static void expand_cm(const char *causal, const char *mode, const char *heads, const char *kvh,
                      struct attn_case_list *cases, int *rc, char *err, size_t errlen)
{
	struct attn_sweep_spec sp;
	ck_assert_int_eq(attn_sweep_spec_init(&sp), ATTN_OK);
	ck_assert_int_eq(attn_sweep_spec_set(&sp, "methods", "tst_beta", err, errlen), ATTN_OK);
	ck_assert_int_eq(attn_sweep_spec_set(&sp, "n", "64", err, errlen), ATTN_OK);
	if (causal)
		ck_assert_int_eq(attn_sweep_spec_set(&sp, "causal", causal, err, errlen), ATTN_OK);
	ck_assert_int_eq(attn_sweep_spec_set(&sp, "mode", mode, err, errlen), ATTN_OK);
	ck_assert_int_eq(attn_sweep_spec_set(&sp, "heads", heads, err, errlen), ATTN_OK);
	ck_assert_int_eq(attn_sweep_spec_set(&sp, "kv_heads", kvh, err, errlen), ATTN_OK);
	err[0] = '\0';
	*rc = attn_sweep_expand(&sp, reg, cases, err, errlen);
	attn_sweep_spec_free(&sp);
}

/* Causal by default; decode is always causal; --causal 0 with decode alone is refused. */
START_TEST(test_sweep_causal_default_and_decode)
{
	struct attn_case_list c;
	char err[512];
	int rc;
	expand_cm(NULL, "prefill", "1", "heads", &c, &rc, err, sizeof(err));
	ck_assert_msg(rc == ATTN_OK, "%s", err);
	ck_assert_int_eq(c.count, 1);
	ck_assert_int_eq(c.items[0].shape.causal, 1);
	attn_case_list_free(&c);
	/* both x both: non-causal and causal prefill, one causal decode */
	expand_cm("both", "both", "1", "heads", &c, &rc, err, sizeof(err));
	ck_assert_msg(rc == ATTN_OK, "%s", err);
	ck_assert_int_eq(c.count, 3);
	int decode = 0, prefill_nc = 0;
	for (int i = 0; i < c.count; i++) {
		if (c.items[i].shape.mode == ATTN_MODE_DECODE) {
			decode++;
			ck_assert_int_eq(c.items[i].shape.causal, 1);
		} else
			prefill_nc += !c.items[i].shape.causal;
	}
	ck_assert_int_eq(decode, 1);
	ck_assert_int_eq(prefill_nc, 1);
	attn_case_list_free(&c);
	/* causal 0 with both: the prefill non-causal, the decode causal */
	expand_cm("0", "both", "1", "heads", &c, &rc, err, sizeof(err));
	ck_assert_msg(rc == ATTN_OK, "%s", err);
	ck_assert_int_eq(c.count, 2);
	for (int i = 0; i < c.count; i++)
		ck_assert_int_eq(c.items[i].shape.causal,
		                 c.items[i].shape.mode == ATTN_MODE_DECODE);
	attn_case_list_free(&c);
	expand_cm("0", "decode", "1", "heads", &c, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, ATTN_ERR_INVALID);
	ck_assert_msg(strstr(err, "decode cases are always causal"), "%s", err);
	expand_cm(NULL, "decode", "1", "heads", &c, &rc, err, sizeof(err));
	ck_assert_msg(rc == ATTN_OK, "%s", err);
	ck_assert_int_eq(c.items[0].shape.causal, 1);
	attn_case_list_free(&c);
}
END_TEST

/* kv_heads must divide heads, every pair of the two axes, before anything runs. */
START_TEST(test_sweep_kv_heads_divide)
{
	struct attn_case_list c;
	char err[512];
	int rc;
	expand_cm(NULL, "prefill", "4", "3", &c, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, ATTN_ERR_INVALID);
	ck_assert_msg(strstr(err, "kv_heads 3 with heads 4"), "%s", err);
	expand_cm(NULL, "prefill", "4,8", "2,8", &c, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, ATTN_ERR_INVALID);
	ck_assert_msg(strstr(err, "kv_heads 8 with heads 4"), "%s", err);
	expand_cm(NULL, "prefill", "4,8", "1,2,4", &c, &rc, err, sizeof(err));
	ck_assert_msg(rc == ATTN_OK, "%s", err);
	ck_assert_int_eq(c.count, 6);
	attn_case_list_free(&c);
}
END_TEST

/* Every protocol field reads back what it wrote, and the text is what run_info shows. */
START_TEST(test_protocol_round_trip)
{
	struct attn_sweep_protocol p = {0}, q = {0};
	char text[ATTN_PROTO_COUNT][256], err[512];

	attn_run_opts_default(&p.ro);
	p.ro.timeout_s = 0.1 + 0.2; /* a double that %g would not give back */
	p.ro.max_call_s = 0;
	p.ro.warmup_s = 1e-3;
	p.ro.min_time_s = 0;
	p.ro.min_reps = 3;
	p.ro.max_reps = 17;
	p.ro.min_sample_s = 0.005;
	p.ro.check_max_flops = 2e9;
	p.ro.mem_limit = (size_t)3 << 30;
	p.ro.counters = "perf::TASK-CLOCK,PAPI_TOT_INS";
	p.ro.bind = ATTN_BIND_SCATTER;
	p.ro.flush_bytes = 64 << 20;
	p.ro.dump_mask = 1;
	p.ro.roof_probe = 1;
	p.interleave = 0;
	p.roof_budget = 1.5;
	p.options = "--min-reps 3 --roof-probe";
	attn_run_opts_default(&q.ro);
	q.interleave = 1;
	for (int f = 0; f < ATTN_PROTO_COUNT; f++) {
		int n =
		    attn_protocol_format(&p, (enum attn_protocol_field)f, text[f], sizeof(text[f]));
		ck_assert_int_gt(n, 0);
		ck_assert_int_lt(n, (int)sizeof(text[f]));
		ck_assert_msg(attn_protocol_parse(&q, (enum attn_protocol_field)f, text[f], err,
		                                  sizeof(err)) == ATTN_OK,
		              "%s '%s': %s", attn_protocol_keys[f], text[f], err);
	}
	ck_assert_double_eq(q.ro.timeout_s, 0.1 + 0.2);
	ck_assert_double_eq(q.ro.warmup_s, 1e-3);
	ck_assert_int_eq(q.ro.min_reps, 3);
	ck_assert_int_eq(q.ro.max_reps, 17);
	ck_assert_double_eq(q.ro.min_sample_s, 0.005);
	ck_assert_uint_eq(q.ro.mem_limit, (size_t)3 << 30);
	ck_assert_str_eq(q.ro.counters, "perf::TASK-CLOCK,PAPI_TOT_INS");
	ck_assert_int_eq(q.ro.bind, ATTN_BIND_SCATTER);
	ck_assert_uint_eq(q.ro.flush_bytes, 64 << 20);
	ck_assert_int_eq(q.ro.dump_mask, 1);
	ck_assert_int_eq(q.ro.roof_probe, 1);
	ck_assert_int_eq(q.interleave, 0);
	ck_assert_double_eq(q.roof_budget, 1.5);
	ck_assert_str_eq(q.options, "--min-reps 3 --roof-probe");
	ck_assert_str_eq(text[ATTN_PROTO_MIN_SAMPLE], "0.005");
	ck_assert_str_eq(text[ATTN_PROTO_BIND], "scatter");
	/* the defaults' texts: counters and options that are not there */
	struct attn_sweep_protocol d = {0};
	attn_run_opts_default(&d.ro);
	attn_protocol_format(&d, ATTN_PROTO_COUNTERS, text[0], sizeof(text[0]));
	ck_assert_str_eq(text[0], "default");
	ck_assert_int_eq(attn_protocol_parse(&q, ATTN_PROTO_COUNTERS, "default", err, sizeof(err)),
	                 ATTN_OK);
	ck_assert_ptr_null(q.ro.counters);
	ck_assert_int_eq(
	    attn_protocol_format(&d, ATTN_PROTO_SPEC_OPTIONS, text[0], sizeof(text[0])), 0);
	ck_assert_int_eq(attn_protocol_parse(&q, ATTN_PROTO_SPEC_OPTIONS, "", err, sizeof(err)),
	                 ATTN_OK);
	ck_assert_ptr_null(q.options);
	/* stored text that does not parse is an error naming the key and the text */
	static const struct {
		enum attn_protocol_field f;
		const char *text;
	} bad[] = {{ATTN_PROTO_TIMEOUT, "soon"},    {ATTN_PROTO_WARMUP, "-1"},
	           {ATTN_PROTO_MIN_REPS, "3.5"},    {ATTN_PROTO_MIN_REPS, ""},
	           {ATTN_PROTO_MEM_LIMIT, "-5"},    {ATTN_PROTO_BIND, "diagonal"},
	           {ATTN_PROTO_ROOF_BUDGET, "nan"}, {ATTN_PROTO_COLD_CACHE, "1e9"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		ck_assert_msg(attn_protocol_parse(&q, bad[i].f, bad[i].text, err, sizeof(err)) ==
		                  ATTN_ERR_FORMAT,
		              "%s '%s' was accepted", attn_protocol_keys[bad[i].f], bad[i].text);
		ck_assert_msg(strstr(err, attn_protocol_keys[bad[i].f]) || strstr(err, "bind"),
		              "%s", err);
	}
}
END_TEST

/* The fingerprint is FNV-1a 64 of the bytes: the reference's test vectors. */
START_TEST(test_plugin_fingerprint)
{
	char path[] = "/tmp/attn_fp_XXXXXX", id[64], err[512];
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(attn_plugin_fingerprint(path, id, sizeof(id), err, sizeof(err)), ATTN_OK);
	ck_assert_str_eq(id, "fnv1a64:cbf29ce484222325");
	ck_assert_int_eq(write(fd, "a", 1), 1);
	ck_assert_int_eq(attn_plugin_fingerprint(path, id, sizeof(id), err, sizeof(err)), ATTN_OK);
	ck_assert_str_eq(id, "fnv1a64:af63dc4c8601ec8c");
	ck_assert_int_eq(write(fd, "bc", 2), 2);
	close(fd);
	ck_assert_int_eq(attn_plugin_fingerprint(path, id, sizeof(id), err, sizeof(err)), ATTN_OK);
	ck_assert_str_eq(id, "fnv1a64:e71fa2190541574b");
	unlink(path);
	ck_assert_int_eq(attn_plugin_fingerprint(path, id, sizeof(id), err, sizeof(err)),
	                 ATTN_ERR_IO);
	ck_assert_msg(strstr(err, path), "%s", err);
}
END_TEST

static Suite *spec_suite(void)
{
	Suite *s = suite_create("spec");
	TCase *axis = tcase_create("axis");
	TCase *methods = tcase_create("methods");
	TCase *params = tcase_create("params");

	tcase_add_test(axis, test_axis_single_and_lists);
	tcase_add_test(axis, test_axis_ranges);
	tcase_add_test(axis, test_axis_suffixes);
	tcase_add_test(axis, test_axis_dedup_and_mixed);
	tcase_add_test(axis, test_axis_limit_exact);
	tcase_add_test(axis, test_axis_bad_structure);
	tcase_add_test(axis, test_axis_bad_values);
	suite_add_tcase(s, axis);

	tcase_add_checked_fixture(methods, setup, teardown);
	tcase_add_test(methods, test_methods_plain);
	tcase_add_test(methods, test_methods_grid_order);
	tcase_add_test(methods, test_methods_grid_cartesian);
	tcase_add_test(methods, test_methods_values);
	tcase_add_test(methods, test_methods_dedup);
	tcase_add_test(methods, test_methods_all);
	tcase_add_test(methods, test_methods_bad_names);
	tcase_add_test(methods, test_methods_bad_grids);
	suite_add_tcase(s, methods);

	tcase_add_checked_fixture(params, setup, teardown);
	tcase_add_test(params, test_params_format_and_set);
	tcase_add_test(params, test_params_round_trip);
	tcase_add_test(params, test_params_set_errors);
	tcase_add_test(params, test_choice_name);
	tcase_add_test(params, test_sweep_spec_options);
	tcase_add_test(params, test_long_enum_choice);
	tcase_add_test(params, test_real_underflow);
	tcase_add_test(params, test_sweep_dist_and_seed);
	tcase_add_test(params, test_sweep_causal_default_and_decode);
	tcase_add_test(params, test_sweep_kv_heads_divide);
	tcase_add_test(params, test_protocol_round_trip);
	tcase_add_test(params, test_plugin_fingerprint);
	suite_add_tcase(s, params);
	return s;
}

int main(void)
{
	return attn_test_run(spec_suite(), CK_NORMAL);
}
