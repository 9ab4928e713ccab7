/*
 * bench_exact: the exact baseline against the machine, interleaved.
 *
 * For every (threads, d, causal, n) it runs R rounds. Each round times the
 * OpenBLAS sgemm roof (2048^3), `flash`, `softmax` and, when Debian's numpy
 * is there, numpy's naive attention, one after another. So a slow phase of
 * the machine - these KVM guests have stretches at half speed - hits the
 * roof and the kernels alike (each measurement at 2+ threads after a pause
 * that lets the previous one's spinning workers sleep). What it prints are ratios: the median over
 * rounds of each round's kernel GFLOP/s over that round's sgemm GFLOP/s, and
 * flash over numpy. GFLOP/s count 4·N²·d per head, half when causal (the
 * methods' own flops()).
 *
 * Decode: one query over a context of N, against a STREAM triad measured in
 * the same rounds, reported as GB/s of K and V read and its fraction of the
 * triad.
 *
 * Like attnbench, it names OpenBLAS's kernels when OpenBLAS misdetects the
 * CPU (README, "OpenBLAS on new CPUs").
 */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attnbench/bind.h"
#include "attnbench/calib.h"
#include "attnbench/registry.h"
#include "attnbench/spec.h"
#include "attnbench/stats.h"
#include "attnbench/sysinfo.h"
#include "attnbench/workload.h"
#include "bench.h"
#include "internal.h"

#define MAX_ROUNDS 64

/* A numpy peer process at one thread count, fed one case per line. */
struct peer {
	pid_t pid;
	FILE *to, *from;
};

