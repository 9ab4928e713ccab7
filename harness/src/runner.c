/*
 * The case runner (see runner.h for the contract).
 *
 * The child speaks a line protocol on a pipe, which the parent parses the
 * same way whether the case ran in a child or in-process (then the lines go
 * to a memory stream):
 *     S <ns per call> <calls averaged> <probe ns> [<counter per call|u|m>...]
 *                                             one timed sample, with the
 *                                             roof probe's ns per sgemm
 *                                             after it (0: no probe)
 *     M <name> <value|null> <unit>            one metric
 *     I <text>                                what the method says about the
 *                                             case (a peer's provenance)
 *     R <status> <message>                    the verdict, last
 * A child that dies before its verdict crashed (signal) or failed (exit
 * code); one that outlives its deadline is killed and timed out.
 */
#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "attnbench/bind.h"
#include "attnbench/counters.h"
#include "attnbench/instance.h"
#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/stats.h"
#include "attnbench/status.h"
#include "attnbench/sysinfo.h"
#include "internal.h"
#include "kernels/kernels.h"
#include "peer.h"

static const char *status_names[] = {"ok",           "unsupported",  "skipped_memory",
                                     "skipped_time", "timeout",      "crashed",
                                     "failed",       "failed_check", "interrupted"};

const char *attn_case_status_name(enum attn_case_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(*status_names) ? status_names[s]
	                                                                  : "unknown";
}

int attn_case_status_declined(enum attn_case_status s)
{
	return s == ATTN_CASE_UNSUPPORTED || s == ATTN_CASE_SKIPPED_MEMORY ||
	       s == ATTN_CASE_SKIPPED_TIME;
}

static int status_parse(const char *name, enum attn_case_status *out)
{
	for (unsigned i = 0; i < sizeof(status_names) / sizeof(*status_names); i++)
		if (strcmp(name, status_names[i]) == 0) {
			*out = (enum attn_case_status)i;
			return 0;
		}
	return -1;
}

void attn_run_opts_default(struct attn_run_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_s = 120;
	o->max_call_s = 60;
	o->warmup_s = 0.05;
	o->min_time_s = 0.2;
	o->min_reps = 5;
	o->max_reps = 1000;
	o->min_sample_s = 0.0005;
	o->check_max_flops = 2e9;
	o->isolate = 1;
	o->bind = ATTN_BIND_COMPACT;
	o->counters = NULL;
}

void attn_run_opts_check(struct attn_run_opts *o, int isolate)
{
	attn_run_opts_default(o);
	o->warmup_s = 0;
	o->min_time_s = 0;
	o->min_reps = 1;
	o->max_reps = 1;
	o->min_sample_s = 0;
	o->timeout_s = 60;
	o->check_max_flops = 1e18;
	o->isolate = isolate;
	/* Correctness only: no placement, no counters, nothing to slow it down. */
	o->bind = ATTN_BIND_NONE;
	o->counters = "none";
}

int attn_case_key(const struct attn_case *c, char *buf, size_t len)
{
	char params[1024];
	attn_params_format(c->method, &c->params, params, sizeof(params));
	const struct attn_shape *s = &c->shape;
	return snprintf(buf, len,
	                "%s[%s] b=%lld h=%lld kvh=%lld n=%lld d=%lld causal=%d mode=%s dist=%s "
	                "threads=%d seed=%llu",
	                c->method->name, params, (long long)s->batch, (long long)s->heads,
	                (long long)s->kv_heads, (long long)s->n, (long long)s->d, s->causal,
	                attn_mode_name(s->mode), attn_dist_name(c->dist), c->threads,
	                (unsigned long long)c->seed);
}

static size_t out_elems(const struct attn_shape *s)
{
	return attn__mul_sat(attn__mul_sat((size_t)s->batch, (size_t)s->heads),
	                     attn__mul_sat((size_t)attn_shape_nq(s), (size_t)s->d));
}

/* Reference cost, 4 B H NQ N D, which decides whether the oracle runs. */
static double check_flops(const struct attn_shape *s)
{
	return 4.0 * (double)s->batch * (double)s->heads * (double)attn_shape_nq(s) * (double)s->n *
	       (double)s->d;
}

/* The reference's cost for one query row of every head, 4 B H N D: the longest row's. */
static double row_flops(const struct attn_shape *s)
{
	return 4.0 * (double)s->batch * (double)s->heads * (double)s->n * (double)s->d;
}

enum attn_oracle_kind attn_oracle_plan(const struct attn_shape *s, double check_max_flops,
                                       uint64_t seed, int64_t *rows, int *nrows)
{
	const int64_t nq = attn_shape_nq(s);
	*nrows = 0;
	if (!(check_max_flops > 0))
		return ATTN_ORACLE_NONE;
	if (check_flops(s) <= check_max_flops || s->mode == ATTN_MODE_DECODE) {
		*nrows = (int)(nq < INT32_MAX ? nq : INT32_MAX);
		return ATTN_ORACLE_FULL;
	}
	double afford = floor(check_max_flops / row_flops(s));
	int64_t k = ATTN_ORACLE_MAX_ROWS;
	if (afford < (double)k)
		k = (int64_t)afford;
	if (nq < k)
		k = nq;
	if (k < 1)
		return ATTN_ORACLE_NONE;

	/* Causal: the last rows, which see the whole context, all of them. */
	int64_t tail = s->causal ? (k + 1) / 2 : 0;
	if (tail > ATTN_ORACLE_TAIL_ROWS)
		tail = ATTN_ORACLE_TAIL_ROWS;
	/* The rest: one seeded row in each of m equal strata of [0, nq - tail). */
	const int64_t m = k - tail, span = nq - tail;
	uint64_t rng = attn__mix64(seed ^ 0x6f7261636c65ull); /* "oracle" */
	for (int64_t j = 0; j < m; j++) {
		int64_t lo = span * j / m, hi = span * (j + 1) / m; /* hi > lo: span >= m */
		rows[j] = lo + (int64_t)(attn__rng_next(&rng) % (uint64_t)(hi - lo));
	}
	for (int64_t j = 0; j < tail; j++)
		rows[m + j] = span + j;
	*nrows = (int)k;
	return ATTN_ORACLE_SAMPLED;
}

/* The guard pages and canaries of the inputs, the output and the workspace. */
static size_t guard_overheads(const struct attn_case *c, size_t ws)
{
	const struct attn_shape *s = &c->shape;
	size_t in = attn_workload_bytes(s, c->method->inputs);
	if (in == SIZE_MAX || ws == SIZE_MAX)
		return SIZE_MAX;
	return attn__guarded_overhead(in) + attn__guarded_overhead(out_elems(s) * sizeof(float)) +
	       attn__guarded_overhead(ws);
}

size_t attn_case_predict_bytes(const struct attn_case *c, const struct attn_run_opts *o)
{
	const struct attn_shape *s = &c->shape;
	size_t total = attn_workload_bytes(s, c->method->inputs);
	total = attn__add_sat(total, attn__mul_sat(out_elems(s), sizeof(float)));
	size_t ws = attn_call_workspace_bytes(c->method, s, &c->params, c->threads);
	total = attn__add_sat(total, ws);
	/* each buffer's guard pages and canaries (guard.c) */
	total = attn__add_sat(total, guard_overheads(c, ws));
	int64_t rows[ATTN_ORACLE_MAX_ROWS];
	int nrows;
	enum attn_oracle_kind kind = attn_oracle_plan(s, o->check_max_flops, c->seed, rows, &nrows);
	if (kind == ATTN_ORACLE_FULL) {
		/* The oracle's output and, for approximate methods, softmax's. */
		size_t ref = attn__mul_sat(out_elems(s), sizeof(double));
		total = attn__add_sat(total, attn__mul_sat(ref, 2));
		total = attn__add_sat(total, attn__mul_sat((size_t)s->n, 2 * sizeof(double)));
	} else if (kind == ATTN_ORACLE_SAMPLED) {
		/* The sampled rows in double and in float, and one row of scores. */
		size_t per = attn__mul_sat(attn__mul_sat((size_t)s->batch, (size_t)s->heads),
		                           attn__mul_sat((size_t)nrows, (size_t)s->d));
		total = attn__add_sat(total, attn__mul_sat(per, sizeof(double) + sizeof(float)));
		total = attn__add_sat(total, attn__mul_sat((size_t)s->n, sizeof(double)));
	}
	return total;
}

/* ---- the child side ------------------------------------------------------ */

static void emit_metric(FILE *f, const char *name, double v, const char *unit)
{
	fprintf(f, "M %s %.17g %s\n", name, v, unit);
}

static void emit_null(FILE *f, const char *name, const char *unit)
{
	fprintf(f, "M %s null %s\n", name, unit);
}

/*
 * The kept-block mask of head 0 a method dumps on the mask call (method.h)
 * goes to the parent as a file (it can be megabytes; the pipe carries
 * lines): the instance hands it here once. 0 when the file was written.
 */
static int write_mask(void *arg, int64_t nqb, int64_t nkb, const uint8_t *mask)
{
	FILE *f = arg;
	char path[] = "/tmp/attnbench-mask-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	size_t bytes = (size_t)nqb * (size_t)nkb;
	FILE *mf = fdopen(fd, "wb");
	int ok = mf && fwrite(mask, 1, bytes, mf) == bytes;
	if (mf)
		ok &= fclose(mf) == 0;
	else
		close(fd);
	if (!ok) {
		unlink(path);
		return -1;
	}
	fprintf(f, "X %lld %lld %s\n", (long long)nqb, (long long)nkb, path);
	return 0;
}

