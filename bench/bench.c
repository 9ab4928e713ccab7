/*
 * The shared measurement helpers of the bench_* programs (bench.h).
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attnbench/spec.h"
#include "attnbench/stats.h"
#include "bench.h"
#include "internal.h"

/*
 * OpenBLAS's and OpenMP's workers spin for a while after a threaded call
 * before they sleep; whatever is timed next would share the cores with
 * them. Every measurement at more than one thread starts after a pause.
 */
void bench_settle(int threads)
{
	if (threads > 1) {
		struct timespec ts = {0, 200 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int bench_kernel_init(struct bench_kernel *k, const struct attn_method *m,
                      const struct attn_params *p, const struct attn_shape *s, int threads,
                      const struct attn_inputs *in, char *msg, size_t msglen)
{
	memset(k, 0, sizeof(*k));
	k->m = m;
	if (p)
		k->p = *p;
	else
		attn_params_default(m, &k->p);
	if (msg && msglen)
		msg[0] = '\0';
	if (m->supports && m->supports(m, s, &k->p, msg, msglen) != ATTN_OK)
		return -1;
	size_t nout = (size_t)(s->batch * s->heads * attn_shape_nq(s) * s->d);
	k->out = attn__alloc(nout * sizeof(float));
	k->ws = attn__alloc(m->workspace_bytes(m, s, &k->p, threads));
	if (!k->out || !k->ws) {
		if (msg && msglen)
			snprintf(msg, msglen, "out of memory");
		bench_kernel_free(k);
		return -1;
	}
	struct attn_ctx ctx = {.threads = threads};
	if (m->prepare && m->prepare(m, s, &k->p, in, k->ws, &ctx) != ATTN_OK) {
		if (msg && msglen)
			snprintf(msg, msglen, "prepare() failed");
		bench_kernel_free(k);
		return -1;
	}
	return 0;
}

void bench_kernel_free(struct bench_kernel *k)
{
	attn__free(k->out);
	attn__free(k->ws);
	k->out = NULL;
	k->ws = NULL;
}

/*
 * A BLAS method gets the threads from OpenBLAS, the others from OpenMP;
 * OpenBLAS's workers keep spinning for a while after a threaded call, so an
 * OpenMP kernel first waits for them to sleep.
 */
double bench_kernel_time(struct bench_kernel *k, const struct attn_shape *s, int threads,
                         const struct attn_inputs *in, double budget)
{
	int blas = (k->m->flags & ATTN_METHOD_USES_BLAS) != 0;
	openblas_set_num_threads(blas ? threads : 1);
	bench_settle(threads);
	struct attn_ctx ctx = {.threads = threads};
	double t[BENCH_MAX_SAMPLES];
	int n = 0;
	uint64_t start = attn__now_ns();
	k->m->forward(k->m, s, &k->p, in, k->out, k->ws, &ctx); /* warm-up */
	/* a call longer than the budget is timed once: the rounds give the spread */
	const int least = (double)(attn__now_ns() - start) > budget * 1e9 ? 1 : 3;
	start = attn__now_ns();
	while (n < least ||
	       (n < BENCH_MAX_SAMPLES && (double)(attn__now_ns() - start) < budget * 1e9)) {
		uint64_t t0 = attn__now_ns();
		k->m->forward(k->m, s, &k->p, in, k->out, k->ws, &ctx);
		t[n++] = (double)(attn__now_ns() - t0) / 1e9;
	}
	return attn_stats_median_inplace(t, n);
}

double bench_median(double *x, int n)
{
	int m = 0;
	for (int i = 0; i < n; i++)
		if (isfinite(x[i]))
			x[m++] = x[i];
	return m ? attn_stats_median_inplace(x, m) : NAN;
}