static int peer_start(struct peer *pe, int threads, const char *script)
{
	int in[2], out[2];
	memset(pe, 0, sizeof(*pe));
	if (access("/usr/bin/python3", X_OK) != 0 ||
	    system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
		return -1;
	if (pipe(in) || pipe(out))
		return -1;
	pe->pid = fork();
	if (pe->pid == 0) {
		char t[16];
		snprintf(t, sizeof(t), "%d", threads);
		setenv("OPENBLAS_NUM_THREADS", t, 1);
		setenv("OMP_NUM_THREADS", t, 1);
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/usr/bin/python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	pe->to = fdopen(in[1], "w");
	pe->from = fdopen(out[0], "r");
	return pe->to && pe->from ? 0 : -1;
}

/* Median seconds of numpy's naive attention, or NAN. */
static double peer_time(struct peer *pe, int64_t n, int64_t d, int causal, double budget)
{
	char line[128];
	if (!pe->to)
		return NAN;
	fprintf(pe->to, "%lld %lld %d %g\n", (long long)n, (long long)d, causal, budget);
	fflush(pe->to);
	if (!fgets(line, sizeof(line), pe->from))
		return NAN;
	return strtod(line, NULL);
}

static void peer_stop(struct peer *pe)
{
	if (!pe->to)
		return;
	fclose(pe->to);
	fclose(pe->from);
	waitpid(pe->pid, NULL, 0);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: bench_exact [--n SPEC] [--d SPEC] [--threads SPEC] [--causal 0|1|both]\n"
	        "                   [--heads H] [--rounds R] [--budget S] [--decode-n SPEC]\n"
	        "                   [--no-peers] [--quick]\n"
	        "\n"
	        "flash, softmax, the sgemm roof and numpy's naive attention (when\n"
	        "/usr/bin/python3 has numpy), interleaved per round; prints GFLOP/s and the\n"
	        "median per-round fraction of the sgemm roof. Decode: GB/s against a triad.\n"
	        "Defaults: --n 512..16384x2 --d 64,128 --threads 1,2 --causal both --heads 1\n"
	        "--rounds 5 --budget 0.2 --decode-n 65536. --quick: n 1024..4096x2, 3 rounds.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"n", required_argument, 0, 'n'},       {"d", required_argument, 0, 'd'},
	    {"threads", required_argument, 0, 't'}, {"causal", required_argument, 0, 'c'},
	    {"heads", required_argument, 0, 'H'},   {"rounds", required_argument, 0, 'r'},
	    {"budget", required_argument, 0, 'b'},  {"decode-n", required_argument, 0, 'D'},
	    {"no-peers", no_argument, 0, 'P'},      {"quick", no_argument, 0, 'q'},
	    {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
	attn_openblas_core_fixup(argv);
	const char *n_spec = "512..16384x2", *d_spec = "64,128", *t_spec = "1,2",
	           *dec_spec = "65536";
	int causal_lo = 0, causal_hi = 1, rounds = 5, peers = 1, heads = 1, c;
	double budget = 0.2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': n_spec = optarg; break;
		case 'd': d_spec = optarg; break;
		case 't': t_spec = optarg; break;
		case 'D': dec_spec = optarg; break;
		case 'P': peers = 0; break;
		case 'q':
			n_spec = "1024..4096x2";
			rounds = 3;
			break;
		case 'H': heads = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'b': budget = atof(optarg); break;
		case 'c':
			if (strcmp(optarg, "both") == 0)
				causal_lo = 0, causal_hi = 1;
			else if (strcmp(optarg, "0") == 0 || strcmp(optarg, "1") == 0)
				causal_lo = causal_hi = atoi(optarg);
			else {
				fprintf(stderr,
				        "bench_exact: --causal '%s': expected 0, 1 or both\n",
				        optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || heads < 1 || !(budget > 0)) {
		fprintf(stderr, "bench_exact: --rounds 1..%d, --heads >= 1, --budget > 0\n",
		        MAX_ROUNDS);
		return 2;
	}
	char err[512];
	struct attn_axis ns, ds, ts, dec;
	if (attn_axis_parse(n_spec, 1, 1 << 24, &ns, err, sizeof(err)) ||
	    attn_axis_parse(d_spec, 1, 1024, &ds, err, sizeof(err)) ||
	    attn_axis_parse(t_spec, 1, 256, &ts, err, sizeof(err)) ||
	    attn_axis_parse(dec_spec, 0, 1 << 24, &dec, err, sizeof(err))) {
		fprintf(stderr, "bench_exact: %s\n", err);
		return 2;
	}
	struct attn_registry *reg;
	if (attn_registry_init(&reg, err, sizeof(err))) {
		fprintf(stderr, "bench_exact: %s\n", err);
		return 2;
	}
	struct attn_sysinfo si;
	attn_sysinfo_collect(&si);
	char script[1024];
	snprintf(script, sizeof(script), "%s/bench/numpy_peer.py", ATTN_DATA_DIR);
	printf("# %s, OpenBLAS %s, %s; %d rounds, %.2f s per measurement\n",
	       attn_sysinfo_get(&si, "cpu_model"), attn_sysinfo_get(&si, "openblas_core"),
	       attn_sysinfo_get(&si, "git_commit"), rounds, budget);
	printf("%-3s %-4s %-3s %-6s %-5s | %8s | %8s %6s | %8s %6s | %8s %8s\n", "thr", "d", "cau",
	       "n", "heads", "sgemm", "flash", "/sgemm", "softmax", "/sgemm", "numpy", "flash/np");

	for (int ti = 0; ti < ts.count; ti++) {
		int T = (int)ts.values[ti];
		char cpus[256];
		/* Bound to T PUs, threads not pinned one by one: BLAS runs here too. */
		attn_bind_apply(T, ATTN_BIND_COMPACT, 0, cpus, sizeof(cpus), err, sizeof(err));
		struct peer pe = {0};
		if (peers && peer_start(&pe, T, script) != 0 && ti == 0)
			printf("# numpy peers: /usr/bin/python3 with numpy not found; skipped\n");
		for (int di = 0; di < ds.count; di++)
			for (int causal = causal_lo; causal <= causal_hi; causal++)
				for (int ni = 0; ni < ns.count; ni++) {
					struct attn_shape s = {.batch = 1,
					                       .heads = heads,
					                       .kv_heads = heads,
					                       .n = ns.values[ni],
					                       .d = ds.values[di],
					                       .causal = causal,
					                       .mode = ATTN_MODE_PREFILL};
					struct attn_workload w;
					struct bench_kernel fl, sm;
					if (attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 42,
					                        &w) ||
					    bench_kernel_init(&fl, attn_registry_find(reg, "flash"),
					                      NULL, &s, T, &w.in, NULL, 0) ||
					    bench_kernel_init(&sm,
					                      attn_registry_find(reg, "softmax"),
					                      NULL, &s, T, &w.in, NULL, 0)) {
						fprintf(stderr,
						        "bench_exact: out of memory at n=%lld\n",
						        (long long)s.n);
						return 1;
					}
					double flops = attn_call_flops(fl.m, &s, &fl.p);
					double g_sg[MAX_ROUNDS], g_fl[MAX_ROUNDS], g_sm[MAX_ROUNDS],
					    g_np[MAX_ROUNDS], r_fl[MAX_ROUNDS], r_sm[MAX_ROUNDS],
					    r_np[MAX_ROUNDS];
					for (int r = 0; r < rounds; r++) {
						bench_settle(T);
						g_sg[r] = attn_roof_sgemm_gflops(T, 2048, budget);
						g_sm[r] =
						    flops / bench_kernel_time(&sm, T, budget) / 1e9;
						g_fl[r] =
						    flops / bench_kernel_time(&fl, T, budget) / 1e9;
						bench_settle(T);
						g_np[r] = flops /
						          peer_time(&pe, s.n, s.d, causal, budget) /
						          1e9 / heads;
						r_fl[r] = g_fl[r] / g_sg[r];
						r_sm[r] = g_sm[r] / g_sg[r];
						r_np[r] = g_fl[r] / g_np[r];
					}
					printf(
					    "%-3d %-4lld %-3d %-6lld %-5d | %8.1f | %8.1f %6.2f | "
					    "%8.1f %6.2f | "
					    "%8.1f %8.2f\n",
					    T, (long long)s.d, causal, (long long)s.n, heads,
					    bench_median(g_sg, rounds), bench_median(g_fl, rounds),
					    bench_median(r_fl, rounds), bench_median(g_sm, rounds),
					    bench_median(r_sm, rounds), bench_median(g_np, rounds),
					    bench_median(r_np, rounds));
					fflush(stdout);
					bench_kernel_free(&fl);
					bench_kernel_free(&sm);
					attn_workload_free(&w);
				}
		peer_stop(&pe);

		/*
		 * Decode over a context large enough to leave the caches: 8 heads,
		 * so K and V are 8·2·N·d·4 bytes (512 MiB at N = 65536, d = 128).
		 */
		for (int ni = 0; ni < dec.count && dec.values[ni] > 0; ni++) {
			struct attn_shape s = {.batch = 1,
			                       .heads = 8,
			                       .kv_heads = 8,
			                       .n = dec.values[ni],
			                       .d = 128,
			                       .causal = 1,
			                       .mode = ATTN_MODE_DECODE};
			struct attn_workload w;
			struct bench_kernel fl;
			if (attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 42, &w) ||
			    bench_kernel_init(&fl, attn_registry_find(reg, "flash"), NULL, &s, T,
			                      &w.in, NULL, 0)) {
				fprintf(stderr, "bench_exact: out of memory for decode\n");
				return 1;
			}
			double kv = 2.0 * s.kv_heads * s.n * s.d * sizeof(float);
			double tri[MAX_ROUNDS], gb[MAX_ROUNDS], frac[MAX_ROUNDS];
			for (int r = 0; r < rounds; r++) {
				bench_settle(T);
				tri[r] = attn_roof_triad_gbps(
				    T, si.l3_bytes ? si.l3_bytes : 256 << 20, budget);
				gb[r] = kv / bench_kernel_time(&fl, T, budget) / 1e9;
				frac[r] = gb[r] / tri[r];
			}
			printf(
			    "%-3d decode n=%-7lld heads=8 d=128 | triad %6.1f GB/s | flash %6.1f "
			    "GB/s %5.2f of triad\n",
			    T, (long long)s.n, bench_median(tri, rounds), bench_median(gb, rounds),
			    bench_median(frac, rounds));
			fflush(stdout);
			bench_kernel_free(&fl);
			attn_workload_free(&w);
		}
	}
	attn_axis_free(&ns);
	attn_axis_free(&ds);
	attn_axis_free(&ts);
	attn_axis_free(&dec);
	attn_registry_free(reg);
	return 0;
}
