/*
 * The block-sparse engine (blocksparse.h): flash's tile, walking a list.
 *
 * One prefill tile is one query block of a head in one pass: up to b list
 * rows, packed once as Qᵀ (D, bqp) scaled by log2(e)/√D, against the key
 * blocks its list row names, in order. Per pair, with base-2 scores:
 *
 *   Sᵀ    = K_blk Qᵀ                                     (nk, bqp)
 *   Sᵀ_ji = -inf  where the pair's mask hides (i, j) or, causal, key j's
 *                 original position exceeds query i's
 *   m_new = max(m, column max of Sᵀ)
 *   Pᵀ    = 2^(Sᵀ - m_new),  l = α l + column sums,  A = α A + P V_blk,
 *   α     = 2^(m - m_new)
 *
 * then O = A / l. Unlike flash, a row may see nothing in a block, or in
 * any block so far: the running max starts at BS_M_NONE, a finite stand-in
 * for -inf, so that 2^(m - m_new) is 2^0 = 1 and never 2^(-inf + inf); a
 * hidden score, -inf, still gives 2^(-inf - m_new) = 0. A row with l = 0
 * at the end kept nothing and gets 0.
 *
 * Passes > 1 (prefill): pass 0 starts every row at (BS_M_NONE, 0, 0); each
 * tile loads its rows' (m, l) from the carry array and A from O itself,
 * continues the online softmax and stores them back; a last loop divides.
 * Decode: each (head, pass, range) task leaves a partial; the merge is
 * attn__merge_partials.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "engines/blocksparse.h"
#include "kernels/kernels.h"

/* The running max before any visible key: finite, so α never is NaN. */
#define BS_M_NONE (-1e30f)

void attn__bs_plan_init(struct attn__bs_plan *pl, const struct attn_shape *s, int64_t b, int passes,
                        int threads)
{
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s);
	const int64_t heads = s->batch * s->heads;
	int64_t tasks;

	memset(pl, 0, sizeof *pl);
	if (threads < 1)
		threads = 1;
	pl->b = b;
	pl->passes = passes;
	pl->bqp = attn__round_up(b, ATTN__GEMM_NR);
	/* As flash's: a row stride off multiples of 512 bytes spreads L1 sets. */
	pl->ldq = pl->bqp + 16;

	size_t off = 0;
	if (s->mode == ATTN_MODE_DECODE) {
		pl->splits = attn__div_up(attn__div_up(N, b), ATTN__BS_DECODE_RANGE);
		tasks = heads * passes * pl->splits;
		pl->parts = attn__floats64(heads * passes * pl->splits * (D + 2));
		pl->off_qt = off; /* q' (D) */
		off += attn__floats64(D);
		pl->off_pt = off; /* scores (b) */
		off += attn__floats64(b);
	} else {
		tasks = heads * attn__div_up(NQ, b);
		if (passes > 1)
			pl->carry = attn__floats64(heads * NQ * 2);
		pl->off_qt = off;
		off += attn__floats64(D * pl->ldq);
		pl->off_pt = off;
		off += attn__floats64(b * pl->ldq);
		pl->off_acc = off;
		off += attn__floats64(pl->bqp * D);
		pl->off_m = off;
		off += attn__floats64(pl->bqp);
		pl->off_l = off;
		off += attn__floats64(pl->bqp);
		pl->off_mnew = off;
		off += attn__floats64(pl->bqp);
		pl->off_csum = off;
		off += attn__floats64(pl->bqp);
		pl->off_qrow = off;
		off += attn__floats64(b);
		pl->off_qpos = off;
		off += attn__floats64(b);
	}
	/* Gathered K and V rows (array maps), a pair's mask, its keys' positions. */
	pl->off_kbuf = off;
	off += attn__floats64(b * D);
	pl->off_vbuf = off;
	off += attn__floats64(b * D);
	pl->off_mask = off;
	off += attn__floats64(attn__div_up(b * b, (int64_t)sizeof(float)));
	pl->off_kpos = off;
	off += attn__floats64(b);
	pl->slice = off;
	/* A thread without a task would only hold memory. */
	pl->threads = (int)attn__min64(threads, tasks > 0 ? tasks : 1);
	pl->total = pl->carry + pl->parts + (size_t)pl->threads * pl->slice;
}

