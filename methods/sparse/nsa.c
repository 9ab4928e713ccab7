/*
 * `nsa`: Native Sparse Attention (Yuan et al. 2025), its three branches
 * with fixed gates. For the query at position t, with blocks of b keys:
 *
 *   compressed: one key and value per complete block, the means
 *       K̃_j = mean(K_block j), Ṽ_j = mean(V_block j), block j complete
 *       when (j+1) b - 1 <= t;   p_t = softmax_j(⟨q_t, K̃_j⟩ / √D),
 *       o_cmp = Σ_j p_tj Ṽ_j     (0 while no block is complete)
 *   selected: the `topk` blocks j < i (i = t's block) of largest
 *       importance I_ij = Σ_{t' in block i} p_t'j, plus block i itself;
 *       o_sel = exact softmax attention over their keys (causal)
 *   window: o_win = exact softmax attention over t - w < j <= t
 *
 *   o_t = g o_cmp + (1 - 2g) o_sel + g o_win,   g = `gate` (1/3: equal)
 *
 * Choices, against the paper: the compressed keys are plain means (the
 * paper learns an MLP over overlapping blocks of stride d < l; here l = d
 * = b, the selection block size, so the importance needs no remapping);
 * selection is per query block of b rows (the paper's kernel selects per
 * token, shared across a GQA group; the block form makes the selected
 * branch whole tiles of the engine, and per token the union would be
 * computed anyway) and per query head; the gates are fixed numbers, not
 * the paper's learned sigmoid of q; the paper's always-kept initial block
 * is left out (the window and the compressed branch cover what it is for).
 * Decode routes the single query by its own compressed scores.
 *
 * The compressed branch is the routing here (its probabilities are the
 * selection scores), so it runs with it and its time counts in
 * routing_ns; its FLOPs, 4 D per (query, complete block), count in
 * flops_computed. The selected and window branches are two runs of the
 * block-sparse engine (two separate softmaxes; the window's lists are a
 * fixed pattern, built in prepare()).
 *
 * Causal only (compression into complete past blocks is what makes it
 * causal). With gate = 0 and topk >= N/b, o = exact softmax attention.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engines/blocksparse.h"
#include "engines/route.h"
#include "kernels/kernels.h"

enum { NSA_P_B = 0, NSA_P_TOPK = 1, NSA_P_W = 2, NSA_P_GATE = 3 };

static const struct attn_param_spec nsa_params[] = {
    ATTN__ROUTE_PARAM_B,
    {"topk", ATTN_PARAM_INT, 16, 0, 1 << 20, NULL,
     "blocks selected by compressed attention, besides the query's own"},
    {"w", ATTN_PARAM_INT, 512, 1, 1 << 30, NULL, "sliding window: keys t-w < j <= t"},
    {"gate", ATTN_PARAM_REAL, 1.0 / 3.0, 0.0, 0.5, NULL,
     "weight g of the compressed and of the window branch; the selected one gets 1 - 2g"},
};

struct nsa_cfg {
	int64_t topk, w;
	double gate;
	int64_t nkb;     /* key blocks, ⌈N / b⌉ */
	int64_t win_cap; /* entries of the window's list */
};

/* Complete blocks the query at position `pos` sees: ⌊(pos + 1) / b⌋. */
static int64_t nsa_complete(int64_t pos, int64_t b, int64_t nkb)
{
	return attn__min64((pos + 1) / b, nkb);
}

/* ---- routing: the compressed branch and the selection ---------------------------- */

/*
 * Head bh: K̃, Ṽ; per query block, P = softmax of its rows' compressed
 * scores (masked to complete blocks), o_cmp = P Ṽ into the region's aux
 * (NQ, D), then the selection from P's column sums.
 * scratch: K̃ (nkb, D), Ṽ (nkb, D), K̃ᵀ (D, nkb), P (b, nkb), I (nkb), a row (nkb).
 */
