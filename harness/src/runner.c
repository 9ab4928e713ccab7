/*
 * The case runner (see runner.h for the contract).
 *
 * The child speaks a line protocol on a pipe, which the parent parses the
 * same way whether the case ran in a child or in-process (then the lines go
 * to a memory stream):
 *     S <ns per call> <calls averaged>        one timed sample
 *     M <name> <value|null> <unit>            one metric
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/stats.h"
#include "attnbench/status.h"
#include "attnbench/sysinfo.h"
#include "common/common.h"
#include "internal.h"

#define GUARD_BYTES 64
#define GUARD_BYTE 0xA5

static const char *status_names[] = {"ok",     "unsupported", "skipped_memory", "timeout",
				     "crashed", "failed",      "failed_check",   "interrupted"};

const char *attn_case_status_name(enum attn_case_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(*status_names) ? status_names[s]
									  : "unknown";
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
	o->warmup_s = 0.05;
	o->min_time_s = 0.2;
	o->min_reps = 5;
	o->max_reps = 1000;
	o->min_sample_s = 0.0005;
	o->check_max_flops = 2e9;
	o->isolate = 1;
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
	return 4.0 * (double)s->batch * (double)s->heads * (double)attn_shape_nq(s) *
	       (double)s->n * (double)s->d;
}

static int will_check(const struct attn_case *c, const struct attn_run_opts *o)
{
	return check_flops(&c->shape) <= o->check_max_flops;
}

size_t attn_case_predict_bytes(const struct attn_case *c, const struct attn_run_opts *o)
{
	const struct attn_shape *s = &c->shape;
	size_t total = attn_workload_bytes(s, c->method->inputs);
	total = attn__add_sat(total, attn__mul_sat(out_elems(s), sizeof(float)));
	total = attn__add_sat(total, c->method->workspace_bytes(s, &c->params, c->threads));
	total = attn__add_sat(total, 2 * GUARD_BYTES);
	if (will_check(c, o)) {
		/* The oracle's output and, for approximate methods, softmax's. */
		size_t ref = attn__mul_sat(out_elems(s), sizeof(double));
		total = attn__add_sat(total, attn__mul_sat(ref, 2));
		total = attn__add_sat(total, attn__mul_sat((size_t)s->n, 2 * sizeof(double)));
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

static void guard_fill(void *p, size_t bytes)
{
	memset((char *)p + bytes, GUARD_BYTE, GUARD_BYTES);
}

static int guard_ok(const void *p, size_t bytes)
{
	const unsigned char *g = (const unsigned char *)p + bytes;
	for (int i = 0; i < GUARD_BYTES; i++)
		if (g[i] != GUARD_BYTE)
			return 0;
	return 1;
}

int attn_check_output(const struct attn_case *c, const struct attn_inputs *in, const float *out,
		      double *rel_err, double *max_abs_err, double *soft_rel, char *err,
		      size_t errlen)
{
	const struct attn_shape *s = &c->shape;
	size_t n = out_elems(s);
	double *ref = malloc(attn__mul_sat(n, sizeof(double)));
	if (!ref)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory for the oracle");
	struct attn_ctx ctx = {.threads = c->threads, .seed = c->seed};
	int rc = c->method->oracle ? c->method->oracle(s, &c->params, in, ref, &ctx)
				   : attn_reference_softmax(s, in, ref);
	if (rc) {
		free(ref);
		return attn_errf(err, errlen, rc, "the oracle failed: %s", attn_status_str(rc));
	}
	double num = 0, den = 0, mx = 0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)out[i] - ref[i];
		num += e * e;
		den += ref[i] * ref[i];
		if (fabs(e) > mx)
			mx = fabs(e);
	}
	*rel_err = den > 0 ? sqrt(num / den) : sqrt(num);
	*max_abs_err = mx;
	if (soft_rel) {
		*soft_rel = *rel_err;
		if (c->method->oracle && (rc = attn_reference_softmax(s, in, ref)) == 0) {
			num = den = 0;
			for (size_t i = 0; i < n; i++) {
				double e = (double)out[i] - ref[i];
				num += e * e;
				den += ref[i] * ref[i];
			}
			*soft_rel = den > 0 ? sqrt(num / den) : sqrt(num);
		}
	}
	free(ref);
	return rc ? attn_errf(err, errlen, rc, "the softmax reference failed") : ATTN_OK;
}

