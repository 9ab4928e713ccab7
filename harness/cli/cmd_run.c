/*
 * attnbench run: one case, isolated as a sweep's are (a forked child with a
 * timeout, guarded buffers, read-only inputs). Inputs come from .npy files
 * (Q (B, H, NQ, D), K and V (B, KVH, N, D), float32, C order) or from the
 * workload generator; the output can be written as .npy so it can be checked
 * from numpy or PyTorch. Timing and the oracle check are the sweep's.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/sweep.h"
#include "cli.h"
#include "npy.h"

static const char *help_text =
    "usage: attnbench run --method NAME [--param KEY=VALUE]... [--causal]\n"
    "                     --q Q.npy --k K.npy --v V.npy [--out O.npy]\n"
    "       attnbench run --method NAME [--param KEY=VALUE]... [--causal]\n"
    "                     [--n N] [--d D] [--heads H] [--kv-heads K] [--batch B]\n"
    "                     [--mode prefill|decode] [--dist NAME] [--seed S] [--out O.npy]\n"
    "common: [--threads T] [--min-time S] [--min-reps N] [--check-max-flops F]\n"
    "        [--timeout S] [--plugin FILE.so]... [--format text|json]\n"
    "\n"
    "Runs one case in a child process of its own, as a sweep does (a crash, a hang\n"
    "past --timeout S (default 120) or a write into the inputs costs the case, with\n"
    "its status printed), and prints its timing, throughput and error against the\n"
    "float64 oracle. Inputs must be finite. With --q/--k/--v the shapes come from the files:\n"
    "Q (B, H, NQ, D), K and V (B, KVH, N, D), float32 or float64, C order; NQ = N\n"
    "is prefill, NQ = 1 is decode over a context of N. --out writes O (B, H, NQ, D)\n"
    "as float32. Parameters not given take the method's defaults (attnbench list -v).\n"
    "--causal masks prefill causally; decode (--mode decode, or NQ = 1) is always\n"
    "causal. Times print in ns..s and sizes in B..GiB under the metric's name less\n"
    "its unit (median 1.20 ms, workspace 106.0 KiB); --format json prints one\n"
    "object instead: method, params, batch, heads, kv_heads, n, d, causal, mode,\n"
    "threads, inputs (generated|files), dist and seed (null for files), files\n"
    "({q,k,v} or null), status, message, info (what the method said of itself: a\n"
    "peer's provenance; null when nothing), metrics ({name: {value, unit}}, value\n"
    "null when unavailable, the raw value in its unit).\n"
    "ATTNBENCH_INJECT_SLOWDOWN=method:factor slows that method's timed calls down\n"
    "(testing the regression gate only; see attnbench sweep --help).\n"
    "\n"
    "exit: 0 ok; 1 the case failed or failed its check; 2 bad usage or input.\n";

enum {
	O_METHOD = 256,
	O_PARAM,
	O_CAUSAL,
	O_Q,
	O_K,
	O_V,
	O_OUT,
	O_N,
	O_D,
	O_HEADS,
	O_KVH,
	O_BATCH,
	O_MODE,
	O_DIST,
	O_SEED,
	O_THREADS,
	O_MINTIME,
	O_MINREPS,
	O_CHECKF,
	O_PLUGIN,
	O_TIMEOUT,
	O_FORMAT
};

static int load(const char *what, const char *path, struct attn_npy *a)
{
	char err[1024];
	if (attn_npy_read(path, a, err, sizeof(err))) {
		cli_error("run", "--%s: %s", what, err);
		return -1;
	}
	if (a->ndim != 4) {
		cli_error("run", "--%s %s: expected 4 dimensions (B, %s, N, D), found %d", what,
		          path, what[0] == 'q' ? "H" : "KVH", a->ndim);
		return -1;
	}
	/* A NaN in the inputs would come out as the method's failed check: refuse it here. */
	size_t count = 1;
	for (int i = 0; i < a->ndim; i++)
		count *= (size_t)a->shape[i];
	for (size_t i = 0; i < count; i++)
		if (!isfinite(a->data[i])) {
			cli_error("run", "--%s %s: element %zu is %g; inputs must be finite", what,
			          path, i, (double)a->data[i]);
			return -1;
		}
	return 0;
}