static void nsa_route(const struct attn__route_spec *rs, const struct attn_shape *s,
                      const struct attn_inputs *in, const void *shared, int64_t bh, char *region,
                      void *scratch)
{
	const struct nsa_cfg *c = rs->cfg;
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s), b = rs->b, nkb = c->nkb;
	const int64_t kvh = attn__kv_head(s, bh);
	const float *q = in->q + bh * NQ * D; /* (NQ, D) */
	int64_t *row = (int64_t *)(region + rs->lo.off_row);
	int32_t *col = (int32_t *)(region + rs->lo.off_col);
	float *ocmp = (float *)(region + rs->lo.off_aux); /* (NQ, D) */
	float *kc = scratch, *vc = kc + nkb * D, *kt = vc + nkb * D;
	float *pr = kt + D * nkb, *imp = pr + b * nkb, *tmp = imp + nkb;
	const float scale = (float)(1.0 / sqrt((double)D));
	(void)shared;

	attn__route_pool_mean(in->k + kvh * N * D, N, D, b, kc);
	attn__route_pool_mean(in->v + kvh * N * D, N, D, b, vc);
	attn__transpose(kt, nkb, kc, D, nkb, D);

	row[0] = 0;
	for (int64_t i = 0; i < rs->lo.nqb; i++) {
		const int64_t t0 = i * b, rows = attn__min64(b, NQ - t0);
		/* decode: the one row sits at N - 1, in block (N - 1) / b */
		const int64_t own = s->mode == ATTN_MODE_DECODE ? (N - 1) / b : i;

		/* P (rows, nkb) = softmax(Q_i K̃ᵀ / √D) over each row's complete blocks */
		attn__gemm(rows, nkb, D, q + t0 * D, D, 1, kt, nkb, pr, nkb, 0);
		memset(imp, 0, (size_t)nkb * sizeof(float));
		for (int64_t r = 0; r < rows; r++) {
			const int64_t pos = s->mode == ATTN_MODE_DECODE ? N - 1 : t0 + r;
			const int64_t nv = nsa_complete(pos, b, nkb);
			float *p = pr + r * nkb;
			if (nv == 0) {
				memset(p, 0, (size_t)nkb * sizeof(float));
				continue;
			}
			attn__scale(p, scale, nv);
			attn__softmax_row(p, nv, nkb);
			attn__axpy(imp, 1.0f, p, nkb);
		}
		/* o_cmp (rows, D) = P Ṽ */
		attn__gemm(rows, D, nkb, pr, nkb, 1, vc, D, ocmp + t0 * D, D, 0);

		/* the topk most important blocks before the own one, and the own */
		row[i + 1] =
		    row[i] + attn__route_pick(imp, own + 1, c->topk, &own, 1, tmp, col + row[i]);
	}
}

/* ---- the window: a fixed pattern, the same for every head ------------------------ */

/*
 * The window's list, in shared: row (nqb + 1), col and kind (win_cap).
 * Query block i (rows t0..t1) meets keys max(0, t0 - w + 1) .. t1; a key
 * block is FULL when its first key is inside every row's window
 * (> t1 - w), PARTIAL at the left edge. Decode: one row at N - 1.
 */
struct nsa_window {
	int64_t *row;
	int32_t *col;
	uint8_t *kind;
};

static struct nsa_window nsa_window_at(const struct attn__route_spec *rs, void *shared)
{
	const struct nsa_cfg *c = rs->cfg;
	struct nsa_window win;
	win.row = shared;
	win.col = (int32_t *)(win.row + rs->lo.nqb + 1);
	win.kind = (uint8_t *)(win.col + c->win_cap);
	return win;
}

