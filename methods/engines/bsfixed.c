/*
 * Fixed sparse patterns on the block-sparse engine (bsfixed.h): block lists
 * built from per-row key intervals, the partial pairs' masks from the same
 * intervals, and the descriptor functions the fixed methods forward to.
 *
 * Workspace, after the engine's `total` bytes:
 *   header  (lists, 4) int64: byte offsets of each list's row, col and kind
 *           arrays, and its pair count; then one int64, set once the block
 *           mask has been dumped (see attn__bs_dump)
 *   lists   per (pass, list): row (nqb + 1) int64, col (nnz) int32,
 *           kind (nnz) uint8, each 64-byte aligned
 *   scratch the intervals of one query block's rows while building
 * prepare() counts the pairs and writes the header; forward() builds the
 * lists into their places (timed, O(N·k)), then runs the engine.
 */
#include <math.h>
#include <stdlib.h>

#include "attnbench/status.h"
#include "engines/blocksparse.h"
#include "engines/bsfixed.h"
#include "internal.h" /* attn__now_ns */
#include "kernels/kernels.h"

static int64_t bsf_lists(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass)
{
	return sp->def->lists ? sp->def->lists(sp, s, pass) : 1;
}

/* Lists over all passes, and the index of (pass, 0) among them. */
static int64_t bsf_first_list(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass)
{
	int64_t n = 0;
	for (int p = 0; p < pass; p++)
		n += bsf_lists(sp, s, p);
	return n;
}

/*
 * The maps of pass p, list l, in the mode of s: in decode, list row 0 is
 * the query at N - 1 if the pass's row map has it (nq = 1), else nq = 0.
 */
static void bsf_geom(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
                     int64_t list, struct attn__bsf_geom *g)
{
	if (sp->def->geom) {
		sp->def->geom(sp, s, pass, list, g);
	} else {
		*g = (struct attn__bsf_geom){
		    .nq = s->n, .qfirst = 0, .qstride = 1, .nk = s->n, .kfirst = 0, .kstride = 1};
	}
	if (s->mode == ATTN_MODE_DECODE) {
		const int64_t t = s->n - 1 - g->qfirst;
		const int on = t >= 0 && t % g->qstride == 0 && t / g->qstride < g->nq;
		g->nq = on ? 1 : 0;
		g->qfirst = 0;
		g->qstride = 1;
	}
}

static int64_t bsf_qpos(const struct attn_shape *s, const struct attn__bsf_geom *g, int64_t r)
{
	return s->mode == ATTN_MODE_DECODE ? s->n - 1 : g->qfirst + r * g->qstride;
}

/* List keys [0, end) are those at original positions <= pos (maps ascend). */
static int64_t bsf_causal_end(const struct attn_shape *s, const struct attn__bsf_geom *g,
                              int64_t pos)
{
	if (!s->causal)
		return g->nk;
	if (pos < g->kfirst)
		return 0;
	return attn__min64(g->nk, (pos - g->kfirst) / g->kstride + 1);
}

/*
 * The row's intervals clipped to [0, end), sorted and merged (disjoint,
 * ascending, non-empty). lo, hi: ATTN__BSF_MAX_IV each. Returns how many.
 */
static int bsf_row(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
                   int64_t list, int64_t pos, int64_t end, int64_t *lo, int64_t *hi)
{
	int n = sp->def->row ? sp->def->row(sp, s, pass, list, pos, lo, hi)
	                     : attn__bsf_local_row(sp->s + sp->g, sp->w, sp->g, s->n, pos, lo, hi);
	int m = 0;
	for (int i = 0; i < n; i++) {
		const int64_t a = attn__bsf_clamp(lo[i], end), z = attn__bsf_clamp(hi[i], end);
		if (a < z) {
			lo[m] = a;
			hi[m] = z;
			m++;
		}
	}
	/* insertion sort by lo: a handful, mostly in order already */
	for (int i = 1; i < m; i++)
		for (int j = i; j > 0 && lo[j - 1] > lo[j]; j--) {
			int64_t t = lo[j];
			lo[j] = lo[j - 1];
			lo[j - 1] = t;
			t = hi[j];
			hi[j] = hi[j - 1];
			hi[j - 1] = t;
		}
	int k = 0;
	for (int i = 0; i < m; i++) {
		if (k > 0 && lo[i] <= hi[k - 1]) {
			hi[k - 1] = hi[i] > hi[k - 1] ? hi[i] : hi[k - 1];
		} else {
			lo[k] = lo[i];
			hi[k] = hi[i];
			k++;
		}
	}
	return k;
}

