/*
 * The descriptor functions of a method that is a shared engine plus a spec,
 * the way the linear family is built: the method's file fills a spec from
 * its parameters, and each descriptor function forwards to the engine's.
 *
 * ATTN__ENGINE_DEFINE_METHOD(prefix, spec_type, spec_fn, engine) defines the
 * statics <prefix>_supports, _workspace_bytes, _flops, _bytes, _prepare,
 * _forward and _oracle. `spec_fn` is the method's
 *     static void spec_fn(const struct attn_params *p, spec_type *sp)
 * and the engine provides, for a spec `const spec_type *sp`:
 *     int    <engine>_supports(sp, s, msg, msglen)
 *     size_t <engine>_workspace_bytes(sp, s, threads)
 *     double <engine>_flops(sp, s), <engine>_bytes(sp, s)
 *     int    <engine>_prepare(sp, s, in, ws, threads)
 *     int    <engine>_forward(sp, s, in, out, ws, threads)
 *     int    <engine>_oracle(sp, s, in, out)
 * (the descriptor's signatures, with the spec first and ctx reduced to its
 * thread count). The engines' own macros wrap it: ATTN__LIN_DEFINE_METHOD
 * (linattn.h), ATTN__WKV_DEFINE_METHOD (wkv.h), ATTN__DELTA_DEFINE_METHOD
 * (delta.h).
 *
 * ATTN__ENGINE_DEFINE_METHOD_CTX is the same for engines that need the
 * whole ctx (its seed, or the harness's report and dump_mask callbacks):
 * prepare, forward and oracle get `const struct attn_ctx *ctx` last, as the
 * descriptor's do. methods/common/bsfixed.h uses it.
 *
 * Internal to attnbench (attn__ names), like common.h.
 */
#ifndef ATTNBENCH_METHODS_ENGINE_H
#define ATTNBENCH_METHODS_ENGINE_H

#include "attnbench/method.h"

/* supports, workspace_bytes, flops and bytes: the same in both forms. */
#define ATTN__ENGINE_DEFINE_SIZES(prefix, spec_type, spec_fn, engine)                              \
	static int prefix##_supports(const struct attn_shape *s, const struct attn_params *p,      \
	                             char *msg, size_t msglen)                                     \
	{                                                                                          \
		spec_type sp;                                                                      \
		spec_fn(p, &sp);                                                                   \
		return engine##_supports(&sp, s, msg, msglen);                                     \
	}                                                                                          \
	static size_t prefix##_workspace_bytes(const struct attn_shape *s,                         \
	                                       const struct attn_params *p, int threads)           \
	{                                                                                          \
		spec_type sp;                                                                      \
		spec_fn(p, &sp);                                                                   \
		return engine##_workspace_bytes(&sp, s, threads);                                  \
	}                                                                                          \
	static double prefix##_flops(const struct attn_shape *s, const struct attn_params *p)      \
	{                                                                                          \
		spec_type sp;                                                                      \
		spec_fn(p, &sp);                                                                   \
		return engine##_flops(&sp, s);                                                     \
	}                                                                                          \
	static double prefix##_bytes(const struct attn_shape *s, const struct attn_params *p)      \
	{                                                                                          \
		spec_type sp;                                                                      \
		spec_fn(p, &sp);                                                                   \
		return engine##_bytes(&sp, s);                                                     \
	}

/*
 * prepare, forward and oracle: prepare and forward hand the engine `run`
 * last (ctx itself, or its thread count), and the oracle gets whatever
 * the variadic part is appended to its arguments: given as `, )` it is
 * nothing, given as `, , ctx` it is `, ctx` (an empty argument, then ctx).
 */
#define ATTN__ENGINE_DEFINE_RUN(prefix, spec_type, spec_fn, engine, run, ...)                      \
	static int prefix##_prepare(const struct attn_shape *s, const struct attn_params *p,       \
	                            const struct attn_inputs *in, void *ws,                        \
	                            const struct attn_ctx *ctx)                                    \
	{                                                                                          \
		spec_type sp;                                                                      \
		spec_fn(p, &sp);                                                                   \
		return engine##_prepare(&sp, s, in, ws, run);                                      \
	}                                                                                          \
	static int prefix##_forward(const struct attn_shape *s, const struct attn_params *p,       \
	                            const struct attn_inputs *in, float *out, void *ws,            \
	                            const struct attn_ctx *ctx)                                    \
	{                                                                                          \
		spec_type sp;                                                                      \
		spec_fn(p, &sp);                                                                   \
		return engine##_forward(&sp, s, in, out, ws, run);                                 \
	}                                                                                          \
	static int prefix##_oracle(const struct attn_shape *s, const struct attn_params *p,        \
	                           const struct attn_inputs *in, double *out,                      \
	                           const struct attn_ctx *ctx)                                     \
	{                                                                                          \
		(void)ctx;                                                                         \
		spec_type sp;                                                                      \
		spec_fn(p, &sp);                                                                   \
		return engine##_oracle(&sp, s, in, out __VA_ARGS__);                               \
	}

#define ATTN__ENGINE_DEFINE_METHOD(prefix, spec_type, spec_fn, engine)                             \
	ATTN__ENGINE_DEFINE_SIZES(prefix, spec_type, spec_fn, engine)                              \
	ATTN__ENGINE_DEFINE_RUN(prefix, spec_type, spec_fn, engine, ctx ? ctx->threads : 1, )

#define ATTN__ENGINE_DEFINE_METHOD_CTX(prefix, spec_type, spec_fn, engine)                         \
	ATTN__ENGINE_DEFINE_SIZES(prefix, spec_type, spec_fn, engine)                              \
	ATTN__ENGINE_DEFINE_RUN(prefix, spec_type, spec_fn, engine, ctx, , ctx)

#endif /* ATTNBENCH_METHODS_ENGINE_H */
