/*
 * Fixed sparse patterns on the block-sparse engine (blocksparse.h): the
 * layer that window, streaming, strided, dilated, longformer and bigbird
 * share, so that each of them is a small file that says, per query, which
 * keys it keeps.
 *
 * A fixed pattern keeps, for the query at position `pos`, a union of a few
 * intervals of keys, in list space (the pass's affine maps: list key c is
 * original key kfirst + c·kstride, list row r original row qfirst +
 * r·qstride). From those intervals this layer builds each head's block
 * list: a query block's candidate key blocks are those its rows' intervals
 * touch (never a scan of all N/b blocks), and a pair is FULL when every
 * causally visible (i, j) of it is kept, PARTIAL otherwise, its mask
 * filled from the same intervals. So the lists cost O(N·k) to build for k
 * intervals a row, next to the attention's O(N·kept·D), and are rebuilt in
 * every forward() (timed; prepare() only lays out where they go).
 *
 * Heads may differ (LongNet's offsets, BigBird's random blocks): pass p has
 * lists(p) distinct lists, head h using list h % lists(p); batches share
 * them. Decode keeps the query at N - 1 in pass p iff that row is on the
 * pass's row map; its list is the one row of that query.
 *
 * The oracle is attn__bs_reference_vis() over the method's per-element
 * vis(): an independent statement of the same pattern, so the list
 * building is tested too, not just the engine.
 *
 * Internal to attnbench (attn__ names), like common.h.
 */
#ifndef ATTNBENCH_METHODS_BSFIXED_H
#define ATTNBENCH_METHODS_BSFIXED_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/method.h"
#include "engines/blocksparse.h"
#include "kernels/kernels.h"

/* Most intervals a row function may return. */
#define ATTN__BSF_MAX_IV 32

/* A pass's maps from list space to original rows and keys (prefill). */
struct attn__bsf_geom {
	int64_t nq, qfirst, qstride; /* list row r: original row qfirst + r·qstride */
	int64_t nk, kfirst, kstride; /* list key c: original key kfirst + c·kstride */
};

struct attn__bsf_spec;

/*
 * What a fixed method is, one constant per method file: its parameters and
 * the functions that say what it keeps. Each function reads the resolved
 * parameters from the spec.
 */
struct attn__bsf_def {
	const struct attn_param_spec *params;
	int n_params;
	int passes; /* or, when 0, npasses(sp) */
	int (*npasses)(const struct attn__bsf_spec *sp);

	/*
	 * Method-specific parameter checks against the shape (NULL: none):
	 * ATTN_OK or ATTN_ERR_UNSUPPORTED with the reason in msg (may be NULL).
	 */
	int (*check)(const struct attn__bsf_spec *sp, const struct attn_shape *s, char *msg,
	             size_t msglen);
	/* Distinct lists of pass p (NULL: 1, every head alike). */
	int64_t (*lists)(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass);
	/* The maps of pass p for list l (NULL: identity, nq = nk = N). */
	void (*geom)(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
	             int64_t list, struct attn__bsf_geom *g);
	/*
	 * The list keys that the query at position pos (on pass p's row map)
	 * keeps, as half-open intervals [lo[i], hi[i]); they may overlap or
	 * run past [0, nk) (clipped here); causality need not be applied.
	 * Returns how many, <= ATTN__BSF_MAX_IV. NULL (with vis NULL): the
	 * local pattern of one pass, attn__bsf_local_row() with s + g first
	 * keys, g global rows and the window w.
	 */
	int (*row)(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
	           int64_t list, int64_t pos, int64_t *lo, int64_t *hi);
	/*
	 * How many times the query at position pos of head h (in 0..H-1) keeps
	 * original key j, over all passes (causality aside): the oracle's.
	 */
	int (*vis)(const struct attn__bsf_spec *sp, const struct attn_shape *s, int64_t h,
	           int64_t pos, int64_t j);
	/*
	 * The parameters the method chose itself at this shape (a given 0
	 * meaning "auto"), into out (ATTN__BS_MAX_PARAMS): forward() reports
	 * them (attn__bs_report_params). Returns how many; NULL: none.
	 */
	int (*resolved)(const struct attn__bsf_spec *sp, const struct attn_shape *s,
	                struct attn__bs_param *out);
};

