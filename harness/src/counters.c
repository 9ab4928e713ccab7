/*
 * Event counters read at the same boundaries as the timer (see counters.h
 * for the contract; the backends are counters_papi.c and counters_perf.c).
 *
 * This file is the part every backend shares: it parses the event list
 * (strictly: a malformed list is the caller's bug and is refused whole, with
 * the offending item named), gives each event to the backends in order
 * until one accepts it, remembers why each refused when none does, and turns
 * two snapshots into readings. A reading is a delta of running totals:
 * counting is never started or stopped around the timed region, because the
 * enabled/running times of those same totals are what reveal multiplexing.
 *
 * A backend whose read fails after a good open (it should not happen) turns
 * its event unavailable from then on, with the reason, and the others go on:
 * counters are evidence about a measurement, never a reason to lose it.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "attnbench/counters.h"
#include "attnbench/stats.h"
#include "attnbench/status.h"
#include "counters_backend.h"
#include "internal.h"

#define COUNTERS_MAX_BACKENDS 8
#define COUNTERS_WHY_MAX      384

struct counter {
	char name[ATTN__COUNTER_NAME_MAX + 1];
	int backend; /* index into attn_counters.backends; -1: unavailable */
	int handle;
	char why[COUNTERS_WHY_MAX]; /* each backend's refusal, "name: reason; ..." */
	/* the totals at the last start */
	uint64_t count;
	uint64_t enabled;
	uint64_t running;
};

struct attn_counters {
	int n;
	struct counter ev[ATTN_MAX_COUNTERS];
	int n_backends;
	const struct attn_counter_backend *backends[COUNTERS_MAX_BACKENDS];
	/* attn_counters_open's own backends; backends[] points at these then */
	struct attn_counter_backend real[2];
	int started;
};

/*
 * Split `list` into c->ev names. Items are trimmed of blanks, so "a, b"
 * reads as two names; anything else odd is refused with the item named.
 */
static int parse_list(struct attn_counters *c, const char *list, char *err, size_t errlen)
{
	const char *p = list;

	for (int item = 1;; item++) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *q = p;
		while (len > 0 && isblank((unsigned char)*q)) {
			q++;
			len--;
		}
		while (len > 0 && isblank((unsigned char)q[len - 1]))
			len--;
		if (len == 0)
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "counters: item %d of \"%s\" is empty", item, list);
		if (len > ATTN__COUNTER_NAME_MAX)
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "counters: event name \"%.40s...\" is longer than %d "
			                 "characters",
			                 q, ATTN__COUNTER_NAME_MAX);
		for (size_t i = 0; i < len; i++)
			if (isspace((unsigned char)q[i]) || iscntrl((unsigned char)q[i]))
				return attn_errf(err, errlen, ATTN_ERR_INVALID,
				                 "counters: event name \"%.*s\" contains a blank "
				                 "or control character",
				                 (int)len, q);
		if (c->n >= ATTN_MAX_COUNTERS)
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "counters: \"%.*s\" is event %d, more than the %d allowed",
			                 (int)len, q, item, ATTN_MAX_COUNTERS);
		struct counter *e = &c->ev[c->n];
		memcpy(e->name, q, len);
		e->name[len] = '\0';
		/* Names are case-insensitive to PAPI and libpfm4, so duplicates are too. */
		for (int i = 0; i < c->n; i++)
			if (strcasecmp(c->ev[i].name, e->name) == 0)
				return attn_errf(err, errlen, ATTN_ERR_INVALID,
				                 "counters: event \"%s\" is listed twice", e->name);
		c->n++;
		if (!end)
			return ATTN_OK;
		p = end + 1;
	}
}

/* Append "backend: reason" to an event's list of refusals. */
static void add_why(struct counter *e, const char *backend, const char *why)
{
	size_t used = strlen(e->why);
	snprintf(e->why + used, sizeof(e->why) - used, "%s%s: %s", used ? "; " : "", backend,
	         why[0] ? why : "refused");
}

/* Offer the event to each backend in turn; the first that opens it counts it. */
static void open_event(struct attn_counters *c, struct counter *e)
{
	e->backend = -1;
	e->why[0] = '\0';
	for (int b = 0; b < c->n_backends; b++) {
		const struct attn_counter_backend *be = c->backends[b];
		char why[256] = "";
		int h = be->open(be->state, e->name, why, sizeof(why));
		if (h >= 0) {
			e->backend = b;
			e->handle = h;
			e->why[0] = '\0';
			return;
		}
		if (!why[0])
			snprintf(why, sizeof(why), "%s", attn_status_str(h));
		add_why(e, be->name ? be->name : "?", why);
	}
	if (c->n_backends == 0)
		snprintf(e->why, sizeof(e->why), "no counter backend");
}

/* Read one event; a failed read makes it unavailable for good (see the top). */
static int read_event(struct attn_counters *c, struct counter *e, uint64_t *count,
                      uint64_t *enabled, uint64_t *running)
{
	if (e->backend < 0)
		return -1;
	const struct attn_counter_backend *be = c->backends[e->backend];
	int rc = be->read(be->state, e->handle, count, enabled, running);
	if (rc == ATTN_OK)
		return 0;
	snprintf(e->why, sizeof(e->why), "%s: read failed after a good open (%s)",
	         be->name ? be->name : "?", attn_status_str(rc));
	e->backend = -1;
	return -1;
}

static void close_backends(struct attn_counters *c)
{
	for (int b = 0; b < c->n_backends; b++)
		if (c->backends[b]->close)
			c->backends[b]->close(c->backends[b]->state);
	c->n_backends = 0;
}