/* A /proc/self/status field in bytes (VmRSS, VmHWM), 0 if unreadable. */
static size_t proc_status_bytes(const char *field)
{
	return attn__proc_kb_field("/proc/self/status", field);
}

/* Start the peak-RSS count afresh (Linux >= 4.0); 0 on success. */
static int reset_peak_rss(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd < 0)
		return -1;
	int ok = write(fd, "5", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

/* ||out - ref|| / ||ref|| (Frobenius) and max |out - ref| over n elements. */
static void error_vs(const float *out, const double *ref, size_t n, double *rel, double *max_abs)
{
	double num = 0, den = 0, mx = 0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)out[i] - ref[i];
		num += e * e;
		den += ref[i] * ref[i];
		if (fabs(e) > mx)
			mx = fabs(e);
	}
	*rel = den > 0 ? sqrt(num / den) : sqrt(num);
	*max_abs = mx;
}

int attn_check_output(const struct attn_case *c, const struct attn_inputs *in, const float *out,
                      double *rel_err, double *max_abs_err, double soft_err[2], char *err,
                      size_t errlen)
{
	const struct attn_shape *s = &c->shape;
	size_t n = out_elems(s);
	double *ref = malloc(attn__mul_sat(n, sizeof(double)));
	if (!ref)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory for the oracle");
	struct attn_ctx ctx = {.threads = c->threads, .seed = c->seed};
	int rc = c->method->oracle ? attn_call_oracle(c->method, s, &c->params, in, ref, &ctx)
	                           : attn_reference_softmax(s, in, ref);
	if (rc) {
		free(ref);
		return attn_errf(err, errlen, rc, "the oracle failed: %s", attn_status_str(rc));
	}
	error_vs(out, ref, n, rel_err, max_abs_err);
	if (soft_err) {
		soft_err[0] = *rel_err;
		soft_err[1] = *max_abs_err;
		if (c->method->oracle && (rc = attn_reference_softmax(s, in, ref)) == 0)
			error_vs(out, ref, n, &soft_err[0], &soft_err[1]);
	}
	free(ref);
	return rc ? attn_errf(err, errlen, rc, "the softmax reference failed") : ATTN_OK;
}

int attn_check_rows(const struct attn_case *c, const struct attn_inputs *in, const float *out,
                    const int64_t *rows, int nrows, double *rel_err, double *max_abs_err, char *err,
                    size_t errlen)
{
	const struct attn_shape *s = &c->shape;
	const size_t bh = (size_t)s->batch * (size_t)s->heads, d = (size_t)s->d;
	const size_t nq = (size_t)attn_shape_nq(s), n = bh * (size_t)nrows * d;
	double *ref = malloc(attn__mul_sat(n, sizeof(double)));
	float *got = malloc(attn__mul_sat(n, sizeof(float)));
	double *scores = malloc((size_t)s->n * sizeof(double));
	int rc = ATTN_ERR_NOMEM;
	if (!ref || !got || !scores) {
		attn_errf(err, errlen, rc, "out of memory for the sampled oracle (%d rows)", nrows);
		goto out;
	}
	rc = attn__reference_softmax_rows(s, in, rows, nrows, ref, scores);
	if (rc) {
		attn_errf(err, errlen, rc, "the sampled softmax reference failed: %s",
		          attn_status_str(rc));
		goto out;
	}
	/* The method's output at the same rows, laid out as ref is. */
	for (size_t h = 0; h < bh; h++)
		for (int r = 0; r < nrows; r++)
			memcpy(got + (h * (size_t)nrows + (size_t)r) * d,
			       out + (h * nq + (size_t)rows[r]) * d, d * sizeof(float));
	error_vs(got, ref, n, rel_err, max_abs_err);
out:
	free(ref);
	free(got);
	free(scores);
	return rc;
}

const char *attn_result_missing_why(const struct attn_case *c, const struct attn_case_result *r,
                                    const struct attn_run_opts *o, const char *name, char *buf,
                                    size_t len)
{
	static const char *errs[] = {"rel_err", "max_abs_err", "rel_err_softmax",
	                             "max_abs_err_softmax"};
	int which = -1;
	for (int i = 0; i < 4; i++)
		if (strcmp(name, errs[i]) == 0)
			which = i;
	const struct attn_metric *m = attn_result_metric(r, name);
	const struct attn_metric *rows = attn_result_metric(r, "oracle_rows");
	if (which < 0 || (m && m->has_value) || r->status != ATTN_CASE_OK)
		return NULL;
	if (which >= 2 && (c->method->flags & ATTN_METHOD_EXACT))
		snprintf(buf, len,
		         "not computed: %s is exact, rel_err is its error against softmax",
		         c->method->name);
	else if (!(o->check_max_flops > 0))
		snprintf(buf, len, "no oracle: --check-max-flops 0");
	else if (rows && rows->has_value && rows->value > 0)
		snprintf(
		    buf, len,
		    "not computed: sampled rows are checked against softmax only; the method's "
		    "own oracle computes whole outputs and runs when the full check (%.3g flops) "
		    "fits --check-max-flops %.3g",
		    check_flops(&c->shape), o->check_max_flops);
	else
		snprintf(buf, len,
		         "no oracle: one reference row costs %.3g flops > --check-max-flops %.3g",
		         row_flops(&c->shape), o->check_max_flops);
	return buf;
}

/* Touch every cache line of the flush buffer: evicts the case's data. */
static void flush_caches(char *buf, size_t bytes)
{
	volatile char *v = buf;
	for (size_t i = 0; i < bytes; i += 64)
		v[i] = (char)(v[i] + 1);
}

/* The sample line: ns per call, calls, the probe, then each counter per call or u/m. */
static void emit_sample(FILE *f, double ns, long iters, double roof_ns,
                        const struct attn_counter_reading *rd, int nctr)
{
	fprintf(f, "S %.17g %ld %.17g", ns, iters, roof_ns);
	for (int e = 0; e < nctr; e++) {
		if (rd[e].state == ATTN_COUNTER_OK)
			fprintf(f, " %.17g", rd[e].value / (double)iters);
		else
			fprintf(f, " %c", rd[e].state == ATTN_COUNTER_UNRELIABLE ? 'm' : 'u');
	}
	fputc('\n', f);
}

/*
 * The roof probe (--roof-probe): a square sgemm of ATTN_PROBE_N, always the
 * same, timed in the case's own process after each sample and outside it.
 * Its time moves with whatever slows the machine at that moment (another
 * process, a throttled clock, a noisy neighbour on the VM host), so the
 * regression gate can divide those phases out of the case's time. A probe
 * repeats the call until it lasts about PROBE_TARGET_NS, short next to a
 * sample yet long against the clock's resolution; the count is set once per
 * case, so every probe of a case does the same work.
 */
#define PROBE_TARGET_NS 5e5
#define PROBE_MAX_CALLS 64

struct roof_probe {
	float *a, *b, *c; /* (ATTN_PROBE_N, ATTN_PROBE_N) each */
	int threads;      /* OpenBLAS threads for the probe: the case's */
	int restore;      /* and for the method, set back after it */
	long calls;       /* sgemm calls per probe */
};

static void probe_free(struct roof_probe *p)
{
	attn__free(p->a);
	attn__free(p->b);
	attn__free(p->c);
	memset(p, 0, sizeof(*p));
}

/* Allocate and fill the operands; 0 on success. */
static int probe_alloc(struct roof_probe *p, int threads, int restore)
{
	size_t count = (size_t)ATTN_PROBE_N * ATTN_PROBE_N;
	p->a = attn__alloc(count * sizeof(float));
	p->b = attn__alloc(count * sizeof(float));
	p->c = attn__alloc(count * sizeof(float));
	p->threads = threads;
	p->restore = restore;
	p->calls = 1;
	if (!p->a || !p->b || !p->c) {
		probe_free(p);
		return -1;
	}
	attn__fill_operand(p->a, count, 1);
	attn__fill_operand(p->b, count, 7);
	memset(p->c, 0, count * sizeof(float));
	return 0;
}

/* Run `calls` sgemms at the probe's thread count; the ns they took. */
static uint64_t probe_calls(struct roof_probe *p, long calls)
{
	if (p->threads != p->restore)
		openblas_set_num_threads(p->threads);
	uint64_t ns = attn__sgemm_reps(ATTN_PROBE_N, p->a, p->b, p->c, calls);
	if (p->threads != p->restore)
		openblas_set_num_threads(p->restore);
	return ns;
}

/* Warm the probe up and size it to about PROBE_TARGET_NS. */
static void probe_calibrate(struct roof_probe *p)
{
	probe_calls(p, 2);
	double one = (double)probe_calls(p, 1);
	double calls = ceil(PROBE_TARGET_NS / (one > 1 ? one : 1));
	p->calls = calls > PROBE_MAX_CALLS ? PROBE_MAX_CALLS : (long)calls;
}

/* One probe: ns per sgemm call. */
static double probe_run(struct roof_probe *p)
{
	return (double)probe_calls(p, p->calls) / (double)p->calls;
}

/* Keeps the injected busy work from being optimised away. */
static volatile double inject_sink;

/*
 * Slowdown injection (ATTNBENCH_INJECT_SLOWDOWN): compute until the clock
 * reaches `end` - dependent multiply-adds on volatile doubles, the clock
 * read every 256 of them (a few microseconds). Returns the clock at the end.
 */