/* |∪_i [lo_i, hi_i) ∩ [a, z)| over disjoint intervals. */
static int64_t bsf_overlap(const int64_t *lo, const int64_t *hi, int n, int64_t a, int64_t z)
{
	int64_t c = 0;
	for (int i = 0; i < n; i++) {
		const int64_t x = lo[i] > a ? lo[i] : a, y = hi[i] < z ? hi[i] : z;
		c += x < y ? y - x : 0;
	}
	return c;
}

/*
 * Scratch of one query block's rows while building: their intervals
 * (b, MAX_IV) each of lo and hi, counts (b), causal ends (b), and the union
 * of all (b·MAX_IV) of lo and hi.
 */
static size_t bsf_scratch_bytes(int64_t b)
{
	return (size_t)(6 * b * ATTN__BSF_MAX_IV + 2 * b) * sizeof(int64_t);
}

/* What building one list found. */
struct bsf_count {
	int64_t nnz;  /* pairs listed */
	int64_t kept; /* (query, key) pairs kept, causality applied */
};

/*
 * Build the list of (pass, list) for shape s: row (nqb + 1), col and kind
 * (nnz) when non-NULL, else only count. scratch: bsf_scratch_bytes(b).
 *
 * Per query block: the union U of its rows' intervals names the candidate
 * key blocks, ascending; candidate kb is FULL when each row keeps every key
 * of the block it may see (causally), else PARTIAL; a block that no row
 * keeps a key of is not listed.
 */
static struct bsf_count bsf_build(const struct attn__bsf_spec *sp, const struct attn_shape *s,
                                  int pass, int64_t list, int64_t *row, int32_t *col, uint8_t *kind,
                                  void *scratch)
{
	const int64_t b = sp->b, M = ATTN__BSF_MAX_IV;
	struct attn__bsf_geom g;
	bsf_geom(sp, s, pass, list, &g);
	int64_t *lo = scratch, *hi = lo + b * M;    /* (b, M) */
	int64_t *cnt = hi + b * M, *end = cnt + b;  /* (b) */
	int64_t *ulo = end + b, *uhi = ulo + b * M; /* (b·M) */
	struct bsf_count c = {0, 0};
	const int64_t nqb = attn__div_up(g.nq, b);

	for (int64_t qb = 0; qb < nqb; qb++) {
		const int64_t r0 = qb * b, mq = attn__min64(b, g.nq - r0);
		if (row)
			row[qb] = c.nnz;
		int64_t nu = 0;
		for (int64_t i = 0; i < mq; i++) {
			const int64_t pos = bsf_qpos(s, &g, r0 + i);
			end[i] = bsf_causal_end(s, &g, pos);
			cnt[i] = bsf_row(sp, s, pass, list, pos, end[i], lo + i * M, hi + i * M);
			for (int64_t x = 0; x < cnt[i]; x++) {
				ulo[nu] = lo[i * M + x];
				uhi[nu] = hi[i * M + x];
				nu++;
			}
		}
		/* Candidate blocks: those U touches, each once, ascending. */
		int64_t last = -1;
		for (;;) {
			/* the smallest block after `last` that some interval reaches */
			int64_t next = INT64_MAX;
			for (int64_t u = 0; u < nu; u++) {
				const int64_t first = ulo[u] / b;
				const int64_t lastb = (uhi[u] - 1) / b;
				if (lastb <= last)
					continue;
				const int64_t kb = first > last ? first : last + 1;
				next = kb < next ? kb : next;
			}
			if (next == INT64_MAX)
				break;
			last = next;
			const int64_t c0 = next * b, ce = attn__min64(c0 + b, g.nk);
			int64_t kept = 0;
			int full = 1;
			for (int64_t i = 0; i < mq; i++) {
				const int64_t z = attn__min64(ce, end[i]);
				const int64_t k =
				    bsf_overlap(lo + i * M, hi + i * M, (int)cnt[i], c0, z);
				kept += k;
				full &= k == (z > c0 ? z - c0 : 0);
			}
			if (kept == 0)
				continue;
			if (col) {
				col[c.nnz] = (int32_t)next;
				kind[c.nnz] = full ? ATTN__BS_FULL : ATTN__BS_PARTIAL;
			}
			c.nnz++;
			c.kept += kept;
		}
	}
	if (row)
		row[nqb] = c.nnz;
	return c;
}

/* ---- workspace layout ------------------------------------------------------------ */

static int64_t bsf_total_lists(const struct attn__bsf_spec *sp, const struct attn_shape *s)
{
	return bsf_first_list(sp, s, sp->passes);
}

static size_t bsf_header_bytes(const struct attn__bsf_spec *sp, const struct attn_shape *s)
{
	return attn__floats64(2 * (bsf_total_lists(sp, s) * 4 + 1));
}