/*
 * One key block of list space, ready for the GEMMs: its K and V rows (in
 * place for affine maps, row stride rs; gathered into the slice for arrays)
 * and its keys' original positions.
 *   k, v: the head's (N, D); kpos (nk).
 */
struct bs_keys {
	const float *k, *v;
	int64_t rs;
	int64_t maxpos;
};

static void bs_load_keys(const struct attn__bs_head *hd, int64_t c0, int64_t nk, int64_t D,
                         const float *k, const float *v, float *kbuf, float *vbuf, int32_t *kpos,
                         struct bs_keys *ks)
{
	int64_t mx = 0;
	for (int64_t j = 0; j < nk; j++) {
		kpos[j] = (int32_t)attn__bs_key(hd, c0 + j);
		mx = kpos[j] > mx ? kpos[j] : mx;
	}
	ks->maxpos = mx;
	if (hd->kidx) {
		for (int64_t j = 0; j < nk; j++) {
			memcpy(kbuf + j * D, k + (int64_t)kpos[j] * D, (size_t)D * sizeof(float));
			memcpy(vbuf + j * D, v + (int64_t)kpos[j] * D, (size_t)D * sizeof(float));
		}
		ks->k = kbuf;
		ks->v = vbuf;
		ks->rs = D;
	} else {
		ks->k = k + (int64_t)kpos[0] * D;
		ks->v = v + (int64_t)kpos[0] * D;
		ks->rs = hd->kstride * D;
	}
}

/*
 * Hide the scores a pair does not keep, in Sᵀ (nk, ldq): column i of list
 * row r0 + i, row j of key j. A score is kept when the pair's mask (if
 * PARTIAL) keeps (i, j) and, causal, kpos[j] <= qpos[i]. Returns the kept
 * count over the mq real rows. Branch-free, so that it costs little next
 * to the pair's GEMMs.
 */
static int64_t bs_hide(float *pt, int64_t ldq, int64_t mq, int64_t nk, const uint8_t *mask,
                       int causal, const int32_t *qpos, const int32_t *kpos)
{
	int64_t kept = 0;
	for (int64_t j = 0; j < nk; j++) {
		float *row = pt + j * ldq;
		const int32_t kp = causal ? kpos[j] : INT32_MIN;
		for (int64_t i = 0; i < mq; i++) {
			const int keep = (!mask || mask[i * nk + j]) & (kp <= qpos[i]);
			row[i] = keep ? row[i] : -INFINITY;
			kept += keep;
		}
	}
	return kept;
}

/*
 * The same for causality alone when the rows are consecutive positions
 * (identity row map, the diagonal pairs of every causal pattern): key j is
 * hidden from the rows before position kpos[j], a prefix of its Sᵀ row.
 */
static int64_t bs_hide_causal(float *pt, int64_t ldq, int64_t mq, int64_t nk, int64_t pos0,
                              const int32_t *kpos)
{
	int64_t kept = 0;
	for (int64_t j = 0; j < nk; j++) {
		const int64_t lo = attn__min64(kpos[j] > pos0 ? kpos[j] - pos0 : 0, mq);
		float *row = pt + j * ldq;
		for (int64_t i = 0; i < lo; i++)
			row[i] = -INFINITY;
		kept += mq - lo;
	}
	return kept;
}

/*
 * One prefill tile: query block qb of head bh's list for pass `pass`.
 * Adds to *st what it computed.
 */
