/*
 * Fits and crossovers: how a method's time grows with the sequence length N,
 * computed from a run's stored samples so no plotting script has to.
 *
 * For each method and shape family (cases equal in everything but N):
 *   - the time exponent, the least-squares slope of log(median) on log N,
 *     with a 95% percentile-bootstrap CI (each N's samples resampled with
 *     replacement, medians retaken, slope refitted; fixed seed);
 *   - the model t(N) = a·N² + b·N·ln N + c·N + d by non-negative least
 *     squares (Lawson–Hanson), with each term's share of the predicted time
 *     at the largest measured N;
 *   - the crossover N* against `flash` in the same family: where the log of
 *     the time ratio changes sign, interpolated linearly in (ln N, ln ratio)
 *     between the two bracketing N, with a bootstrap CI.
 * attn_fit_run() does all of it for a run and attn_store_fits() writes the
 * rows into the `fits` table (schema v5), replacing the run's earlier fits.
 */
#ifndef ATTNBENCH_FIT_H
#define ATTNBENCH_FIT_H

#include <stdint.h>

#include "attnbench/store.h"

#define ATTN_FIT_BOOT 1000
#define ATTN_FIT_SEED 0x5eedf17ULL

/* One measured N of a curve and its timing samples (ns per call). */
struct attn_fit_point {
	double n;
	const double *ns;
	int n_samples;
};

/* The model's terms, in the order of attn_fit_nnls's coefficients. */
enum attn_fit_term {
	ATTN_FIT_TERM_N2,
	ATTN_FIT_TERM_NLOGN,
	ATTN_FIT_TERM_N,
	ATTN_FIT_TERM_CONST,
	ATTN_FIT_TERMS
};

/* How a method's curve meets the reference's. */
enum attn_fit_cross {
	ATTN_FIT_CROSS_NONE,         /* no reference to compare with */
	ATTN_FIT_CROSS_FASTER_ABOVE, /* slower below N*, faster above */
	ATTN_FIT_CROSS_SLOWER_ABOVE, /* faster below N*, slower above */
	ATTN_FIT_CROSS_NEVER,        /* slower at every common N */
	ATTN_FIT_CROSS_ALWAYS_FASTER /* faster at every common N */
};

struct attn_fit_crossover {
	enum attn_fit_cross kind;
	double n_star;       /* NAN unless kind is FASTER_ABOVE or SLOWER_ABOVE */
	double ci_lo, ci_hi; /* 2.5/97.5 percentiles over resamples that cross */
	int n_boot;          /* resamples drawn */
	int n_no_cross;      /* resamples whose crossing was not of `kind` */
};

/*
 * The exponent of pts[0..m) (distinct n) and its 95% bootstrap CI from
 * n_boot resamples drawn with `seed`. ATTN_ERR_INVALID when fewer than two
 * points or a point without samples; ATTN_ERR_NOMEM.
 */
int attn_fit_exponent(const struct attn_fit_point *pts, int m, int n_boot, uint64_t seed,
                      double *exponent, double *ci_lo, double *ci_hi);

/*
 * coef[ATTN_FIT_TERMS] >= 0 minimising sum_i ((model(n_i) - t_i) / t_i)²:
 * relative residuals, because timing noise is multiplicative and every N
 * should count, not only the largest. ATTN_ERR_INVALID for fewer points
 * than terms (m < ATTN_FIT_TERMS: the terms are not determined) or a
 * non-positive t.
 */
int attn_fit_nnls(const double *n, const double *t, int m, double coef[ATTN_FIT_TERMS]);

/* Each term's share of model(n) (they sum to 1); returns the largest's index. */
int attn_fit_shares(const double coef[ATTN_FIT_TERMS], double n, double share[ATTN_FIT_TERMS]);

/* A short name of a term: "N^2", "N log N", "N", "const". */
const char *attn_fit_term_name(int term);

/*
 * Where the curve `pts` crosses `ref` (both m points at the same n, in
 * increasing order), with the bootstrap CI. ATTN_ERR_INVALID when m < 2 or
 * the n differ.
 */
int attn_fit_cross(const struct attn_fit_point *pts, const struct attn_fit_point *ref, int m,
                   int n_boot, uint64_t seed, struct attn_fit_crossover *out);

/* One fitted curve of a run. */
struct attn_fit_row {
	char method[64];
	char params[256];
	char family[256]; /* "d=64 h=8/8 b=1 causal prefill t=1 gaussian" */
	int n_points;
	double n_min, n_max;
	double exponent, ci_lo, ci_hi; /* NAN with fewer than min_points */
	double coef[ATTN_FIT_TERMS];
	double share[ATTN_FIT_TERMS]; /* at n_max */
	int dominant;
	struct attn_fit_crossover cross;
	char note[256]; /* why something is missing, or "" */
};

/*
 * Fit every ok curve of run `run_id` (0: the newest run) and the rest of its
 * run set (query.h: a merged sweep's shards), limited to the given methods
 * (n_methods 0: all); *used_run is the set's head. *rows is malloc'd (free() it).
 * ATTN_ERR_NOTFOUND with a message for an empty database, a missing run, a
 * run without ok cases or a method the run did not measure.
 */
int attn_fit_run(struct attn_store *st, int64_t run_id, const char *const *methods, int n_methods,
                 int min_points, int n_boot, uint64_t seed, int64_t *used_run,
                 struct attn_fit_row **rows, int *n_rows, char *err, size_t errlen);

#endif /* ATTNBENCH_FIT_H */
