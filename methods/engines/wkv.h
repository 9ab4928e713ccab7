/*
 * The shared engine of the element-wise row of the linear family (the
 * survey's "AFT, RWKV" bullet): per channel c = 0..D-1 of a head,
 *
 *     o_t = σ(q_t) ⊙ Σ_{j visible} e^{k_j + w_tj} ⊙ v_j / Σ_{j visible} e^{k_j + w_tj}
 *
 * a softmax over positions taken separately in every channel, with the key
 * as the logit and no query-key product. The position bias w_tj is one of
 *   - none (AFT-simple):  w_tj = 0, causal (j <= t) or not (all j);
 *   - RWKV-4's:           w_tj = -(t-1-j) w_c for j < t and u_c for j = t,
 *                         a decay w_c > 0 and a bonus u_c per channel,
 *                         causal only.
 * The state is three D-vectors per head, the numerator and denominator and
 * the running max exponent they are scaled by (RWKV's (a, b, p)), so the
 * recurrent form is O(N D) and never overflows, underflows into 0/0 or
 * NaN, at any key size and any N.
 *
 * A method (aft.c, rwkv.c) is a descriptor whose callbacks are this
 * engine's (attn__wkv_supports, ... attn__wkv_oracle) and whose data is a
 * `struct attn__wkv_method`, its decay; the algorithms and the numerics are documented in wkv.c.
 *
 * Internal to attnbench (attn__ names), like common.h.
 */
#ifndef ATTNBENCH_METHODS_WKV_H
#define ATTNBENCH_METHODS_WKV_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/method.h"
#include "engines/linattn.h"

/*
 * The `form` parameter, index 0 of both methods: the linear family's name,
 * choices and numbering (enum attn__lin_form), so a sweep over form=chunk
 * reads alike for every linear method; here chunk is refused by supports()
 * (the recurrence is already O(N D)) and the default is recurrent. There is
 * no chunk length C.
 */
#define ATTN__WKV_P_FORM 0
#define ATTN__WKV_PARAM_FORM                                                                       \
	{                                                                                          \
		"form", ATTN_PARAM_ENUM, ATTN__LIN_FORM_RECURRENT, 0, 2,                           \
		    "parallel|recurrent|chunk",                                                    \
		    "parallel (O(N^2 D)) or recurrent (O(N D)); chunk is refused"                  \
	}

/* What one element-wise method computes; see the top of the file. */
struct attn__wkv_spec {
	/*
	 * RWKV: w (D) and u (D), the decay and bonus of each channel of query
	 * head h of `heads` (w > 0). NULL: AFT, w = u = 0.
	 */
	void (*decay)(int64_t h, int64_t heads, int64_t D, float *w, float *u);
	enum attn__lin_form form;
	const char *name; /* the method's name, for messages */
};

/* sp = {decay, the form of p (recurrent when p does not carry it), name}. */
void attn__wkv_spec_init(struct attn__wkv_spec *sp, const struct attn_params *p, const char *name,
                         void (*decay)(int64_t h, int64_t heads, int64_t D, float *w, float *u));

/* What an element-wise method's descriptor points at (its data). */
struct attn__wkv_method {
	/* attn__wkv_spec.decay: RWKV's w and u, or NULL (AFT). */
	void (*decay)(int64_t h, int64_t heads, int64_t D, float *w, float *u);
};

/*
 * The descriptor callbacks of both methods (m->data a `struct
 * attn__wkv_method`; the spec's name is m->name). Each builds the spec,
 * then:
 *  - supports: the shape checks, the form, and causal only with a decay (a
 *    decay from j to t is defined for j <= t only; AFT has a bidirectional
 *    form);
 *  - workspace_bytes: the exact workspace of forward() and prepare();
 *  - flops, bytes: of one forward(); see wkv.c for what is counted;
 *  - prepare: decode only (nothing to do in prefill): the state (a, b, p)
 *    of every head after the context 0..N-2, and its w and u, written into
 *    the front of ws;
 *  - forward: out (B, H, NQ, D) in the spec's form (decode: one step from
 *    the prepared state);
 *  - oracle: the sum over visible j in obvious loops, shifted by its
 *    largest exponent per (query, channel). Allocates w and u (2 D floats)
 *    when there is a decay: ATTN_ERR_NOMEM when that fails.
 * prepare and forward use ctx's threads (1 without a ctx).
 */
int attn__wkv_supports(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, char *msg, size_t msglen);
size_t attn__wkv_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                 const struct attn_params *p, int threads);
double attn__wkv_flops(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p);
double attn__wkv_bytes(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p);
int attn__wkv_prepare(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, void *ws,
                      const struct attn_ctx *ctx);
int attn__wkv_forward(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, float *out,
                      void *ws, const struct attn_ctx *ctx);
int attn__wkv_oracle(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p, const struct attn_inputs *in, double *out,
                     const struct attn_ctx *ctx);

/*
 * The descriptor fields both methods share, inside the initialiser; the
 * method adds its name, summary, citation and data. time_exp and mem_exp
 * describe the default (recurrent) form; the parallel form takes O(N^2)
 * time and, here, no more memory (the sum is accumulated, never stored).
 * The params are the one `form`.
 */
#define ATTN__WKV_METHOD_COMMON                                                                    \
	.abi_version = ATTN_ABI_VERSION, .family = ATTN_FAMILY_LINEAR, .category = "element-wise", \
	.flags = 0, .time_exp = 1.0, .mem_exp = 0.0, .tolerance = 1e-4, .inputs = 0,               \
	.n_params = 1, .params = (const struct attn_param_spec[]){ATTN__WKV_PARAM_FORM},           \
	.supports = attn__wkv_supports, .workspace_bytes = attn__wkv_workspace_bytes,              \
	.flops = attn__wkv_flops, .bytes = attn__wkv_bytes, .prepare = attn__wkv_prepare,          \
	.forward = attn__wkv_forward, .oracle = attn__wkv_oracle

#endif /* ATTNBENCH_METHODS_WKV_H */
