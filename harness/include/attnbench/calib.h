/*
 * The roofs a run's figures are read against, measured by the run itself on
 * this machine, for each thread count it uses:
 *  - the physical FMA peak: a register-only loop of independent fused
 *    multiply-adds at the widest vector width the CPU runs (AVX-512, AVX2
 *    or SSE, chosen at run time), one per thread;
 *  - the practical roof: OpenBLAS sgemm GFLOP/s at a representative shape;
 *  - streaming bandwidth: a STREAM-style triad a[i] = b[i] + s c[i] over
 *    arrays well beyond the last-level cache, counting 12 bytes per element.
 * Each figure is the median of several timed repetitions after a warm-up.
 * Call it in a forked child: it sets OpenBLAS's and OpenMP's thread counts.
 */
#ifndef ATTNBENCH_CALIB_H
#define ATTNBENCH_CALIB_H

#include <stddef.h>
#include <stdint.h>

struct attn_roof {
	int threads;
	double fma_gflops;   /* physical peak */
	char fma_isa[16];    /* "avx512", "avx2", "sse", "scalar" */
	double sgemm_gflops; /* practical roof */
	int64_t sgemm_n;     /* the square shape measured */
	double triad_gbps;   /* streaming bandwidth, GB/s (1e9 B/s) */
	size_t triad_bytes;  /* bytes of each of the three arrays */
};

/*
 * Measure all three at `threads` threads. `budget_s` bounds the time spent
 * (about a third each; 0 means the default of 2 s); `llc_bytes` sizes the
 * triad (0: read it from the machine). ATTNBENCH_FMA_ISA=avx512|avx2|sse|
 * scalar forces the FMA kernel (tests use it to run each one).
 */
int attn_roof_measure(int threads, double budget_s, size_t llc_bytes, struct attn_roof *out,
                      char *err, size_t errlen);

/*
 * The individual measurements, for tests and for interleaving with cases.
 * Each returns a positive figure, or a negative attn_status (as a double)
 * when it could not measure: test `x > 0`.
 */
double attn_roof_fma_gflops(int threads, double seconds, char *isa, size_t isalen);
double attn_roof_sgemm_gflops(int threads, int64_t n, double seconds);
double attn_roof_triad_gbps(int threads, size_t bytes_per_array, double seconds);

#endif /* ATTNBENCH_CALIB_H */
