/*
 * The shared engine of the linear-attention family: one recurrence,
 *
 *     S_t = Diag(a_t) S_{t-1} + φ(k_t) v_tᵀ,        o_t = S_tᵀ φ(q_t)
 *
 * with S an F x D state per head (rows: the feature (key) dimension F,
 * columns: the value dimension D), computed in the three forms of the
 * survey's Fig. 2 - parallel, recurrent and chunkwise - plus the decode
 * step and a float64 oracle. The forget gate a_t is one of
 *   - none:    a_t = 1                        (linear attention)
 *   - head:    a_t = γ_h, fixed per head      (RetNet, Lightning)
 *   - scalar:  a_t = e^{log_gate[t]}          (Mamba-2 / SSD), per head
 *   - vector:  a_t = e^{gate_vec[t, :]}       (GLA), per key dimension
 *              (F = D: these methods have no feature map)
 * With `key_from_gate` (HGRN-2) the key is not an input but the gate's
 * complement, k_t = 1 - a_t, so the K tensor is not read.
 * Queries and keys pass through a feature map φ: (D) -> (F) and queries are
 * multiplied by a constant scale; a normalised method divides by the same
 * recurrence run with v = 1:
 *
 *     o_t = S_tᵀ φ(q_t) / (φ(q_t) · z_t + ε),   z_t = Diag(a_t) z_{t-1} + φ(k_t).
 *
 * φ is either element-wise (identity, elu + 1: F = D, computed inline in
 * every loop) or a block map, `struct attn__lin_fmap`, for the kernelised
 * softmax approximators (Performer, RFA, cosFormer): F may differ from D,
 * φ may read a random projection U = X Ωᵀ (Ω (m, D) drawn from a seed in
 * prepare(), applied as one GEMM per block of rows), the row's position
 * (cosFormer's re-weighting) and a shift shared by all keys of a head
 * (Performer's stabiliser, which cancels in the ratio).
 *
 * A method (retnet.c, performer.c, ...) is a descriptor whose callbacks are
 * this engine's (attn__lin_supports, ... attn__lin_oracle) and whose data is
 * a `struct attn__lin_method`: the function that fills a `struct
 * attn__lin_spec` from its parameters. The formulas, the chunk algorithm and the numerics are
 * documented in linattn.c.
 *
 * Internal to attnbench (attn__ names), like common.h.
 */
#ifndef ATTNBENCH_METHODS_LINATTN_H
#define ATTNBENCH_METHODS_LINATTN_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/method.h"

enum attn__lin_gate {
	ATTN__LIN_GATE_NONE = 0,   /* a_t = 1 */
	ATTN__LIN_GATE_HEAD = 1,   /* a_t = e^{head_log_decay(h)}, fixed */
	ATTN__LIN_GATE_SCALAR = 2, /* a_t = e^{log_gate[b, h, t]} (ATTN_INPUT_LOG_GATE) */
	ATTN__LIN_GATE_VEC = 3     /* a_t = e^{gate_vec[b, h, t, :]} (ATTN_INPUT_GATE_VEC) */
};

/* The element-wise maps (F = D), used when the spec has no block map. */
enum attn__lin_feature {
	ATTN__LIN_FEATURE_IDENTITY = 0, /* φ(x) = x */
	ATTN__LIN_FEATURE_ELU1 = 1      /* φ(x) = elu(x) + 1 (> 0) */
};

/* The random projection Ω (m, D) of a block map, drawn from `seed`. */
enum attn__lin_proj {
	ATTN__LIN_PROJ_GAUSSIAN = 0,  /* iid N(0, 1) entries */
	ATTN__LIN_PROJ_ORTHOGONAL = 1 /* blocks of D orthogonal rows, chi(D) row norms */
};

/* The values of every linear method's `form` parameter, in its choices' order. */
enum attn__lin_form {
	ATTN__LIN_FORM_PARALLEL = 0,
	ATTN__LIN_FORM_RECURRENT = 1,
	ATTN__LIN_FORM_CHUNK = 2
};

/*
 * The `form` and `C` parameters every linear method has, as its first two
 * (index 0 and 1): a method's params array starts with these two entries.
 */
