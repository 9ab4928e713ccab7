/*
 * `dilated`: LongNet's dilated attention (Ding et al. 2023). Branch k of
 * K = log2(r) + 1 has dilation d = 2^k and segments of w·d positions: in
 * head h it takes the rows and keys ≡ h (mod d), and within each segment
 * they attend to each other (causal: to earlier ones). The branches mix by
 * their softmax denominators,
 *
 *     O_t = Σ_k Σ_{j ∈ S_k(t)} e^{s_tj} v_j / Σ_k Σ_{j ∈ S_k(t)} e^{s_tj},
 *     S_k(t) = { j : j ≡ t ≡ h (mod d), ⌊j / (w d)⌋ = ⌊t / (w d)⌋ }
 *
 * (S_k(t) empty when t ≢ h), which is LongNet's "weighted by the softmax
 * denominators" made exact; a key that two branches keep counts twice, as
 * it does there. With the default r = 4 the branches are (w, 1), (2w, 2)
 * and (4w, 4).
 *
 * Each branch is one pass of the engine whose row and key maps take every
 * d-th position from h mod d (read in place, no gather): in that list
 * space the branch is plain block-diagonal attention with segments of w,
 * dense, so its work is N·w/d kept pairs and no block is 1/d² full. Passes
 * carry each row's running (m, l, A) from one branch to the next, the
 * flash-decoding merge done online. Prefill O(N·w·D) (the sum over k of
 * N w / d), decode O(K·w·D). Runs on methods/engines/bsfixed.c.
 */
#include "attnbench/status.h"
#include "engines/blocksparse.h"
#include "engines/bsfixed.h"
#include "kernels/kernels.h"

static const struct attn_param_spec dilated_params[] = {
    {"w", ATTN_PARAM_INT, 256, 1, 2147483647.0, NULL,
     "segment of the first branch; branch k has segments w 2^k with dilation 2^k"},
    {"r", ATTN_PARAM_INT, 4, 1, 1024, NULL,
     "largest dilation, a power of 2: branches of dilation 1, 2, 4, ..., r"},
    ATTN__BSF_PARAM_B,
};

static int dilated_check(const struct attn__bsf_spec *sp, const struct attn_shape *s, char *msg,
                         size_t msglen)
{
	(void)s;
	if (sp->r & (sp->r - 1))
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "r %lld must be a power of 2",
		                 (long long)sp->r);
	return ATTN_OK;
}

/* Branch k's dilation 2^k: as many distinct lists (offsets h mod 2^k). */
static int64_t dilated_lists(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass)
{
	(void)sp;
	(void)s;
	return (int64_t)1 << pass;
}

static void dilated_geom(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
                         int64_t list, struct attn__bsf_geom *g)
{
	(void)sp;
	const int64_t d = (int64_t)1 << pass;
	const int64_t n = s->n > list ? (s->n - list + d - 1) / d : 0;
	*g = (struct attn__bsf_geom){
	    .nq = n, .qfirst = list, .qstride = d, .nk = n, .kfirst = list, .kstride = d};
}

/*
 * List position p = (pos - o) / d lies in segment ⌊p / w⌋ (the same as
 * ⌊pos / (w d)⌋ since o < d), whose keys are list keys [⌊p / w⌋ w, +w).
 */
static int dilated_row(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
                       int64_t list, int64_t pos, int64_t *lo, int64_t *hi)
{
	(void)s;
	const int64_t d = (int64_t)1 << pass, p = (pos - list) / d;
	lo[0] = p / sp->w * sp->w;
	hi[0] = lo[0] + sp->w;
	return 1;
}

static int dilated_vis(const struct attn__bsf_spec *sp, const struct attn_shape *s, int64_t h,
                       int64_t pos, int64_t j)
{
	(void)s;
	int c = 0;
	for (int64_t d = 1; d <= sp->r; d *= 2)
		c += pos % d == h % d && j % d == h % d && pos / (sp->w * d) == j / (sp->w * d);
	return c;
}

/* K = log2(r) + 1 branches (r not a power of 2 is refused by dilated_check) */
static int dilated_passes(const struct attn__bsf_spec *sp)
{
	int k = 1;
	for (int64_t d = 2; d <= sp->r; d *= 2)
		k++;
	return k;
}

static const struct attn__bsf_def dilated_def = {
    .params = dilated_params,
    .n_params = ATTN__COUNT(dilated_params),
    .npasses = dilated_passes,
    .check = dilated_check,
    .lists = dilated_lists,
    .geom = dilated_geom,
    .row = dilated_row,
    .vis = dilated_vis,
};

const struct attn_method attn_method_dilated = {
    ATTN__BSF_METHOD_COMMON(dilated),
    .name = "dilated",
    .category = "fixed",
    .summary = "LongNet: branches of segment w 2^k and dilation 2^k (up to r), mixed by "
               "their softmax denominators",
    .citation = "Ding et al. 2023, LongNet: Scaling Transformers to 1,000,000,000 Tokens",
    .time_exp = 1.0,
};