static void nsa_prep(const struct attn__route_spec *rs, const struct attn_shape *s,
                     const struct attn_inputs *in, void *shared)
{
	const struct nsa_cfg *c = rs->cfg;
	const int64_t NQ = attn_shape_nq(s), b = rs->b, w = c->w;
	const struct nsa_window win = nsa_window_at(rs, shared);
	(void)in;
	win.row[0] = 0;
	for (int64_t i = 0; i < rs->lo.nqb; i++) {
		const int64_t base = s->mode == ATTN_MODE_DECODE ? s->n - 1 : 0;
		const int64_t t0 = base + i * b, t1 = base + attn__min64(NQ, i * b + b) - 1;
		const int64_t k0 = t0 - w + 1 > 0 ? t0 - w + 1 : 0;
		int64_t at = win.row[i];
		for (int64_t j = k0 / b; j * b <= t1; j++) {
			win.col[at] = (int32_t)j;
			win.kind[at++] = j * b > t1 - w ? ATTN__BS_FULL : ATTN__BS_PARTIAL;
		}
		win.row[i + 1] = at;
	}
}

/* The engine's arg for the window pass: the list and the window. */
struct nsa_win_run {
	struct nsa_window win;
	const struct attn_shape *s;
	int64_t nqb, w;
};

static void nsa_win_head(const void *arg, int pass, int64_t bh, struct attn__bs_head *hd)
{
	const struct nsa_win_run *run = arg;
	(void)pass, (void)bh;
	*hd = (struct attn__bs_head){.nq = attn_shape_nq(run->s),
	                             .nk = run->s->n,
	                             .qstride = 1,
	                             .kstride = 1,
	                             .row = run->win.row,
	                             .col = run->win.col,
	                             .kind = run->win.kind};
}

/* mask: key j visible to the row at position pos iff j > pos - w. */
static void nsa_win_mask(const void *arg, int pass, int64_t bh, const struct attn__bs_head *hd,
                         int64_t r0, int64_t nq, int64_t c0, int64_t nk, uint8_t *mask)
{
	const struct nsa_win_run *run = arg;
	(void)pass, (void)bh;
	for (int64_t r = 0; r < nq; r++) {
		const int64_t pos = attn__bs_qpos(run->s, hd, r0 + r);
		for (int64_t j = 0; j < nk; j++)
			mask[r * nk + j] = c0 + j > pos - run->w;
	}
}

/* ---- the descriptor ------------------------------------------------------------ */

static void nsa_spec(const struct attn_shape *s, const struct attn_params *p,
                     struct attn__route_spec *rs, void *cfg)
{
	struct nsa_cfg *c = cfg;
	const int64_t b = attn__param_int(p, NSA_P_B, ATTN__BS_B_DEFAULT);
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s);
	const int64_t nqb = attn__route_blocks(NQ, b);
	c->topk = attn__param_int(p, NSA_P_TOPK, 16);
	c->w = attn__param_int(p, NSA_P_W, 512);
	c->gate = p && p->count > NSA_P_GATE ? p->v[NSA_P_GATE] : 1.0 / 3.0;
	c->nkb = attn__route_blocks(N, b);
	/* a query block's window spans ⌈(w - 1) / b⌉ + 2 key blocks at most */
	c->win_cap = nqb * attn__min64(c->nkb, attn__route_blocks(c->w - 1, b) + 2);
	*rs = (struct attn__route_spec){
	    .b = b,
	    .scratch_bytes = sizeof(float) * (size_t)(3 * c->nkb * D + b * c->nkb + 2 * c->nkb),
	    .shared_bytes =
	        sizeof(int64_t) * (size_t)(nqb + 1) + (sizeof(int32_t) + 1) * (size_t)c->win_cap,
	    .route = nsa_route,
	    .prep = nsa_prep,
	    .cfg = c,
	};
	attn__route_layout_init(&rs->lo, s, b, nqb * attn__min64(c->nkb, c->topk + 1), 0, 0, 0,
	                        sizeof(float) * (size_t)(NQ * D));
	/* pooling K and V, then 4 D per (query, complete block) */
	double cmp = 0.0;
	for (int64_t r = 0; r < NQ; r++)
		cmp += (double)nsa_complete(s->mode == ATTN_MODE_DECODE ? N - 1 : r, b, c->nkb);
	rs->routing_flops =
	    (double)(s->batch * s->heads) * (2.0 * (double)(N * D) + 4.0 * (double)D * cmp);
	/* it reads Q, K and V once more */
	rs->routing_bytes = sizeof(float) * (double)(s->batch * s->heads * (NQ + 2 * N) * D);
	/* nominal: topk + 1 selected blocks and ⌈w / b⌉ window blocks per query block */
	rs->nominal_pairs = attn__route_nominal_pairs(s, b, c->topk + 1) +
	                    attn__route_nominal_pairs(s, b, attn__route_blocks(c->w, b));
}