/* Derive the case's shape from the three arrays, naming any mismatch. */
static int shape_from_files(const struct attn_npy *q, const struct attn_npy *k,
                            const struct attn_npy *v, struct attn_shape *s)
{
	for (int i = 0; i < 4; i++)
		if (k->shape[i] != v->shape[i]) {
			cli_error("run", "K and V differ in dimension %d: %lld vs %lld", i,
			          (long long)k->shape[i], (long long)v->shape[i]);
			return -1;
		}
	if (q->shape[0] != k->shape[0]) {
		cli_error("run", "Q has batch %lld but K has batch %lld", (long long)q->shape[0],
		          (long long)k->shape[0]);
		return -1;
	}
	if (q->shape[3] != k->shape[3]) {
		cli_error("run", "Q has head dimension %lld but K has %lld", (long long)q->shape[3],
		          (long long)k->shape[3]);
		return -1;
	}
	if (k->shape[1] < 1 || q->shape[1] % k->shape[1] != 0) {
		cli_error("run", "K's %lld heads do not divide Q's %lld heads",
		          (long long)k->shape[1], (long long)q->shape[1]);
		return -1;
	}
	s->batch = q->shape[0];
	s->heads = q->shape[1];
	s->kv_heads = k->shape[1];
	s->n = k->shape[2];
	s->d = q->shape[3];
	if (q->shape[2] == k->shape[2] && (s->n > 1 || s->mode == ATTN_MODE_PREFILL)) {
		s->mode = ATTN_MODE_PREFILL;
	} else if (q->shape[2] == 1) {
		s->mode = ATTN_MODE_DECODE;
	} else {
		cli_error("run",
		          "Q has %lld query rows and K %lld keys: prefill needs them equal, "
		          "decode needs 1 query row",
		          (long long)q->shape[2], (long long)k->shape[2]);
		return -1;
	}
	for (int i = 0; i < 4; i++)
		if (q->shape[i] < 1 || k->shape[i] < 1) {
			cli_error("run", "every dimension must be at least 1");
			return -1;
		}
	return 0;
}

/* What the command line asked for. */
struct run_args {
	const char *method, *qf, *kf, *vf, *of, *dist;
	char *params[ATTN_MAX_PARAMS * 2], *plugins[64];
	int nparams, np, causal, mode_given, shape_given, files, json;
	long n, d, h, kvh, b, th, seed;
	enum attn_mode mode;
	struct attn_run_opts ro;
};