/*
 * The shared open, once c->backends is filled in: parse the whole list
 * first, so a malformed one fails before any backend has been asked
 * anything, then offer each event. Opening an event never fails the open.
 */
static int counters_open(const char *list, struct attn_counters *c, char *err, size_t errlen)
{
	int rc = parse_list(c, list ? list : ATTN_COUNTERS_DEFAULT, err, errlen);
	if (rc != ATTN_OK)
		return rc;
	for (int i = 0; i < c->n; i++)
		open_event(c, &c->ev[i]);
	return ATTN_OK;
}

int attn_counters_open_with(const char *list, const struct attn_counter_backend *const *backends,
                            int n_backends, struct attn_counters **out, char *err, size_t errlen)
{
	if (!out)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "counters: no output pointer");
	*out = NULL;
	if (n_backends < 0 || n_backends > COUNTERS_MAX_BACKENDS || (n_backends > 0 && !backends))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "counters: %d backends (0 to %d, and a non-NULL array)",
		                 n_backends, COUNTERS_MAX_BACKENDS);
	for (int b = 0; b < n_backends; b++)
		if (!backends[b] || !backends[b]->open || !backends[b]->read)
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "counters: backend %d lacks open() or read()", b);

	struct attn_counters *c = calloc(1, sizeof(*c));
	if (!c)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "counters: out of memory");
	for (int b = 0; b < n_backends; b++)
		c->backends[c->n_backends++] = backends[b];
	int rc = counters_open(list, c, err, errlen);
	if (rc != ATTN_OK) {
		/* Nothing was opened: the caller's backends stay the caller's. */
		free(c);
		return rc;
	}
	*out = c;
	return ATTN_OK;
}

int attn_counters_open(const char *list, struct attn_counters **out, char *err, size_t errlen)
{
	if (!out)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "counters: no output pointer");
	*out = NULL;

	struct attn_counters *c = calloc(1, sizeof(*c));
	if (!c)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "counters: out of memory");
	/* PAPI first: it knows the hardware presets; perf_event takes the rest. */
	int rc = attn__counters_papi_backend(&c->real[0], err, errlen);
	if (rc == ATTN_OK) {
		c->backends[c->n_backends++] = &c->real[0];
		rc = attn__counters_perf_backend(&c->real[1], err, errlen);
	}
	if (rc == ATTN_OK) {
		c->backends[c->n_backends++] = &c->real[1];
		rc = counters_open(list, c, err, errlen);
	}
	if (rc != ATTN_OK) {
		attn_counters_close(c);
		return rc;
	}
	*out = c;
	return ATTN_OK;
}

void attn_counters_close(struct attn_counters *c)
{
	if (!c)
		return;
	close_backends(c);
	free(c);
}

int attn_counters_count(const struct attn_counters *c)
{
	return c ? c->n : 0;
}

const char *attn_counters_name(const struct attn_counters *c, int i)
{
	return c && i >= 0 && i < c->n ? c->ev[i].name : NULL;
}

int attn_counters_available(const struct attn_counters *c, int i, const char **why,
                            const char **source)
{
	const char *w = "no such event", *s = "none";
	int ok = 0;

	if (c && i >= 0 && i < c->n) {
		const struct counter *e = &c->ev[i];
		ok = e->backend >= 0;
		w = ok ? "" : e->why;
		if (ok)
			s = c->backends[e->backend]->name ? c->backends[e->backend]->name : "?";
	}
	if (why)
		*why = w;
	if (source)
		*source = s;
	return ok;
}

int attn_counters_start(struct attn_counters *c)
{
	if (!c)
		return ATTN_ERR_INVALID;
	for (int i = 0; i < c->n; i++) {
		struct counter *e = &c->ev[i];
		read_event(c, e, &e->count, &e->enabled, &e->running);
	}
	c->started = 1;
	return ATTN_OK;
}

int attn_counters_stop(struct attn_counters *c, struct attn_counter_reading *out)
{
	if (!c || !out || !c->started)
		return ATTN_ERR_INVALID;
	for (int i = 0; i < c->n; i++) {
		struct counter *e = &c->ev[i];
		uint64_t count, enabled, running;
		out[i].value = NAN; /* so a reading that is not OK cannot pass for a count */
		if (read_event(c, e, &count, &enabled, &running) != 0) {
			out[i].state = ATTN_COUNTER_UNAVAILABLE;
			continue;
		}
		/*
		 * A total that went backwards is a backend bug, and unequal enabled
		 * and running times mean the kernel multiplexed the event and a
		 * scaled count would be a guess: neither is a measurement.
		 */
		if (count < e->count || enabled < e->enabled || running < e->running ||
		    enabled - e->enabled != running - e->running) {
			out[i].state = ATTN_COUNTER_UNRELIABLE;
			continue;
		}
		out[i].state = ATTN_COUNTER_OK;
		out[i].value = (double)(count - e->count);
	}
	return ATTN_OK;
}

double attn_counters_overhead_ns(struct attn_counters *c, int reps)
{
	struct attn_counter_reading rd[ATTN_MAX_COUNTERS];

	if (!c || reps < 1)
		return NAN;
	double *ns = malloc((size_t)reps * sizeof(*ns));
	if (!ns)
		return NAN;
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = attn__now_ns();
		attn_counters_start(c);
		attn_counters_stop(c, rd);
		ns[r] = (double)(attn__now_ns() - t0);
	}
	double med = attn_stats_median_inplace(ns, reps);
	free(ns);
	return med;
}