/*
 * Everything a case does, writing the protocol to f. Returns after the
 * verdict line. `given` replaces the generated inputs; `copy_out` receives
 * the output.
 */
static void execute(const struct attn_case *c, const struct attn_run_opts *o,
		    const struct attn_inputs *given, float *copy_out, FILE *f)
{
	const struct attn_method *m = c->method;
	const struct attn_shape *s = &c->shape;
	struct attn_workload w = {0};
	float *out = NULL;
	void *ws = NULL;
	char msg[512];
	int rc;

	/*
	 * Threads: a BLAS method gets them from OpenBLAS, others from OpenMP;
	 * the other pool gets one so the two never oversubscribe the cores.
	 */
	openblas_set_num_threads((m->flags & ATTN_METHOD_USES_BLAS) ? c->threads : 1);
	omp_set_num_threads(c->threads);

	int have_peak = reset_peak_rss() == 0;
	size_t rss0 = proc_status_bytes("VmRSS");

	const struct attn_inputs *in = given;
	if (!in) {
		rc = attn_workload_alloc(s, m->inputs, c->dist, c->seed, &w);
		if (rc) {
			fprintf(f, "R failed cannot allocate the inputs (%zu bytes): %s\n",
				attn_workload_bytes(s, m->inputs), attn_status_str(rc));
			return;
		}
		in = &w.in;
	}
	size_t out_bytes = out_elems(s) * sizeof(float);
	size_t ws_bytes = m->workspace_bytes(s, &c->params, c->threads);
	out = attn__alloc(out_bytes + GUARD_BYTES);
	ws = ws_bytes == SIZE_MAX ? NULL : attn__alloc(ws_bytes + GUARD_BYTES);
	if (!out || !ws) {
		fprintf(f, "R failed cannot allocate the output and a workspace of %zu bytes\n",
			ws_bytes);
		goto done;
	}
	guard_fill(out, out_bytes);
	guard_fill(ws, ws_bytes);

	struct attn_ctx ctx = {.threads = c->threads, .seed = c->seed};
	if (m->prepare && (rc = m->prepare(s, &c->params, in, ws, &ctx)) != 0) {
		fprintf(f, "R failed prepare() returned %d (%s)\n", rc, attn_status_str(rc));
		goto done;
	}

	/* Warm-up: at least one call, then until warmup_s has passed. */
	uint64_t t0 = attn__now_ns(), t1;
	long calls = 0;
	do {
		if ((rc = m->forward(s, &c->params, in, out, ws, &ctx)) != 0) {
			fprintf(f, "R failed forward() returned %d (%s)\n", rc,
				attn_status_str(rc));
			goto done;
		}
		calls++;
		t1 = attn__now_ns();
	} while ((double)(t1 - t0) < o->warmup_s * 1e9);
	double per_call = (double)(t1 - t0) / (double)calls;
	long iters = 1;
	if (per_call < o->min_sample_s * 1e9)
		iters = (long)ceil(o->min_sample_s * 1e9 / (per_call > 1 ? per_call : 1));
	if (iters > 1000000)
		iters = 1000000;

	/* Timed repetitions: nothing but forward() between the clock reads. */
	uint64_t start = attn__now_ns();
	for (int rep = 0; rep < o->max_reps; rep++) {
		if (rep >= o->min_reps && (double)(attn__now_ns() - start) >= o->min_time_s * 1e9)
			break;
		t0 = attn__now_ns();
		for (long i = 0; i < iters; i++)
			rc |= m->forward(s, &c->params, in, out, ws, &ctx);
		t1 = attn__now_ns();
		if (rc) {
			fprintf(f, "R failed forward() returned %d (%s)\n", rc,
				attn_status_str(rc));
			goto done;
		}
		fprintf(f, "S %.17g %ld\n", (double)(t1 - t0) / (double)iters, iters);
	}

	emit_metric(f, "workspace_bytes", (double)ws_bytes, "B");
	emit_metric(f, "input_bytes", (double)(given ? 0 : w.bytes), "B");
	emit_metric(f, "output_bytes", (double)out_bytes, "B");
	emit_metric(f, "flops", m->flops(s, &c->params), "flop");
	emit_metric(f, "bytes_moved", m->bytes(s, &c->params), "B");
	if (have_peak) {
		size_t hwm = proc_status_bytes("VmHWM");
		emit_metric(f, "peak_rss_bytes", (double)hwm, "B");
		emit_metric(f, "peak_rss_delta_bytes", hwm > rss0 ? (double)(hwm - rss0) : 0, "B");
	} else {
		emit_null(f, "peak_rss_bytes", "B");
		emit_null(f, "peak_rss_delta_bytes", "B");
	}

	if (!guard_ok(out, out_bytes) || !guard_ok(ws, ws_bytes)) {
		fprintf(f, "R failed_check wrote past the end of its %s\n",
			guard_ok(out, out_bytes) ? "workspace" : "output");
		goto done;
	}
	size_t nonfinite = 0, first = 0;
	for (size_t i = 0; i < out_bytes / sizeof(float); i++)
		if (!isfinite(out[i]) && nonfinite++ == 0)
			first = i;
	if (nonfinite) {
		fprintf(f, "R failed_check %zu non-finite outputs, the first at element %zu (%g)\n",
			nonfinite, first, (double)out[first]);
		goto done;
	}
	if (copy_out)
		memcpy(copy_out, out, out_bytes);

	if (!will_check(c, o)) {
		emit_null(f, "rel_err", "1");
		emit_null(f, "max_abs_err", "1");
		fprintf(f, "R ok\n");
		goto done;
	}
	double rel, mx, soft;
	int approx = !(m->flags & ATTN_METHOD_EXACT);
	rc = attn_check_output(c, in, out, &rel, &mx, approx ? &soft : NULL, msg, sizeof(msg));
	if (rc) {
		fprintf(f, "R failed %s\n", msg);
		goto done;
	}
	emit_metric(f, "rel_err", rel, "1");
	emit_metric(f, "max_abs_err", mx, "1");
	if (approx)
		emit_metric(f, "rel_err_softmax", soft, "1");
	if (!(rel <= m->tolerance))
		fprintf(f, "R failed_check relative error %.3g against the oracle exceeds the "
			   "tolerance %.3g\n",
			rel, m->tolerance);
	else
		fprintf(f, "R ok\n");
done:
	attn__free(out);
	attn__free(ws);
	attn_workload_free(&w);
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

/* Parse the child's lines; 1 if a verdict was read. */
static int parse_protocol(char *text, struct attn_case_result *r)
{
	int verdict = 0, cap = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == 'S' && line[1] == ' ') {
			double ns;
			long long it;
			if (sscanf(line + 2, "%lf %lld", &ns, &it) != 2)
				continue;
			if (r->n_samples == cap) {
				cap = cap ? 2 * cap : 64;
				double *a = realloc(r->sample_ns, cap * sizeof(*a));
				if (a)
					r->sample_ns = a;
				int64_t *b = realloc(r->sample_iters, cap * sizeof(*b));
				if (b)
					r->sample_iters = b;
				if (!a || !b)
					return verdict;
			}
			r->sample_ns[r->n_samples] = ns;
			r->sample_iters[r->n_samples] = it;
			r->n_samples++;
		} else if (line[0] == 'M' && line[1] == ' ') {
			char name[40], val[64], unit[16];
			if (sscanf(line + 2, "%39s %63s %15s", name, val, unit) != 3)
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

/* The parent's statistics over the samples, and the figures derived from them. */
static void derive_metrics(struct attn_case_result *r)
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
	const struct attn_metric *fl = attn_result_metric(r, "flops");
	const struct attn_metric *by = attn_result_metric(r, "bytes_moved");
	if (fl && fl->has_value && sum.median > 0)
		result_add_metric(r, "gflops", fl->value / sum.median, 1, "GFLOP/s");
	if (by && by->has_value && sum.median > 0)
		result_add_metric(r, "gbytes_per_s", by->value / sum.median, 1, "GB/s");
	if (fl && by && fl->has_value && by->has_value && by->value > 0)
		result_add_metric(r, "arith_intensity", fl->value / by->value, 1, "flop/B");
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
	execute(c, o, given, out, f);
	fclose(f);
	if (!parse_protocol(text, r))
		set_status(r, ATTN_CASE_FAILED, "the case gave no verdict");
	free(text);
}

static void run_in_child(const struct attn_case *c, const struct attn_run_opts *o,
			 struct attn_case_result *r)
{
	int fds[2];
	if (pipe(fds) != 0) {
		set_status(r, ATTN_CASE_FAILED, "pipe: %s", strerror(errno));
		return;
	}
	pid_t parent = getpid();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		set_status(r, ATTN_CASE_FAILED, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		/* Die with the parent: a killed sweep leaves no orphan running. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(3);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		close(fds[0]);
		FILE *f = fdopen(fds[1], "w");
		if (!f)
			_exit(2);
		execute(c, o, NULL, NULL, f);
		fclose(f);
		_exit(0);
	}
	close(fds[1]);

	char *buf = NULL;
	size_t len = 0, cap = 0;
	uint64_t deadline = attn__now_ns() + (uint64_t)(o->timeout_s * 1e9);
	int timed_out = 0, stopped = 0;
	for (;;) {
		if (o->stop && *o->stop) {
			stopped = 1;
			break;
		}
		uint64_t now = attn__now_ns();
		if (now >= deadline) {
			timed_out = 1;
			break;
		}
		uint64_t left_ms = (deadline - now) / 1000000 + 1;
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		int pr = poll(&p, 1, left_ms > 100 ? 100 : (int)left_ms);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0)
			continue;
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			char *nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		ssize_t got = read(fds[0], buf + len, cap - len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	if (timed_out || stopped)
		kill(pid, SIGKILL);
	close(fds[0]);
	int wstatus = 0;
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	if (buf)
		buf[len] = 0;
	int verdict = buf ? parse_protocol(buf, r) : 0;
	free(buf);

	if (stopped || (o->stop && *o->stop))
		set_status(r, ATTN_CASE_INTERRUPTED, "interrupted by the user");
	else if (timed_out)
		set_status(r, ATTN_CASE_TIMEOUT, "no verdict after %g s; the case was killed",
			   o->timeout_s);
	else if (WIFSIGNALED(wstatus))
		set_status(r, ATTN_CASE_CRASHED, "killed by signal %d (%s)%s", WTERMSIG(wstatus),
			   strsignal(WTERMSIG(wstatus)),
			   WTERMSIG(wstatus) == SIGKILL ? ", perhaps by the kernel's OOM killer" : "");
	else if (!verdict)
		set_status(r, ATTN_CASE_FAILED, "the case exited with code %d and no verdict",
			   WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
}

int attn_case_run(const struct attn_case *c, const struct attn_run_opts *o,
		  const struct attn_inputs *inputs, float *out, struct attn_case_result *r)
{
	memset(r, 0, sizeof(*r));
	const struct attn_method *m = c->method;
	const struct attn_shape *s = &c->shape;
	char why[400] = "";

	if (s->batch < 1 || s->heads < 1 || s->kv_heads < 1 || s->n < 1 || s->d < 1) {
		set_status(r, ATTN_CASE_UNSUPPORTED, "every dimension must be at least 1");
		return ATTN_OK;
	}
	if (s->heads % s->kv_heads != 0) {
		set_status(r, ATTN_CASE_UNSUPPORTED, "kv_heads %lld does not divide heads %lld",
			   (long long)s->kv_heads, (long long)s->heads);
		return ATTN_OK;
	}
	if (c->threads < 1) {
		set_status(r, ATTN_CASE_UNSUPPORTED, "threads %d is not at least 1", c->threads);
		return ATTN_OK;
	}
	if (m->supports && m->supports(s, &c->params, why, sizeof(why)) != ATTN_OK) {
		set_status(r, ATTN_CASE_UNSUPPORTED, "%s", why[0] ? why : "the method declined");
		return ATTN_OK;
	}
	size_t need = attn_case_predict_bytes(c, o);
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
		return ATTN_OK;
	}
	if (o->isolate)
		run_in_child(c, o, r);
	else
		run_in_process(c, o, inputs, out, r);
	derive_metrics(r);
	return ATTN_OK;
}

void attn_case_result_free(struct attn_case_result *r)
{
	free(r->sample_ns);
	free(r->sample_iters);
	r->sample_ns = NULL;
	r->sample_iters = NULL;
	r->n_samples = 0;
}