static int nsa_supports(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	int rc = attn__check_params(s, p, nsa_params, ATTN__COUNT(nsa_params), msg, msglen);
	const double g = p && p->count > NSA_P_GATE ? p->v[NSA_P_GATE] : 1.0 / 3.0;
	if (rc == ATTN_OK && !(g >= 0.0 && g <= 0.5)) {
		if (msg && msglen > 0)
			snprintf(msg, msglen, "gate %g outside 0..0.5", g);
		rc = ATTN_ERR_UNSUPPORTED;
	}
	if (rc == ATTN_OK && !s->causal) {
		if (msg && msglen > 0)
			snprintf(msg, msglen,
			         "nsa is causal only (its compressed blocks are the past)");
		rc = ATTN_ERR_UNSUPPORTED;
	}
	return rc;
}

ATTN__ROUTE_CFG_FITS(struct nsa_cfg);
static const struct attn__route_method nsa_data = {.spec = nsa_spec};

/*
 * The workspace: the driver's (engine, window list as shared state, each
 * head's selection and o_cmp, routing scratch), then o_win (B, H, NQ, D).
 */
static size_t nsa_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                  const struct attn_params *p, int threads)
{
	(void)m;
	struct attn__route_spec rs;
	struct nsa_cfg c;
	struct attn__route_ws w;
	nsa_spec(s, p, &rs, &c);
	attn__route_ws_init(&w, &rs, s, threads);
	return w.total + attn__floats64(s->batch * s->heads * attn_shape_nq(s) * s->d);
}

/* The two engine patterns, over the heads' selections and the shared window. */
struct nsa_patterns {
	struct attn__route_run sel_run;
	struct nsa_win_run win_run;
	struct attn__bs_pattern sel, win;
};

static void nsa_patterns_init(struct nsa_patterns *pt, const struct attn__route_spec *rs,
                              const struct attn_shape *s, char *heads, void *shared)
{
	const struct nsa_cfg *c = rs->cfg;
	pt->sel_run = (struct attn__route_run){rs, s, heads};
	pt->win_run = (struct nsa_win_run){nsa_window_at(rs, shared), s, rs->lo.nqb, c->w};
	pt->sel = (struct attn__bs_pattern){
	    .b = rs->b, .passes = 1, .head = attn__route_head_cb, .arg = &pt->sel_run};
	pt->win = (struct attn__bs_pattern){.b = rs->b,
	                                    .passes = 1,
	                                    .head = nsa_win_head,
	                                    .mask = nsa_win_mask,
	                                    .arg = &pt->win_run};
}

/* For the mask dump: both patterns as the passes of one (pass 0 selected, 1 window). */
static void nsa_dump_head(const void *arg, int pass, int64_t bh, struct attn__bs_head *hd)
{
	const struct nsa_patterns *pt = arg;
	if (pass == 0)
		pt->sel.head(pt->sel.arg, 0, bh, hd);
	else
		pt->win.head(pt->win.arg, 0, bh, hd);
}