static uint64_t inject_until(uint64_t end)
{
	volatile double x = 1.0, y = 0.999999, z = 1e-6;
	uint64_t now;
	while ((now = attn__now_ns()) < end)
		for (int i = 0; i < 256; i++)
			x = x * y + z;
	inject_sink = x;
	return now;
}

/*
 * The case's buffers are an instance's (instance.c) with guard pages: the
 * inputs in one mapping, read-only from before prepare() to the end in a
 * child (a write faults at once) and hashed before and after in-process
 * (where a fault would take the caller down); the output and the
 * workspace each in a mapping with canaries and PROT_NONE pages around
 * them.
 */

/*
 * The child's fault handler: a SIGSEGV or SIGBUS on a guard page or a
 * read-only input is the method's, and names what it touched; any other
 * fault goes on to the default action (the parent records a crash). It
 * writes the verdict on the protocol descriptor itself (the stream's
 * buffer may hold half a line, hence the leading newline) and exits.
 */
static struct {
	int fd;
	const struct attn_instance *inst;
	const char *phase; /* the callback running: "prepare()", "forward()", ... */
} fault;

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
	char text[480], msg[512];
	int n = 0;
	const char *verb = "touched";
#if defined(__x86_64__) && defined(REG_ERR)
	/* The page-fault error code's bit 1: the access was a write. */
	const ucontext_t *u = uctx;
	verb = (u->uc_mcontext.gregs[REG_ERR] & 2) ? "wrote" : "read";
#else
	(void)uctx;
