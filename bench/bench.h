/*
 * What the bench_* programs share: a method instance ready to call in this
 * process (workspace planned, prepare() done), the median time of its
 * forward over a budget, and the pause that keeps one measurement's
 * spinning worker threads out of the next. The benches interleave these
 * with the machine's roofs round by round (see bench/exact.c), so slow
 * phases of a shared machine hit the kernel and its roof alike.
 */
#ifndef ATTNBENCH_BENCH_H
#define ATTNBENCH_BENCH_H

#include "attnbench/instance.h"
#include "attnbench/method.h"

#define BENCH_MAX_SAMPLES 64

struct bench_kernel {
	const struct attn_method *m;
	struct attn_params p;
	struct attn_instance *inst; /* m on the shape and inputs, prepared */
};

/*
 * Plan m with parameters p (NULL: the defaults) for shape s at `threads`
 * on the inputs `in` (borrowed: they must outlive k): an instance with its
 * output and workspace, prepare() run. 0 on success; -1 when the method
 * declines the shape (msg says why) or memory runs out.
 */
int bench_kernel_init(struct bench_kernel *k, const struct attn_method *m,
                      const struct attn_params *p, const struct attn_shape *s, int threads,
                      const struct attn_inputs *in, char *msg, size_t msglen);
void bench_kernel_free(struct bench_kernel *k);

/*
 * Median seconds per forward call: one warm-up call, then calls until
 * `budget` seconds have passed (at least 3, or 1 when the warm-up call alone
 * outlasted the budget; at most BENCH_MAX_SAMPLES).
 */
double bench_kernel_time(struct bench_kernel *k, int threads, double budget);

/* Sleep long enough (at 2+ threads) for OpenBLAS's and OpenMP's workers to park. */
void bench_settle(int threads);

/* Median of the finite values of x[0..n) (reordered); NaN when none. */
double bench_median(double *x, int n);

#endif /* ATTNBENCH_BENCH_H */