/*
 * A fixed method with its parameter values: the shared names b, w, s, g,
 * r and seed read by attn__bsf_spec_init() from the parameters of those
 * names (0 for those the method does not have).
 */
struct attn__bsf_spec {
	const struct attn__bsf_def *def;
	const struct attn_params *p; /* as given, checked by supports() */
	int64_t b;                   /* block size */
	int64_t w;                   /* window (or segment, for dilated) */
	int64_t s;                   /* sink tokens */
	int64_t g;                   /* global tokens */
	int64_t r;                   /* random blocks, dilation or column stride */
	uint64_t seed;               /* for random blocks */
	int passes;
};

void attn__bsf_spec_init(const struct attn__bsf_def *def, const struct attn_params *p,
                         struct attn__bsf_spec *sp);

/*
 * The parameter spec of b, the block size, that every fixed method lists:
 * the engine's range, so supports()'s parameter check is the engine's too.
 */
#define ATTN__BSF_PARAM_B                                                                          \
	{                                                                                          \
		"b", ATTN_PARAM_INT, ATTN__BS_B_DEFAULT, ATTN__BS_B_MIN, ATTN__BS_B_MAX, NULL,     \
		    "block size: query rows and keys per block"                                    \
	}

/*
 * The local part that window, streaming, longformer, bigbird and strided
 * share. Rows before position `grows` (global rows) keep every key; the
 * others keep the first `first` keys (sinks, global keys) and the window
 * |pos - j| < w (causality cuts it to the w most recent). As intervals
 * (up to 2, into lo and hi) and per element.
 */
static inline int attn__bsf_local_row(int64_t first, int64_t w, int64_t grows, int64_t n,
                                      int64_t pos, int64_t *lo, int64_t *hi)
{
	if (pos < grows) {
		lo[0] = 0;
		hi[0] = n;
		return 1;
	}
	lo[0] = 0;
	hi[0] = first;
	lo[1] = pos - w + 1;
	hi[1] = pos + w;
	return 2;
}

static inline int attn__bsf_local_vis(int64_t first, int64_t w, int64_t grows, int64_t pos,
                                      int64_t j)
{
	return pos < grows || j < first || (j > pos - w && j < pos + w);
}

/*
 * The descriptor callbacks of every fixed method: m->data is its constant
 * `struct attn__bsf_def`, from which and the call's parameters each builds
 * the spec (attn__bsf_spec_init). flops() is exact: 4·D per kept pair (the
 * pattern is data-independent).
 */
int attn__bsf_supports(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, char *msg, size_t msglen);
size_t attn__bsf_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                 const struct attn_params *p, int threads);
double attn__bsf_flops(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p);
double attn__bsf_bytes(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p);
int attn__bsf_prepare(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, void *ws,
                      const struct attn_ctx *ctx);
int attn__bsf_forward(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, float *out,
                      void *ws, const struct attn_ctx *ctx);
int attn__bsf_oracle(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p, const struct attn_inputs *in, double *out,
                     const struct attn_ctx *ctx);

/*
 * The descriptor fields every fixed method shares, from its constant
 * `static const struct attn__bsf_def <prefix>_def` (the data) and params
 * array <prefix>_params; the method adds name, category, summary, citation
 * and time_exp. mem_exp 1: the lists, O(N/b) query blocks of a few pairs
 * each (the attention itself needs only a few tiles per thread).
 */
#define ATTN__BSF_METHOD_COMMON(prefix)                                                            \
	.abi_version = ATTN_ABI_VERSION, .family = ATTN_FAMILY_SPARSE, .flags = 0, .mem_exp = 1.0, \
	.tolerance = 1e-5, .inputs = 0, .params = prefix##_params,                                 \
	.n_params = ATTN__COUNT(prefix##_params), .data = &prefix##_def,                           \
	.supports = attn__bsf_supports, .workspace_bytes = attn__bsf_workspace_bytes,              \
	.flops = attn__bsf_flops, .bytes = attn__bsf_bytes, .prepare = attn__bsf_prepare,          \
	.forward = attn__bsf_forward, .oracle = attn__bsf_oracle

/* Clip [lo, hi) to [0, n): helpers for the row functions. */
static inline int64_t attn__bsf_clamp(int64_t x, int64_t n)
{
	return x < 0 ? 0 : x > n ? n : x;
}

#endif /* ATTNBENCH_METHODS_BSFIXED_H */