#endif
	if (fault.inst && si &&
	    attn_instance_fault(fault.inst, si->si_addr, fault.phase, verb, text, sizeof(text)) > 0)
		n = snprintf(msg, sizeof(msg), "\nR failed_check %s\n", text);
	if (n > 0) {
		if (n >= (int)sizeof(msg))
			n = (int)sizeof(msg) - 1;
		ssize_t w = write(fault.fd, msg, (size_t)n);
		(void)w;
		_exit(0);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void fault_install(int fd, const struct attn_instance *inst)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	fault.fd = fd;
	fault.inst = inst;
	fault.phase = "the harness";
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

static void fault_remove(void)
{
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	fault.inst = NULL;
}

/* Round trips a peer's sample spans at least, so the overhead stays below 1/this of it. */
#define PEER_OVERHEAD_SPAN 100

/*
 * The verdict of a failed prepare() or forward(): a peer's own sentence and
 * status where it left one, else "failed" with msg.
 */
static void peer_verdict(FILE *f, const struct attn_instance *inst, const char *msg)
{
	enum attn__peer_fail kind;
	const char *why =
	    attn__instance_is_peer(inst) ? attn__instance_peer_error(inst, &kind) : NULL;
	static const char *const status[] = {"failed", "crashed", "unsupported", "failed_check"};
	if (why)
		fprintf(f, "R %s %s\n", status[kind], why);
	else
		fprintf(f, "R failed %s\n", msg);
}

/*
 * Everything a case does, writing the protocol to f. Returns after the
 * verdict line. `given` replaces the generated inputs; `copy_out` receives
 * the output. With cmd_fd >= 0 the parent drives the repetitions: after the
 * warm-up the case says "W", then runs one repetition per 'g' it reads and
 * stops at 'q' (or EOF); otherwise it runs them until its own minimums.
 */
static void execute(const struct attn_case *c, const struct attn_run_opts *o,
                    const struct attn_inputs *given, float *copy_out, FILE *f, int cmd_fd,
                    int in_child)
{
	const struct attn_method *m = c->method;
	const struct attn_shape *s = &c->shape;
	struct attn_instance *inst = NULL;
	struct attn_counters *ctr = NULL;
	struct attn_counter_reading rd[ATTN_MAX_COUNTERS];
	char *flush = NULL;
	struct roof_probe probe = {0};
	double *peer_over = NULL; /* per sample: round trip minus the peer's ns, and over its ns */
	int peer_over_n = 0, peer_over_cap = 0;
	char msg[512];
	int rc, nctr = 0;

	/*
	 * Counters open before any worker thread exists - OpenBLAS starts its
	 * pool as soon as its thread count is set - because perf_event's
	 * inherit reaches only threads created after the counter.
	 */
	if (!(o->counters && strcmp(o->counters, "none") == 0)) {
		if (attn_counters_open(o->counters, &ctr, msg, sizeof(msg)) != ATTN_OK) {
			fprintf(f, "R failed counters: %s\n", msg);
			goto done;
		}
		nctr = attn_counters_count(ctr);
		for (int e = 0; e < nctr; e++)
			fprintf(f, "E %d %s\n", attn_counters_available(ctr, e, NULL, NULL),
			        attn_counters_name(ctr, e));
	}

	/*
	 * Threads: a BLAS method gets them from OpenBLAS, others from OpenMP;
	 * the other pool gets one so the two never oversubscribe the cores.
	 */
	openblas_set_num_threads((m->flags & ATTN_METHOD_USES_BLAS) ? c->threads : 1);
	omp_set_num_threads(c->threads);

	/*
	 * The cache-flush buffer is the harness's, not the case's: it is made
	 * resident before the RSS baseline below, so it never counts.
	 */
	if (o->flush_bytes) {
		flush = malloc(o->flush_bytes);
		if (!flush) {
			fprintf(f, "R failed cannot allocate the %zu-byte cache-flush buffer\n",
			        o->flush_bytes);
			goto done;
		}
		memset(flush, 1, o->flush_bytes);
	}
	/* The probe's operands are the harness's too: resident before the RSS baseline. */
	if (o->roof_probe &&
	    probe_alloc(&probe, c->threads, (m->flags & ATTN_METHOD_USES_BLAS) ? c->threads : 1)) {
		fprintf(f, "R failed cannot allocate the roof probe's operands\n");
		goto done;
	}

	/*
	 * Place the threads (and start OpenMP's pool, each worker pinned for an
	 * OpenMP method; a BLAS method's pool only shares the process binding).
	 */
	char cpus[256];
	int pin_each = !(m->flags & ATTN_METHOD_USES_BLAS);
	if (attn_bind_apply(c->threads, o->bind, pin_each, cpus, sizeof(cpus), msg, sizeof(msg)) !=
	    0) {
		fprintf(f, "R failed binding %d threads (%s): %s\n", c->threads,
		        attn_bind_name(o->bind), msg);
		goto done;
	}
	fprintf(f, "K %s\n", cpus);

	int have_peak = reset_peak_rss() == 0;
	size_t rss0 = proc_status_bytes("VmRSS");

	/*
	 * The inputs, generated or given, in the guarded mapping; then the
	 * output and the workspace in theirs. From here to the end the inputs
	 * are read-only (child) or hashed (in-process). supports() was asked
	 * by the precheck.
	 */
	struct attn_instance_opts io;
	attn_instance_opts_default(&io);
	io.threads = c->threads;
	io.seed = c->seed;
	io.guard = ATTN_GUARD_PAGES;
	io.inputs = given;
	io.copy_inputs = 1;
	io.dist = c->dist;
	io.readonly_inputs = in_child;
	io.skip_supports = 1;
	io.figures = 1;
	io.on_mask = write_mask;
	io.mask_arg = f;
	if (attn_instance_create(m, s, &c->params, &io, &inst, msg, sizeof(msg)) != ATTN_OK) {
		fprintf(f, "R failed %s\n", msg);
		goto done;
	}
	struct attn_instance_sizes sz;
	attn_instance_sizes(inst, &sz);
	const struct attn_inputs *in = attn_instance_inputs(inst);
	const float *out = attn_instance_output(inst);
	if (in_child)
		fault_install(fileno(f), inst);

	fault.phase = "prepare()";
	const int peer = attn__instance_is_peer(inst);
	if (attn_instance_prepare(inst, msg, sizeof(msg)) != ATTN_OK) {
		peer_verdict(f, inst, msg);
		goto done;
	}
	if (peer && attn__instance_peer_info(inst)[0])
		fprintf(f, "I %s\n", attn__instance_peer_info(inst));
	if (attn_instance_check(inst, "prepare()", msg, sizeof(msg)) != ATTN_OK) {
		fprintf(f, "R failed_check %s\n", msg);
		goto done;
	}
	fault.phase = "forward()";

	/*
	 * Warm-up: at least one call, then until warmup_s has passed. A call's
	 * time, which sizes the samples, leaves out the first call when there
	 * are others: it pays the page faults and cold caches, and would make
	 * a short call look several times longer than it is.
	 */
	uint64_t t0 = attn__now_ns(), t1, t_first = 0;
	long calls = 0;
	struct attn__peer_sample ps;
	double peer_ns = 0, peer_first = 0, trip_over = 0;
	do {
		if (peer ? attn__instance_peer_run(inst, 1, 0, 0, &ps) != 0
		         : attn_instance_forward(inst, 1, msg, sizeof(msg)) != 0) {
			peer_verdict(f, inst, msg);
			goto done;
		}
		calls++;
		t1 = attn__now_ns();
		if (calls == 1)
			t_first = t1;
		if (peer && calls == 1)
			peer_first = ps.ns;
		if (peer && calls > 1)
			peer_ns += ps.ns;
		if (peer)
			trip_over += ps.wall_ns - ps.ns;
	} while ((double)(t1 - t0) < o->warmup_s * 1e9);
	double per_call =
	    calls > 1 ? (double)(t1 - t_first) / (double)(calls - 1) : (double)(t1 - t0);
	/*
	 * A peer's call is what its own clock says; the round trip around it
	 * (pipes, parsing, the peer waking up) is overhead: a sample that lasts
	 * at least PEER_OVERHEAD_SPAN times the warm-up's mean round-trip
	 * overhead keeps it near 1/PEER_OVERHEAD_SPAN of the sample.
	 */
	double min_sample_ns = o->min_sample_s * 1e9;
	if (peer) {
		per_call = calls > 1 ? peer_ns / (double)(calls - 1) : peer_first;
		double over = trip_over / (double)calls;
		if (over * PEER_OVERHEAD_SPAN > min_sample_ns)
			min_sample_ns = over * PEER_OVERHEAD_SPAN;
	}
	long iters = 1;
	if (per_call < min_sample_ns)
		iters = (long)ceil(min_sample_ns / (per_call > 1 ? per_call : 1));
	if (iters > 1000000)
		iters = 1000000;
	if (cmd_fd >= 0) {
		fprintf(f, "W\n");
		fflush(f);
	}
	/* only the timed calls' figures count */
	attn_instance_figures_reset(inst);
	/* after it, every sample follows a probe, the first one too */
	if (probe.a)
		probe_calibrate(&probe);
	int inject = o->inject_method && strcmp(o->inject_method, m->name) == 0;

	/*
	 * Timed repetitions: nothing but forward() between the clock reads (and
	 * an injected slowdown, which is meant to count), the counters read at
	 * the same boundaries, and the roof probe after them. The probe runs
	 * before the sample is reported, so in an interleaved group it never
	 * overlaps another case's sample.
	 */
	uint64_t start = attn__now_ns();
	for (int rep = 0;; rep++) {
		if (cmd_fd >= 0) {
			char cmd = 0;
			if (read(cmd_fd, &cmd, 1) != 1 || cmd != 'g')
				break;
		} else if (rep >= o->max_reps ||
		           (rep >= o->min_reps &&
		            (double)(attn__now_ns() - start) >= o->min_time_s * 1e9)) {
			break;
		}
		if (peer) {
			/*
			 * The peer's own ns is the sample, its roof (when it timed one)
			 * the probe's, in ns per probe sgemm. The counters would count
			 * this process waiting on a pipe: none.
			 */
			if (attn__instance_peer_run(inst, iters, flush != NULL, probe.a != NULL,
			                            &ps)) {
				peer_verdict(f, inst, msg);
				goto done;
			}
			for (int e = 0; e < nctr; e++)
				rd[e].state = ATTN_COUNTER_UNAVAILABLE;
			if (peer_over_n == peer_over_cap) {
				int ncap = peer_over_cap ? 2 * peer_over_cap : 64;
				double *a = realloc(peer_over, 2 * (size_t)ncap * sizeof(*a));
				if (!a) {
					fprintf(f, "R failed out of memory for the samples\n");
					goto done;
				}
				peer_over = a, peer_over_cap = ncap;
			}
			peer_over[2 * peer_over_n] = ps.wall_ns - ps.ns;
			peer_over[2 * peer_over_n + 1] = (ps.wall_ns - ps.ns) / ps.ns;
			peer_over_n++;
			double roof_ns =
			    ps.roof_ns > 0
			        ? ps.roof_ns * (2.0 * ATTN_PROBE_N * ATTN_PROBE_N * ATTN_PROBE_N) /
			              ps.roof_flops
			    : probe.a ? probe_run(&probe)
			              : 0;
			emit_sample(f, ps.ns / (double)iters, iters, roof_ns, rd, nctr);
			if (cmd_fd >= 0)
				fflush(f);
			continue;
		}
		if (flush)
			flush_caches(flush, o->flush_bytes);
		if (ctr)
			attn_counters_start(ctr);
		t0 = attn__now_ns();
		rc = attn_instance_forward(inst, iters, msg, sizeof(msg));
		t1 = attn__now_ns();
		if (inject)
			t1 = inject_until(t0 + (uint64_t)(o->inject_factor * (double)(t1 - t0)));
		if (ctr)
			attn_counters_stop(ctr, rd);
		if (rc) {
			fprintf(f, "R failed %s\n", msg);
			goto done;
		}
		double roof_ns = probe.a ? probe_run(&probe) : 0;
		emit_sample(f, (double)(t1 - t0) / (double)iters, iters, roof_ns, rd, nctr);
		if (cmd_fd >= 0)
			fflush(f);
	}

	for (int i = 0; i < attn_instance_figure_count(inst); i++) {
		const char *name, *unit;
		double mean;
		if (attn_instance_figure(inst, i, &name, &unit, &mean))
			emit_metric(f, name, mean, unit);
	}
	if (o->dump_mask) {
		fault.phase = "forward() (the mask call)";
		if (attn_instance_forward_mask(inst, msg, sizeof(msg)) != 0) {
			fprintf(f, "R failed %s on the mask call\n", msg);
			goto done;
		}
	}

	fault.phase = "the harness";
	emit_metric(f, "workspace_bytes", (double)sz.ws_bytes, "B");
	emit_metric(f, "input_bytes", (double)sz.in_bytes, "B");
	emit_metric(f, "output_bytes", (double)sz.out_bytes, "B");
	/* Every buffer the harness allocated for the case, all live at once. */
	emit_metric(f, "tracked_peak_bytes", (double)sz.mapped_bytes, "B");
	/* A peer may not know its costs (flops = none): NULL, never NaN. */
	double cost[2] = {attn_call_flops(m, s, &c->params), attn_call_bytes(m, s, &c->params)};
	const char *cost_name[2] = {"flops", "bytes_moved"}, *cost_unit[2] = {"flop", "B"};
	for (int i = 0; i < 2; i++)
		if (isfinite(cost[i]))
			emit_metric(f, cost_name[i], cost[i], cost_unit[i]);
		else
			emit_null(f, cost_name[i], cost_unit[i]);
	if (peer && peer_over_n) {
		double *v = malloc((size_t)peer_over_n * sizeof(*v));
		for (int k = 0; v && k < 2; k++) {
			for (int j = 0; j < peer_over_n; j++)
				v[j] = peer_over[2 * j + k];
			emit_metric(f, k ? "peer_overhead_frac" : "peer_overhead_ns",
			            attn_stats_median_inplace(v, peer_over_n), k ? "1" : "ns");
		}
		free(v);
	}
	if (have_peak) {
		size_t hwm = proc_status_bytes("VmHWM");
		emit_metric(f, "peak_rss_bytes", (double)hwm, "B");
		emit_metric(f, "peak_rss_delta_bytes", hwm > rss0 ? (double)(hwm - rss0) : 0, "B");
	} else {
		emit_null(f, "peak_rss_bytes", "B");
		emit_null(f, "peak_rss_delta_bytes", "B");
	}

	/* A peer's output comes once, after its timed samples. */
	if (peer && attn__instance_peer_output(inst) != 0) {
		peer_verdict(f, inst, msg);
		goto done;
	}
	if (attn_instance_check(inst, "forward()", msg, sizeof(msg)) != ATTN_OK ||
	    attn_instance_check_finite(inst, msg, sizeof(msg)) != ATTN_OK) {
		fprintf(f, "R failed_check %s\n", msg);
		goto done;
	}
	if (copy_out)
		memcpy(copy_out, out, sz.out_bytes);

	int64_t rows[ATTN_ORACLE_MAX_ROWS];
	int nrows;
	enum attn_oracle_kind kind = attn_oracle_plan(s, o->check_max_flops, c->seed, rows, &nrows);
	int approx = !(m->flags & ATTN_METHOD_EXACT);
	emit_metric(f, "oracle_rows", nrows, "1");
	if (kind == ATTN_ORACLE_NONE) {
		emit_null(f, "oracle_sampled", "1");
		emit_null(f, "rel_err", "1");
		emit_null(f, "max_abs_err", "1");
		fprintf(f, "R ok\n");
		goto done;
	}
	emit_metric(f, "oracle_sampled", kind == ATTN_ORACLE_SAMPLED, "1");
	double rel, mx, soft[2];
	if (kind == ATTN_ORACLE_SAMPLED) {
		fault.phase = "the harness's sampled reference";
		rc = attn_check_rows(c, in, out, rows, nrows, &rel, &mx, msg, sizeof(msg));
		if (rc) {
			fprintf(f, "R failed %s\n", msg);
			goto done;
		}
		if (approx) {
			/* Its own oracle computes whole outputs: only softmax's rows are
			 * affordable. */
			emit_null(f, "rel_err", "1");
			emit_null(f, "max_abs_err", "1");
			emit_metric(f, "rel_err_softmax", rel, "1");
			emit_metric(f, "max_abs_err_softmax", mx, "1");
			fprintf(f, "R ok\n");
			goto done;
		}
	} else {
		fault.phase = m->oracle ? "oracle()" : "the harness's reference";
		rc = attn_check_output(c, in, out, &rel, &mx, approx ? soft : NULL, msg,
		                       sizeof(msg));
		if (rc) {
			fprintf(f, "R failed %s\n", msg);
			goto done;
		}
	}
	emit_metric(f, "rel_err", rel, "1");
	emit_metric(f, "max_abs_err", mx, "1");
	if (approx && kind == ATTN_ORACLE_FULL) {
		emit_metric(f, "rel_err_softmax", soft[0], "1");
		emit_metric(f, "max_abs_err_softmax", soft[1], "1");
	}
	if (!(rel <= m->tolerance))
		fprintf(f,
		        "R failed_check relative error %.3g against the oracle%s exceeds the "
		        "tolerance %.3g\n",
		        rel, kind == ATTN_ORACLE_SAMPLED ? " (sampled rows)" : "", m->tolerance);
	else
		fprintf(f, "R ok\n");
done:
	if (in_child)
		fault_remove();
	if (ctr)
		attn_counters_close(ctr);
	free(flush);
	free(peer_over);
	probe_free(&probe);
	attn_instance_free(inst);
}

/* ---- the parent side ----------------------------------------------------- */

static int result_add_metric(struct attn_case_result *r, const char *name, double v, int has,
                             const char *unit)
{
	struct attn_metric *m = NULL;
	for (int i = 0; i < r->n_metrics; i++)
		if (strcmp(r->metrics[i].name, name) == 0)
			m = &r->metrics[i];
	if (!m) {
		if (r->n_metrics == ATTN_MAX_METRICS)
			return -1;
		m = &r->metrics[r->n_metrics++];
	}
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->unit, sizeof(m->unit), "%s", unit);
	m->value = has ? v : 0;
	m->has_value = has;
	return 0;
}