static void bs_tile(const struct attn__bs_plan *pl, const struct attn__bs_pattern *pat,
                    const struct attn_shape *s, const struct attn_inputs *in, float *out,
                    float *carry, int pass, int64_t bh, const struct attn__bs_head *hd, int64_t qb,
                    char *slice, struct attn__bs_stats *st)
{
	const int64_t N = s->n, D = s->d, b = pl->b, bqp = pl->bqp, ldq = pl->ldq;
	float *qt = (float *)(slice + pl->off_qt);         /* (D, bqp), row stride ldq */
	float *pt = (float *)(slice + pl->off_pt);         /* (b, bqp), row stride ldq */
	float *acc = (float *)(slice + pl->off_acc);       /* (bqp, D) */
	float *m = (float *)(slice + pl->off_m);           /* (bqp) */
	float *l = (float *)(slice + pl->off_l);           /* (bqp) */
	float *mnew = (float *)(slice + pl->off_mnew);     /* (bqp) */
	float *csum = (float *)(slice + pl->off_csum);     /* (bqp) */
	float *kbuf = (float *)(slice + pl->off_kbuf);     /* (b, D) */
	float *vbuf = (float *)(slice + pl->off_vbuf);     /* (b, D) */
	uint8_t *mbuf = (uint8_t *)(slice + pl->off_mask); /* (b, b) */
	int32_t *qrow = (int32_t *)(slice + pl->off_qrow); /* (b) */
	int32_t *qpos = (int32_t *)(slice + pl->off_qpos); /* (b) */
	int32_t *kpos = (int32_t *)(slice + pl->off_kpos); /* (b) */
	const int64_t r0 = qb * b, mq = attn__min64(b, hd->nq - r0);
	const int64_t kvh = attn__kv_head(s, bh);
	const float *q = in->q + bh * N * D;           /* (N, D) */
	const float *k = in->k + kvh * N * D;          /* (N, D) */
	const float *v = in->v + kvh * N * D;          /* (N, D) */
	float *o = out + bh * N * D;                   /* (N, D) */
	float *ml = carry ? carry + bh * N * 2 : NULL; /* (N, 2) */

	/* pass 0: the rows, Qᵀ scaled to base 2 (gathered first for array maps) */
	int64_t qmin = INT64_MAX;
	for (int64_t i = 0; i < mq; i++) {
		qrow[i] = qpos[i] = (int32_t)attn__bs_qrow(hd, r0 + i);
		qmin = qpos[i] < qmin ? qpos[i] : qmin;
	}
	const int consecutive = !hd->qidx && hd->qstride == 1;
	const float qscale = (float)(ATTN__LOG2E / sqrt((double)D));
	if (hd->qidx) {
		for (int64_t i = 0; i < mq; i++)
			memcpy(kbuf + i * D, q + (int64_t)qrow[i] * D, (size_t)D * sizeof(float));
		attn__pack_qt(qt, ldq, kbuf, D, mq, bqp, D, qscale);
	} else {
		attn__pack_qt(qt, ldq, q + (int64_t)qrow[0] * D, hd->qstride * D, mq, bqp, D,
		              qscale);
	}
	memset(acc, 0, (size_t)(bqp * D) * sizeof(float));
	for (int64_t i = 0; i < bqp; i++) {
		m[i] = BS_M_NONE;
		l[i] = 0.0f;
	}
	if (ml && pass > 0) {
		for (int64_t i = 0; i < mq; i++) {
			m[i] = ml[qrow[i] * 2];
			l[i] = ml[qrow[i] * 2 + 1];
			memcpy(acc + i * D, o + (int64_t)qrow[i] * D, (size_t)D * sizeof(float));
		}
	}

	for (int64_t e = hd->row[qb]; e < hd->row[qb + 1]; e++) {
		const int64_t c0 = (int64_t)hd->col[e] * b, nk = attn__min64(b, hd->nk - c0);
		struct bs_keys ks;
		bs_load_keys(hd, c0, nk, D, k, v, kbuf, vbuf, kpos, &ks);

		/* pass 1: Sᵀ (nk, bqp) = K_blk (nk, D) · Qᵀ (D, bqp) */
		attn__gemm(nk, bqp, D, ks.k, ks.rs, 1, qt, ldq, pt, ldq, 0);

		/* pass 2: hide what the pair does not keep (its mask, then causality) */
		const int partial = hd->kind && hd->kind[e] == ATTN__BS_PARTIAL;
		const int cut = s->causal && ks.maxpos > qmin;
		if (partial)
			pat->mask(pat->arg, pass, bh, hd, r0, mq, c0, nk, mbuf);
		if (partial || (cut && !consecutive))
			st->kept +=
			    bs_hide(pt, ldq, mq, nk, partial ? mbuf : NULL, s->causal, qpos, kpos);
		else if (cut)
			st->kept += bs_hide_causal(pt, ldq, mq, nk, qpos[0], kpos);
		else
			st->kept += mq * nk;

		/* pass 3: m_new = max(m, column max of Sᵀ) */
		memcpy(mnew, m, (size_t)bqp * sizeof(float));
		for (int64_t j = 0; j < nk; j++)
			attn__max_into(mnew, pt + j * ldq, bqp);

		/* pass 4: Pᵀ = 2^(Sᵀ - m_new) (hidden: 0), column sums */
		memset(csum, 0, (size_t)bqp * sizeof(float));
		for (int64_t j = 0; j < nk; j++)
			attn__exp2_sub_into(pt + j * ldq, mnew, csum, bqp);

		/* pass 5: α = 2^(m - m_new); l = α l + Σ_j P, A = α A, m = m_new */
		attn__online_rescale(m, l, mnew, csum, acc, bqp, D);

		/* pass 6: A (bqp, D) += P (bqp, nk) V_blk (nk, D), reading Pᵀ in place */
		attn__gemm(bqp, D, nk, pt, 1, ldq, ks.v, ks.rs, acc, D, 1);
		st->tiles++;
	}

	/* pass 7: O = A / l to the original rows (l = 0: nothing kept, O = 0), or carry on */
	for (int64_t i = 0; i < mq; i++) {
		float *oi = o + (int64_t)qrow[i] * D;
		if (ml) {
			ml[qrow[i] * 2] = m[i];
			ml[qrow[i] * 2 + 1] = l[i];
			memcpy(oi, acc + i * D, (size_t)D * sizeof(float));
		} else {
			const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
			for (int64_t c = 0; c < D; c++)
				oi[c] = acc[i * D + c] * inv;
		}
	}
}

