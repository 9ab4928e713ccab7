/*
 * The PAPI counter backend: presets (PAPI_TOT_INS, PAPI_L1_DCM) and native
 * events through PAPI's low-level API, in the way PAPI's own utilities use
 * it - the library version checked at init, events added one at a time and
 * kept going without the ones that fail. Built with -DATTNBENCH_PAPI=OFF,
 * this file is a stub that refuses every event, "built without PAPI".
 *
 * One event set per PAPI component, not per event: PAPI runs at most one
 * event set per component per thread (PAPI_start says PAPI_EISRUN to a
 * second one). Each event is added on its own to its component's set, which
 * is stopped for the add and started again, so one the machine cannot count
 * fails alone and leaves the set as it was; counting starts at the open,
 * like perf_event's, and the caller takes deltas.
 *
 * Threads: each set asks for PAPI_INHERIT, PAPI's name for perf_event's
 * inherit, so OpenMP workers created after the open are counted. A
 * component that cannot inherit gets its events refused (they fall through
 * to perf_event, or are unavailable with the reason) rather than counted on
 * the calling thread alone, which would under-count a parallel method by a
 * factor nobody sees. Sets belong to the thread that opened them: open,
 * read and close from that one thread.
 *
 * Kernel software events (perf::TASK-CLOCK, perf::CONTEXT-SWITCHES, ...) are
 * left to the perf_event backend: PAPI counts in its default user-only
 * domain, where the scheduler's events read a silent 0, and adds nothing
 * else to the kernel's own counters.
 *
 * Processes: PAPI is initialised lazily, once per process, by the first open
 * that needs it, and never shut down (the state is process-global and the
 * exit reclaims it). The runner opens counters in its forked child, so each
 * child initialises its own PAPI and the parent never needs it. A child
 * forked after the parent initialised PAPI inherits that state and creates
 * its own sets, which count the child (PAPI opens its events on pid 0, the
 * caller); only a parent that still holds a *running* set while it forks
 * leaves the child unable to start one of that component (PAPI_EISRUN),
 * which then shows as unavailable with that reason.
 *
 * PAPI reports no enabled/running times; since we never turn on PAPI's
 * multiplexing, a reading's enabled and running times are both the wall
 * clock and never differ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ATTN_HAVE_PAPI
#include <papi.h>
#endif

#include "attnbench/status.h"
#include "counters_backend.h"
#include "internal.h"

#ifdef ATTN_HAVE_PAPI

/* One running event set per component; a counters object has at most 16 events. */
struct papi_set {
	int cidx;
	int es;
	int n_events;
	int running;
	int no_inherit; /* PAPI_set_opt(PAPI_INHERIT) failed: refuse this component */
	char no_inherit_why[256];
};

struct papi_handle {
	int set;
	int pos; /* index of the event in its set's PAPI_read values */
};

struct papi_state {
	int n_sets;
	struct papi_set set[ATTN_MAX_COUNTERS];
	int n_handles;
	struct papi_handle handle[ATTN_MAX_COUNTERS];
};

/* Process-wide: PAPI_library_init runs once; its verdict is kept for later opens. */
static int papi_init_done;
static int papi_init_ok;
static char papi_init_why[160];

static const char *papi_err(int rc)
{
	const char *s = PAPI_strerror(rc);
	return s ? s : "unknown PAPI error";
}

static int papi_ready(void)
{
	if (papi_init_done)
		return papi_init_ok;
	papi_init_done = 1;
	int v = PAPI_library_init(PAPI_VER_CURRENT);
	if (v == PAPI_VER_CURRENT) {
		papi_init_ok = 1;
	} else if (v > 0) {
		snprintf(papi_init_why, sizeof(papi_init_why),
		         "PAPI_library_init: library version %d.%d differs from the headers' %d.%d",
		         PAPI_VERSION_MAJOR(v), PAPI_VERSION_MINOR(v),
		         PAPI_VERSION_MAJOR(PAPI_VER_CURRENT),
		         PAPI_VERSION_MINOR(PAPI_VER_CURRENT));
	} else {
		snprintf(papi_init_why, sizeof(papi_init_why), "PAPI_library_init: %s",
		         papi_err(v));
	}
	return papi_init_ok;
}

/* The set of component cidx, created (with inherit asked for) on first use; -1 on failure. */
static int papi_set_for(struct papi_state *s, int cidx, char *why, size_t whylen)
{
	for (int i = 0; i < s->n_sets; i++)
		if (s->set[i].cidx == cidx)
			return i;
	if (s->n_sets >= ATTN_MAX_COUNTERS) {
		attn_errf(why, whylen, ATTN_ERR_INVALID, "more than %d event sets",
		          ATTN_MAX_COUNTERS);
		return -1;
	}

	struct papi_set *set = &s->set[s->n_sets];
	int es = PAPI_NULL, rc;
	memset(set, 0, sizeof(*set));
	if ((rc = PAPI_create_eventset(&es)) != PAPI_OK) {
		attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED, "PAPI_create_eventset: %s",
		          papi_err(rc));
		return -1;
	}
	/* Inherit is a component's option: the set must know its component first. */
	if ((rc = PAPI_assign_eventset_component(es, cidx)) != PAPI_OK) {
		attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED, "%s", papi_err(rc));
		PAPI_destroy_eventset(&es);
		return -1;
	}
	PAPI_option_t opt;
	memset(&opt, 0, sizeof(opt));
	opt.inherit.eventset = es;
	opt.inherit.inherit = PAPI_INHERIT_ALL;
	if ((rc = PAPI_set_opt(PAPI_INHERIT, &opt)) != PAPI_OK) {
		const PAPI_component_info_t *ci = PAPI_get_component_info(cidx);
		set->no_inherit = 1;
		snprintf(set->no_inherit_why, sizeof(set->no_inherit_why),
		         "component %s cannot count threads created later (PAPI_INHERIT: %s)",
		         ci ? ci->name : "?", papi_err(rc));
	}
	set->cidx = cidx;
	set->es = es;
	return s->n_sets++;
}

