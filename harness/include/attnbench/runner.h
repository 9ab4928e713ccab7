/*
 * Running one case: method x shape x parameters x threads x workload.
 *
 * A case runs in a forked child with a wall-clock timeout, so a crash, hang
 * or runaway allocation costs that case and never the sweep. Before forking,
 * the runner asks the method whether it supports the case and predicts the
 * memory the case needs (inputs + output + workspace + the oracle's check
 * buffers), skipping with a reason what cannot fit. The child times the
 * method (warm-up, then repetitions until a minimum time and count), checks
 * the output for NaN/Inf and for overruns (guard bytes), compares it with
 * the float64 oracle when the case is small enough, and reports through a
 * pipe; the parent computes the statistics and is the only writer of the
 * database.
 */
#ifndef ATTNBENCH_RUNNER_H
#define ATTNBENCH_RUNNER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "attnbench/bind.h"
#include "attnbench/calib.h"
#include "attnbench/counters.h"
#include "attnbench/method.h"
#include "attnbench/store.h"
#include "attnbench/workload.h"

enum attn_case_status {
	ATTN_CASE_OK = 0,
	ATTN_CASE_UNSUPPORTED,
	ATTN_CASE_SKIPPED_MEMORY,
	ATTN_CASE_SKIPPED_TIME, /* one call cannot finish in max_call_s even at the FMA roof */
	ATTN_CASE_TIMEOUT,
	ATTN_CASE_CRASHED,
	ATTN_CASE_FAILED,       /* the method returned an error, or the child failed */
	ATTN_CASE_FAILED_CHECK, /* NaN/Inf, an overrun, or error above tolerance */
	ATTN_CASE_INTERRUPTED   /* the user stopped the sweep; never stored */
};
const char *attn_case_status_name(enum attn_case_status s);
/*
 * Was the case turned away before it ran: unsupported, or skipped for its
 * memory or its time? Such a case has no samples and no metrics.
 */
int attn_case_status_declined(enum attn_case_status s);

struct attn_case {
	const struct attn_method *method;
	struct attn_params params;
	struct attn_shape shape;
	enum attn_dist dist;
	int threads;
	uint64_t seed;
};

struct attn_run_opts {
	double timeout_s;       /* wall clock per step of a case; the child is killed after it */
	double max_call_s;      /* skip a case whose one call needs longer at the FMA roof */
	double warmup_s;        /* at least one call, then until this much time */
	double min_time_s;      /* repetitions until this much time ... */
	int min_reps;           /* ... and at least this many */
	int max_reps;           /* and never more than this many */
	double min_sample_s;    /* a sample averages calls until it lasts this long */
	double check_max_flops; /* check against the oracle when its cost is below */
	size_t mem_limit;       /* bytes a case may take; 0: 90% of MemAvailable */
	int isolate;            /* 1: fork per case (sweeps); 0: in-process */
	volatile sig_atomic_t *stop; /* set by a signal handler to interrupt */

	enum attn_bind_policy bind;    /* thread placement (compact by default) */
	const char *counters;          /* event list; NULL: the default set; "none": no counters */
	size_t flush_bytes;            /* > 0: touch this many bytes before every repetition */
	int dump_mask;                 /* 1: one more untimed call collects the kept-block mask */
	size_t cache_bytes[3];         /* L1d, L2, L3 sizes, for the working set's cache level */
	const struct attn_roof *roofs; /* measured roofs per thread count, or NULL */
	int n_roofs;

	/*
	 * The roof probe (sweep --roof-probe): after every timed sample, outside
	 * it, a fixed OpenBLAS sgemm (ATTN_PROBE_N cubed, single precision, at
	 * the case's thread count) is timed, and the time of one call is the
	 * sample's roof_ns: the machine's speed at that moment.
	 */
	int roof_probe;

	/*
	 * Slowdown injection, for testing the regression gate only
	 * (ATTNBENCH_INJECT_SLOWDOWN=method:factor): every timed sample of the
	 * method named inject_method is stretched, inside the timed region, by
	 * busy work to inject_factor times its forward calls' own time. NULL:
	 * nothing injected.
	 */
	const char *inject_method;
	double inject_factor;
};

/* The square sgemm the roof probe times. */
#define ATTN_PROBE_N 256

/* The defaults a sweep starts from. */
void attn_run_opts_default(struct attn_run_opts *o);

/*
 * Options for a correctness run (`check`, the conformance tests): one call,
 * no warm-up, always compared with the oracle, isolated as given.
 */
void attn_run_opts_check(struct attn_run_opts *o, int isolate);

#define ATTN_MAX_METRICS 64
#define ATTN_MAX_ROOFS   16

struct attn_case_result {
	enum attn_case_status status;
	char message[512];
	int n_samples;
	double *sample_ns;      /* malloc'd */
	int64_t *sample_iters;  /* malloc'd */
	double *sample_roof_ns; /* the roof probe's ns per sgemm after each sample; NULL: none */
	int n_metrics;
	struct attn_metric metrics[ATTN_MAX_METRICS];
	char cpus[256]; /* the CPUs the case's threads ran on */
	/* What the method says about itself for this case (a peer's `ready` words); "" when nothing
	 */
	char info[1024];
	/* The kept-block mask of head 0 (--dump-mask): (mask_nqb, mask_nkb) bytes, malloc'd */
	uint8_t *mask;
	int64_t mask_nqb, mask_nkb;
	int n_counters;
	char counter_names[ATTN_MAX_COUNTERS][128];
	/* n_samples x n_counters, sample-major, per forward call; malloc'd */
	struct attn_counter_reading *sample_counters;
};

