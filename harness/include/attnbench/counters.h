/*
 * Event counters read at the same boundaries as the timer.
 *
 * Events are named as PAPI names them: presets (PAPI_TOT_INS, PAPI_L1_DCM)
 * and native names (perf::TASK-CLOCK, perf::PAGE-FAULTS). Each event is
 * added on its own, so one the machine lacks costs only itself: it is kept
 * in the set, marked unavailable with the reason, and every reading of it is
 * ATTN_COUNTER_UNAVAILABLE - stored as NULL, never as a 0 that looks like a
 * measurement.
 *
 * Sources: PAPI first (when built with it); for the Linux software events
 * PAPI cannot count (its perf_event component disables itself on machines
 * without a hardware PMU, such as KVM guests), the kernel's perf_event_open
 * directly. Every reading carries the time the event was enabled and the
 * time it actually ran; when they differ the kernel multiplexed it, and the
 * reading is ATTN_COUNTER_UNRELIABLE instead of being silently scaled.
 *
 * A backend interface lets tests inject readings (including multiplexed
 * ones) to exercise the paths this machine cannot.
 *
 * Threads and processes: an event counts the thread that opened it and
 * every thread or process created after the open, so open before the
 * measured code's first parallel region (before its warm-up); an OpenMP
 * pool that already exists is not counted. Open, read and close from one
 * thread. Open in the process that measures (the runner's forked child):
 * PAPI is initialised there, lazily, once per process.
 */
#ifndef ATTNBENCH_COUNTERS_H
#define ATTNBENCH_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#define ATTN_MAX_COUNTERS 16

/* The default set: hardware events where a PMU exists, software ones always. */
#define ATTN_COUNTERS_DEFAULT                                                                      \
	"PAPI_TOT_INS,PAPI_TOT_CYC,PAPI_L1_DCM,PAPI_L2_TCM,PAPI_L3_TCM,perf::TASK-CLOCK,"          \
	"perf::PAGE-FAULTS,perf::CONTEXT-SWITCHES,perf::CPU-MIGRATIONS"

enum attn_counter_state {
	ATTN_COUNTER_OK = 0,
	ATTN_COUNTER_UNAVAILABLE = 1, /* the machine (or the build) cannot count it */
	ATTN_COUNTER_UNRELIABLE = 2   /* multiplexed: enabled time != running time */
};

struct attn_counter_reading {
	double value; /* meaningful only when state == ATTN_COUNTER_OK */
	enum attn_counter_state state;
};

/*
 * A source of raw counts. open() returns a handle >= 0 or a negative status
 * with the reason in `why`; read() returns the running total and the
 * enabled/running times in ns (equal when the event was never multiplexed).
 * close(), which may be NULL, is called once by attn_counters_close() for
 * each backend of a successful open, and frees what open() made.
 */
struct attn_counter_backend {
	const char *name; /* "papi", "perf_event", "test" */
	int (*open)(void *state, const char *event, char *why, size_t whylen);
	int (*read)(void *state, int handle, uint64_t *count, uint64_t *enabled, uint64_t *running);
	void (*close)(void *state);
	void *state;
};

struct attn_counters;

/*
 * Open each event of the comma-separated `list` (NULL: the default set),
 * one at a time, with the real backends. Fails only on a malformed list or
 * more than ATTN_MAX_COUNTERS events; unavailable events are not errors.
 */
int attn_counters_open(const char *list, struct attn_counters **out, char *err, size_t errlen);

/* The same with the caller's backends tried in order (tests). */
int attn_counters_open_with(const char *list, const struct attn_counter_backend *const *backends,
                            int n_backends, struct attn_counters **out, char *err, size_t errlen);

void attn_counters_close(struct attn_counters *c);

int attn_counters_count(const struct attn_counters *c);
const char *attn_counters_name(const struct attn_counters *c, int i);
/*
 * 1 if event i can be counted here; otherwise 0 and *why says why. *source
 * names the backend that counts it ("papi", "perf_event"), or "none".
 */
int attn_counters_available(const struct attn_counters *c, int i, const char **why,
                            const char **source);

/* Snapshot every event now (the timer's start). */
int attn_counters_start(struct attn_counters *c);
/* Deltas since the last start, one reading per event (the timer's stop). */
int attn_counters_stop(struct attn_counters *c, struct attn_counter_reading *out);

/*
 * The cost of one start/stop pair with every available event, in ns: the
 * median over `reps` pairs. Recorded once per run. It replaces the last
 * start's snapshot, so call it outside a start/stop pair; NaN for reps < 1.
 */
double attn_counters_overhead_ns(struct attn_counters *c, int reps);

#endif /* ATTNBENCH_COUNTERS_H */