static int papi_open(void *state, const char *event, char *why, size_t whylen)
{
	struct papi_state *s = state;
	long long scratch[ATTN_MAX_COUNTERS + 1];
	int code, rc;

	if (attn__counters_perf_is_software(event))
		return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED,
		                 "a kernel software event, left to perf_event");
	if (!papi_ready())
		return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED, "%s", papi_init_why);
	if (s->n_handles >= ATTN_MAX_COUNTERS)
		return attn_errf(why, whylen, ATTN_ERR_INVALID, "more than %d events",
		                 ATTN_MAX_COUNTERS);
	if ((rc = PAPI_event_name_to_code(event, &code)) != PAPI_OK)
		return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED,
		                 "unknown to PAPI (PAPI_event_name_to_code: %s)", papi_err(rc));
	int cidx = PAPI_get_event_component(code);
	if (cidx < 0)
		return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED, "%s", papi_err(cidx));
	/*
	 * A disabled component says why in its own words ("libpfm4 no default PMU
	 * found"), which is worth more than the error of any call on its sets.
	 * Delayed-init components are not disabled: they start on first use.
	 */
	const PAPI_component_info_t *ci = PAPI_get_component_info(cidx);
	if (ci && ci->disabled && ci->disabled != PAPI_EDELAY_INIT)
		return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED, "%s (component %s: %s)",
		                 papi_err(PAPI_ECMP_DISABLED), ci->name,
		                 ci->disabled_reason[0] ? ci->disabled_reason : "no reason given");
	int si = papi_set_for(s, cidx, why, whylen);
	if (si < 0)
		return ATTN_ERR_UNSUPPORTED;
	struct papi_set *set = &s->set[si];
	if (set->no_inherit)
		return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED, "%s", set->no_inherit_why);

	/* A running set takes no new event: stop it, add, start again. */
	if (set->running) {
		if ((rc = PAPI_stop(set->es, scratch)) != PAPI_OK)
			return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED, "PAPI_stop: %s",
			                 papi_err(rc));
		set->running = 0;
	}
	rc = PAPI_add_event(set->es, code);
	if (rc != PAPI_OK) {
		attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED, "%s", papi_err(rc));
	} else if ((rc = PAPI_start(set->es)) != PAPI_OK) {
		attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED, "PAPI_start: %s", papi_err(rc));
		PAPI_remove_event(set->es, code);
	} else {
		set->running = 1;
		s->handle[s->n_handles].set = si;
		s->handle[s->n_handles].pos = set->n_events++;
		return s->n_handles++;
	}
	/* The event failed alone: the set's earlier events count on. */
	if (set->n_events > 0 && PAPI_start(set->es) == PAPI_OK)
		set->running = 1;
	return ATTN_ERR_UNSUPPORTED;
}

static int papi_read(void *state, int handle, uint64_t *count, uint64_t *enabled, uint64_t *running)
{
	struct papi_state *s = state;
	long long v[ATTN_MAX_COUNTERS + 1];

	if (handle < 0 || handle >= s->n_handles)
		return ATTN_ERR_INVALID;
	const struct papi_handle *h = &s->handle[handle];
	if (!s->set[h->set].running || PAPI_read(s->set[h->set].es, v) != PAPI_OK)
		return ATTN_ERR_IO;
	/* Two's complement: a derived preset's negative total still differences right. */
	*count = (uint64_t)v[h->pos];
	*enabled = *running = attn__now_ns();
	return ATTN_OK;
}

static void papi_close(void *state)
{
	struct papi_state *s = state;
	long long scratch[ATTN_MAX_COUNTERS + 1];

	if (!s)
		return;
	for (int i = 0; i < s->n_sets; i++) {
		if (s->set[i].running)
			PAPI_stop(s->set[i].es, scratch);
		PAPI_cleanup_eventset(s->set[i].es);
		PAPI_destroy_eventset(&s->set[i].es);
	}
	free(s);
}

int attn__counters_papi_backend(struct attn_counter_backend *b, char *err, size_t errlen)
{
	struct papi_state *s = calloc(1, sizeof(*s));

	if (!s)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "counters: out of memory");
	b->name = "papi";
	b->open = papi_open;
	b->read = papi_read;
	b->close = papi_close;
	b->state = s;
	return ATTN_OK;
}

#else /* !ATTN_HAVE_PAPI */

static int papi_open(void *state, const char *event, char *why, size_t whylen)
{
	(void)state;
	(void)event;
	return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED,
	                 "built without PAPI (-DATTNBENCH_PAPI=OFF)");
}

static int papi_read(void *state, int handle, uint64_t *count, uint64_t *enabled, uint64_t *running)
{
	(void)state;
	(void)handle;
	(void)count;
	(void)enabled;
	(void)running;
	return ATTN_ERR_INTERNAL; /* never reached: open() refuses everything */
}

static void papi_close(void *state)
{
	(void)state;
}

int attn__counters_papi_backend(struct attn_counter_backend *b, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	b->name = "papi";
	b->open = papi_open;
	b->read = papi_read;
	b->close = papi_close;
	b->state = NULL;
	return ATTN_OK;
}

#endif /* ATTN_HAVE_PAPI */