/* Canonical key of a case, unique within a run. */
int attn_case_key(const struct attn_case *c, char *buf, size_t len);

/* Bytes the case needs in memory, SIZE_MAX when that overflows. */
size_t attn_case_predict_bytes(const struct attn_case *c, const struct attn_run_opts *o);

/*
 * Run the case. The result's status says how it ended; the return value is
 * ATTN_OK unless the runner itself failed (no fork, no pipe, no memory).
 * With opts->isolate == 0 and `out` non-NULL (in-process runs only), the
 * final output is also copied to `out`, (B, H, NQ, D), and `inputs`, if
 * non-NULL, replaces the generated workload.
 */
int attn_case_run(const struct attn_case *c, const struct attn_run_opts *o,
                  const struct attn_inputs *inputs, float *out, struct attn_case_result *r);
void attn_case_result_free(struct attn_case_result *r);

/*
 * Run several cases of one shape with their repetitions interleaved: every
 * case gets its own child, all are warmed up, then the parent asks each in
 * turn for one timed repetition until each has its minimum time and count.
 * A drift in machine speed then hits every case alike. Falls back to one
 * case at a time when the group's memory would not fit together.
 * results[i] belongs to cases[i].
 */
int attn_cases_run_interleaved(const struct attn_case *cases, int n, const struct attn_run_opts *o,
                               struct attn_case_result *results);

/* The metric named `name`, or NULL. */
const struct attn_metric *attn_result_metric(const struct attn_case_result *r, const char *name);

/*
 * Compare out (B, H, NQ, D) with the float64 oracle of the case's method
 * (its own oracle, or the softmax reference for exact methods): relative
 * Frobenius error and max abs error. `soft_err` (if non-NULL) receives the
 * same two against exact softmax attention: [0] relative, [1] max abs (for
 * approximate methods the error that is a result, not a failure).
 */
int attn_check_output(const struct attn_case *c, const struct attn_inputs *in, const float *out,
                      double *rel_err, double *max_abs_err, double soft_err[2], char *err,
                      size_t errlen);

/*
 * Which oracle checks a case, and on which query rows (the sampled-row
 * oracle). A case whose full reference, 4 B H NQ N D flops, fits in
 * check_max_flops is checked on every row (FULL), as is every decode case
 * (its one row is cheap) unless check_max_flops is 0. Above the budget the
 * float64 softmax reference is computed for a seeded sample of query rows
 * (SAMPLED): as many as the budget pays for at 4 B H N D flops a row (the
 * cost of the longest row), at most ATTN_ORACLE_MAX_ROWS; for causal cases
 * the last min(ATTN_ORACLE_TAIL_ROWS, half) rows of the sequence all (they
 * see the whole context), the rest one seeded row in each of equal strata
 * over the sequence. The output is compared at those rows only; it never
 * forms an N x N matrix, so it works at N = 1M. When not even one row fits
 * the budget (or it is 0): NONE.
 *
 * The sample checks what the softmax reference can: an exact method's
 * rel_err and max_abs_err (and its tolerance), an approximate method's
 * rel_err_softmax and max_abs_err_softmax; an approximate method's own
 * oracle computes whole outputs, so its rel_err is left NULL. The result
 * records oracle_rows (query rows per head checked, 0 for none) and
 * oracle_sampled (0 full, 1 sampled, NULL for none).
 */
enum attn_oracle_kind { ATTN_ORACLE_NONE, ATTN_ORACLE_FULL, ATTN_ORACLE_SAMPLED };

#define ATTN_ORACLE_MAX_ROWS  256
#define ATTN_ORACLE_TAIL_ROWS 16

/*
 * The plan for shape s under budget check_max_flops: the kind, and for
 * SAMPLED the sorted distinct rows (rows holds ATTN_ORACLE_MAX_ROWS) and
 * their count in *nrows (NQ for FULL, 0 for NONE). The same seed gives the
 * same rows.
 */
enum attn_oracle_kind attn_oracle_plan(const struct attn_shape *s, double check_max_flops,
                                       uint64_t seed, int64_t *rows, int *nrows);

/*
 * Compare out (B, H, NQ, D) with the float64 softmax reference at the
 * query rows rows[0..nrows) of every head: relative Frobenius error and
 * max abs error over those rows.
 */
int attn_check_rows(const struct attn_case *c, const struct attn_inputs *in, const float *out,
                    const int64_t *rows, int nrows, double *rel_err, double *max_abs_err, char *err,
                    size_t errlen);

/*
 * Why a result has no figure for metric `name` (rel_err, max_abs_err,
 * rel_err_softmax, max_abs_err_softmax), in words for the user, or NULL
 * when it has one or the metric is not an error figure.
 */
const char *attn_result_missing_why(const struct attn_case *c, const struct attn_case_result *r,
                                    const struct attn_run_opts *o, const char *name, char *buf,
                                    size_t len);

#endif /* ATTNBENCH_RUNNER_H */
