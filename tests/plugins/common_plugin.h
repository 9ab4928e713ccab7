/*
 * Shared scaffolding of the misbehaving test plugins: a descriptor whose
 * callbacks are harmless, so each plugin file only states its one defect.
 * Included by exactly one plugin per shared object.
 */
#ifndef ATTN_TEST_PLUGIN_H
#define ATTN_TEST_PLUGIN_H

#include <stddef.h>

#include "attnbench/method.h"

static inline size_t tp_workspace(const struct attn_shape *s, const struct attn_params *p, int threads)
{
	(void)s, (void)p, (void)threads;
	return 0;
}

static inline double tp_zero(const struct attn_shape *s, const struct attn_params *p)
{
	(void)s, (void)p;
	return 1;
}

#define TP_METHOD(var, name_, fwd, ws)                                                               \
	static const struct attn_method var = {                                                    \
		.abi_version = ATTN_ABI_VERSION,                                                   \
		.name = name_,                                                                     \
		.family = ATTN_FAMILY_FULL,                                                        \
		.category = "test",                                                                \
		.summary = "a deliberately broken test plugin",                                    \
		.flags = ATTN_METHOD_EXACT,                                                        \
		.time_exp = 2,                                                                     \
		.mem_exp = 0,                                                                      \
		.tolerance = 1e-5,                                                                 \
		.workspace_bytes = ws,                                                             \
		.flops = tp_zero,                                                                  \
		.bytes = tp_zero,                                                                  \
		.forward = fwd,                                                                    \
	};                                                                                         \
	const struct attn_method *const *attn_plugin_methods(void);                                \
	const struct attn_method *const *attn_plugin_methods(void)                                 \
	{                                                                                          \
		static const struct attn_method *const list[] = {&var, NULL};                      \
		return list;                                                                       \
	}

#endif /* ATTN_TEST_PLUGIN_H */
