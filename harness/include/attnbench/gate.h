/*
 * The regression gate (`attnbench compare`) as a library call: is the
 * current run slower than the baseline beyond the noise of a shared
 * machine? The statistics are compare.h's; this is the policy around them:
 *   - loading a run: its ok cases, pooled where a resumed sweep measured a
 *     case again, in pairing order (method, params, shape with N last), and
 *     its machine and build as it recorded them;
 *   - windows: the cases of one shape, every method, which a sweep
 *     interleaves so that they run at the same time;
 *   - round correction: each sample divided by its round's speed, read from
 *     the other methods of its window, and the window's median sgemm probe;
 *   - pairing, normalising (window probe, run roof or raw), testing each
 *     pair, Benjamini–Hochberg over the grid;
 *   - judging: a flagged pair counts only when its method moved the same
 *     way at its other shapes, relative to the methods beside it (else
 *     ISOLATED), and not in a window that ran far off the usual speed (else
 *     UNRELIABLE);
 *   - the curve check: fitted exponents whose CIs no longer overlap.
 * A front end loads two runs (attn_gate_load), runs the gate (attn_gate_run)
 * and prints the report; the exit code is its part.
 */
#ifndef ATTNBENCH_GATE_H
#define ATTNBENCH_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/calib.h"
#include "attnbench/compare.h"
#include "attnbench/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Roofs kept per run: one per thread count measured. */
#define ATTN_GATE_MAX_ROOFS 32

/* One ok case of a run: all its samples (pooled over re-measurements), and its window. */
struct attn_gate_case {
	char method[64], params[256], mode[16], dist[32];
	int64_t batch, heads, kv_heads, n, d;
	int causal, threads;
	double *ns;        /* k samples, divided by their round's speed once the gate ran */
	double *roof;      /* the sgemm probe beside each, roof[i] <= 0 when not measured */
	int k, all_roof;   /* all_roof: every sample has a probe */
	int win;           /* its shape's window, numbered from 0 */
	double group_roof; /* median probe of its shape's window, 0: none */
	double raw_med;    /* median ns as measured, before the rounds' correction */
	double ins;        /* counter:PAPI_TOT_INS, NAN when unavailable */
	int64_t run;       /* the run it was measured in: of a merged sweep, its shard's */
	double sgemm;      /* that run's sgemm GFLOP/s at its threads, 0: none measured */
};

/*
 * A loaded run: its run set (query.h), the shards of a sweep as one. Text
 * from run_info is "" when the run did not record it; of a set of several
 * runs, their distinct values joined. `roofs` are run id's own; each case
 * carries its own run's sgemm roof.
 */
struct attn_gate_run {
	struct attn_store *st; /* not owned: the caller closes it after attn_gate_run_free */
	int64_t id;            /* the set's head */
	int n_runs;            /* runs in the set, 1 without a sweep_id */
	char run_ids[256];     /* "3, 4, 5", truncated */
	char commit[64], host[128], started[64];
	char cpu_model[256], cores[32], openblas_core[64], inject[128];
	char build_type[64], compiler[128], cflags[1024];
	struct attn_roof roofs[ATTN_GATE_MAX_ROOFS];
	int n_roofs, any_roof_ns;
	struct attn_gate_case *c;
	int n, n_win;
	int corrected; /* the rounds' correction is applied once, by the first attn_gate_run */
};

/* What a pair's times were divided by. */
enum attn_gate_norm {
	ATTN_GATE_NORM_GROUP_ROOF, /* the median sgemm probe of its window (samples.roof_ns) */
	ATTN_GATE_NORM_RUN_ROOF,   /* multiplied by the run's sgemm GFLOP/s at its threads */
	ATTN_GATE_NORM_RAW,        /* nothing: neither run measured a roof for it */
	ATTN_GATE_NORM_COUNT
};

/* "roof_ns", "sgemm", "raw". */
const char *attn_gate_norm_name(enum attn_gate_norm norm);