static void nsa_dump_mask(const void *arg, int pass, int64_t bh, const struct attn__bs_head *hd,
                          int64_t r0, int64_t nq, int64_t c0, int64_t nk, uint8_t *mask)
{
	const struct nsa_patterns *pt = arg;
	(void)pass; /* the selection is all FULL: only the window asks */
	pt->win.mask(pt->win.arg, 0, bh, hd, r0, nq, c0, nk, mask);
}

/*
 * (query, key) pairs both branches keep: the keys of a selected block that
 * are also in the query's window (t - w < j <= t, causal). The selected
 * blocks are whole (FULL) and causal-masked, so per row and block this is
 * the overlap of two key ranges. Of head bh, O(NQ (topk + 1)); with
 * `pairs` (nqb, nkb) non-NULL, each block's overlap is also taken off its
 * entry there (the dump's per-block counts, which hold it twice).
 */
static double nsa_overlap_head(const struct nsa_patterns *pt, int64_t bh, uint32_t *pairs)
{
	const struct attn__route_spec *rs = pt->sel_run.rs;
	const struct attn_shape *s = pt->sel_run.s;
	const struct nsa_cfg *c = rs->cfg;
	const int64_t N = s->n, NQ = attn_shape_nq(s), b = rs->b;
	struct attn__bs_head hd;
	double both = 0.0;
	pt->sel.head(pt->sel.arg, 0, bh, &hd);
	for (int64_t i = 0; i < rs->lo.nqb; i++)
		for (int64_t e = hd.row[i]; e < hd.row[i + 1]; e++) {
			const int64_t j0 = (int64_t)hd.col[e] * b;
			int64_t in_block = 0;
			for (int64_t t = i * b; t < attn__min64(NQ, i * b + b); t++) {
				const int64_t pos = s->mode == ATTN_MODE_DECODE ? N - 1 : t;
				const int64_t lo = pos - c->w + 1 > 0 ? pos - c->w + 1 : 0;
				const int64_t k0 = j0 > lo ? j0 : lo;
				const int64_t k1 = attn__min64(attn__min64(j0 + b, N) - 1, pos);
				in_block += k1 >= k0 ? k1 - k0 + 1 : 0;
			}
			both += (double)in_block;
			if (pairs)
				pairs[i * c->nkb + hd.col[e]] -= (uint32_t)in_block;
		}
	return both;
}

static double nsa_overlap(const struct attn_shape *s, const struct nsa_patterns *pt)
{
	double both = 0.0;
	for (int64_t bh = 0; bh < s->batch * s->heads; bh++)
		both += nsa_overlap_head(pt, bh, NULL);
	return both;
}

/* The dump's hook: a pair both branches keep counts once. */
static void nsa_dump_overlap(const void *arg, int64_t bh, int64_t nkb, uint32_t *pairs)
{
	(void)nkb; /* = cfg's nkb */
	nsa_overlap_head(arg, bh, pairs);
}

/*
 * The figures of a call. "density" is the union of the (query, key) pairs
 * the selected and window branches attend to, over the (causal) score
 * matrix: at most 1. Per branch, under their own names: density_sel and
 * density_win (their kept pairs), density_cmp (the compressed branch's
 * (query, complete block) scores, over the same pairs: about 1/b).
 * flops_computed and tiles count both branches' work, overlap included:
 * it is computed twice.
 */