static void bs_prefill(const struct attn__bs_plan *pl, const struct attn__bs_pattern *pat,
                       const struct attn_shape *s, const struct attn_inputs *in, float *out,
                       void *ws, struct attn__bs_stats *st)
{
	const int64_t N = s->n, D = s->d, heads = s->batch * s->heads;
	const int64_t nqb = attn__div_up(N, pl->b); /* the most query blocks a list can have */
	const int64_t tasks = heads * nqb;
	float *carry = pl->carry ? (float *)ws : NULL; /* (heads, N, 2) */
	int64_t tiles = 0, kept = 0;

#pragma omp parallel num_threads(pl->threads) reduction(+ : tiles, kept)
	{
		char *slice = (char *)ws + pl->carry + (size_t)attn__thread_id() * pl->slice;
		struct attn__bs_stats my = {0, 0};

		/* Passes > 1 start every row empty: rows no pass reaches end as 0. */
		if (carry) {
#pragma omp for schedule(static)
			for (int64_t bh = 0; bh < heads; bh++) {
				for (int64_t i = 0; i < N; i++) {
					carry[(bh * N + i) * 2] = BS_M_NONE;
					carry[(bh * N + i) * 2 + 1] = 0.0f;
				}
				memset(out + bh * N * D, 0, (size_t)(N * D) * sizeof(float));
			}
		}

		for (int pass = 0; pass < pl->passes; pass++) {
			/*
			 * Task t runs query block nqb - 1 - t / heads of head t % heads:
			 * the last blocks, the longest under a causal mask, go first.
			 * (The implicit barrier at the loop's end orders the passes.)
			 */
#pragma omp for schedule(dynamic, 1)
			for (int64_t t = 0; t < tasks; t++) {
				const int64_t qb = nqb - 1 - t / heads, bh = t % heads;
				struct attn__bs_head hd;
				pat->head(pat->arg, pass, bh, &hd);
				if (qb * pl->b < hd.nq)
					bs_tile(pl, pat, s, in, out, carry, pass, bh, &hd, qb,
					        slice, &my);
			}
		}

		/* Passes > 1: O = A / l, the carried A being O itself. */
		if (carry) {
#pragma omp for schedule(static)
			for (int64_t bh = 0; bh < heads; bh++)
				for (int64_t i = 0; i < N; i++) {
					const float l = carry[(bh * N + i) * 2 + 1];
					attn__scale(out + (bh * N + i) * D,
					            l > 0.0f ? 1.0f / l : 0.0f, D);
				}
		}
		tiles += my.tiles;
		kept += my.kept;
	}
	st->tiles = tiles;
	st->kept = kept;
}

