/*
 * `streaming`: StreamingLLM (Xiao et al. 2023): the first s keys ("attention
 * sinks", which trained models park attention on) plus a sliding window of
 * the w most recent keys:
 *
 *     query t keeps key j  iff  j < s  or  t - w < j <= t
 *
 * (not causal: j < s or |t - j| < w). Softmax over the kept set, exactly;
 * a sink inside the window counts once. Two intervals per row: the sinks'
 * key blocks (PARTIAL when s is not a multiple of b) and the window's.
 * Prefill O(N·(s + w)·D), decode O((s + w)·D) whatever the context: the
 * point of the method. Runs on methods/common/bsfixed.c.
 */
#include "common/blocksparse.h"
#include "common/bsfixed.h"
#include "common/common.h"

enum { STREAMING_P_S = 0, STREAMING_P_W = 1, STREAMING_P_B = 2 };

static const struct attn_param_spec streaming_params[] = {
    {"s", ATTN_PARAM_INT, 4, 0, 2147483647.0, NULL, "sink tokens: the first s keys, always kept"},
    {"w", ATTN_PARAM_INT, 512, 1, 2147483647.0, NULL,
     "window: the w most recent keys (t - w < j <= t), |t - j| < w when not causal"},
    ATTN__BSF_PARAM_B,
};

static int streaming_row(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
                         int64_t list, int64_t pos, int64_t *lo, int64_t *hi)
{
	(void)s;
	(void)pass;
	(void)list;
	lo[0] = 0;
	hi[0] = sp->s;
	lo[1] = pos - sp->w + 1;
	hi[1] = pos + sp->w;
	return 2;
}

static int streaming_vis(const struct attn__bsf_spec *sp, const struct attn_shape *s, int64_t h,
                         int64_t pos, int64_t j)
{
	(void)s;
	(void)h;
	return j < sp->s || (j > pos - sp->w && j < pos + sp->w);
}

static void streaming_spec(const struct attn_params *p, struct attn__bsf_spec *sp)
{
	*sp = (struct attn__bsf_spec){
	    .name = "streaming",
	    .passes = 1,
	    .p = p,
	    .specs = streaming_params,
	    .nspecs = 3,
	    .row = streaming_row,
	    .vis = streaming_vis,
	};
	sp->s = attn__bsf_param(sp, STREAMING_P_S);
	sp->w = attn__bsf_param(sp, STREAMING_P_W);
	sp->b = attn__bsf_param(sp, STREAMING_P_B);
}

ATTN__BSF_DEFINE_METHOD(streaming)

const struct attn_method attn_method_streaming = {
    ATTN__BSF_METHOD_COMMON(streaming),
    .name = "streaming",
    .category = "fixed",
    .summary = "StreamingLLM: s attention sinks plus a window of w keys, exact on them",
    .citation = "Xiao et al. 2023, Efficient Streaming Language Models with Attention Sinks",
    .time_exp = 1.0,
    .mem_exp = 1.0,
    .n_params = 3,
};