#define ATTN__LIN_P_FORM  0
#define ATTN__LIN_P_CHUNK 1
#define ATTN__LIN_PARAM_FORM                                                                       \
	{                                                                                          \
		"form", ATTN_PARAM_ENUM, ATTN__LIN_FORM_CHUNK, 0, 2, "parallel|recurrent|chunk",   \
		    "parallel (O(N^2 F)), recurrent (O(N F D)) or chunkwise (O(N C F + N F D)); "  \
		    "F = D but for feature maps"                                                   \
	}
#define ATTN__LIN_PARAM_CHUNK                                                                      \
	{                                                                                          \
		"C", ATTN_PARAM_INT, 64, 1, 1024, NULL,                                            \
		    "chunk length of the chunkwise form (at most)"                                 \
	}

struct attn__lin_spec;

/*
 * One block of rows handed to a block feature map: x (n, D), row stride D,
 * the rows at positions pos .. pos + n - 1 of a sequence of N keys (in
 * decode the single query sits at N - 1).
 */
struct attn__lin_rows {
	const float *x; /* (n, D) */
	int64_t n, pos, N, D;
	int is_query;
};

/*
 * A feature map computed a block of rows at a time. On entry, when the spec
 * has a projection (proj = m > 0), the first m columns of each dst row hold
 * u = Ω x (the engine's GEMM, float32; the oracle's dot products, float64);
 * apply leaves φ(x) in columns 0 .. F - 1.
 *
 * Keys may be stabilised by a shift shared by every key of a head: *kshift
 * is the shift so far (-inf before the first key); apply may raise it to
 * cover the new rows and must then return all its rows relative to the
 * raised value (φ(k) e^{-shift}). The engine rescales what it has summed
 * under the old shift by e^{old - new}, so the shift cancels in the ratio.
 * Queries are stabilised per row by the map itself, if at all (kshift is
 * NULL for them). Maps that do not shift leave *kshift alone.
 */
struct attn__lin_fmap {
	/* F, the feature dimension, for head dimension D (>= 1). */
	int64_t (*dim)(const struct attn__lin_spec *ls, int64_t D);
	/* dst (n, ldf): φ of the rows r (see above). */
	void (*apply)(const struct attn__lin_spec *ls, const struct attn__lin_rows *r, float *dst,
	              int64_t ldf, float *kshift);
	/* The same in float64 and obvious loops, for the oracle: dst (n, ldf). */
	void (*apply_d)(const struct attn__lin_spec *ls, const struct attn__lin_rows *r,
	                double *dst, int64_t ldf, double *kshift);
};

/*
 * The random-feature methods' `m` (rows of Ω) and `seed` parameters, as
 * their third and fourth (index 2 and 3); m's default is the method's.
 */
#define ATTN__LIN_P_M    2
#define ATTN__LIN_P_SEED 3
#define ATTN__LIN_PARAM_M(def)                                                                     \
	{                                                                                          \
		"m", ATTN_PARAM_INT, (def), 1, 4096, NULL,                                         \
		    "random features: rows of the projection Omega (m, D)"                         \
	}
#define ATTN__LIN_PARAM_SEED                                                                       \
	{                                                                                          \
		"seed", ATTN_PARAM_INT, 1, 0, 999999, NULL,                                        \
		    "seed of Omega (one draw shared by all heads)"                                 \
	}

/* What one linear method computes; see the top of the file. */
struct attn__lin_spec {
	enum attn__lin_gate gate;
	enum attn__lin_feature feature;
	int normalize;    /* divide by φ(q) · z */
	int noncausal_ok; /* the method defines a bidirectional form (no gates only) */
	int scale_sqrt_d; /* 1: q is multiplied by 1/√D after φ; 0: not scaled */
	/*
	 * 1: k_t = 1 - a_t (HGRN-2), the complement of the scalar or vector
	 * gate, instead of φ(K[t]); K is not read. 0: k_t = φ(K[t]).
	 */
	int key_from_gate;
	enum attn__lin_form form;
	int64_t chunk; /* C */
	/* ATTN__LIN_GATE_HEAD: log γ of query head h of `heads` (< 0 or 0). */
	double (*head_log_decay)(int64_t h, int64_t heads, double gamma);
	double gamma; /* handed to head_log_decay */
	/*
	 * A block feature map (then `feature` is ignored), or NULL. With a map
	 * the gate may not be a vector (it would need F = D) nor the key come
	 * from the gate.
	 */
	const struct attn__lin_fmap *fmap;
	int64_t proj;                  /* m, rows of the random projection Ω; 0: none */
	enum attn__lin_proj proj_kind; /* how Ω is drawn */
	uint64_t seed;                 /* Ω's seed */
	float den_eps;                 /* ε added to every denominator (0: none) */
	const char *name;              /* the method's name, for messages */
};