/*
 * One decode task: pairs [e0, e1) of head bh's single list row in pass
 * `pass`, left as the partial (m, l, A) at part (2 + D floats).
 */
static void bs_decode_range(const struct attn__bs_plan *pl, const struct attn__bs_pattern *pat,
                            const struct attn_shape *s, const struct attn_inputs *in, int pass,
                            int64_t bh, const struct attn__bs_head *hd, int64_t e0, int64_t e1,
                            float *part, char *slice, struct attn__bs_stats *st)
{
	const int64_t N = s->n, D = s->d, b = pl->b;
	float *qp = (float *)(slice + pl->off_qt);         /* (D) */
	float *sp = (float *)(slice + pl->off_pt);         /* (b) */
	float *kbuf = (float *)(slice + pl->off_kbuf);     /* (b, D) */
	float *vbuf = (float *)(slice + pl->off_vbuf);     /* (b, D) */
	uint8_t *mbuf = (uint8_t *)(slice + pl->off_mask); /* (b) */
	int32_t *kpos = (int32_t *)(slice + pl->off_kpos); /* (b) */
	const int64_t kvh = attn__kv_head(s, bh);
	const float *k = in->k + kvh * N * D; /* (N, D) */
	const float *v = in->v + kvh * N * D; /* (N, D) */

	part[0] = BS_M_NONE;
	part[1] = 0.0f;
	memset(part + 2, 0, (size_t)D * sizeof(float));
	if (e0 >= e1)
		return;
	const float qscale = (float)(ATTN__LOG2E / sqrt((double)D));
	for (int64_t c = 0; c < D; c++)
		qp[c] = in->q[bh * D + c] * qscale;

	for (int64_t e = e0; e < e1; e++) {
		const int64_t c0 = (int64_t)hd->col[e] * b, nk = attn__min64(b, hd->nk - c0);
		struct bs_keys ks;
		bs_load_keys(hd, c0, nk, D, k, v, kbuf, vbuf, kpos, &ks);

		/* s (nk) = q' K_blkᵀ in base 2; a PARTIAL pair's hidden keys -inf */
		attn__gemm_nt(1, nk, D, qp, D, ks.k, ks.rs, sp, b);
		if (hd->kind && hd->kind[e] == ATTN__BS_PARTIAL) {
			pat->mask(pat->arg, pass, bh, hd, 0, 1, c0, nk, mbuf);
			for (int64_t j = 0; j < nk; j++) {
				if (!mbuf[j])
					sp[j] = -INFINITY;
				st->kept += mbuf[j] != 0;
			}
		} else {
			/* The query sits at N - 1: causality hides no key. */
			st->kept += nk;
		}

		/* the online softmax step, then A (D) += P (nk) V_blk (nk, D) */
		attn__online_row(part, sp, nk, D);
		attn__gemm(1, D, nk, sp, b, 1, ks.v, ks.rs, part + 2, D, 1);
		st->tiles++;
	}
}

static void bs_decode(const struct attn__bs_plan *pl, const struct attn__bs_pattern *pat,
                      const struct attn_shape *s, const struct attn_inputs *in, float *out,
                      void *ws, struct attn__bs_stats *st)
{
	const int64_t D = s->d, heads = s->batch * s->heads, splits = pl->splits;
	const int64_t per_head = pl->passes * splits; /* partials per head */
	const int64_t stride = D + 2;
	float *parts = ws; /* (heads, passes, splits, 2 + D) */
	int64_t tiles = 0, kept = 0;

#pragma omp parallel num_threads(pl->threads) reduction(+ : tiles, kept)
	{
		char *slice = (char *)ws + pl->parts + (size_t)attn__thread_id() * pl->slice;
		struct attn__bs_stats my = {0, 0};

		/* Partial (bh, pass, r): pairs [r·R, (r+1)·R) of the head's list row. */
#pragma omp for schedule(dynamic, 1)
		for (int64_t t = 0; t < heads * per_head; t++) {
			const int64_t bh = t / per_head, pass = t % per_head / splits,
			              r = t % splits;
			struct attn__bs_head hd;
			int64_t e0 = 0, e1 = 0;
			pat->head(pat->arg, (int)pass, bh, &hd);
			if (hd.nq > 0) {
				e0 = hd.row[0] + r * ATTN__BS_DECODE_RANGE;
				e1 = attn__min64(hd.row[1], e0 + ATTN__BS_DECODE_RANGE);
			}
			bs_decode_range(pl, pat, s, in, (int)pass, bh, &hd, e0, e1,
			                parts + t * stride, slice, &my);
		}

		/* Merge: M = max m_r, O = Σ 2^(m_r - M) A_r / Σ 2^(m_r - M) l_r. */
#pragma omp for schedule(static)
		for (int64_t bh = 0; bh < heads; bh++)
			attn__merge_partials(out + bh * D, parts + bh * per_head * stride, per_head,
			                     stride, D);
		tiles += my.tiles;
		kept += my.kept;
	}
	st->tiles = tiles;
	st->kept = kept;
}