/*
 * Count every list and lay them out after the header, from offset `base`
 * (the engine's total): fills hdr when non-NULL; returns the end offset.
 */
static size_t bsf_layout(const struct attn__bsf_spec *sp, const struct attn_shape *s, size_t base,
                         int64_t *hdr, void *scratch)
{
	size_t off = base + bsf_header_bytes(sp, s);
	int64_t li = 0;
	for (int pass = 0; pass < sp->passes; pass++)
		for (int64_t l = 0; l < bsf_lists(sp, s, pass); l++, li++) {
			struct attn__bsf_geom g;
			bsf_geom(sp, s, pass, l, &g);
			const struct bsf_count c =
			    bsf_build(sp, s, pass, l, NULL, NULL, NULL, scratch);
			const size_t rows = attn__bytes64((size_t)(attn__div_up(g.nq, sp->b) + 1) *
			                                  sizeof(int64_t));
			const size_t cols = attn__bytes64((size_t)c.nnz * sizeof(int32_t));
			if (hdr) {
				hdr[li * 4] = (int64_t)off;
				hdr[li * 4 + 1] = (int64_t)(off + rows);
				hdr[li * 4 + 2] = (int64_t)(off + rows + cols);
				hdr[li * 4 + 3] = c.nnz;
			}
			off += rows + cols + attn__bytes64((size_t)c.nnz);
		}
	return off;
}

/* ---- the pattern handed to the engine --------------------------------------------- */

struct bsf_arg {
	const struct attn__bsf_spec *sp;
	const struct attn_shape *s;
	const char *ws;
	const int64_t *hdr;
};

static void bsf_head(const void *arg, int pass, int64_t bh, struct attn__bs_head *hd)
{
	const struct bsf_arg *a = arg;
	const int64_t l = bh % a->s->heads % bsf_lists(a->sp, a->s, pass);
	const int64_t li = bsf_first_list(a->sp, a->s, pass) + l;
	struct attn__bsf_geom g;
	bsf_geom(a->sp, a->s, pass, l, &g);
	*hd = (struct attn__bs_head){
	    .nq = g.nq,
	    .nk = g.nk,
	    .qfirst = g.qfirst,
	    .qstride = g.qstride,
	    .kfirst = g.kfirst,
	    .kstride = g.kstride,
	    .row = (const int64_t *)(a->ws + a->hdr[li * 4]),
	    .col = (const int32_t *)(a->ws + a->hdr[li * 4 + 1]),
	    .kind = (const uint8_t *)(a->ws + a->hdr[li * 4 + 2]),
	};
}

/* mask (nq, nk) of a PARTIAL pair: each row's intervals, within the pair's keys. */
static void bsf_mask(const void *arg, int pass, int64_t bh, const struct attn__bs_head *hd,
                     int64_t r0, int64_t nq, int64_t c0, int64_t nk, uint8_t *mask)
{
	const struct bsf_arg *a = arg;
	const int64_t l = bh % a->s->heads % bsf_lists(a->sp, a->s, pass);
	int64_t lo[ATTN__BSF_MAX_IV], hi[ATTN__BSF_MAX_IV];
	for (int64_t i = 0; i < nq; i++) {
		uint8_t *mi = mask + i * nk;
		const int64_t pos = attn__bs_qpos(a->s, hd, r0 + i);
		const int n = bsf_row(a->sp, a->s, pass, l, pos, hd->nk, lo, hi);
		memset(mi, 0, (size_t)nk);
		for (int x = 0; x < n; x++) {
			const int64_t from = lo[x] > c0 ? lo[x] : c0;
			const int64_t to = hi[x] < c0 + nk ? hi[x] : c0 + nk;
			if (from < to)
				memset(mi + (from - c0), 1, (size_t)(to - from));
		}
	}
}

static void bsf_pattern(const struct attn__bsf_spec *sp, const struct attn_shape *s, const char *ws,
                        const int64_t *hdr, struct bsf_arg *a, struct attn__bs_pattern *pat)
{
	*a = (struct bsf_arg){.sp = sp, .s = s, .ws = ws, .hdr = hdr};
	*pat = (struct attn__bs_pattern){
	    .b = sp->b, .passes = sp->passes, .head = bsf_head, .mask = bsf_mask, .arg = a};
}

/* ---- the descriptor functions ------------------------------------------------------ */

