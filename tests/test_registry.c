/*
 * The registry: the generated built-in table, descriptor validation, and
 * external plugins (the shipped example, and plugins that are broken in each
 * way the loader must refuse: wrong ABI, no entry symbol, a duplicate name).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/registry.h"
#include "attnbench/status.h"

#include "check_main.h"

static char err[1024];

static int fwd(const struct attn_shape *s, const struct attn_params *p,
	       const struct attn_inputs *in, float *out, void *ws, const struct attn_ctx *ctx)
{
	(void)s, (void)p, (void)in, (void)out, (void)ws, (void)ctx;
	return 0;
}
static size_t wsb(const struct attn_shape *s, const struct attn_params *p, int t)
{
	(void)s, (void)p, (void)t;
	return 0;
}
static double zero(const struct attn_shape *s, const struct attn_params *p)
{
	(void)s, (void)p;
	return 0;
}

static struct attn_method good(void)
{
	struct attn_method m = {.abi_version = ATTN_ABI_VERSION, .name = "synthetic",
				.family = ATTN_FAMILY_FULL, .flags = ATTN_METHOD_EXACT,
				.time_exp = 2, .mem_exp = 1, .tolerance = 1e-5,
				.workspace_bytes = wsb, .flops = zero, .bytes = zero,
				.forward = fwd};
	return m;
}

START_TEST(builtins_registered)
{
	struct attn_registry *reg;
	ck_assert_int_eq(attn_registry_init(&reg, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_registry_count(reg), attn_builtin_count);
	ck_assert_int_ge(attn_builtin_count, 3);
	const char *want[] = {"reference", "softmax", "flash"};
	for (int i = 0; i < 3; i++) {
		const struct attn_method *m = attn_registry_find(reg, want[i]);
		ck_assert_msg(m != NULL, "built-in %s missing", want[i]);
		ck_assert_int_eq(m->abi_version, ATTN_ABI_VERSION);
	}
	ck_assert_str_eq(attn_registry_origin(reg, 0), "built-in");
	ck_assert(attn_registry_find(reg, "nope") == NULL);
	/* Every built-in is itself valid. */
	for (int i = 0; i < attn_registry_count(reg); i++)
		ck_assert_int_eq(attn_method_validate(attn_registry_at(reg, i), err, sizeof(err)),
				 ATTN_OK);
	attn_registry_free(reg);
}
END_TEST

START_TEST(validation_rejects)
{
	struct attn_method m = good();
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_OK);
	m.abi_version = 2;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_ABI);
	ck_assert(strstr(err, "ABI version 2") != NULL);
	m = good();
	m.name = "Bad-Name";
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	m = good();
	m.forward = NULL;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	m = good();
	m.flags = 0; /* approximate without an oracle */
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert(strstr(err, "oracle") != NULL);
	m = good();
	m.tolerance = 0;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	static const struct attn_param_spec bad_def[] = {
		{.name = "w", .type = ATTN_PARAM_INT, .def = 10, .min = 16, .max = 64}};
	m = good();
	m.n_params = 1;
	m.params = bad_def;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	static const struct attn_param_spec dup[] = {
		{.name = "C", .type = ATTN_PARAM_INT, .def = 64, .min = 1, .max = 64},
		{.name = "C", .type = ATTN_PARAM_INT, .def = 64, .min = 1, .max = 64}};
	m.n_params = 2;
	m.params = dup;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_DUPLICATE);
	static const struct attn_param_spec en[] = {
		{.name = "form", .type = ATTN_PARAM_ENUM, .def = 3, .choices = "a|b|c"}};
	m.n_params = 1;
	m.params = en;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
}
END_TEST

