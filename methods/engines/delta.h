/*
 * The engine of the in-context-learner row of the linear family: the
 * delta rule and its relatives, per head,
 *
 *     S_t = a_t (I - b_t k_t k_tᵀ) S_{t-1} + b_t k_t v_tᵀ,      o_t = S_tᵀ q_t
 *
 * with S a D x D state (rows: key dimension, columns: value dimension), in
 * three variants:
 *   - plain:  a_t = 1, b_t = beta[t]                  (DeltaNet)
 *   - gated:  a_t = e^{log_gate[t]}, b_t = beta[t]    (Gated DeltaNet)
 *   - ttt:    TTT-Linear, mini-batch gradient descent on ½‖Wᵀk - v‖²
 *             with mini-batch C: inside a batch every gradient is taken at
 *             the batch's first state W_b, so the update reads
 *                 W_t = W_{t-1} + η_t k_t (v_t - W_bᵀ k_t)ᵀ,   η_t = beta[t] / C
 *             (S_{t-1} in place of W_b gives the delta rule; C = 1 is DeltaNet).
 * Keys and queries are L2-normalised per row inside the engine and queries
 * scaled by 1/√D. Each variant is computed in the survey's three forms
 * (parallel, recurrent, chunkwise WY / UT transform), plus the decode step
 * and a float64 oracle; the algorithms and their numerics are documented
 * in delta.c.
 *
 * A method file (methods/linear/deltanet.c, ...) is a descriptor whose
 * callbacks are this engine's (attn__delta_supports, ... attn__delta_oracle,
 * filled in by ATTN__DELTA_METHOD_COMMON) and whose data is a `struct
 * attn__delta_method`, its variant. Parameters are the linear
 * family's `form` and `C` (linattn.h's macros, same names and ranges).
 *
 * Internal to attnbench (attn__ names), like common.h.
 */
#ifndef ATTNBENCH_METHODS_DELTA_H
#define ATTNBENCH_METHODS_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/method.h"
#include "engines/linattn.h"

enum attn__delta_kind {
	ATTN__DELTA_PLAIN = 0, /* DeltaNet */
	ATTN__DELTA_GATED = 1, /* Gated DeltaNet: scalar gate per head and step */
	ATTN__DELTA_TTT = 2    /* TTT-Linear: W_b frozen inside each mini-batch of C */
};

/*
 * The parallel form keeps N x N floats of scores per thread; prefill with
 * form=parallel and N above this is refused (1 GiB at the limit).
 */
#define ATTN__DELTA_PARALLEL_MAX_N 16384

/* `form` and `C`: the delta rules' (C only sets the chunk) and TTT's (C is the model's). */
extern const struct attn_param_spec attn__delta_params[2];
extern const struct attn_param_spec attn__ttt_params[2];

/*
 * What one call computes: the variant, and the parameters (`form` and `C`,
 * read and range-checked by each entry point). The descriptor callbacks
 * build it from the method's data and the call's parameters.
 */
struct attn__delta_spec {
	enum attn__delta_kind kind;
	const struct attn_params *p; /* NULL: the defaults */
};

/* What a delta-rule method's descriptor points at (its data). */
struct attn__delta_method {
	enum attn__delta_kind kind;
};

/*
 * The descriptor callbacks of the three methods (m->data a `struct
 * attn__delta_method`). Each builds the spec, then:
 *  - supports: shape, form and C in range, causal only, the parallel
 *    form's N limit;
 *  - workspace_bytes: the exact workspace of forward() and prepare();
 *  - flops, bytes: of one forward() in the parameters' form; see delta.c;
 *  - prepare: decode only (nothing to do in prefill): the state of every
 *    head after the context 0..N-2, by the chunk form, written into the
 *    front of ws;
 *  - forward: out (B, H, NQ, D) in the parameters' form (decode: one step
 *    from the prepared state);
 *  - oracle: the recurrence of the top of this file step by step in
 *    obvious loops (TTT: per mini-batch, the gradient at the frozen W_b).
 *    Allocates 2 D² + 3 D doubles: ATTN_ERR_NOMEM when that fails.
 * prepare and forward use ctx's threads (1 without a ctx).
 */
int attn__delta_supports(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, char *msg, size_t msglen);
size_t attn__delta_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                   const struct attn_params *p, int threads);
double attn__delta_flops(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p);
double attn__delta_bytes(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p);
int attn__delta_prepare(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, const struct attn_inputs *in, void *ws,
                        const struct attn_ctx *ctx);
int attn__delta_forward(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, const struct attn_inputs *in, float *out,
                        void *ws, const struct attn_ctx *ctx);
int attn__delta_oracle(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, const struct attn_inputs *in, double *out,
                       const struct attn_ctx *ctx);

/*
 * The descriptor fields the three methods share, inside their initialiser;
 * the method adds name, category, summary, citation, inputs, params and
 * data. time_exp and mem_exp describe the default (chunk) form.
 */
#define ATTN__DELTA_METHOD_COMMON                                                                  \
	.abi_version = ATTN_ABI_VERSION, .family = ATTN_FAMILY_LINEAR, .flags = 0,                 \
	.time_exp = 1.0, .mem_exp = 0.0, .tolerance = 1e-4, .n_params = 2,                         \
	.supports = attn__delta_supports, .workspace_bytes = attn__delta_workspace_bytes,          \
	.flops = attn__delta_flops, .bytes = attn__delta_bytes, .prepare = attn__delta_prepare,    \
	.forward = attn__delta_forward, .oracle = attn__delta_oracle

#endif /* ATTNBENCH_METHODS_DELTA_H */