void attn__bs_run(const struct attn__bs_plan *pl, const struct attn__bs_pattern *pat,
                  const struct attn_shape *s, const struct attn_inputs *in, float *out, void *ws,
                  struct attn__bs_stats *st)
{
	struct attn__bs_stats none;
	if (!st)
		st = &none;
	if (s->mode == ATTN_MODE_DECODE)
		bs_decode(pl, pat, s, in, out, ws, st);
	else
		bs_prefill(pl, pat, s, in, out, ws, st);
}

/* ---- helpers ------------------------------------------------------------------- */

double attn__bs_density(const struct attn_shape *s, double kept)
{
	return kept / attn__softmax_pairs(s);
}

double attn__bs_flops(const struct attn_shape *s, double kept)
{
	return 4.0 * (double)s->d * kept;
}

void attn__bs_report(const struct attn_ctx *ctx, const struct attn_shape *s,
                     const struct attn__bs_stats *st, double routing_flops, double routing_ns)
{
	if (!ctx || !ctx->report)
		return;
	ctx->report(ctx, "density", attn__bs_density(s, (double)st->kept), "1");
	ctx->report(ctx, "flops_computed", attn__bs_flops(s, (double)st->kept) + routing_flops,
	            "flop");
	ctx->report(ctx, "tiles", (double)st->tiles, "1");
	if (routing_ns >= 0.0)
		ctx->report(ctx, "routing_ns", routing_ns, "ns");
}

void attn__bs_report_params(const struct attn_ctx *ctx, const struct attn__bs_param *p, int n)
{
	if (!ctx || !ctx->report)
		return;
	for (int i = 0; i < n; i++) {
		char name[48];
		snprintf(name, sizeof(name), "param.%s", p[i].name);
		ctx->report(ctx, name, p[i].value, "1");
	}
}

/*
 * Visit every kept (list row, list key) of head bh in pass `pass`: fn(arg2,
 * r, c) for each, in list order, with masks and causality applied.
 * mbuf: b·b bytes. Shared by the dump and the list reference.
 */
typedef void (*bs_visit_fn)(void *arg2, const struct attn__bs_head *hd, int64_t r, int64_t c);

static void bs_visit(const struct attn__bs_pattern *pat, const struct attn_shape *s, int pass,
                     int64_t bh, uint8_t *mbuf, bs_visit_fn fn, void *arg2)
{
	const int64_t b = pat->b;
	struct attn__bs_head hd;
	pat->head(pat->arg, pass, bh, &hd);
	for (int64_t qb = 0; qb * b < hd.nq; qb++) {
		const int64_t r0 = qb * b, mq = attn__min64(b, hd.nq - r0);
		for (int64_t e = hd.row[qb]; e < hd.row[qb + 1]; e++) {
			const int64_t c0 = (int64_t)hd.col[e] * b, nk = attn__min64(b, hd.nk - c0);
			const int partial = hd.kind && hd.kind[e] == ATTN__BS_PARTIAL;
			if (partial)
				pat->mask(pat->arg, pass, bh, &hd, r0, mq, c0, nk, mbuf);
			for (int64_t i = 0; i < mq; i++) {
				const int64_t pos = attn__bs_qpos(s, &hd, r0 + i);
				for (int64_t j = 0; j < nk; j++) {
					if (partial && !mbuf[i * nk + j])
						continue;
					if (s->causal && attn__bs_key(&hd, c0 + j) > pos)
						continue;
					fn(arg2, &hd, r0 + i, c0 + j);
				}
			}
		}
	}
}

