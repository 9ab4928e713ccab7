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
	struct attn_instance_opts io;
	attn_instance_opts_default(&io);
	io.threads = threads;
	io.seed = 0;
	io.inputs = in;
	char why[256];
	int rc = attn_instance_create(m, s, &k->p, &io, &k->inst, why, sizeof(why));
	if (rc == ATTN_OK && attn_instance_prepare(k->inst, NULL, 0) != ATTN_OK)
		rc = ATTN_ERR_INTERNAL;
	if (rc != ATTN_OK && msg && msglen)
		snprintf(msg, msglen, "%s",
		         rc == ATTN_ERR_UNSUPPORTED ? why
		         : rc == ATTN_ERR_INTERNAL  ? "prepare() failed"
		                                    : "out of memory");
	if (rc != ATTN_OK) {
		bench_kernel_free(k);
		return -1;
	}
	return 0;
}

void bench_kernel_free(struct bench_kernel *k)
{
	attn_instance_free(k->inst);
	k->inst = NULL;
}

/*
 * A BLAS method gets the threads from OpenBLAS, the others from OpenMP;
 * OpenBLAS's workers keep spinning for a while after a threaded call, so an
 * OpenMP kernel first waits for them to sleep. Each sample is one call
 * through the instance, with the clock read around it.
 */
double bench_kernel_time(struct bench_kernel *k, int threads, double budget)
{
	int blas = (k->m->flags & ATTN_METHOD_USES_BLAS) != 0;
	openblas_set_num_threads(blas ? threads : 1);
	bench_settle(threads);
	double t[BENCH_MAX_SAMPLES];
	int n = 0;
	uint64_t start = attn__now_ns();
	attn_instance_forward(k->inst, 1, NULL, 0); /* warm-up */
	/* a call longer than the budget is timed once: the rounds give the spread */
	const int least = (double)(attn__now_ns() - start) > budget * 1e9 ? 1 : 3;
	start = attn__now_ns();
	while (n < least ||
	       (n < BENCH_MAX_SAMPLES && (double)(attn__now_ns() - start) < budget * 1e9)) {
		uint64_t t0 = attn__now_ns();
		attn_instance_forward(k->inst, 1, NULL, 0);
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