const struct attn_metric *attn_result_metric(const struct attn_case_result *r, const char *name)
{
	for (int i = 0; i < r->n_metrics; i++)
		if (strcmp(r->metrics[i].name, name) == 0)
			return &r->metrics[i];
	return NULL;
}

static void set_status(struct attn_case_result *r, enum attn_case_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_status(struct attn_case_result *r, enum attn_case_status s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	r->status = s;
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

/* Append one sample (and its counter readings) to r; -1 when out of memory. */
static int add_sample(struct attn_case_result *r, int *cap, double ns, long long iters,
                      double roof_ns, const char *counters)
{
	if (r->n_samples == *cap) {
		int ncap = *cap ? 2 * *cap : 64;
		double *a = realloc(r->sample_ns, ncap * sizeof(*a));
		if (a)
			r->sample_ns = a;
		int64_t *b = realloc(r->sample_iters, ncap * sizeof(*b));
		if (b)
			r->sample_iters = b;
		struct attn_counter_reading *c = r->sample_counters;
		if (r->n_counters) {
			c = realloc(r->sample_counters, (size_t)ncap * r->n_counters * sizeof(*c));
			if (c)
				r->sample_counters = c;
		}
		double *p = r->sample_roof_ns;
		if (p && (p = realloc(p, ncap * sizeof(*p))))
			r->sample_roof_ns = p;
		if (!a || !b || (r->n_counters && !c) || (r->sample_roof_ns && !p))
			return -1;
		*cap = ncap;
	}
	r->sample_ns[r->n_samples] = ns;
	r->sample_iters[r->n_samples] = iters;
	/* The first probe makes the array, zero (none) for every sample before it. */
	if (roof_ns > 0 && !r->sample_roof_ns &&
	    !(r->sample_roof_ns = calloc((size_t)*cap, sizeof(*r->sample_roof_ns))))
		return -1;
	if (r->sample_roof_ns)
		r->sample_roof_ns[r->n_samples] = roof_ns > 0 ? roof_ns : 0;
	for (int e = 0; e < r->n_counters; e++) {
		struct attn_counter_reading *cr =
		    &r->sample_counters[(size_t)r->n_samples * r->n_counters + e];
		char tok[64] = "u";
		int used = 0;
		if (counters && sscanf(counters, "%63s%n", tok, &used) == 1)
			counters += used;
		cr->state = tok[0] == 'm'   ? ATTN_COUNTER_UNRELIABLE
		            : tok[0] == 'u' ? ATTN_COUNTER_UNAVAILABLE
		                            : ATTN_COUNTER_OK;
		cr->value = cr->state == ATTN_COUNTER_OK ? strtod(tok, NULL) : 0;
	}
	r->n_samples++;
	return 0;
}

/* Parse the child's lines; 1 if a verdict was read. */
/* "nqb nkb path": the child's mask file, read into r and removed. */
static void read_mask(struct attn_case_result *r, const char *args)
{
	long long nqb, nkb;
	char path[256];
	if (sscanf(args, "%lld %lld %255s", &nqb, &nkb, path) != 3)
		return;
	if (strncmp(path, "/tmp/attnbench-mask-", 20) != 0)
		return; /* only ever a file the child made */
	size_t bytes = nqb > 0 && nkb > 0 ? attn__mul_sat((size_t)nqb, (size_t)nkb) : 0;
	uint8_t *m = bytes && bytes != SIZE_MAX ? malloc(bytes) : NULL;
	FILE *mf = fopen(path, "rb");
	if (m && mf && fread(m, 1, bytes, mf) == bytes) {
		free(r->mask);
		r->mask = m;
		r->mask_nqb = nqb;
		r->mask_nkb = nkb;
		m = NULL;
	}
	free(m);
	if (mf)
		fclose(mf);
	unlink(path);
}

static int parse_protocol(char *text, struct attn_case_result *r)
{
	int verdict = 0, cap = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == 'S' && line[1] == ' ') {
			double ns, roof;
			long long it;
			int used = 0;
			if (sscanf(line + 2, "%lf %lld %lf%n", &ns, &it, &roof, &used) < 3)
				continue;
			if (add_sample(r, &cap, ns, it, roof, line + 2 + used))
				return verdict;
		} else if (line[0] == 'E' && line[1] == ' ' && r->n_counters < ATTN_MAX_COUNTERS &&
		           r->n_samples == 0) {
			int avail;
			char name[128];
			if (sscanf(line + 2, "%d %127s", &avail, name) == 2)
				snprintf(r->counter_names[r->n_counters++], 128, "%s", name);
		} else if (line[0] == 'K' && line[1] == ' ') {
			snprintf(r->cpus, sizeof(r->cpus), "%s", line + 2);
		} else if (line[0] == 'I' && line[1] == ' ') {
			snprintf(r->info, sizeof(r->info), "%s", line + 2);
		} else if (line[0] == 'X' && line[1] == ' ') {
			read_mask(r, line + 2);
		} else if (line[0] == 'M' && line[1] == ' ') {
			char name[64], val[64], unit[16];
			if (sscanf(line + 2, "%63s %63s %15s", name, val, unit) != 3)
				continue;
			if (strcmp(val, "null") == 0)
				result_add_metric(r, name, 0, 0, unit);
			else
				result_add_metric(r, name, strtod(val, NULL), 1, unit);
		} else if (line[0] == 'R' && line[1] == ' ') {
			char *word = line + 2, *rest = strchr(word, ' ');
			if (rest)
				*rest++ = 0;
			enum attn_case_status st;
			if (status_parse(word, &st) != 0)
				st = ATTN_CASE_FAILED;
			set_status(r, st, "%s", rest ? rest : "");
			verdict = 1;
		}
	}
	return verdict;
}

static double metric_or_nan(const struct attn_case_result *r, const char *name)
{
	const struct attn_metric *m = attn_result_metric(r, name);
	return m && m->has_value ? m->value : NAN;
}

/* a / b as a metric, NULL unless both inputs exist and b > 0. */
static void add_ratio(struct attn_case_result *r, const char *name, double a, double b,
                      double scale, const char *unit)
{
	int ok = isfinite(a) && isfinite(b) && b > 0;
	result_add_metric(r, name, ok ? scale * a / b : 0, ok, unit);
}

/* The median per call of event e over the samples where it was counted. */
static double counter_median(const struct attn_case_result *r, int e)
{
	double *v = malloc((r->n_samples ? r->n_samples : 1) * sizeof(*v));
	int n = 0;
	for (int k = 0; v && k < r->n_samples; k++) {
		const struct attn_counter_reading *cr =
		    &r->sample_counters[(size_t)k * r->n_counters + e];
		if (cr->state == ATTN_COUNTER_OK)
			v[n++] = cr->value;
	}
	double med = n ? attn_stats_median_inplace(v, n) : NAN;
	free(v);
	return med;
}

static double counter_metric(const struct attn_case_result *r, const char *event)
{
	char name[160];
	snprintf(name, sizeof(name), "counter:%s", event);
	return metric_or_nan(r, name);
}

/* The run's roof measured at `threads` threads, or NULL. */
static const struct attn_roof *roof_at(const struct attn_run_opts *o, int threads)
{
	for (int i = 0; i < o->n_roofs; i++)
		if (o->roofs[i].threads == threads)
			return &o->roofs[i];
	return NULL;
}

/*
 * The parent's statistics over the samples, and the figures derived from
 * them: throughput, the fractions of the run's measured roofs at the case's
 * thread count, the working set's cache level, per-call counter medians and
 * the ratios built on them. A figure whose inputs are missing is stored
 * NULL, never guessed.
 */