struct bs_dump {
	const struct attn_shape *s;
	int64_t b, nkb, nq;
	uint32_t *pairs; /* (nqb, nkb): pairs visited, every pass */
};

static void bs_dump_mark(void *arg2, const struct attn__bs_head *hd, int64_t r, int64_t c)
{
	struct bs_dump *d = arg2;
	const int64_t qb = d->s->mode == ATTN_MODE_DECODE ? 0 : attn__bs_qrow(hd, r) / d->b;
	d->pairs[qb * d->nkb + attn__bs_key(hd, c) / d->b]++;
}

void attn__bs_dump(const struct attn_ctx *ctx, const struct attn__bs_pattern *pat,
                   const struct attn_shape *s, int64_t bh, uint8_t *dumped)
{
	if (!ctx || !ctx->dump_mask || *dumped)
		return;
	*dumped = 1;
	const int64_t b = pat->b;
	struct bs_dump d = {.s = s, .b = b, .nkb = attn__div_up(s->n, b), .nq = attn_shape_nq(s)};
	const int64_t nqb = attn__div_up(d.nq, b);
	d.pairs = calloc((size_t)(nqb * d.nkb), sizeof(*d.pairs));
	uint8_t *blocks = malloc((size_t)(nqb * d.nkb));
	uint8_t *mbuf = malloc((size_t)(b * b));
	if (d.pairs && blocks && mbuf) {
		for (int pass = 0; pass < pat->passes; pass++)
			bs_visit(pat, s, pass, bh, mbuf, bs_dump_mark, &d);
		if (pat->dump_overlap)
			pat->dump_overlap(pat->arg, bh, d.nkb, d.pairs);
		/*
		 * A block's byte is its kept fraction of the block's area: 0 skipped,
		 * 2..253 partial (2 + 252·fraction, rounded down), 255 every pair kept;
		 * 1 stays what masks stored before fractions were: kept, how much unknown.
		 * Passes that visit the same pair count it each time unless
		 * dump_overlap took the repeats out, so the union can read fuller
		 * than it is; it is clamped to full.
		 */
		for (int64_t qb = 0; qb < nqb; qb++)
			for (int64_t kb = 0; kb < d.nkb; kb++) {
				const int64_t mq = attn__min64(b, d.nq - qb * b);
				const int64_t area = mq * attn__min64(b, s->n - kb * b);
				const uint32_t n = d.pairs[qb * d.nkb + kb];
				blocks[qb * d.nkb + kb] =
				    n == 0               ? 0
				    : (int64_t)n >= area ? 255
				                         : (uint8_t)(2 + (252 * (int64_t)n) / area);
			}
		ctx->dump_mask(ctx, bh, nqb, d.nkb, blocks);
	}
	free(mbuf);
	free(blocks);
	free(d.pairs);
}

/*
 * The list reference: per original row, a float64 online softmax over the
 * kept keys in the order visited, (m, l, A) in double:
 *   m' = max(m, s),  l = e^(m - m') l + e^(s - m'),  A = e^(m - m') A + e^(s - m') v.
 */
struct bs_ref {
	const struct attn_shape *s;
	const float *q, *k, *v; /* the head's (NQ, D), (N, D), (N, D) */
	double *st;             /* (NQ, 2 + D): m, l, A */
};

static void bs_ref_key(void *arg2, const struct attn__bs_head *hd, int64_t r, int64_t c)
{
	struct bs_ref *rf = arg2;
	const int64_t D = rf->s->d;
	const int64_t i = rf->s->mode == ATTN_MODE_DECODE ? 0 : attn__bs_qrow(hd, r);
	const int64_t j = attn__bs_key(hd, c);
	double dot = 0.0;
	for (int64_t x = 0; x < D; x++)
		dot += (double)rf->q[i * D + x] * (double)rf->k[j * D + x];
	const double sc = dot / sqrt((double)D);
	double *st = rf->st + i * (D + 2);
	if (sc > st[0]) {
		const double a = exp(st[0] - sc);
		st[1] *= a;
		for (int64_t x = 0; x < D; x++)
			st[2 + x] *= a;
		st[0] = sc;
	}
	const double w = exp(sc - st[0]);
	st[1] += w;
	for (int64_t x = 0; x < D; x++)
		st[2 + x] += w * (double)rf->v[j * D + x];
}