static void nsa_report(const struct attn_ctx *ctx, const struct attn_shape *s,
                       const struct attn__route_spec *rs, const struct nsa_patterns *pt,
                       const struct attn__bs_stats *sel, const struct attn__bs_stats *win,
                       double routing_ns)
{
	if (!ctx || !ctx->report)
		return;
	const struct nsa_cfg *c = rs->cfg;
	const double pairs = attn__softmax_pairs(s);
	const double kept = (double)(sel->kept + win->kept);
	double cmp = 0.0;
	for (int64_t r = 0; r < attn_shape_nq(s); r++)
		cmp +=
		    (double)nsa_complete(s->mode == ATTN_MODE_DECODE ? s->n - 1 : r, rs->b, c->nkb);
	cmp *= (double)(s->batch * s->heads);
	const double rows = s->mode == ATTN_MODE_DECODE ? 1.0 : (double)rs->b;
	ctx->report(ctx, "density", (kept - nsa_overlap(s, pt)) / pairs, "1");
	ctx->report(ctx, "density_sel", (double)sel->kept / pairs, "1");
	ctx->report(ctx, "density_win", (double)win->kept / pairs, "1");
	ctx->report(ctx, "density_cmp", cmp / pairs, "1");
	ctx->report(ctx, "flops_computed", attn__bs_flops(s, kept) + rs->routing_flops, "flop");
	ctx->report(ctx, "tiles", (double)(sel->tiles + win->tiles), "1");
	ctx->report(ctx, "routing_ns", routing_ns, "ns");
	ctx->report(ctx, "tile_density",
	            (double)(sel->tiles + win->tiles) * rows * (double)rs->b / pairs, "1");
}

