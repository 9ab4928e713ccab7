/*
 * attnbench check: every registered method (or those named) against its
 * float64 oracle over a grid of awkward shapes: N of 1, odd and not a
 * multiple of any block; D small and large; GQA; causal and not; prefill and
 * decode; one and two threads. Each case runs isolated, so a crashing
 * plugin is reported as a failure, not a crash of the check.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "cli.h"

static const char *help_text =
    "usage: attnbench check [--methods LIST] [--quick] [--timeout S] [--plugin FILE.so]...\n"
    "\n"
    "Checks every method (default: all) against its float64 oracle - exact\n"
    "methods against the softmax reference, approximate ones against their own -\n"
    "over N in {1, 17, 64, 255, 300}, D in {16, 64}, heads 4 with kv_heads 4\n"
    "and 2, causal and not, prefill and decode, 1 and 2 threads, batch 2.\n"
    "--quick checks N in {17, 255} with D 64 only. Prints a table per method\n"
    "with the worst relative error and its tolerance. Each case runs in a child\n"
    "of its own, killed after --timeout S (default 60) seconds.\n"
    "\n"
    "exit: 0 all passed; 1 a case failed, crashed or timed out; 2 bad usage.\n";

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, 0, 'h'},          {"methods", required_argument, 0, 'm'},
	    {"quick", no_argument, 0, 'q'},         {"plugin", required_argument, 0, 'p'},
	    {"timeout", required_argument, 0, 't'}, {0, 0, 0, 0}};
	const char *methods = "all";
	char *plugins[64];
	int np = 0, quick = 0, c;
	double timeout = 60;
	while ((c = getopt_long(argc, argv, "hm:qp:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", help_text); return EXIT_OK;
		case 'm': methods = optarg; break;
		case 'q': quick = 1; break;
		case 'p':
			if (np < 64)
				plugins[np++] = optarg;
			break;
		case 't':
			if (cli_parse_real(optarg, &timeout) || !(timeout > 0)) {
				cli_error("check",
				          "--timeout '%s': expected a positive number of seconds",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("check", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	struct attn_registry *reg = cli_registry("check", plugins, np);
	if (!reg)
		return EXIT_USAGE;
	struct attn_method_list ml;
	char err[1024];
	if (attn_methods_parse(methods, reg, &ml, err, sizeof(err))) {
		cli_error("check", "--methods: %s", err);
		attn_registry_free(reg);
		return EXIT_USAGE;
	}
	static const int64_t ns_full[] = {1, 17, 64, 255, 300}, ds_full[] = {16, 64};
	static const int64_t ns_quick[] = {17, 255}, ds_quick[] = {64};
	const int64_t *ns = quick ? ns_quick : ns_full, *ds = quick ? ds_quick : ds_full;
	int nn = quick ? 2 : 5, nd = quick ? 1 : 2;

	struct attn_run_opts ro;
	attn_run_opts_check(&ro, 1);
	ro.timeout_s = timeout;

	int failed_total = 0;
	printf("%-28s %6s %6s %6s %10s %10s  %s\n", "method", "cases", "passed", "failed",
	       "worst_err", "tolerance", "first failure");
	for (int mi = 0; mi < ml.count; mi++) {
		struct attn_case cs = {
		    .method = ml.items[mi].method, .params = ml.items[mi].params, .seed = 7};
		int cases = 0, passed = 0, failed = 0;
		double worst = 0;
		char first[600] = "";
		for (int ni = 0; ni < nn; ni++)
			for (int di = 0; di < nd; di++)
				for (int kv = 0; kv < 2; kv++)
					for (int causal = 0; causal < 2; causal++)
						for (int mode = 0; mode < 2; mode++)
							for (int th = 1; th <= 2; th++) {
								cs.shape = (struct attn_shape){
								    .batch = 2,
								    .heads = 4,
								    .kv_heads = kv ? 2 : 4,
								    .n = ns[ni],
								    .d = ds[di],
								    .causal = causal,
								    .mode =
								        mode ? ATTN_MODE_DECODE
								             : ATTN_MODE_PREFILL};
								cs.threads = th;
								struct attn_case_result r;
								attn_case_run(&cs, &ro, NULL, NULL,
								              &r);
								if (r.status ==
								    ATTN_CASE_UNSUPPORTED) {
									attn_case_result_free(&r);
									continue;
								}
								cases++;
								const struct attn_metric *e =
								    attn_result_metric(&r,
								                       "rel_err");
								if (e && e->has_value &&
								    e->value > worst)
									worst = e->value;
								if (r.status == ATTN_CASE_OK) {
									passed++;
								} else {
									failed++;
									if (!first[0])
										snprintf(
										    first,
										    sizeof(first),
										    "n=%lld d=%lld "
										    "kvh=%lld "
										    "causal=%d %s "
										    "t=%d: %s: %s",
										    (long long)
										        cs.shape.n,
										    (long long)
										        cs.shape.d,
										    (long long)cs
										        .shape
										        .kv_heads,
										    causal,
										    attn_mode_name(
										        cs.shape
										            .mode),
										    th,
										    attn_case_status_name(
										        r.status),
										    r.message);
								}
								attn_case_result_free(&r);
							}
		char name[320], params[256];
		attn_params_format(cs.method, &cs.params, params, sizeof(params));
		snprintf(name, sizeof(name), "%s%s%s%s", cs.method->name, params[0] ? "[" : "",
		         params, params[0] ? "]" : "");
		printf("%-28s %6d %6d %6d %10.2e %10.2e  %s\n", name, cases, passed, failed, worst,
		       cs.method->tolerance, first);
		fflush(stdout);
		failed_total += failed;
	}
	attn_method_list_free(&ml);
	attn_registry_free(reg);
	if (failed_total)
		printf("%d cases failed\n", failed_total);
	return failed_total ? EXIT_CASES : EXIT_OK;
}