void attn__bsf_spec_init(const struct attn__bsf_def *def, const struct attn_params *p,
                         struct attn__bsf_spec *sp)
{
	*sp = (struct attn__bsf_spec){.def = def, .p = p};
	for (int i = 0; i < def->n_params; i++) {
		const char *name = def->params[i].name;
		const int64_t v = attn__param_int(p, i, (int64_t)def->params[i].def);
		if (strcmp(name, "b") == 0)
			sp->b = v;
		else if (strcmp(name, "w") == 0)
			sp->w = v;
		else if (strcmp(name, "s") == 0)
			sp->s = v;
		else if (strcmp(name, "g") == 0)
			sp->g = v;
		else if (strcmp(name, "r") == 0)
			sp->r = v;
		else if (strcmp(name, "seed") == 0)
			sp->seed = (uint64_t)v;
	}
	sp->passes = def->passes ? def->passes : def->npasses(sp);
}

static int bsf_supports(const struct attn__bsf_spec *sp, const struct attn_shape *s, char *msg,
                        size_t msglen)
{
	const int rc =
	    attn__check_params(s, sp->p, sp->def->params, sp->def->n_params, msg, msglen);
	if (rc != ATTN_OK)
		return rc;
	if (s->n > INT32_MAX)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED,
		                 "n %lld beyond the engine's 32-bit positions", (long long)s->n);
	return sp->def->check ? sp->def->check(sp, s, msg, msglen) : ATTN_OK;
}

/*
 * Where things are: [engine | scratch | header | lists]. The scratch comes
 * first so that counting the lists (which needs it) can place them.
 */
struct bsf_ws {
	struct attn__bs_plan pl;
	size_t scratch, header;
};

static void bsf_ws_init(struct bsf_ws *w, const struct attn__bsf_spec *sp,
                        const struct attn_shape *s, int threads)
{
	attn__bs_plan_init(&w->pl, s, sp->b, sp->passes, threads < 1 ? 1 : threads);
	w->scratch = w->pl.total;
	w->header = w->scratch + attn__bytes64(bsf_scratch_bytes(sp->b));
}

static size_t bsf_workspace_bytes(const struct attn__bsf_spec *sp, const struct attn_shape *s,
                                  int threads)
{
	struct bsf_ws w;
	if (bsf_supports(sp, s, NULL, 0) != ATTN_OK)
		return 0;
	void *scratch = malloc(bsf_scratch_bytes(sp->b));
	if (!scratch)
		return SIZE_MAX;
	bsf_ws_init(&w, sp, s, threads);
	const size_t end = bsf_layout(sp, s, w.header, NULL, scratch);
	free(scratch);
	return end;
}

/* Kept pairs over all heads, by counting each list once per head that uses it. */
static double bsf_kept(const struct attn__bsf_spec *sp, const struct attn_shape *s)
{
	void *scratch = malloc(bsf_scratch_bytes(sp->b));
	if (!scratch)
		return NAN;
	double kept = 0.0;
	for (int pass = 0; pass < sp->passes; pass++) {
		const int64_t L = bsf_lists(sp, s, pass);
		for (int64_t l = 0; l < L; l++) {
			/* heads h < H with h % L == l */
			const int64_t users = s->heads / L + (l < s->heads % L);
			const struct bsf_count c =
			    bsf_build(sp, s, pass, l, NULL, NULL, NULL, scratch);
			kept += (double)c.kept * (double)users * (double)s->batch;
		}
	}
	free(scratch);
	return kept;
}

static double bsf_flops(const struct attn__bsf_spec *sp, const struct attn_shape *s)
{
	return attn__bs_flops(s, bsf_kept(sp, s));
}

/* Q, K, V read and O written once: the scores never leave the tile. */
static double bsf_bytes(const struct attn__bsf_spec *sp, const struct attn_shape *s)
{
	(void)sp;
	return attn__qkvo_bytes(s);
}

