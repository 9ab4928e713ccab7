/*
 * `longformer`: Longformer's pattern (Beltagy et al. 2020): a sliding window
 * plus g global tokens, the first g positions, which attend to every key and
 * which every query attends to:
 *
 *     query t keeps key j  iff  t < g  or  j < g  or  |t - j| < w
 *
 * (causal: also j <= t, so a global row sees every earlier key). Softmax
 * over the kept set, exactly. A global row's list is every key block; the
 * others have the global keys' blocks and the window's. Prefill
 * O(N·(w + g)·D + g·N·D), decode O((w + g)·D). (Longformer gives global
 * tokens their own projections; here they share Q, K, V: the pattern is
 * what is measured.) Runs on methods/common/bsfixed.c.
 */
#include "common/blocksparse.h"
#include "common/bsfixed.h"
#include "common/common.h"

enum { LONGFORMER_P_W = 0, LONGFORMER_P_G = 1, LONGFORMER_P_B = 2 };

static const struct attn_param_spec longformer_params[] = {
    {"w", ATTN_PARAM_INT, 256, 1, 2147483647.0, NULL,
     "window: |t - j| < w (t - w < j <= t when causal)"},
    {"g", ATTN_PARAM_INT, 16, 0, 2147483647.0, NULL,
     "global tokens: the first g positions see and are seen by all"},
    ATTN__BSF_PARAM_B,
};

static int longformer_row(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
                          int64_t list, int64_t pos, int64_t *lo, int64_t *hi)
{
	(void)pass;
	(void)list;
	if (pos < sp->g) {
		lo[0] = 0;
		hi[0] = s->n;
		return 1;
	}
	lo[0] = 0;
	hi[0] = sp->g;
	lo[1] = pos - sp->w + 1;
	hi[1] = pos + sp->w;
	return 2;
}

static int longformer_vis(const struct attn__bsf_spec *sp, const struct attn_shape *s, int64_t h,
                          int64_t pos, int64_t j)
{
	(void)s;
	(void)h;
	return pos < sp->g || j < sp->g || (j > pos - sp->w && j < pos + sp->w);
}

static void longformer_spec(const struct attn_params *p, struct attn__bsf_spec *sp)
{
	*sp = (struct attn__bsf_spec){
	    .name = "longformer",
	    .passes = 1,
	    .p = p,
	    .specs = longformer_params,
	    .nspecs = 3,
	    .row = longformer_row,
	    .vis = longformer_vis,
	};
	sp->w = attn__bsf_param(sp, LONGFORMER_P_W);
	sp->g = attn__bsf_param(sp, LONGFORMER_P_G);
	sp->b = attn__bsf_param(sp, LONGFORMER_P_B);
}

ATTN__BSF_DEFINE_METHOD(longformer)

const struct attn_method attn_method_longformer = {
    ATTN__BSF_METHOD_COMMON(longformer),
    .name = "longformer",
    .category = "window + global",
    .summary = "Longformer: window w plus g global tokens that see and are seen by all",
    .citation = "Beltagy et al. 2020, Longformer: The Long-Document Transformer",
    .time_exp = 1.0,
    .mem_exp = 1.0,
    .n_params = 3,
};