START_TEST(duplicate_name_refused)
{
	struct attn_registry *reg;
	ck_assert_int_eq(attn_registry_init(&reg, err, sizeof(err)), ATTN_OK);
	struct attn_method m = good();
	m.name = "flash";
	ck_assert_int_eq(attn_registry_add(reg, &m, "test", err, sizeof(err)), ATTN_ERR_DUPLICATE);
	ck_assert(strstr(err, "flash") && strstr(err, "built-in"));
	int before = attn_registry_count(reg);
	m.name = "synthetic";
	ck_assert_int_eq(attn_registry_add(reg, &m, "test", err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_registry_count(reg), before + 1);
	attn_registry_free(reg);
}
END_TEST

START_TEST(example_plugin_loads)
{
	struct attn_registry *reg;
	ck_assert_int_eq(attn_registry_init(&reg, err, sizeof(err)), ATTN_OK);
	int before = attn_registry_count(reg);
	ck_assert_msg(attn_registry_load_plugin(reg, ATTN_EXAMPLE_PLUGIN, err, sizeof(err)) ==
			      ATTN_OK,
		      "%s", err);
	ck_assert_int_gt(attn_registry_count(reg), before);
	const struct attn_method *m = attn_registry_at(reg, before);
	ck_assert_str_eq(attn_registry_origin(reg, before), ATTN_EXAMPLE_PLUGIN);
	ck_assert(m->flags & ATTN_METHOD_EXACT);
	/* Loading it twice is a duplicate, and registers nothing. */
	int after = attn_registry_count(reg);
	ck_assert_int_eq(attn_registry_load_plugin(reg, ATTN_EXAMPLE_PLUGIN, err, sizeof(err)),
			 ATTN_ERR_DUPLICATE);
	ck_assert_int_eq(attn_registry_count(reg), after);
	attn_registry_free(reg);
}
END_TEST

static int load_test_plugin(const char *name, char *msg, size_t len)
{
	struct attn_registry *reg;
	ck_assert_int_eq(attn_registry_init(&reg, err, sizeof(err)), ATTN_OK);
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s.so", ATTN_TEST_PLUGIN_DIR, name);
	int before = attn_registry_count(reg);
	int rc = attn_registry_load_plugin(reg, path, msg, len);
	if (rc)
		ck_assert_int_eq(attn_registry_count(reg), before);
	attn_registry_free(reg);
	return rc;
}

START_TEST(broken_plugins_refused)
{
	char msg[1024];
	ck_assert_int_eq(load_test_plugin("badabi", msg, sizeof(msg)), ATTN_ERR_ABI);
	ck_assert_msg(strstr(msg, "badabi.so") && strstr(msg, "999"), "%s", msg);
	ck_assert_int_eq(load_test_plugin("nosym", msg, sizeof(msg)), ATTN_ERR_NOTFOUND);
	ck_assert_msg(strstr(msg, ATTN_PLUGIN_ENTRY) != NULL, "%s", msg);
	ck_assert_int_eq(load_test_plugin("dup", msg, sizeof(msg)), ATTN_ERR_DUPLICATE);
	ck_assert_msg(strstr(msg, "flash") != NULL, "%s", msg);
	ck_assert_int_eq(load_test_plugin("no_such_plugin", msg, sizeof(msg)), ATTN_ERR_NOTFOUND);
	ck_assert_msg(strstr(msg, "no_such_plugin.so") != NULL, "%s", msg);
	ck_assert_int_eq(load_test_plugin("crash", msg, sizeof(msg)), ATTN_OK);
}
END_TEST

START_TEST(plugin_path_env)
{
	struct attn_registry *reg;
	ck_assert_int_eq(attn_registry_init(&reg, err, sizeof(err)), ATTN_OK);
	int before = attn_registry_count(reg);
	setenv("ATTNBENCH_PLUGIN_PATH", ATTN_EXAMPLE_PLUGIN, 1);
	ck_assert_msg(attn_registry_load_env(reg, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_gt(attn_registry_count(reg), before);
	attn_registry_free(reg);

	/* A folder loads every .so in it; the test folder holds broken ones. */
	ck_assert_int_eq(attn_registry_init(&reg, err, sizeof(err)), ATTN_OK);
	setenv("ATTNBENCH_PLUGIN_PATH", ATTN_TEST_PLUGIN_DIR, 1);
	ck_assert_int_ne(attn_registry_load_env(reg, err, sizeof(err)), ATTN_OK);
	attn_registry_free(reg);

	ck_assert_int_eq(attn_registry_init(&reg, err, sizeof(err)), ATTN_OK);
	setenv("ATTNBENCH_PLUGIN_PATH", "/nonexistent/dir/x.so", 1);
	ck_assert_int_eq(attn_registry_load_env(reg, err, sizeof(err)), ATTN_ERR_NOTFOUND);
	unsetenv("ATTNBENCH_PLUGIN_PATH");
	attn_registry_free(reg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, builtins_registered);
	tcase_add_test(tc, validation_rejects);
	tcase_add_test(tc, duplicate_name_refused);
	tcase_add_test(tc, example_plugin_loads);
	tcase_add_test(tc, broken_plugins_refused);
	tcase_add_test(tc, plugin_path_env);
	suite_add_tcase(s, tc);
	int failed = attn_test_run(s, CK_NORMAL);
	return failed != 0;
}