static int nsa_forward(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, const struct attn_inputs *in, float *out,
                       void *ws, const struct attn_ctx *ctx)
{
	(void)m;
	struct attn__route_spec rs;
	struct nsa_cfg c;
	struct attn__route_ws w;
	struct nsa_patterns pt;
	struct attn__bs_stats st, st_win;
	if (nsa_supports(m, s, p, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	const int threads = ctx ? ctx->threads : 1;
	nsa_spec(s, p, &rs, &c);
	attn__route_ws_init(&w, &rs, s, threads);
	char *base = ws;
	float *owin = (float *)(base + w.total); /* (B, H, NQ, D) */

	const double ns = attn__route_all(&rs, s, in, ws, threads);
	nsa_patterns_init(&pt, &rs, s, base + w.off_heads, base + w.off_shared);
	attn__bs_run(&w.pl, &pt.sel, s, in, out, ws, &st);
	attn__bs_run(&w.pl, &pt.win, s, in, owin, ws, &st_win);

	/* o = g o_cmp + (1 - 2g) o_sel + g o_win, head by head (o_cmp is in its region) */
	const int64_t heads = s->batch * s->heads, rows = attn_shape_nq(s) * s->d;
	const float g = (float)c.gate, gs = (float)(1.0 - 2.0 * c.gate);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
	for (int64_t bh = 0; bh < heads; bh++) {
		const float *ocmp =
		    (const float *)(base + w.off_heads + (size_t)bh * rs.lo.bytes + rs.lo.off_aux);
		float *o = out + bh * rows;
		const float *ow = owin + bh * rows;
		for (int64_t e = 0; e < rows; e++)
			o[e] = g * ocmp[e] + gs * o[e] + g * ow[e];
	}

	nsa_report(ctx, s, &rs, &pt, &st, &st_win, ns);
	const struct attn__bs_pattern both = {.b = rs.b,
	                                      .passes = 2,
	                                      .head = nsa_dump_head,
	                                      .mask = nsa_dump_mask,
	                                      .arg = &pt,
	                                      .dump_overlap = nsa_dump_overlap};
	attn__bs_dump(ctx, &both, s, 0, (uint8_t *)base + w.off_flag);
	return ATTN_OK;
}

/*
 * The same function in float64: the same float32 routing (so the same
 * selection), then o_cmp from float64 means and softmax, o_sel and o_win
 * by the engine's float64 dense masked reference over the same lists.
 */
static int nsa_oracle(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, double *out,
                      const struct attn_ctx *ctx)
{
	(void)m;
	struct attn__route_spec rs;
	struct nsa_cfg c;
	struct nsa_patterns pt;
	(void)ctx;
	if (nsa_supports(m, s, p, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	nsa_spec(s, p, &rs, &c);
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s), b = rs.b, nkb = c.nkb;
	const int64_t heads = s->batch * s->heads, nout = heads * NQ * D;
	char *shared, *heads_mem;
	char *mem = attn__route_select(&rs, s, in, &shared, &heads_mem);
	double *osel = malloc(sizeof(double) * (size_t)nout);
	double *owin = malloc(sizeof(double) * (size_t)nout);
	double *kv = malloc(sizeof(double) * (size_t)(2 * nkb * D + nkb));
	int rc = mem && osel && owin && kv ? ATTN_OK : ATTN_ERR_NOMEM;
	if (rc == ATTN_OK) {
		nsa_patterns_init(&pt, &rs, s, heads_mem, shared);
		rc = attn__bs_reference(&pt.sel, s, in, osel);
		if (rc == ATTN_OK)
			rc = attn__bs_reference(&pt.win, s, in, owin);
	}
	for (int64_t bh = 0; rc == ATTN_OK && bh < heads; bh++) {
		const int64_t kvh = attn__kv_head(s, bh);
		const float *k = in->k + kvh * N * D, *v = in->v + kvh * N * D;
		double *kc = kv, *vc = kc + nkb * D, *pr = vc + nkb * D; /* (nkb, D) x2, (nkb) */
		/* K̃_j, Ṽ_j: means over the block's rows */
		for (int64_t j = 0; j < nkb; j++) {
			const int64_t j0 = j * b, j1 = attn__min64(N, j0 + b);
			for (int64_t e = 0; e < D; e++) {
				double sk = 0.0, sv = 0.0;
				for (int64_t r = j0; r < j1; r++) {
					sk += k[r * D + e];
					sv += v[r * D + e];
				}
				kc[j * D + e] = sk / (double)(j1 - j0);
				vc[j * D + e] = sv / (double)(j1 - j0);
			}
		}
		for (int64_t t = 0; t < NQ; t++) {
			const int64_t pos = s->mode == ATTN_MODE_DECODE ? N - 1 : t;
			const int64_t nv = nsa_complete(pos, b, nkb);
			const float *q = in->q + (bh * NQ + t) * D;
			double *o = out + (bh * NQ + t) * D;
			/* p_j = softmax(⟨q, K̃_j⟩ / √D) over the complete blocks */
			double m = -INFINITY, l = 0.0;
			for (int64_t j = 0; j < nv; j++) {
				double dot = 0.0;
				for (int64_t e = 0; e < D; e++)
					dot += (double)q[e] * kc[j * D + e];
				pr[j] = dot / sqrt((double)D);
				m = pr[j] > m ? pr[j] : m;
			}
			for (int64_t j = 0; j < nv; j++) {
				pr[j] = exp(pr[j] - m);
				l += pr[j];
			}
			const int64_t at = (bh * NQ + t) * D;
			for (int64_t e = 0; e < D; e++) {
				double cmp = 0.0;
				for (int64_t j = 0; j < nv; j++)
					cmp += pr[j] * vc[j * D + e];
				cmp = nv > 0 ? cmp / l : 0.0;
				o[e] = c.gate * cmp + (1.0 - 2.0 * c.gate) * osel[at + e] +
				       c.gate * owin[at + e];
			}
		}
	}
	free(mem);
	free(osel);
	free(owin);
	free(kv);
	return rc;
}

const struct attn_method attn_method_nsa = {
    ATTN__ROUTE_METHOD_FIELDS(nsa),
    .supports = nsa_supports,
    .workspace_bytes = nsa_workspace_bytes,
    .forward = nsa_forward,
    .oracle = nsa_oracle,
    .data = &nsa_data,
    .name = "nsa",
    .category = "routing",
    .summary = "Native Sparse Attention: compressed (block means), selected (top-k blocks by "
               "compressed scores) and sliding-window branches, fixed gates",
    .citation = "Yuan et al. 2025, Native Sparse Attention (arXiv 2502.11089)",
    /* the compressed branch is N·N/b·D */
    .time_exp = 2.0,
    .mem_exp = 1.0,
};