static void derive_metrics(struct attn_case_result *r, const struct attn_case *c,
                           const struct attn_run_opts *o)
{
	/*
	 * Timings of a case that crashed, failed or produced wrong output
	 * describe nothing worth comparing: drop them, so no query over
	 * `samples` can pick them up by forgetting to look at the status.
	 */
	if (r->status != ATTN_CASE_OK) {
		attn_case_result_free(r);
		return;
	}
	if (r->n_samples == 0)
		return;
	struct attn_summary sum;
	if (attn_stats_summarize(r->sample_ns, r->n_samples, &sum) != 0)
		return;
	result_add_metric(r, "median_ns", sum.median, 1, "ns");
	result_add_metric(r, "mad_ns", sum.mad, 1, "ns");
	result_add_metric(r, "ci_lo_ns", sum.ci_lo, 1, "ns");
	result_add_metric(r, "ci_hi_ns", sum.ci_hi, 1, "ns");
	result_add_metric(r, "min_ns", sum.min, 1, "ns");
	result_add_metric(r, "mean_ns", sum.mean, 1, "ns");
	result_add_metric(r, "samples", sum.n, 1, "1");
	double flops = metric_or_nan(r, "flops"), bytes = metric_or_nan(r, "bytes_moved");
	double gflops = flops / sum.median, gbps = bytes / sum.median;
	add_ratio(r, "gflops", flops, sum.median, 1, "GFLOP/s");
	add_ratio(r, "gbytes_per_s", bytes, sum.median, 1, "GB/s");
	add_ratio(r, "arith_intensity", flops, bytes, 1, "flop/B");
	/* figures the method reported itself (sparse routing): see ctx_report */
	if (attn_result_metric(r, "flops_computed"))
		add_ratio(r, "gflops_computed", metric_or_nan(r, "flops_computed"), sum.median, 1,
		          "GFLOP/s");
	if (attn_result_metric(r, "routing_ns"))
		add_ratio(r, "routing_frac", metric_or_nan(r, "routing_ns"), sum.median, 1, "1");

	const struct attn_roof *roof = roof_at(o, c->threads);
	add_ratio(r, "frac_sgemm", gflops, roof ? roof->sgemm_gflops : NAN, 1, "1");
	add_ratio(r, "frac_fma", gflops, roof ? roof->fma_gflops : NAN, 1, "1");
	add_ratio(r, "frac_triad", gbps, roof ? roof->triad_gbps : NAN, 1, "1");

	/*
	 * The working set - inputs, output and workspace - against the caches
	 * its threads can use: private L1 and L2 add up over the threads, the
	 * L3 is shared. Level 4 means it spills to memory.
	 */
	double wset = metric_or_nan(r, "input_bytes") + metric_or_nan(r, "output_bytes") +
	              metric_or_nan(r, "workspace_bytes");
	result_add_metric(r, "working_set_bytes", wset, isfinite(wset), "B");
	if (isfinite(wset) && o->cache_bytes[0]) {
		double cap[3] = {(double)o->cache_bytes[0] * c->threads,
		                 (double)o->cache_bytes[1] * c->threads, (double)o->cache_bytes[2]};
		int level = 4;
		for (int l = 2; l >= 0; l--)
			if (cap[l] > 0 && wset <= cap[l])
				level = l + 1;
		result_add_metric(r, "cache_level", level, 1, "level");
	} else {
		result_add_metric(r, "cache_level", 0, 0, "level");
	}

	for (int e = 0; e < r->n_counters; e++) {
		char name[160];
		const char *ev = r->counter_names[e];
		snprintf(name, sizeof(name), "counter:%s", ev);
		double med = counter_median(r, e);
		int is_time = strstr(ev, "TASK-CLOCK") || strstr(ev, "CPU-CLOCK") ||
		              strstr(ev, "TASK_CLOCK") || strstr(ev, "CPU_CLOCK");
		result_add_metric(r, name, isfinite(med) ? med : 0, isfinite(med),
		                  is_time ? "ns/call" : "count/call");
	}
	if (r->n_counters) {
		double ins = counter_metric(r, "PAPI_TOT_INS");
		add_ratio(r, "ipc", ins, counter_metric(r, "PAPI_TOT_CYC"), 1, "ins/cycle");
		add_ratio(r, "l1_mpki", counter_metric(r, "PAPI_L1_DCM"), ins, 1000, "miss/kins");
		add_ratio(r, "l2_mpki", counter_metric(r, "PAPI_L2_TCM"), ins, 1000, "miss/kins");
		add_ratio(r, "l3_mpki", counter_metric(r, "PAPI_L3_TCM"), ins, 1000, "miss/kins");
		add_ratio(r, "flops_per_ins", flops, ins, 1, "flop/ins");
		/* CPU time over wall time: how many cores the case kept busy. */
		add_ratio(r, "cpu_util", counter_metric(r, "perf::TASK-CLOCK"), sum.median, 1,
		          "cores");
	}
}

static void run_in_process(const struct attn_case *c, const struct attn_run_opts *o,
                           const struct attn_inputs *given, float *out, struct attn_case_result *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		set_status(r, ATTN_CASE_FAILED, "cannot open a memory stream");
		return;
	}
	execute(c, o, given, out, f, -1, 0);
	fclose(f);
	if (!parse_protocol(text, r))
		set_status(r, ATTN_CASE_FAILED, "the case gave no verdict");
	free(text);
}

/* A case running in a child process, as the parent sees it. */
struct child {
	pid_t pid;
	int out_fd; /* the child's protocol lines */
	int cmd_fd; /* commands to the child, or -1 when it drives itself */
	char *buf;  /* everything it said so far */
	size_t len, cap, scan;
	size_t line; /* where the line child_wait last found starts */
	int eof;
	int exited; /* it has exited (not yet reaped): what it wrote is all read */
	int reps;
	double timed_ns; /* time of its repetitions so far */
};

static int child_spawn(const struct attn_case *c, const struct attn_run_opts *o,
                       const struct attn_inputs *given, float *copy_out, int driven,
                       struct child *ch, char *err, size_t errlen)
{
	int out[2], cmd[2] = {-1, -1};
	memset(ch, 0, sizeof(*ch));
	ch->cmd_fd = -1;
	if (pipe(out) != 0)
		return attn_errf(err, errlen, ATTN_ERR_IO, "pipe: %s", strerror(errno));
	if (driven && pipe(cmd) != 0) {
		close(out[0]);
		close(out[1]);
		return attn_errf(err, errlen, ATTN_ERR_IO, "pipe: %s", strerror(errno));
	}
	pid_t parent = getpid();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(out[0]);
		close(out[1]);
		if (driven) {
			close(cmd[0]);
			close(cmd[1]);
		}
		return attn_errf(err, errlen, ATTN_ERR_IO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		/*
		 * Die with the parent: a killed sweep leaves no orphan running.
		 * A process group of its own, which the parent kills when the
		 * case ends, and a subreaper, so that whatever the method starts
		 * stays below it and is killed before it reports.
		 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(3);
		setpgid(0, 0);
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		/* A parent gone mid-write must end us, not wedge us. */
		signal(SIGPIPE, SIG_DFL);
		close(out[0]);
		if (driven)
			close(cmd[1]);
		FILE *f = fdopen(out[1], "w");
		if (!f)
			_exit(2);
		execute(c, o, given, copy_out, f, driven ? cmd[0] : -1, 1);
		/* A later verdict overrides the first: the case left processes. */
		/* As a subreaper, what the method started is all below it. */
		int left = attn__reap_descendants(NULL);
		if (left)
			fprintf(f,
			        "R failed the method left %d process%s running after the case "
			        "(killed); a method must not start processes\n",
			        left, left == 1 ? "" : "es");
		fclose(f);
		_exit(0);
	}
	close(out[1]);
	/* Either side may set the group first; the child's own call is the other. */
	setpgid(pid, pid);
	ch->pid = pid;
	ch->out_fd = out[0];
	if (driven) {
		close(cmd[0]);
		ch->cmd_fd = cmd[1];
	}
	return ATTN_OK;
}

/*
 * Read what the child says until a new line starting with `want` arrives
 * (0: until end of file). Returns 1 when it arrived (or, for 0, at EOF),
 * 0 at an EOF before it, -1 at the deadline, -2 when the user stops.
 */
