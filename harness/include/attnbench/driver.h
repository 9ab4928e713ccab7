/*
 * The sweep driver: one call does what `attnbench sweep` does - resume
 * matching, the measurement protocol (recorded, or restored from the run),
 * the machine's noise, counters and roofs, shape groups run interleaved or
 * one by one in isolated children, and the per-case record - so that every
 * front end (the sweep and figures verbs, a sharding driver, a test) runs a
 * sweep the same way.
 *
 * The library never prints and never installs a signal handler: what a
 * user would see arrives through the callbacks of struct attn_sweep_progress
 * as it happens, and the caller's own flag (set by its handler) stops the
 * sweep between cases, the case in flight killed and not recorded.
 */
#ifndef ATTNBENCH_DRIVER_H
#define ATTNBENCH_DRIVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "attnbench/calib.h"
#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/store.h"
#include "attnbench/sweep.h"

#define ATTN_RESUME_SHARD 2

/* What a caller asks of one sweep beyond the spec. */
struct attn_sweep_options {
	/*
	 * The settings given on the command line (or by the caller), over the
	 * defaults; given[f] says which of them were given: those override the
	 * spec's settings, and on --resume must agree with the run's.
	 * proto.options is ignored (the spec's settings make spec_options).
	 */
	struct attn_sweep_protocol proto;
	int given[ATTN_PROTO_COUNT];
	/* The spec came from a file: its keys and settings count as given on --resume. */
	int spec_from_file;
	/* The spec keys the command line set (attn_sweep_keys names), n_named of them. */
	const char *const *named;
	int n_named;
	/*
	 * 1: finish the newest unfinished run of the store (with a shard given,
	 * a store whose runs all completed and that holds the shard complete
	 * has nothing to do: out->already_complete). ATTN_RESUME_SHARD (with a
	 * shard): the store's own run of this shard of this sweep decides -
	 * complete: nothing to do; unfinished: resumed; none: a new run.
	 */
	int resume;
	int take_over; /* with resume: take the run from a writer on another host */
	int dry_run;   /* expand (and check) only: out->cases, the store may be NULL */
	/*
	 * Shard shard_index of shard_count (1 <= I <= N; 0 of 0: the whole
	 * sweep): only the cases attn_sweep_shard_plan gives shard I run. The
	 * run records shard, shard_index, shard_count, sweep_id (this text, or
	 * by default "<spec_hash>/<N>"), shard_cases, sweep_cases, shard_cost
	 * and sweep_cost; on --resume the run's shard is restored, and one
	 * given that differs is refused.
	 */
	int shard_index, shard_count;
	const char *sweep_id;
	const char *command;         /* the run's command line, as recorded */
	const char *db_label;        /* the database as messages name it */
	const char *inject;          /* ATTNBENCH_INJECT_SLOWDOWN's text, recorded; NULL: none */
	volatile sig_atomic_t *stop; /* set by the caller's signal handler; NULL: none */
};

/* How loud a message is: notes are for a user who did not ask for --quiet. */
enum attn_sweep_level {
	ATTN_SWEEP_NOTE,    /* "sweep: <text>" unless quiet */
	ATTN_SWEEP_WARNING, /* "sweep: warning: <text>", always */
	ATTN_SWEEP_MACHINE  /* the noise check's line (noise.h), "note: ..." ones are notes */
};

/* A group of cases at one shape about to run. */
struct attn_sweep_group {
	const struct attn_case *first; /* its first case not yet recorded */
	int index;                     /* that case's place in the sweep, from 0 */
	int n;                         /* cases of the group to run */
	int total;                     /* cases in the sweep */
	double elapsed_s;              /* since the first case */
	double eta_s;                  /* seconds left, estimated; < 0: no estimate yet */
};

/* Callbacks, each optional; ctx is handed back to each. */
struct attn_sweep_progress {
	void *ctx;
	void (*message)(void *ctx, enum attn_sweep_level level, const char *text);
	/* The run is recorded (or resumed): from here on the stop flag is obeyed. */
	void (*started)(void *ctx, int64_t run_id, int n_cases);
	/* Roofs at `threads`: r NULL when about to measure them, else as measured. */
	void (*roof)(void *ctx, int threads, const struct attn_roof *r);
	/* The setup is done; the first case comes next. */
	void (*ready)(void *ctx, int64_t run_id, int n_cases);
	void (*group)(void *ctx, const struct attn_sweep_group *g);
	/* A case recorded: its place (from 0), of total. */
	void (*case_done)(void *ctx, int index, int total, const struct attn_case *c,
	                  const struct attn_case_result *r);
	/*
	 * An error after the run was recorded: the sweep goes on to mark the
	 * run and report its outcome (ATTN_ERR_DB: it stopped there; another
	 * status: the runner failed on a group and the sweep stopped).
	 */
	void (*error)(void *ctx, int status, const char *text);
};

