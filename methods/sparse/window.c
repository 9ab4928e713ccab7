/*
 * `window`: sliding-window attention, the w most recent keys (the local
 * pattern of the Sparse Transformer, Longformer and Mistral's SWA):
 *
 *     causal:      query t keeps key j  iff  t - w < j <= t
 *     not causal:  query t keeps key j  iff  |t - j| < w
 *
 * softmax over the kept keys only, exactly. One interval per row,
 * [t - w + 1, t + w) (causality cuts it to [t - w + 1, t]); on blocks of b
 * that is about w/b + 1 key blocks per query block (2w/b + 1 not causal),
 * the edge blocks PARTIAL. Prefill O(N·w·D), decode O(w·D). w >= N keeps
 * everything (exact softmax). Runs on methods/common/bsfixed.c.
 */
#include "common/blocksparse.h"
#include "common/bsfixed.h"
#include "common/common.h"

enum { WINDOW_P_W = 0, WINDOW_P_B = 1 };

static const struct attn_param_spec window_params[] = {
    {"w", ATTN_PARAM_INT, 512, 1, 2147483647.0, NULL,
     "window: the w most recent keys (t - w < j <= t), |t - j| < w when not causal"},
    ATTN__BSF_PARAM_B,
};

static int window_row(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
                      int64_t list, int64_t pos, int64_t *lo, int64_t *hi)
{
	(void)s;
	(void)pass;
	(void)list;
	lo[0] = pos - sp->w + 1;
	hi[0] = pos + sp->w;
	return 1;
}

static int window_vis(const struct attn__bsf_spec *sp, const struct attn_shape *s, int64_t h,
                      int64_t pos, int64_t j)
{
	(void)s;
	(void)h;
	return j > pos - sp->w && j < pos + sp->w;
}

static void window_spec(const struct attn_params *p, struct attn__bsf_spec *sp)
{
	*sp = (struct attn__bsf_spec){
	    .name = "window",
	    .passes = 1,
	    .p = p,
	    .specs = window_params,
	    .nspecs = 2,
	    .row = window_row,
	    .vis = window_vis,
	};
	sp->w = attn__bsf_param(sp, WINDOW_P_W);
	sp->b = attn__bsf_param(sp, WINDOW_P_B);
}

ATTN__BSF_DEFINE_METHOD(window)

const struct attn_method attn_method_window = {
    ATTN__BSF_METHOD_COMMON(window),
    .name = "window",
    .category = "fixed",
    .summary = "sliding window: the w most recent keys (|t - j| < w not causal), exact on them",
    .citation = "Child et al. 2019, Sparse Transformer; Beltagy et al. 2020, Longformer",
    .time_exp = 1.0,
    .mem_exp = 1.0,
    .n_params = 2,
};