/* Parse argv into a; -1 to go on, else the exit code (help, bad usage). */
static int parse_args(int argc, char **argv, struct run_args *a)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
	                                     {"method", required_argument, 0, O_METHOD},
	                                     {"param", required_argument, 0, O_PARAM},
	                                     {"causal", no_argument, 0, O_CAUSAL},
	                                     {"q", required_argument, 0, O_Q},
	                                     {"k", required_argument, 0, O_K},
	                                     {"v", required_argument, 0, O_V},
	                                     {"out", required_argument, 0, O_OUT},
	                                     {"n", required_argument, 0, O_N},
	                                     {"d", required_argument, 0, O_D},
	                                     {"heads", required_argument, 0, O_HEADS},
	                                     {"kv-heads", required_argument, 0, O_KVH},
	                                     {"batch", required_argument, 0, O_BATCH},
	                                     {"mode", required_argument, 0, O_MODE},
	                                     {"dist", required_argument, 0, O_DIST},
	                                     {"seed", required_argument, 0, O_SEED},
	                                     {"threads", required_argument, 0, O_THREADS},
	                                     {"min-time", required_argument, 0, O_MINTIME},
	                                     {"min-reps", required_argument, 0, O_MINREPS},
	                                     {"check-max-flops", required_argument, 0, O_CHECKF},
	                                     {"plugin", required_argument, 0, O_PLUGIN},
	                                     {"timeout", required_argument, 0, O_TIMEOUT},
	                                     {"format", required_argument, 0, O_FORMAT},
	                                     {0, 0, 0, 0}};
	int c;
	long reps;
	struct {
		int opt;
		const char *name;
		long lo, hi;
		long *dst;
	} ints[] = {{O_N, "n", 1, 1L << 40, &a->n},
	            {O_D, "d", 1, 65536, &a->d},
	            {O_HEADS, "heads", 1, 65536, &a->h},
	            {O_KVH, "kv-heads", 1, 65536, &a->kvh},
	            {O_BATCH, "batch", 1, 65536, &a->b},
	            {O_THREADS, "threads", 1, 4096, &a->th},
	            {O_SEED, "seed", 0, 0x7fffffffffffffffL, &a->seed},
	            {O_MINREPS, "min-reps", 1, 1000000, &reps}};

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int handled = 0;
		for (size_t i = 0; i < sizeof(ints) / sizeof(*ints); i++)
			if (c == ints[i].opt) {
				if (cli_parse_int(optarg, ints[i].lo, ints[i].hi, ints[i].dst)) {
					cli_error("run",
					          "--%s '%s': expected a whole number in %ld..%ld",
					          ints[i].name, optarg, ints[i].lo, ints[i].hi);
					return EXIT_USAGE;
				}
				if (c == O_MINREPS)
					a->ro.min_reps = (int)reps;
				if (c != O_THREADS && c != O_SEED && c != O_MINREPS)
					a->shape_given = 1;
				handled = 1;
			}
		if (handled)
			continue;
		switch (c) {
		case 'h': printf("%s", help_text); return EXIT_OK;
		case O_METHOD: a->method = optarg; break;
		case O_PARAM:
			if (a->nparams < (int)(sizeof(a->params) / sizeof(*a->params)))
				a->params[a->nparams++] = optarg;
			break;
		case O_CAUSAL: a->causal = 1; break;
		case O_FORMAT:
			if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
				cli_error("run", "--format '%s': expected text or json", optarg);
				return EXIT_USAGE;
			}
			a->json = optarg[0] == 'j';
			break;
		case O_Q: a->qf = optarg; break;
		case O_K: a->kf = optarg; break;
		case O_V: a->vf = optarg; break;
		case O_OUT: a->of = optarg; break;
		case O_DIST: a->dist = optarg; break;
		case O_PLUGIN:
			if (a->np < 64)
				a->plugins[a->np++] = optarg;
			break;
		case O_MODE:
			a->mode_given = 1;
			if (strcmp(optarg, "prefill") == 0)
				a->mode = ATTN_MODE_PREFILL;
			else if (strcmp(optarg, "decode") == 0)
				a->mode = ATTN_MODE_DECODE;
			else {
				cli_error("run", "--mode '%s': expected prefill or decode", optarg);
				return EXIT_USAGE;
			}
			break;
		case O_TIMEOUT:
			if (cli_parse_real(optarg, &a->ro.timeout_s) || !(a->ro.timeout_s > 0)) {
				cli_error("run",
				          "--timeout '%s': expected a positive number of seconds",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		case O_MINTIME:
			if (cli_parse_real(optarg, &a->ro.min_time_s)) {
				cli_error("run", "--min-time '%s': expected seconds >= 0", optarg);
				return EXIT_USAGE;
			}
			break;
		case O_CHECKF:
			if (cli_parse_real(optarg, &a->ro.check_max_flops)) {
				cli_error("run", "--check-max-flops '%s': expected a number >= 0",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("run", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!a->method) {
		cli_error("run", "--method NAME is required (attnbench list shows the names)");
		return EXIT_USAGE;
	}
	a->files = (a->qf != NULL) + (a->kf != NULL) + (a->vf != NULL);
	if (a->files != 0 && a->files != 3) {
		cli_error("run", "--q, --k and --v go together: give all three or none");
		return EXIT_USAGE;
	}
	if (a->files && a->shape_given) {
		cli_error("run", "with --q/--k/--v the shape comes from the files; drop --n, --d, "
		                 "--heads, --kv-heads and --batch");
		return EXIT_USAGE;
	}
	return -1;
}

/* The case a asks for, its inputs read from the files when given; 0 or -1 (said). */
static int make_case(const struct run_args *a, const struct attn_registry *reg,
                     struct attn_case *cs, struct attn_npy npy[3], struct attn_inputs *in)
{
	char err[1024];
	cs->method = attn_registry_find(reg, a->method);
	if (!cs->method) {
		char hint[128];
		attn_registry_suggest(reg, a->method, strlen(a->method), hint, sizeof(hint));
		cli_error("run",
		          "unknown method '%s'%s; attnbench list shows the registered ones, and a "
		          "method of your own is loaded with --plugin FILE.so",
		          a->method, hint);
		return -1;
	}
	attn_params_default(cs->method, &cs->params);
	for (int i = 0; i < a->nparams; i++)
		if (attn_params_set(cs->method, &cs->params, a->params[i], err, sizeof(err))) {
			cli_error("run", "--param %s", err);
			return -1;
		}
	enum attn_dist dd;
	if (attn_dist_parse(a->dist, &dd, err, sizeof(err))) {
		cli_error("run", "--dist: %s", err);
		return -1;
	}
	cs->dist = dd;
	cs->threads = (int)a->th;
	cs->seed = (uint64_t)a->seed;
	cs->shape.mode = a->mode;
	/* Decode is causal (sweep.c says why). */
	cs->shape.causal = a->causal || a->mode == ATTN_MODE_DECODE;
	if (!a->files) {
		cs->shape.batch = a->b;
		cs->shape.heads = a->h;
		cs->shape.kv_heads = a->kvh ? a->kvh : a->h;
		cs->shape.n = a->n;
		cs->shape.d = a->d;
		if (cs->shape.heads % cs->shape.kv_heads) {
			cli_error("run",
			          "--kv-heads %lld with --heads %lld: the query heads must be a "
			          "multiple of the K/V heads",
			          (long long)cs->shape.kv_heads, (long long)cs->shape.heads);
			return -1;
		}
		return 0;
	}
	if (load("q", a->qf, &npy[0]) || load("k", a->kf, &npy[1]) || load("v", a->vf, &npy[2]) ||
	    shape_from_files(&npy[0], &npy[1], &npy[2], &cs->shape))
		return -1;
	cs->shape.causal = a->causal || cs->shape.mode == ATTN_MODE_DECODE;
	if (a->mode_given && a->mode != cs->shape.mode) {
		cli_error("run", "--mode %s does not match the files, which are %s",
		          a->mode == ATTN_MODE_DECODE ? "decode" : "prefill",
		          attn_mode_name(cs->shape.mode));
		return -1;
	}
	if (cs->method->inputs) {
		cli_error("run",
		          "method '%s' needs gate/beta inputs, which .npy input does "
		          "not carry yet; run it on a generated workload",
		          a->method);
		return -1;
	}
	in->q = npy[0].data;
	in->k = npy[1].data;
	in->v = npy[2].data;
	return 0;
}

/* The figures a user reads first, in this order. */
static const char *const shown[] = {
    "median_ns",       "mad_ns",          "ci_lo_ns",      "ci_hi_ns", "samples",
    "gflops",          "gbytes_per_s",    "flops",         "rel_err",  "max_abs_err",
    "rel_err_softmax", "workspace_bytes", "peak_rss_bytes"};

/*
 * The case as the user gave it: the workload's dist and seed only when the
 * harness generated the inputs (with --q/--k/--v they came from the files).
 */
static void describe_case(const struct run_args *a, const struct attn_case *cs, char *buf,
                          size_t len)
{
	char params[1024];
	const struct attn_shape *s = &cs->shape;
	attn_params_format(cs->method, &cs->params, params, sizeof(params));
	int n = snprintf(buf, len,
	                 "%s[%s] b=%lld h=%lld kvh=%lld n=%lld d=%lld causal=%d mode=%s "
	                 "threads=%d",
	                 cs->method->name, params, (long long)s->batch, (long long)s->heads,
	                 (long long)s->kv_heads, (long long)s->n, (long long)s->d, s->causal,
	                 attn_mode_name(s->mode), cs->threads);
	if (!a->files && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " dist=%s seed=%llu", attn_dist_name(cs->dist),
		         (unsigned long long)cs->seed);
}

/*
 * One metric as text: a time in ns or a size in B under the name without
 * its unit suffix, in a unit of its size (median 380.93 ms, workspace
 * 106.0 KiB); a dimensionless figure (unit "1") bare; others with their unit.
 */
static void print_metric(const struct attn_metric *m, const char *why)
{
	char name[160], v[64];
	size_t n = strlen(m->name);
	int is_ns = strcmp(m->unit, "ns") == 0, is_b = strcmp(m->unit, "B") == 0;
	snprintf(name, sizeof(name), "%s", m->name);
	if (is_ns && n > 3 && strcmp(name + n - 3, "_ns") == 0)
		name[n - 3] = 0;
	else if (is_b && n > 6 && strcmp(name + n - 6, "_bytes") == 0)
		name[n - 6] = 0;
	if (!m->has_value)
		snprintf(v, sizeof(v), "%s", why ? why : "unavailable");
	else if (is_ns)
		cli_fmt_ns(m->value, v, sizeof(v));
	else if (is_b)
		cli_fmt_bytes(m->value, v, sizeof(v));
	else if (strcmp(m->unit, "1") == 0 || !m->unit[0])
		snprintf(v, sizeof(v), "%.6g", m->value);
	else
		snprintf(v, sizeof(v), "%.6g %s", m->value, m->unit);
	printf("%-16s %s\n", name, v);
}

static void print_result(const struct run_args *a, const struct attn_case *cs,
                         const struct attn_case_result *r)
{
	char desc[1024], why[256];
	describe_case(a, cs, desc, sizeof(desc));
	printf("case     %s\n", desc);
	if (a->files)
		printf("inputs   q=%s k=%s v=%s\n", a->qf, a->kf, a->vf);
	printf("status   %s%s%s\n", attn_case_status_name(r->status), r->message[0] ? ": " : "",
	       r->message);
	if (r->info[0])
		printf("info     %s\n", r->info);
	const struct attn_metric *rows = attn_result_metric(r, "oracle_rows");
	const struct attn_metric *sampled = attn_result_metric(r, "oracle_sampled");
	if (rows && sampled && sampled->has_value)
		printf("%-16s %s, %.0f of %lld query rows per head\n", "oracle",
		       sampled->value > 0 ? "sampled" : "full", rows->value,
		       (long long)attn_shape_nq(&cs->shape));
	for (size_t i = 0; i < sizeof(shown) / sizeof(*shown); i++) {
		const struct attn_metric *m = attn_result_metric(r, shown[i]);
		const char *w = attn_result_missing_why(cs, r, &a->ro, shown[i], why, sizeof(why));
		if (m)
			print_metric(m, w);
		else if (w)
			printf("%-16s %s\n", shown[i], w);
	}
}

/* The whole result as one JSON object; its keys are listed in the README. */
static void print_json(const struct run_args *a, const struct attn_case *cs,
                       const struct attn_case_result *r)
{
	char params[1024];
	const struct attn_shape *s = &cs->shape;
	attn_params_format(cs->method, &cs->params, params, sizeof(params));
	printf("{\"method\": ");
	cli_json_str(stdout, cs->method->name);
	printf(", \"params\": ");
	cli_json_str(stdout, params);
	printf(", \"batch\": %lld, \"heads\": %lld, \"kv_heads\": %lld, \"n\": %lld, \"d\": %lld, "
	       "\"causal\": %d, \"mode\": \"%s\", \"threads\": %d",
	       (long long)s->batch, (long long)s->heads, (long long)s->kv_heads, (long long)s->n,
	       (long long)s->d, s->causal, attn_mode_name(s->mode), cs->threads);
	if (a->files) {
		printf(
		    ", \"inputs\": \"files\", \"dist\": null, \"seed\": null, \"files\": {\"q\": ");
		cli_json_str(stdout, a->qf);
		printf(", \"k\": ");
		cli_json_str(stdout, a->kf);
		printf(", \"v\": ");
		cli_json_str(stdout, a->vf);
		printf("}");
	} else {
		printf(", \"inputs\": \"generated\", \"dist\": \"%s\", \"seed\": %llu, \"files\": "
		       "null",
		       attn_dist_name(cs->dist), (unsigned long long)cs->seed);
	}
	printf(", \"status\": \"%s\", \"message\": ", attn_case_status_name(r->status));
	cli_json_str(stdout, r->message);
	printf(", \"info\": ");
	if (r->info[0])
		cli_json_str(stdout, r->info);
	else
		printf("null");
	printf(", \"metrics\": {");
	for (int i = 0; i < r->n_metrics; i++) {
		const struct attn_metric *m = &r->metrics[i];
		printf("%s", i ? ", " : "");
		cli_json_str(stdout, m->name);
		if (m->has_value && isfinite(m->value))
			printf(": {\"value\": %.17g, \"unit\": ", m->value);
		else
			printf(": {\"value\": null, \"unit\": ");
		cli_json_str(stdout, m->unit);
		printf("}");
	}
	printf("}}\n");
}

int cmd_run(int argc, char **argv)
{
	struct run_args a = {.dist = "gaussian",
	                     .n = 1024,
	                     .d = 64,
	                     .h = 1,
	                     .b = 1,
	                     .th = 1,
	                     .seed = 42,
	                     .mode = ATTN_MODE_PREFILL};
	attn_run_opts_default(&a.ro);
	int rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	rc = EXIT_USAGE;

	struct attn_registry *reg = cli_registry("run", a.plugins, a.np);
	if (!reg)
		return EXIT_USAGE;
	if (cli_inject_slowdown("run", reg, &a.ro, NULL)) {
		attn_registry_free(reg);
		return EXIT_USAGE;
	}
	struct attn_npy npy[3] = {{0}};
	float *out = NULL;
	struct attn_case cs = {0};
	struct attn_inputs in = {0};
	char err[1024];
	if (make_case(&a, reg, &cs, npy, &in))
		goto done;
	size_t nout =
	    (size_t)cs.shape.batch * cs.shape.heads * attn_shape_nq(&cs.shape) * cs.shape.d;
	out = malloc(nout * sizeof(float) + 1);
	if (!out) {
		cli_error("run", "out of memory for the output");
		goto done;
	}
	struct attn_case_result r;
	attn_case_run(&cs, &a.ro, a.files ? &in : NULL, out, &r);
	if (a.json)
		print_json(&a, &cs, &r);
	else
		print_result(&a, &cs, &r);
	rc = r.status == ATTN_CASE_OK              ? EXIT_OK
	     : attn_case_status_declined(r.status) ? EXIT_USAGE
	                                           : EXIT_CASES;
	/* A non-zero exit says why on stderr too, where scripts look. */
	if (rc != EXIT_OK)
		cli_error("run", "%s %s: %s", a.method,
		          attn_case_status_declined(r.status) ? "was not run" : "did not pass",
		          r.message[0] ? r.message : attn_case_status_name(r.status));
	if (r.status == ATTN_CASE_OK && a.of) {
		int64_t shp[4] = {cs.shape.batch, cs.shape.heads, attn_shape_nq(&cs.shape),
		                  cs.shape.d};
		if (attn_npy_write(a.of, 4, shp, out, err, sizeof(err))) {
			cli_error("run", "--out: %s", err);
			rc = EXIT_USAGE;
		}
	}
	attn_case_result_free(&r);
done:
	free(out);
	for (int i = 0; i < 3; i++)
		attn_npy_free(&npy[i]);
	attn_registry_free(reg);
	return rc;
}