/*
 * The form and C of p (defaults chunk and 64 when p does not carry them),
 * written into ls; the rest of ls is the caller's.
 */
void attn__lin_spec_params(struct attn__lin_spec *ls, const struct attn_params *p);

/*
 * The random projection of a method whose params array has `m` and `seed`
 * at ATTN__LIN_P_M and ATTN__LIN_P_SEED: proj, seed (the specs' defaults
 * when p does not carry them) and `kind`, written into ls.
 */
void attn__lin_spec_proj(struct attn__lin_spec *ls, const struct attn_params *p,
                         const struct attn_param_spec *params, enum attn__lin_proj kind);

/*
 * A REAL parameter of p, or `def` when p does not carry it.
 */
double attn__lin_param_real(const struct attn_params *p, int idx, double def);

/*
 * What a linear method's descriptor points at (its data): `spec` fills ls
 * from the call's parameters (p may be NULL: the defaults).
 */
struct attn__lin_method {
	void (*spec)(const struct attn_params *p, struct attn__lin_spec *ls);
};

/*
 * The descriptor callbacks of every method on this engine (m->data a
 * `struct attn__lin_method`). Each builds the spec, then:
 *  - supports: the shape checks, form and C in range, and causal only
 *    unless the spec's noncausal_ok (the reason says "<name> is causal only");
 *  - workspace_bytes: the exact workspace of forward() and prepare();
 *  - flops, bytes: FLOPs and compulsory bytes of one forward() in the
 *    spec's form (see linattn.c);
 *  - prepare: decode only (nothing to do in prefill): the state (S, z) of
 *    every head after the context 0..N-2, written into the front of ws;
 *  - forward: out (B, H, NQ, D) in the spec's form (decode: one recurrent
 *    step from the prepared state);
 *  - oracle: the float64 parallel form in obvious loops,
 *      o_i = Σ_{j ≤ i} (φ(q_i) ⊙ w_ij) · φ(k_j) v_j
 *            [/ (Σ_{j ≤ i} (φ(q_i) ⊙ w_ij) · φ(k_j) + ε)]   (normalised methods)
 *      w_ij = Π_{j < s ≤ i} a_s   (per key dimension; all j and w = 1 when not causal),
 *    with the decay accumulated in log space from the query backwards, φ in
 *    float64 (the same Ω, whose float32 entries it reads exactly) and the
 *    head's keys mapped all at once (so a key shift is their maximum).
 *    Allocates about 2 N F doubles and Ω: ATTN_ERR_NOMEM when that fails.
 * prepare and forward use ctx's threads (1 without a ctx).
 */
int attn__lin_supports(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, char *msg, size_t msglen);
size_t attn__lin_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                 const struct attn_params *p, int threads);
double attn__lin_flops(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p);
double attn__lin_bytes(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p);
int attn__lin_prepare(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, void *ws,
                      const struct attn_ctx *ctx);
int attn__lin_forward(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, float *out,
                      void *ws, const struct attn_ctx *ctx);
int attn__lin_oracle(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p, const struct attn_inputs *in, double *out,
                     const struct attn_ctx *ctx);

/*
 * The descriptor fields every method on the engine shares, inside its
 * `const struct attn_method` initialiser; the method adds its name,
 * category, summary, citation, inputs, params and data. time_exp and
 * mem_exp describe the default (chunk) form: the parallel form takes
 * O(N^2) time and O(N D) memory per thread.
 */
#define ATTN__LIN_METHOD_COMMON                                                                    \
	.abi_version = ATTN_ABI_VERSION, .family = ATTN_FAMILY_LINEAR, .flags = 0,                 \
	.time_exp = 1.0, .mem_exp = 0.0, .tolerance = 1e-4, .supports = attn__lin_supports,        \
	.workspace_bytes = attn__lin_workspace_bytes, .flops = attn__lin_flops,                    \
	.bytes = attn__lin_bytes, .prepare = attn__lin_prepare, .forward = attn__lin_forward,      \
	.oracle = attn__lin_oracle

#endif /* ATTNBENCH_METHODS_LINATTN_H */