static int bsf_prepare(const struct attn__bsf_spec *sp, const struct attn_shape *s,
                       const struct attn_inputs *in, void *ws, const struct attn_ctx *ctx)
{
	(void)in;
	if (bsf_supports(sp, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	struct bsf_ws w;
	bsf_ws_init(&w, sp, s, ctx ? ctx->threads : 1);
	int64_t *hdr = (int64_t *)((char *)ws + w.header);
	bsf_layout(sp, s, w.header, hdr, (char *)ws + w.scratch);
	hdr[bsf_total_lists(sp, s) * 4] = 0; /* not dumped yet */
	return ATTN_OK;
}

/*
 * `ctx->threads` must be the count workspace_bytes() and prepare() were
 * given: the engine's plan, and so the carving, depends on it.
 */
static int bsf_forward(const struct attn__bsf_spec *sp, const struct attn_shape *s,
                       const struct attn_inputs *in, float *out, void *ws,
                       const struct attn_ctx *ctx)
{
	if (bsf_supports(sp, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	char *base = ws;
	struct bsf_ws w;
	bsf_ws_init(&w, sp, s, ctx ? ctx->threads : 1);
	int64_t *hdr = (int64_t *)(base + w.header);

	/*
	 * The lists, into the places prepare() laid out: a fixed pattern's
	 * "routing", timed apart.
	 */
	const uint64_t t0 = attn__now_ns();
	int64_t li = 0;
	for (int pass = 0; pass < sp->passes; pass++)
		for (int64_t l = 0; l < bsf_lists(sp, s, pass); l++, li++)
			bsf_build(sp, s, pass, l, (int64_t *)(base + hdr[li * 4]),
			          (int32_t *)(base + hdr[li * 4 + 1]),
			          (uint8_t *)(base + hdr[li * 4 + 2]), base + w.scratch);

	struct bsf_arg a;
	struct attn__bs_pattern pat;
	struct attn__bs_stats st;
	const double routing_ns = (double)(attn__now_ns() - t0);
	bsf_pattern(sp, s, base, hdr, &a, &pat);
	attn__bs_run(&w.pl, &pat, s, in, out, ws, &st);
	attn__bs_report(ctx, s, &st, 0.0, routing_ns);
	if (sp->def->resolved) {
		struct attn__bs_param rp[ATTN__BS_MAX_PARAMS];
		attn__bs_report_params(ctx, rp, sp->def->resolved(sp, s, rp));
	}
	attn__bs_dump(ctx, &pat, s, 0, (uint8_t *)&hdr[li * 4]);
	return ATTN_OK;
}

/* Multiplicity of (pos, j) in head bh's pattern, for attn__bs_reference_vis. */
struct bsf_vis_arg {
	const struct attn__bsf_spec *sp;
	const struct attn_shape *s;
};

static int bsf_vis(const void *arg, int64_t bh, int64_t pos, int64_t j)
{
	const struct bsf_vis_arg *a = arg;
	const struct attn__bsf_spec *sp = a->sp;
	if (!sp->def->row)
		return attn__bsf_local_vis(sp->s + sp->g, sp->w, sp->g, pos, j);
	return sp->def->vis(sp, a->s, bh % a->s->heads, pos, j);
}

static int bsf_oracle(const struct attn__bsf_spec *sp, const struct attn_shape *s,
                      const struct attn_inputs *in, double *out, const struct attn_ctx *ctx)
{
	(void)ctx;
	if (bsf_supports(sp, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	const struct bsf_vis_arg a = {.sp = sp, .s = s};
	return attn__bs_reference_vis(bsf_vis, &a, s, in, out);
}

/*
 * ---- The descriptor callbacks (ABI v2) --------------------------------------
 *
 * A method on this engine is a descriptor whose callbacks are these and
 * whose data says which variant it is; each builds the spec from m->data
 * and the call's parameters, then runs the entry point above.
 */

int attn__bsf_supports(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, char *msg, size_t msglen)
{
	struct attn__bsf_spec sp;
	attn__bsf_spec_init(m->data, p, &sp);
	return bsf_supports(&sp, s, msg, msglen);
}

size_t attn__bsf_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                 const struct attn_params *p, int threads)
{
	struct attn__bsf_spec sp;
	attn__bsf_spec_init(m->data, p, &sp);
	return bsf_workspace_bytes(&sp, s, threads);
}

double attn__bsf_flops(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p)
{
	struct attn__bsf_spec sp;
	attn__bsf_spec_init(m->data, p, &sp);
	return bsf_flops(&sp, s);
}

double attn__bsf_bytes(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p)
{
	struct attn__bsf_spec sp;
	attn__bsf_spec_init(m->data, p, &sp);
	return bsf_bytes(&sp, s);
}

int attn__bsf_prepare(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, void *ws,
                      const struct attn_ctx *ctx)
{
	struct attn__bsf_spec sp;
	attn__bsf_spec_init(m->data, p, &sp);
	return bsf_prepare(&sp, s, in, ws, ctx);
}

int attn__bsf_forward(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, float *out,
                      void *ws, const struct attn_ctx *ctx)
{
	struct attn__bsf_spec sp;
	attn__bsf_spec_init(m->data, p, &sp);
	return bsf_forward(&sp, s, in, out, ws, ctx);
}

int attn__bsf_oracle(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p, const struct attn_inputs *in, double *out,
                     const struct attn_ctx *ctx)
{
	struct attn__bsf_spec sp;
	attn__bsf_spec_init(m->data, p, &sp);
	return bsf_oracle(&sp, s, in, out, ctx);
}