int attn__bs_reference(const struct attn__bs_pattern *pat, const struct attn_shape *s,
                       const struct attn_inputs *in, double *out)
{
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s), heads = s->batch * s->heads;
	double *st = malloc((size_t)(NQ * (D + 2)) * sizeof(double));
	uint8_t *mbuf = malloc((size_t)(pat->b * pat->b));
	if (!st || !mbuf) {
		free(st);
		free(mbuf);
		return ATTN_ERR_NOMEM;
	}
	for (int64_t bh = 0; bh < heads; bh++) {
		const int64_t kvh = attn__kv_head(s, bh);
		struct bs_ref rf = {.s = s,
		                    .q = in->q + bh * NQ * D,
		                    .k = in->k + kvh * N * D,
		                    .v = in->v + kvh * N * D,
		                    .st = st};
		for (int64_t i = 0; i < NQ; i++) {
			st[i * (D + 2)] = -INFINITY;
			memset(st + i * (D + 2) + 1, 0, (size_t)(D + 1) * sizeof(double));
		}
		for (int pass = 0; pass < pat->passes; pass++)
			bs_visit(pat, s, pass, bh, mbuf, bs_ref_key, &rf);
		for (int64_t i = 0; i < NQ; i++) {
			const double l = st[i * (D + 2) + 1];
			for (int64_t x = 0; x < D; x++)
				out[(bh * NQ + i) * D + x] =
				    l > 0.0 ? st[i * (D + 2) + 2 + x] / l : 0.0;
		}
	}
	free(st);
	free(mbuf);
	return ATTN_OK;
}

int attn__bs_reference_vis(attn__bs_vis_fn vis, const void *arg, const struct attn_shape *s,
                           const struct attn_inputs *in, double *out)
{
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s), heads = s->batch * s->heads;
	double *sc = malloc((size_t)N * sizeof(double));
	int *cnt = malloc((size_t)N * sizeof(int));
	if (!sc || !cnt) {
		free(sc);
		free(cnt);
		return ATTN_ERR_NOMEM;
	}
	for (int64_t bh = 0; bh < heads; bh++) {
		const int64_t kvh = attn__kv_head(s, bh);
		const float *q = in->q + bh * NQ * D; /* (NQ, D) */
		const float *k = in->k + kvh * N * D; /* (N, D) */
		const float *v = in->v + kvh * N * D; /* (N, D) */
		for (int64_t i = 0; i < NQ; i++) {
			const int64_t pos = s->mode == ATTN_MODE_DECODE ? N - 1 : i;
			const int64_t nk = s->causal ? pos + 1 : N;
			double *o = out + (bh * NQ + i) * D;

			/* s_j = q_i · k_j / √D over the kept keys, and their max */
			double m = -INFINITY;
			for (int64_t j = 0; j < nk; j++) {
				cnt[j] = vis(arg, bh, pos, j);
				if (!cnt[j])
					continue;
				double dot = 0.0;
				for (int64_t x = 0; x < D; x++)
					dot += (double)q[i * D + x] * (double)k[j * D + x];
				sc[j] = dot / sqrt((double)D);
				m = sc[j] > m ? sc[j] : m;
			}

			/* o_i = Σ_j c_j e^(s_j - m) v_j / Σ_j c_j e^(s_j - m) */
			double l = 0.0;
			for (int64_t x = 0; x < D; x++)
				o[x] = 0.0;
			for (int64_t j = 0; j < nk; j++) {
				if (!cnt[j])
					continue;
				const double w = cnt[j] * exp(sc[j] - m);
				l += w;
				for (int64_t x = 0; x < D; x++)
					o[x] += w * (double)v[j * D + x];
			}
			for (int64_t x = 0; x < D; x++)
				o[x] = l > 0.0 ? o[x] / l : 0.0;
		}
	}
	free(sc);
	free(cnt);
	return ATTN_OK;
}
