/*
 * `strided`: the Sparse Transformer's factorised pattern (Child et al.
 * 2019), as a local window plus fixed "summary" columns every r keys:
 *
 *     query t keeps key j  iff  t - w < j <= t  or  j mod r = r - 1
 *
 * (not causal: |t - j| < w, or a summary column anywhere). Its "fixed"
 * form with c = 1 summary key per stride, the columns every query shares,
 * with the "strided" form's sliding local window. Both default to
 * round(√N) (w = 0, r = 0: auto), so each query keeps about 2√N keys and
 * prefill is O(N√N·D).
 *
 * Summary columns are one key in r: as blocks of the original keys they
 * would fill a pair with 1/r of its work, so they run as a second pass
 * whose key map takes every r-th key (kfirst = r - 1, kstride = r, read in
 * place): dense blocks of summary keys. That pass keeps only the columns
 * outside the window (j <= t - w, and j >= t + w not causal), so each key
 * counts once and the two passes mix into one softmax by their
 * denominators. Runs on methods/engines/bsfixed.c.
 */
#include <math.h>

#include "engines/blocksparse.h"
#include "engines/bsfixed.h"
#include "kernels/kernels.h"

static const struct attn_param_spec strided_params[] = {
    {"w", ATTN_PARAM_INT, 0, 0, 2147483647.0, NULL,
     "local window (t - w < j <= t; |t - j| < w not causal); 0: round(sqrt(N))"},
    {"r", ATTN_PARAM_INT, 0, 0, 2147483647.0, NULL,
     "stride of the summary columns (j mod r = r - 1); 0: round(sqrt(N))"},
    ATTN__BSF_PARAM_B,
};

/* w or r as used at N: an explicit value, or round(√N) (at least 1). */
static int64_t strided_auto(int64_t v, const struct attn_shape *s)
{
	if (v > 0)
		return v;
	const int64_t l = (int64_t)floor(sqrt((double)s->n) + 0.5);
	return l > 0 ? l : 1;
}

/* Pass 0: identity. Pass 1: keys r - 1, 2r - 1, ... (N / r of them). */
static void strided_geom(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
                         int64_t list, struct attn__bsf_geom *g)
{
	(void)list;
	const int64_t r = strided_auto(sp->r, s);
	*g = (struct attn__bsf_geom){
	    .nq = s->n, .qfirst = 0, .qstride = 1, .nk = s->n, .kfirst = 0, .kstride = 1};
	if (pass == 1) {
		g->nk = s->n / r;
		g->kfirst = r - 1;
		g->kstride = r;
	}
}

static int strided_row(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
                       int64_t list, int64_t pos, int64_t *lo, int64_t *hi)
{
	(void)list;
	const int64_t w = strided_auto(sp->w, s), r = strided_auto(sp->r, s);
	if (pass == 0)
		return attn__bsf_local_row(0, w, 0, s->n, pos, lo, hi);
	/*
	 * Summary column c is key r - 1 + c·r. Before the window: key <=
	 * pos - w, c <= (pos - w - r + 1) / r. After it: key >= pos + w,
	 * c >= ⌈(pos + w - r + 1) / r⌉.
	 */
	const int64_t before = pos - w - r + 1, after = pos + w - r + 1;
	lo[0] = 0;
	hi[0] = before < 0 ? 0 : before / r + 1;
	lo[1] = after <= 0 ? 0 : (after + r - 1) / r;
	hi[1] = s->n;
	return 2;
}

static int strided_vis(const struct attn__bsf_spec *sp, const struct attn_shape *s, int64_t h,
                       int64_t pos, int64_t j)
{
	(void)h;
	const int64_t w = strided_auto(sp->w, s), r = strided_auto(sp->r, s);
	return attn__bsf_local_vis(0, w, 0, pos, j) || j % r == r - 1;
}

static int strided_resolved(const struct attn__bsf_spec *sp, const struct attn_shape *s,
                            struct attn__bs_param *out)
{
	int n = 0;
	if (sp->w <= 0)
		out[n++] = (struct attn__bs_param){"w", (double)strided_auto(sp->w, s)};
	if (sp->r <= 0)
		out[n++] = (struct attn__bs_param){"r", (double)strided_auto(sp->r, s)};
	return n;
}

static const struct attn__bsf_def strided_def = {
    .params = strided_params,
    .n_params = ATTN__COUNT(strided_params),
    .passes = 2,
    .geom = strided_geom,
    .row = strided_row,
    .vis = strided_vis,
    .resolved = strided_resolved,
};

const struct attn_method attn_method_strided = {
    ATTN__BSF_METHOD_COMMON(strided),
    .name = "strided",
    .category = "fixed",
    .summary = "Sparse Transformer: local window w plus a summary column every r keys "
               "(both round(sqrt N) by default)",
    .citation = "Child et al. 2019, Generating Long Sequences with Sparse Transformers",
    .time_exp = 1.5,
};
