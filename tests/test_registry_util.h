/*
 * The registry a suite runs its cases against: the built-ins with test
 * plugins (tests/plugins/NAME.c, built as ATTN_TEST_PLUGIN_DIR/NAME.so)
 * loaded on top, a method looked up by name, and a case of one method on one
 * shape. Each fails the test, with the registry's message, where the step
 * does not succeed, so a suite's setup is one call.
 */
#ifndef ATTN_TEST_REGISTRY_UTIL_H
#define ATTN_TEST_REGISTRY_UTIL_H

#include <check.h>
#include <stdio.h>

#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"

/* ATTN_TEST_PLUGIN_DIR/name.so, in path. */
static inline void test_plugin_path(char *path, size_t len, const char *name)
{
	int n = snprintf(path, len, "%s/%s.so", ATTN_TEST_PLUGIN_DIR, name);
	ck_assert_msg(n > 0 && (size_t)n < len, "plugin path of %s too long", name);
}

static inline void test_plugin_load(struct attn_registry *reg, const char *name)
{
	char path[1024], err[1024];
	test_plugin_path(path, sizeof(path), name);
	ck_assert_msg(attn_registry_load_plugin(reg, path, err, sizeof(err)) == ATTN_OK, "%s", err);
}

/* The built-ins and the n test plugins named (none where n is 0); the caller frees it. */
static inline struct attn_registry *test_registry_make(const char *const *plugins, int n)
{
	struct attn_registry *reg;
	char err[1024];
	ck_assert_msg(attn_registry_init(&reg, err, sizeof(err)) == ATTN_OK, "%s", err);
	for (int i = 0; i < n; i++)
		test_plugin_load(reg, plugins[i]);
	return reg;
}

/* The method called name; it must be registered. */
static inline const struct attn_method *test_method_find(const struct attn_registry *reg,
                                                         const char *name)
{
	const struct attn_method *m = attn_registry_find(reg, name);
	ck_assert_msg(m != NULL, "no method %s", name);
	return m;
}

/* One case of method at its default parameters on shape s: one thread, seed 1. */
static inline struct attn_case test_case_make(const struct attn_registry *reg, const char *method,
                                              struct attn_shape s)
{
	struct attn_case c = {0};
	c.method = test_method_find(reg, method);
	attn_params_default(c.method, &c.params);
	c.shape = s;
	c.threads = 1;
	c.seed = 1;
	return c;
}

#endif /* ATTN_TEST_REGISTRY_UTIL_H */
