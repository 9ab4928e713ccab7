/*
 * What the suites of a method family share to run a method and judge its
 * output: a shape builder, run_method() (prepare + forward with a NaN-filled
 * workspace and output, guard bytes after both, every output finite), the
 * method's float64 oracle, relative errors, and the worst error of a loop
 * with where it happened, so that a test asserts once at its end.
 * For methods whose first two parameters are `form` and `C` (the linear
 * family's convention, see methods/common/linattn.h).
 */
#ifndef ATTN_TEST_METHOD_CHECK_H
#define ATTN_TEST_METHOD_CHECK_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "attnbench/method.h"
#include "guard.h"

static const char *const form_names[] = {"parallel", "recurrent", "chunk"};

static inline struct attn_shape mk_shape(int64_t B, int64_t H, int64_t KVH, int64_t N, int64_t D,
                                         int causal, enum attn_mode mode)
{
	return (struct attn_shape){.batch = B,
	                           .heads = H,
	                           .kv_heads = KVH,
	                           .n = N,
	                           .d = D,
	                           .causal = causal,
	                           .mode = mode};
}

static inline size_t out_count(const struct attn_shape *s)
{
	return (size_t)(s->batch * s->heads * attn_shape_nq(s) * s->d);
}

/*
 * Run m on the inputs `in`: prepare + forward into a fresh output (the
 * caller frees it), with a NaN-filled workspace and output and guards after
 * both. Fails the test on an error status, a broken guard or a non-finite
 * output element.
 */
static inline float *run_method(const struct attn_method *m, const struct attn_shape *s,
                                const struct attn_params *p, const struct attn_inputs *in,
                                int threads)
{
	char msg[256] = "";
	ck_assert_msg(m->supports(s, p, msg, sizeof msg) == ATTN_OK, "%s: unsupported: %s", m->name,
	              msg);
	size_t ws_bytes = m->workspace_bytes(s, p, threads);
	size_t out_bytes = out_count(s) * sizeof(float);
	void *ws = guarded_alloc(ws_bytes, 0xFF);
	float *out = guarded_alloc(out_bytes, 0xFF);
	struct attn_ctx ctx = {.threads = threads, .seed = 1};
	ck_assert_int_eq(m->prepare(s, p, in, ws, &ctx), ATTN_OK);
	ck_assert_int_eq(m->forward(s, p, in, out, ws, &ctx), ATTN_OK);
	ck_assert_msg(guard_intact(ws, ws_bytes), "%s: workspace overrun", m->name);
	ck_assert_msg(guard_intact(out, out_bytes), "%s: output overrun", m->name);
	size_t bad = 0;
	for (size_t i = 0; i < out_count(s); i++)
		bad += !isfinite(out[i]);
	ck_assert_msg(bad == 0, "%s N=%lld D=%lld form=%s: %zu non-finite outputs", m->name,
	              (long long)s->n, (long long)s->d, form_names[(int)p->v[0]], bad);
	free(ws);
	return out;
}

/* m's float64 oracle on `in` (the caller frees it). */
static inline double *run_oracle(const struct attn_method *m, const struct attn_shape *s,
                                 const struct attn_params *p, const struct attn_inputs *in)
{
	double *ref = malloc(out_count(s) * sizeof(double));
	ck_assert_ptr_nonnull(ref);
	struct attn_ctx ctx = {.threads = 1, .seed = 1};
	ck_assert_int_eq(m->oracle(s, p, in, ref, &ctx), ATTN_OK);
	return ref;
}

/* ||a - b|| / ||b|| over n elements, b in float64. */
static inline double rel_err_d(const float *a, const double *b, size_t n)
{
	double num = 0.0, den = 0.0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)a[i] - b[i];
		num += e * e;
		den += b[i] * b[i];
	}
	return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

/* ||a - b|| / ||b|| over n elements, b in float32. */
static inline double rel_err_f(const float *a, const float *b, size_t n)
{
	double num = 0.0, den = 0.0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)a[i] - (double)b[i];
		num += e * e;
		den += (double)b[i] * (double)b[i];
	}
	return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

/* The worst error seen so far, and where. */
struct worst {
	double err;
	char where[256];
};

static inline void worst_note(struct worst *w, double err, const struct attn_method *m,
                              const struct attn_shape *s, const struct attn_params *p,
                              const char *what)
{
	if (err > w->err || isnan(err)) {
		w->err = isnan(err) ? INFINITY : err;
		snprintf(w->where, sizeof w->where,
		         "%s %s N=%lld D=%lld KVH=%lld causal=%d form=%s C=%g", m->name, what,
		         (long long)s->n, (long long)s->d, (long long)s->kv_heads, s->causal,
		         form_names[(int)p->v[0]], p->v[1]);
	}
}

#endif /* ATTN_TEST_METHOD_CHECK_H */
