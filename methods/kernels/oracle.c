/*
 * The float64 softmax attention reference: the oracle that every exact method
 * is checked against, and the `reference` method's engine. It is written to
 * be obviously right, not fast: one query row at a time, scores in double,
 * the row max subtracted before exp, no blocking and no cleverness. Read it
 * next to the conventions in attnbench/method.h.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"

/*
 * One query row: o (D) = softmax(q · K[0..nk)ᵀ / √D) V[0..nk), with the
 * caller's nk doubles as scratch. Every row the oracle produces, full or
 * sampled, comes from here, so the two can never disagree.
 */
static void reference_row(const float *q, const float *k, const float *v, int64_t nk, int64_t D,
                          double scale, double *oi, double *scores)
{
	/* s_j = q · k_j / √D, and their max. */
	double m = -INFINITY;
	for (int64_t j = 0; j < nk; j++) {
		double dot = 0.0;
		for (int64_t c = 0; c < D; c++)
			dot += (double)q[c] * (double)k[j * D + c];
		scores[j] = dot * scale;
		if (scores[j] > m)
			m = scores[j];
	}

	/*
	 * w_j = e^(s_j - m), l = Σ_j w_j: subtracting m keeps every exponent
	 * <= 0 (no overflow) and makes l >= 1.
	 */
	double l = 0.0;
	for (int64_t j = 0; j < nk; j++) {
		scores[j] = exp(scores[j] - m);
		l += scores[j];
	}

	/* o = Σ_j w_j v_j / l */
	for (int64_t c = 0; c < D; c++)
		oi[c] = 0.0;
	for (int64_t j = 0; j < nk; j++)
		for (int64_t c = 0; c < D; c++)
			oi[c] += scores[j] * (double)v[j * D + c];
	for (int64_t c = 0; c < D; c++)
		oi[c] /= l;
}

/* Rows rows[0..nrows) of the output, or all NQ of them when rows is NULL. */
static int reference_rows(const struct attn_shape *s, const struct attn_inputs *in,
                          const int64_t *rows, int64_t nrows, double *out, double *scores)
{
	if (attn__check_shape(s, NULL, 0) != ATTN_OK || !in || !in->q || !in->k || !in->v || !out ||
	    !scores || nrows < 0)
		return ATTN_ERR_INVALID;

	const int64_t B = s->batch, H = s->heads, N = s->n, D = s->d;
	const int64_t NQ = attn_shape_nq(s);
	const double scale = 1.0 / sqrt((double)D);
	if (!rows)
		nrows = NQ;
	for (int64_t r = 0; rows && r < nrows; r++)
		if (rows[r] < 0 || rows[r] >= NQ)
			return ATTN_ERR_INVALID;

	for (int64_t b = 0; b < B; b++) {
		for (int64_t h = 0; h < H; h++) {
			const int64_t kv = attn__kv_head(s, b * H + h); /* K/V head (GQA) */
			const float *q = in->q + (b * H + h) * NQ * D;  /* (NQ, D) */
			const float *k = in->k + kv * N * D;            /* (N, D) */
			const float *v = in->v + kv * N * D;            /* (N, D) */
			double *o = out + (b * H + h) * nrows * D;      /* (nrows, D) */

			for (int64_t r = 0; r < nrows; r++) {
				const int64_t i = rows ? rows[r] : r;
				/* Decode's single query sits after the whole context. */
				const int64_t pos = s->mode == ATTN_MODE_DECODE ? N - 1 : i;
				/* Causal: keys 0..pos; the key at pos itself is always seen. */
				const int64_t nk = s->causal ? pos + 1 : N;
				reference_row(q + i * D, k, v, nk, D, scale, o + r * D, scores);
			}
		}
	}
	return ATTN_OK;
}

int attn__reference_softmax_rows(const struct attn_shape *s, const struct attn_inputs *in,
                                 const int64_t *rows, int64_t nrows, double *out, double *scores)
{
	return rows || nrows == 0 ? reference_rows(s, in, rows, nrows, out, scores)
	                          : ATTN_ERR_INVALID;
}

int attn__reference_softmax_ws(const struct attn_shape *s, const struct attn_inputs *in,
                               double *out, double *scores)
{
	return reference_rows(s, in, NULL, 0, out, scores);
}

int attn_reference_softmax(const struct attn_shape *s, const struct attn_inputs *in, double *out)
{
	if (!s || s->n < 1)
		return ATTN_ERR_INVALID;
	double *scores = malloc((size_t)s->n * sizeof(double));
	if (!scores)
		return ATTN_ERR_NOMEM;
	int rc = attn__reference_softmax_ws(s, in, out, scores);
	free(scores);
	return rc;
}