/* How the sweep went. */
struct attn_sweep_outcome {
	int64_t run_id;
	int begun;         /* the run was recorded: errors came through progress->error */
	int finished;      /* the cases ran (or were stopped) and the outcome below holds */
	int interrupted;   /* the stop flag ended it */
	int bad_cases;     /* some case crashed, timed out, failed or failed its check */
	int runner_failed; /* the runner could not run a group (after progress->error) */
	int db_error;      /* stopped on a database error (after progress->error) */
	int counts[ATTN_CASE_INTERRUPTED + 1]; /* recorded cases per status */
	int skipped;                           /* cases the run already held */
	double elapsed_s;
	struct attn_case_list cases; /* with dry_run: the expanded cases (of the shard) */
	/* A sharded sweep: its shard, and the cases and predicted cost of it and the sweep. */
	int shard_index, shard_count, shard_cases, sweep_cases;
	double shard_cost, sweep_cost;
	/* --resume of a shard whose run is complete already: nothing ran, nothing to do. */
	int already_complete;
};

/*
 * The protocol the sweep will measure with: opt->proto, the spec's settings
 * under the ones opt gives, then checked together (max_reps >= min_reps,
 * the counter list opens); given[f] receives which fields the spec or opt
 * set. ro.counters may point into spec. attn_sweep_run does this itself; a
 * caller may do it first to refuse bad settings before it opens a store.
 */
int attn_sweep_settings(const struct attn_sweep_spec *spec, const struct attn_sweep_options *opt,
                        struct attn_sweep_protocol *out, int given[ATTN_PROTO_COUNT], char *err,
                        size_t errlen);

/*
 * Run the sweep of spec (its keys and settings) into st with reg's methods.
 * Before the run is recorded, a refusal returns its status with err naming
 * the value: ATTN_ERR_INVALID (a bad spec, setting or resume mismatch),
 * ATTN_ERR_NOTFOUND (--resume with nothing to resume), ATTN_ERR_DB,
 * ATTN_ERR_NOMEM. After that, the run is marked complete or interrupted and
 * released; the return is ATTN_ERR_DB if that or a write failed, else
 * ATTN_OK, and out says the rest. Free out with attn_sweep_outcome_free.
 */
int attn_sweep_run(const struct attn_sweep_spec *spec, const struct attn_sweep_options *opt,
                   const struct attn_registry *reg, struct attn_store *st,
                   const struct attn_sweep_progress *progress, struct attn_sweep_outcome *out,
                   char *err, size_t errlen);
void attn_sweep_outcome_free(struct attn_sweep_outcome *out);

/*
 * Sharding (shard.c): the cases of a sweep split into N shards, the same on
 * any machine, balanced by predicted cost. A case's cost is the protocol's
 * time for it on a nominal core of ATTN_SHARD_FLOPS FLOP/s and
 * ATTN_SHARD_BYTES B/s per thread, from its stated flops() and bytes(): fixed
 * figures, never measured ones, so that every machine splits alike.
 */
#define ATTN_SHARD_FLOPS 50e9
#define ATTN_SHARD_BYTES 20e9
#define ATTN_MAX_SHARDS  100000
struct attn_shard_plan {
	int count;         /* N */
	int *shard_of;     /* per case of the list: its shard, 1..N */
	double *case_cost; /* per case: its predicted seconds */
	double *cost;      /* per shard (index I - 1): the predicted seconds of its cases */
	int *cases;        /* per shard: its cases */
	double total_cost; /* the whole sweep's */
	int groups;        /* interleaving groups of the sweep */
	int split_groups;  /* groups too big for one shard's share, dealt into parts */
};

/*
 * The split of cases into count shards (groups stay whole unless one alone
 * exceeds a shard's share: see shard.c). reg says which methods are
 * plugins, whose flops() and bytes() are asked in a child; ro gives the
 * protocol (warmup_s, min_time_s, min_reps, max_reps, max_call_s).
 */
int attn_sweep_shard_plan(const struct attn_case_list *cases, const struct attn_registry *reg,
                          const struct attn_run_opts *ro, int count, struct attn_shard_plan *out,
                          char *err, size_t errlen);
void attn_shard_plan_free(struct attn_shard_plan *p);
/*
 * Whether two cases differ only in method and parameters: one interleaving
 * group, which the driver runs round-robin and the split keeps together.
 */
int attn_case_same_group(const struct attn_case *a, const struct attn_case *b);
/* One case's predicted seconds, from what its method states (supported, flops, bytes). */
double attn_shard_case_cost(const struct attn_case *c, int supported, double flops, double bytes,
                            const struct attn_run_opts *ro);

#endif /* ATTNBENCH_DRIVER_H */