static int child_wait(struct child *ch, char want, uint64_t deadline, volatile sig_atomic_t *stop)
{
	for (;;) {
		/* Look for a complete line of the wanted kind past what was seen. */
		while (want) {
			char *nl =
			    ch->buf ? memchr(ch->buf + ch->scan, '\n', ch->len - ch->scan) : NULL;
			if (!nl)
				break;
			char first = ch->buf[ch->scan];
			ch->line = ch->scan;
			ch->scan = (size_t)(nl - ch->buf) + 1;
			if (first == want || first == 'R')
				return first == want ? 1 : 0;
		}
		if (ch->eof)
			return want ? 0 : 1;
		if (stop && *stop)
			return -2;
		uint64_t now = attn__now_ns();
		if (now >= deadline)
			return -1;
		uint64_t left_ms = (deadline - now) / 1000000 + 1;
		struct pollfd p = {.fd = ch->out_fd, .events = POLLIN};
		int pr = poll(&p, 1, ch->exited ? 0 : left_ms > 100 ? 100 : (int)left_ms);
		if (pr < 0 && errno != EINTR) {
			ch->eof = 1;
			continue;
		}
		if (pr == 0 && !ch->exited) {
			/*
			 * Has it exited while something it started still holds
			 * the pipe open? Then what it wrote is in the pipe: read
			 * what is there, and that is the end.
			 */
			siginfo_t si;
			si.si_pid = 0;
			if (waitid(P_PID, (id_t)ch->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == ch->pid)
				ch->exited = 1;
			continue;
		}
		if (pr <= 0) {
			if (ch->exited)
				ch->eof = 1;
			continue;
		}
		if (ch->cap - ch->len < 4096) {
			size_t ncap = ch->cap ? 2 * ch->cap : 65536;
			char *nb = realloc(ch->buf, ncap);
			if (!nb) {
				ch->eof = 1;
				continue;
			}
			ch->buf = nb;
			ch->cap = ncap;
		}
		ssize_t got = read(ch->out_fd, ch->buf + ch->len, ch->cap - ch->len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			ch->eof = 1;
			continue;
		}
		ch->len += (size_t)got;
	}
}

/* Reap the child and turn what it said (or did not) into r. */
static void child_finish(struct child *ch, int timed_out, int stopped,
                         const struct attn_run_opts *o, struct attn_case_result *r)
{
	if (timed_out || stopped) {
		kill(-ch->pid, SIGKILL);
		kill(ch->pid, SIGKILL);
	}
	if (ch->cmd_fd >= 0)
		close(ch->cmd_fd);
	close(ch->out_fd);
	/*
	 * It said all it will say; give it the timeout to exit (a method may
	 * have closed the pipe and gone on), then kill what is left of its
	 * group while the exited child, not yet reaped, still holds the id.
	 */
	uint64_t deadline = attn__now_ns() + (uint64_t)(o->timeout_s * 1e9);
	for (int killed = 0;;) {
		siginfo_t si;
		si.si_pid = 0;
		int w = waitid(P_PID, (id_t)ch->pid, &si, WEXITED | WNOHANG | WNOWAIT);
		if ((w == 0 && si.si_pid == ch->pid) || (w < 0 && errno != EINTR))
			break;
		if (!killed && attn__now_ns() >= deadline) {
			timed_out = killed = 1;
			kill(ch->pid, SIGKILL);
		}
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	kill(-ch->pid, SIGKILL);
	int wstatus = 0;
	while (waitpid(ch->pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	/* A child killed (timeout, crash) could not remove its peer's folder; its peer died with
	 * it. */
	attn__peer_remove_dirs((long)ch->pid);
	int verdict = 0;
	if (ch->buf) {
		ch->buf[ch->len] = 0;
		verdict = parse_protocol(ch->buf, r);
	}
	free(ch->buf);
	ch->buf = NULL;

	if (stopped || (o->stop && *o->stop))
		set_status(r, ATTN_CASE_INTERRUPTED, "interrupted by the user");
	else if (timed_out)
		set_status(r, ATTN_CASE_TIMEOUT, "no progress for %g s; the case was killed",
		           o->timeout_s);
	else if (WIFSIGNALED(wstatus))
		set_status(r, ATTN_CASE_CRASHED, "killed by signal %d (%s)%s", WTERMSIG(wstatus),
		           strsignal(WTERMSIG(wstatus)),
		           WTERMSIG(wstatus) == SIGKILL ? ", perhaps by the kernel's OOM killer"
		                                        : "");
	else if (!verdict)
		set_status(r, ATTN_CASE_FAILED, "the case exited with code %d and no verdict",
		           WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
}

static uint64_t deadline_after(const struct attn_run_opts *o)
{
	return attn__now_ns() + (uint64_t)(o->timeout_s * 1e9);
}

/*
 * The case in a child. `given` (inherited through fork) replaces the
 * generated inputs; `out`, if non-NULL, receives the output through a
 * shared mapping the child writes into.
 */
static void run_in_child(const struct attn_case *c, const struct attn_run_opts *o,
                         const struct attn_inputs *given, float *out, struct attn_case_result *r)
{
	struct child ch;
	struct attn__guarded shared = {0};
	char err[256];
	size_t out_bytes = out_elems(&c->shape) * sizeof(float);
	if (out && attn__guarded_alloc(&shared, out_bytes, 1)) {
		set_status(r, ATTN_CASE_FAILED, "cannot map %zu bytes for the output", out_bytes);
		return;
	}
	if (child_spawn(c, o, given, out ? shared.p : NULL, 0, &ch, err, sizeof(err))) {
		set_status(r, ATTN_CASE_FAILED, "%s", err);
		attn__guarded_free(&shared);
		return;
	}
	int w = child_wait(&ch, 0, deadline_after(o), o->stop);
	child_finish(&ch, w == -1, w == -2, o, r);
	if (out && r->status == ATTN_CASE_OK)
		memcpy(out, shared.p, out_bytes);
	attn__guarded_free(&shared);
}

/* Control characters (a plugin's newline would break the protocol and the log) to spaces. */
static void clean_text(char *t)
{
	for (; *t; t++)
		if ((unsigned char)*t < 0x20 || *t == 0x7f)
			*t = ' ';
}

/*
 * Everything about a case that can be decided without running it:
 * impossible shapes, the method's own refusal, its stated costs, and
 * memory. 1 when r now holds the verdict, 0 when the case should run, with
 * *need the bytes it will take. `say`, when >= 0, is told the callback
 * about to run ("C <i> <name>"), so that a preflight parent can name it.
 */
static int precheck(const struct attn_case *c, const struct attn_run_opts *o,
                    struct attn_case_result *r, size_t *need_out, int say, int idx)
{
	const struct attn_method *m = c->method;
	const struct attn_shape *s = &c->shape;
	char why[400];
	memset(why, 0, sizeof(why));
#define ANNOUNCE(cb)                                                                               \
	do {                                                                                       \
		if (say >= 0)                                                                      \
			dprintf(say, "C %d %s\n", idx, cb);                                        \
	} while (0)

	if (s->batch < 1 || s->heads < 1 || s->kv_heads < 1 || s->n < 1 || s->d < 1) {
		set_status(r, ATTN_CASE_UNSUPPORTED, "every dimension must be at least 1");
		return 1;
	}
	if (s->heads % s->kv_heads != 0) {
		set_status(r, ATTN_CASE_UNSUPPORTED, "kv_heads %lld does not divide heads %lld",
		           (long long)s->kv_heads, (long long)s->heads);
		return 1;
	}
	if (c->threads < 1) {
		set_status(r, ATTN_CASE_UNSUPPORTED, "threads %d is not at least 1", c->threads);
		return 1;
	}
	ANNOUNCE("supports()");
	if (attn_call_supports(m, s, &c->params, why, sizeof(why)) != ATTN_OK) {
		/* The reason is the plugin's: bounded, and one line. */
		why[sizeof(why) - 1] = 0;
		clean_text(why);
		set_status(r, ATTN_CASE_UNSUPPORTED, "%s", why[0] ? why : "the method declined");
		return 1;
	}
	/* The stated costs must be figures: a NaN, an infinity or a negative is the plugin's fault.
	 */
	ANNOUNCE("flops()");
	double flops = attn_call_flops(m, s, &c->params);
	ANNOUNCE("bytes()");
	double bytes = attn_call_bytes(m, s, &c->params);
	/* A peer whose descriptor says `flops = none` does not know them: NaN. */
	int unknown = attn__method_is_peer(m) && isnan(flops) && isnan(bytes);
	if (!unknown && (!isfinite(flops) || flops < 0 || !isfinite(bytes) || bytes < 0)) {
		int f_bad = !isfinite(flops) || flops < 0;
		set_status(r, ATTN_CASE_FAILED, "%s returned %g for this case: not a count",
		           f_bad ? "flops()" : "bytes()", f_bad ? flops : bytes);
		return 1;
	}
	ANNOUNCE("workspace_bytes()");
	size_t need = attn_case_predict_bytes(c, o);
	ANNOUNCE("the harness");
	if (need_out)
		*need_out = need;
	size_t limit = o->mem_limit ? o->mem_limit : attn_mem_available() / 10 * 9;
	if (need == SIZE_MAX || need > limit) {
		if (need == SIZE_MAX)
			set_status(r, ATTN_CASE_SKIPPED_MEMORY,
			           "needs more memory than can be counted (size overflow)");
		else
			set_status(r, ATTN_CASE_SKIPPED_MEMORY,
			           "needs %.2f GiB, %.2f GiB may be used (%s)",
			           (double)need / (1u << 30), (double)limit / (1u << 30),
			           o->mem_limit ? "--mem-limit" : "90% of MemAvailable");
		return 1;
	}
	/*
	 * FLOPs over the FMA roof is a lower bound on a call's time: above the
	 * budget the case could not finish its warm-up and repetitions, so it
	 * is skipped now instead of timing out later (the O(N²) forms at large
	 * N). Without a measured roof nothing is skipped.
	 */
	const struct attn_roof *roof = roof_at(o, c->threads);
	if (o->max_call_s > 0 && roof && roof->fma_gflops > 0 && flops > 0) {
		double least = flops / (roof->fma_gflops * 1e9);
		if (least > o->max_call_s) {
			set_status(r, ATTN_CASE_SKIPPED_TIME,
			           "one call needs at least %.0f s (%.3g FLOPs at the measured "
			           "%.0f GFLOP/s FMA roof, %d thread%s); --max-call-time is %g s",
			           least, flops, roof->fma_gflops, c->threads,
			           c->threads == 1 ? "" : "s", o->max_call_s);
			return 1;
		}
	}
	return 0;
#undef ANNOUNCE
}

/*
 * The prechecks of cases[0..n) asked in a guarded child, since they call
 * the plugin (supports(), flops(), bytes(), workspace_bytes()): one that
 * crashes or hangs costs its case, never the caller. The child answers
 *     C <i> <callback>                      about to call it
 *     P <i> <status|run> <need> <message>   case i's verdict
 * and a child that dies or outlives the timeout on case i leaves i crashed
 * or timed out; a new child goes on from i + 1. live[i] is 1 for a case to
 * run, with need[i] its bytes; otherwise results[i] holds the verdict.
 */
static void preflight(const struct attn_case *cases, int n, const struct attn_run_opts *o,
                      struct attn_case_result *results, int *live, size_t *need)
{
	for (int i = 0; i < n; i++)
		live[i] = 0;
	for (int from = 0; from < n;) {
		int fd[2];
		if (pipe(fd) != 0) {
			for (int i = from; i < n; i++)
				set_status(&results[i], ATTN_CASE_FAILED, "pipe: %s",
				           strerror(errno));
			return;
		}
		pid_t parent = getpid();
		fflush(stdout);
		fflush(stderr);
		pid_t pid = fork();
		if (pid < 0) {
			close(fd[0]);
			close(fd[1]);
			for (int i = from; i < n; i++)
				set_status(&results[i], ATTN_CASE_FAILED, "fork: %s",
				           strerror(errno));
			return;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(3);
			setpgid(0, 0);
			signal(SIGPIPE, SIG_DFL);
			close(fd[0]);
			for (int i = from; i < n; i++) {
				struct attn_case_result r;
				memset(&r, 0, sizeof(r));
				size_t nd = 0;
				int decided = precheck(&cases[i], o, &r, &nd, fd[1], i);
				clean_text(r.message);
				dprintf(fd[1], "P %d %s %zu %s\n", i,
				        decided ? attn_case_status_name(r.status) : "run", nd,
				        r.message);
			}
			_exit(0);
		}
		close(fd[1]);
		setpgid(pid, pid);
		struct child ch;
		memset(&ch, 0, sizeof(ch));
		ch.pid = pid;
		ch.out_fd = fd[0];
		ch.cmd_fd = -1;
		int cur = from, next = from, w;
		char cb[64] = "the harness";
		/* Each answer must come within the timeout of the one before. */
		while ((w = child_wait(&ch, 'P', deadline_after(o), o->stop)) == 1) {
			/* the callback lines since the last answer name where it is */
			char *line = ch.buf + ch.line;
			int i;
			char st[32];
			size_t nd;
			int used = 0;
			if (sscanf(line, "P %d %31s %zu %n", &i, st, &nd, &used) < 3 || i < from ||
			    i >= n)
				break;
			char *msg = line + used, *nl = strchr(msg, '\n');
			if (nl)
				*nl = 0;
			enum attn_case_status status;
			if (strcmp(st, "run") == 0) {
				live[i] = 1;
				need[i] = nd;
			} else if (status_parse(st, &status) == 0) {
				set_status(&results[i], status, "%s", msg);
			} else {
				set_status(&results[i], ATTN_CASE_FAILED, "%s", msg);
			}
			if (nl)
				*nl = '\n';
			next = i + 1;
		}
		/* The last callback announced: where the child was when it stopped answering. */
		cur = next;
		if (next < n && ch.buf) {
			ch.buf[ch.len] = 0;
			for (char *l = ch.buf; (l = strstr(l, "C ")); l++) {
				int i;
				char name[64];
				if ((l == ch.buf || l[-1] == '\n') &&
				    sscanf(l, "C %d %63s", &i, name) == 2 && i == next)
					snprintf(cb, sizeof(cb), "%s", name);
			}
		}
		int timed_out = w == -1, stopped = w == -2;
		struct attn_case_result dead;
		memset(&dead, 0, sizeof(dead));
		child_finish(&ch, timed_out, stopped, o, &dead);
		if (next >= n)
			break;
		if (stopped || (o->stop && *o->stop)) {
			for (int i = next; i < n; i++)
				set_status(&results[i], ATTN_CASE_INTERRUPTED,
				           "interrupted by the user");
			return;
		}
		const char *name = cases[cur].method->name;
		if (timed_out)
			set_status(&results[cur], ATTN_CASE_TIMEOUT,
			           "%s of '%s' did not return within %g s; the harness's preflight "
			           "was killed",
			           cb, name, o->timeout_s);
		else if (dead.status == ATTN_CASE_CRASHED)
			set_status(&results[cur], ATTN_CASE_CRASHED, "%s of '%s' %s", cb, name,
			           dead.message);
		else
			set_status(&results[cur], ATTN_CASE_FAILED,
			           "%s of '%s' ended the preflight: %s", cb, name, dead.message);
		from = cur + 1;
	}
}

int attn_case_run(const struct attn_case *c, const struct attn_run_opts *o,
                  const struct attn_inputs *inputs, float *out, struct attn_case_result *r)
{
	memset(r, 0, sizeof(*r));
	if (o->isolate) {
		int live = 0;
		size_t need = 0;
		preflight(c, 1, o, r, &live, &need);
		if (!live)
			return ATTN_OK;
		run_in_child(c, o, inputs, out, r);
	} else {
		if (precheck(c, o, r, NULL, -1, 0))
			return ATTN_OK;
		run_in_process(c, o, inputs, out, r);
	}
	derive_metrics(r, c, o);
	return ATTN_OK;
}

int attn_cases_run_interleaved(const struct attn_case *cases, int n, const struct attn_run_opts *o,
                               struct attn_case_result *results)
{
	struct child *ch = calloc(n > 0 ? n : 1, sizeof(*ch));
	int *live = calloc(n > 0 ? n : 1, sizeof(*live));
	if (!ch || !live) {
		free(ch);
		free(live);
		return ATTN_ERR_NOMEM;
	}
	if (!o->isolate) {
		for (int i = 0; i < n; i++)
			attn_case_run(&cases[i], o, NULL, NULL, &results[i]);
		free(ch);
		free(live);
		return ATTN_OK;
	}
	/* Decide what can be decided up front, guarded; the rest must fit together. */
	size_t *needs = calloc(n > 0 ? n : 1, sizeof(*needs));
	if (!needs) {
		free(ch);
		free(live);
		return ATTN_ERR_NOMEM;
	}
	for (int i = 0; i < n; i++)
		memset(&results[i], 0, sizeof(results[i]));
	preflight(cases, n, o, results, live, needs);
	size_t need = 0;
	int runnable = 0;
	for (int i = 0; i < n; i++)
		if (live[i]) {
			runnable++;
			need = attn__add_sat(need, needs[i]);
		}
	free(needs);
	size_t limit = o->mem_limit ? o->mem_limit : attn_mem_available() / 10 * 9;
	if (runnable < 2 || need > limit) {
		for (int i = 0; i < n; i++)
			if (live[i] && !(o->stop && *o->stop)) {
				run_in_child(&cases[i], o, NULL, NULL, &results[i]);
				derive_metrics(&results[i], &cases[i], o);
			} else if (live[i]) {
				set_status(&results[i], ATTN_CASE_INTERRUPTED,
				           "interrupted by the user");
			}
		free(ch);
		free(live);
		return ATTN_OK;
	}

	/* A child that dies must not take the parent with it through SIGPIPE. */
	struct sigaction ign = {0}, old_pipe;
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old_pipe);

	int stopped = 0;
	char err[256];
	/* Start them all and let each warm up; "W" says it is ready. */
	for (int i = 0; i < n; i++) {
		if (!live[i])
			continue;
		if (stopped) {
			set_status(&results[i], ATTN_CASE_INTERRUPTED, "interrupted by the user");
			live[i] = 0;
			continue;
		}
		if (child_spawn(&cases[i], o, NULL, NULL, 1, &ch[i], err, sizeof(err))) {
			set_status(&results[i], ATTN_CASE_FAILED, "%s", err);
			live[i] = 0;
			continue;
		}
		int w = child_wait(&ch[i], 'W', deadline_after(o), o->stop);
		if (w != 1) {
			stopped |= w == -2;
			child_finish(&ch[i], w == -1, w == -2, o, &results[i]);
			live[i] = 0;
		}
	}
	/*
	 * Round-robin: one repetition of each case in turn, until each has
	 * both its minimum time and count (or the maximum count).
	 */
	for (int busy = 1; busy && !stopped;) {
		busy = 0;
		for (int i = 0; i < n && !stopped; i++) {
			if (!live[i] || live[i] == 2)
				continue;
			struct child *c = &ch[i];
			if (c->reps >= o->max_reps ||
			    (c->reps >= o->min_reps && c->timed_ns >= o->min_time_s * 1e9)) {
				live[i] = 2; /* done: finished below */
				continue;
			}
			busy = 1;
			int w = write(c->cmd_fd, "g", 1) == 1
			            ? child_wait(c, 'S', deadline_after(o), o->stop)
			            : 0;
			if (w == 1) {
				double ns;
				long long it;
				/* the S line, wherever other lines put it */
				if (sscanf(c->buf + c->line + 2, "%lf %lld", &ns, &it) == 2)
					c->timed_ns += ns * (double)it;
				c->reps++;
				continue;
			}
			stopped |= w == -2;
			child_finish(c, w == -1, w == -2, o, &results[i]);
			live[i] = 0;
		}
	}
	/* Let each finish: checks, metrics and its verdict. */
	for (int i = 0; i < n; i++) {
		if (!live[i])
			continue;
		int w = -2;
		if (!stopped) {
			/* A failed write means the child is gone; its EOF says the rest. */
			(void)!write(ch[i].cmd_fd, "q", 1);
			w = child_wait(&ch[i], 0, deadline_after(o), o->stop);
			stopped |= w == -2;
		}
		child_finish(&ch[i], w == -1, w == -2, o, &results[i]);
	}
	for (int i = 0; i < n; i++)
		if (!attn_case_status_declined(results[i].status))
			derive_metrics(&results[i], &cases[i], o);
	sigaction(SIGPIPE, &old_pipe, NULL);
	free(ch);
	free(live);
	return ATTN_OK;
}

void attn_case_result_free(struct attn_case_result *r)
{
	free(r->mask);
	r->mask = NULL;
	r->mask_nqb = r->mask_nkb = 0;
	free(r->sample_ns);
	free(r->sample_iters);
	free(r->sample_counters);
	free(r->sample_roof_ns);
	r->sample_roof_ns = NULL;
	r->sample_ns = NULL;
	r->sample_iters = NULL;
	r->sample_counters = NULL;
	r->n_samples = 0;
}