/* A baseline case and its current counterpart, tested. */
struct attn_gate_pair {
	const struct attn_gate_case *b, *c;
	enum attn_gate_norm norm;
	double ratio, lo, hi; /* median(c)/median(b), normalised, with its 95% bootstrap CI */
	double p, q;          /* Mann–Whitney U, and Benjamini–Hochberg over the pairs */
	double ins_ratio;     /* instructions c/b, NAN when either lacks them */
	double med_b, med_c;  /* median ns as measured */
	int exact;            /* p from the exact U distribution */
	enum attn_compare_verdict v;
};

/* A curve fitted in both runs whose exponent's 95% CIs do not overlap. */
struct attn_gate_curve {
	char method[64], params[256], family[256];
	double e_b, lo_b, hi_b, e_c, lo_c, hi_c;
};

struct attn_gate_options {
	double threshold;         /* a change smaller than this fraction never gates */
	double alpha;             /* the FDR level */
	int allow_other_machine;  /* compare runs of different machine classes */
	int allow_build_mismatch; /* compare runs built differently */
};
#define ATTN_GATE_OPTIONS_INIT                                                                     \
	{                                                                                          \
		0.05, 0.05, 0, 0                                                                   \
	}

/* Why attn_gate_run refused to compare (it returns ATTN_ERR_INVALID then). */
enum attn_gate_refusal {
	ATTN_GATE_ACCEPTED,
	ATTN_GATE_OTHER_MACHINE, /* report.machine says what differs */
	ATTN_GATE_OTHER_BUILD,   /* report.build says what differs */
	ATTN_GATE_NO_MATCH       /* no case alike in method, params and shape */
};

struct attn_gate_report {
	const struct attn_gate_run *base, *cur;
	struct attn_gate_pair *pairs; /* n, in pairing order */
	int n, n_reg, n_imp, n_iso, n_unrel, only_base, only_cur;
	int n_norm[ATTN_GATE_NORM_COUNT];
	double grid, grid_raw; /* median ratio over all pairs, normalised and as measured */
	double threshold, alpha;
	struct attn_gate_curve *curves;
	int n_curves;
	char curve_note[600]; /* why the curves were not compared, "" when they were */
	char machine[600];    /* what differs in machine class, "" when alike */
	char build[2400];     /* what differs in build (set once the machines agree) */
	enum attn_gate_refusal refused;
};

/*
 * Load a run of st: run_id, or with run_id 0 the newest run with ok cases.
 * ATTN_ERR_NOTFOUND when the run has no ok case (or does not exist);
 * ATTN_ERR_DB, ATTN_ERR_NOMEM. out is zeroed first, and freed again on
 * failure; st must stay open while out is used.
 */
int attn_gate_load(struct attn_store *st, int64_t run_id, struct attn_gate_run *out, char *err,
                   size_t errlen);
void attn_gate_run_free(struct attn_gate_run *r);

/*
 * The gate: correct both runs' rounds (once per run), refuse runs of other
 * machines or builds unless opt allows them, pair the cases, test and
 * judge every pair and check the curves. ATTN_OK with the report filled;
 * ATTN_ERR_INVALID with out->refused saying why; ATTN_ERR_NOMEM. Either
 * way out is to be freed with attn_gate_report_free. A curve check that
 * cannot run (a fit fails) is not an error: out->curve_note says why.
 */
int attn_gate_run(struct attn_gate_run *base, struct attn_gate_run *cur,
                  const struct attn_gate_options *opt, struct attn_gate_report *out, char *err,
                  size_t errlen);
void attn_gate_report_free(struct attn_gate_report *r);

/*
 * A regression in time whose instruction count stayed within 1%: the
 * machine or memory behaviour is the suspect before the code.
 */
int attn_gate_same_work(const struct attn_gate_pair *p);

#ifdef __cplusplus
}
#endif

#endif /* ATTNBENCH_GATE_H */
