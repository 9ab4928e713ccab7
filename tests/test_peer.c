/*
 * Peers (harness/src/peer.c): descriptors loaded and refused, a correct
 * peer against the exact oracle in prefill, decode and GQA, a peer that
 * exits, crashes, hangs, talks nonsense, writes a wrong-shaped output or
 * declines, each with its status and message, a sweep mixing built-ins and
 * a peer, and no /dev/shm folder left behind by any of it. The fake peers
 * are tests/peers/ (Python), run with ${PYTHON} (numpy), found through
 * ATTNBENCH_PLUGIN_PATH.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/status.h"
#include "check_main.h"
#include "cli_run.h"
#include "db.h"
#include "tmpdir.h"

#define PEERS ATTN_SOURCE_DIR "/tests/peers"

static char dir[TMPDIR_LEN];

static void setup(void)
{
	tmpdir_make(dir, "peer");
	setenv("ATTNBENCH_PLUGIN_PATH", PEERS, 1);
}

static void teardown(void)
{
	tmpdir_remove(dir);
}

/* Peer folders in /dev/shm whose case process is gone: what a leak looks like. */
static int orphan_dirs(void)
{
	DIR *d = opendir("/dev/shm");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		long pid;
		if (sscanf(e->d_name, "attnbench-peer-%ld-", &pid) == 1 &&
		    (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* The number after "NAME": {"value": in the JSON of `run`, NaN when absent. */
static double json_metric(const char *name)
{
	char key[96];
	snprintf(key, sizeof(key), "\"%s\": {\"value\": ", name);
	const char *at = strstr(out, key);
	return at ? strtod(at + strlen(key), NULL) : NAN;
}

START_TEST(descriptors_load_and_bad_ones_are_refused)
{
	struct attn_registry *reg;
	char err[1024];
	ck_assert_int_eq(attn_registry_init(&reg, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_registry_load_peer(reg, PEERS "/fake_ok.peer", err, sizeof(err)),
	                 ATTN_OK);
	const struct attn_method *m = attn_registry_find(reg, "fake_ok");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->n_params, 2);
	ck_assert(m->flags & ATTN_METHOD_EXACT);
	int i = attn_registry_count(reg) - 1;
	ck_assert_str_eq(attn_registry_origin(reg, i), PEERS "/fake_ok.peer");
	/* The same name twice is refused, naming both. */
	ck_assert_int_eq(attn_registry_load_peer(reg, PEERS "/fake_ok.peer", err, sizeof(err)),
	                 ATTN_ERR_DUPLICATE);

	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"name = x\nfamily = full\ncolour = red\ncommand = true\n",
	     ":3: key 'colour': unknown"},
	    {"name = X!\n", ":1: key 'name': 'X!' is not"},
	    {"name = x\nfamily = dense\n", ":2: key 'family': 'dense' is not"},
	    {"name = x\nfamily = full\nsupports = causal sideways\ncommand = true\n",
	     ":3: key 'supports': 'sideways'"},
	    {"name = x\nfamily = full\nparam = w int 5 1 4 help\ncommand = true\n",
	     ":3: key 'param': 'w': default 5 is outside [1, 4]"},
	    {"name = x\nfamily = full\nparam = f enum a|b c help\ncommand = true\n",
	     ":3: key 'param': enum 'f': default 'c' is not one of a|b"},
	    {"name = x\nfamily = full\n", "key 'command': missing"},
	    {"name = x\nfamily = full\ncommand = true\nname = y\n", ":4: key 'name': given twice"},
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(*bad); k++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/bad%zu.peer", dir, k);
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(bad[k].text, f);
		fclose(f);
		int rc = attn_registry_load_peer(reg, path, err, sizeof(err));
		ck_assert_msg(rc != ATTN_OK && strstr(err, path) && strstr(err, bad[k].want),
		              "case %zu: rc %d, '%s'", k, rc, err);
	}
	attn_registry_free(reg);

	/* On the path, a bad one is a warning and the good ones still load. */
	char env[1200];
	snprintf(env, sizeof(env), "%s:%s", PEERS, dir);
	setenv("ATTNBENCH_PLUGIN_PATH", env, 1);
	ck_assert_int_eq(cli("list"), 0);
	ck_assert_msg(strstr(out, "fake_ok") && strstr(out, PEERS "/fake_ok.peer") &&
	                  strstr(out, "bad0.peer:3: key 'colour'"),
	              "%s", out);
}
END_TEST

START_TEST(a_correct_peer_meets_the_oracle)
{
	static const char *const shapes[] = {"--n 48 --heads 2 --causal",
	                                     "--n 40 --heads 4 --kv-heads 2",
	                                     "--n 64 --heads 2 --mode decode"};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(*shapes); i++) {
		int rc =
		    cli("run --method fake_ok %s --d 16 --min-time 0.02 --format json", shapes[i]);
		ck_assert_msg(rc == 0 && strstr(out, "\"status\": \"ok\""), "%s: %s", shapes[i],
		              out);
		double rel = json_metric("rel_err");
		ck_assert_msg(rel <= 1e-5, "%s: rel_err %g", shapes[i], rel);
		/* Its provenance, and what the round trips cost beside its own clock. */
		ck_assert_msg(strstr(out, "\"info\": \"version=numpy-"), "%s", out);
		ck_assert(json_metric("peer_overhead_ns") >= 0);
		ck_assert(json_metric("peer_overhead_frac") >= 0);
	}
	ck_assert_int_eq(orphan_dirs(), 0);
}
END_TEST

START_TEST(faults_are_recorded_with_their_status)
{
	char pidfile[600];
	snprintf(pidfile, sizeof(pidfile), "%s/peer.pid", dir);
	setenv("FAKE_PEER_PID_FILE", pidfile, 1);
	static const struct {
		const char *how, *status, *message;
	} faults[] = {
	    {"exit", "failed", "peer fake_bad exited with status 3 before answering `run`"},
	    {"segv", "crashed", "killed by signal 11"},
	    {"hang", "timeout", "no progress for 2 s"},
	    {"garbage", "failed", "peer protocol: expected 'ns N', got 'xyz'"},
	    {"shape", "failed_check", "output of shape (1, 2) float32; expected (1, 1, 32, 16)"},
	    {"unsupported", "unsupported", "this peer takes no cases"},
	};
	for (size_t i = 0; i < sizeof(faults) / sizeof(*faults); i++) {
		unlink(pidfile);
		cli("run --method fake_bad --param how=%s --n 32 --d 16 --timeout 2 --min-time "
		    "0.01 "
		    "--format json",
		    faults[i].how);
		char want[64];
		snprintf(want, sizeof(want), "\"status\": \"%s\"", faults[i].status);
		ck_assert_msg(strstr(out, want) && strstr(out, faults[i].message), "%s: %s",
		              faults[i].how, out);
		/* Every failure while it ran quotes its stderr. */
		if (strcmp(faults[i].how, "hang") && strcmp(faults[i].how, "unsupported"))
			ck_assert_msg(strstr(out, "fake_bad: about to"), "%s: %s", faults[i].how,
			              out);
		/* The peer is gone: it died with its case, at the latest. */
		FILE *f = fopen(pidfile, "r");
		long pid = 0;
		ck_assert_msg(f && fscanf(f, "%ld", &pid) == 1, "%s: no pid", faults[i].how);
		fclose(f);
		int alive = 1;
		for (int t = 0; t < 300 && alive; t++) {
			alive = kill((pid_t)pid, 0) == 0;
			struct timespec ts = {0, 10000000};
			nanosleep(&ts, NULL);
		}
		ck_assert_msg(!alive, "%s: the peer (pid %ld) outlived its case", faults[i].how,
		              pid);
	}
	unsetenv("FAKE_PEER_PID_FILE");
	ck_assert_int_eq(orphan_dirs(), 0);
}
END_TEST

START_TEST(a_sweep_interleaves_a_peer_with_built_ins)
{
	char db[600];
	snprintf(db, sizeof(db), "%s/s.db", dir);
	int rc = cli("sweep --db %s --methods flash,softmax,fake_ok --n 32,64 --d 16 --min-time "
	             "0.05 --warmup 0 --roof-budget 0 --interleave --quiet",
	             db);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE status='ok'"), 6);
	ck_assert_int_eq(db_file_int(db, "SELECT count(DISTINCT c.id) FROM cases c JOIN samples s "
	                                 "ON s.case_id = c.id"),
	                 6);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE method='fake_ok' AND "
	                                 "info LIKE 'version=numpy-% fake=ok'"),
	                 2);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM metrics m JOIN cases c ON c.id = "
	                                 "m.case_id WHERE c.method='fake_ok' AND m.name IN "
	                                 "('peer_overhead_ns','peer_overhead_frac','gflops')"),
	                 6);
	ck_assert_int_eq(orphan_dirs(), 0);
}
END_TEST

/* A peer's own roof replaces the harness's probe, scaled to ns per probe sgemm. */
START_TEST(a_peer_roof_replaces_the_probe)
{
	char db[600];
	snprintf(db, sizeof(db), "%s/r.db", dir);
	int rc = cli("sweep --db %s --methods softmax,fake_ok --n 32 --d 16 --min-time 0.02 "
	             "--warmup 0 --roof-budget 0 --roof-probe --quiet",
	             db);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	/* fake_ok says 1000 ns for 2e9 FLOPs; the probe's sgemm is 2 P^3 FLOPs. */
	double want = 1000.0 * 2.0 * ATTN_PROBE_N * ATTN_PROBE_N * ATTN_PROBE_N / 2e9;
	sqlite3 *h = db_file_open(db);
	int null = 0;
	double lo = db_real(h,
	                    "SELECT min(roof_ns) FROM samples s JOIN cases c ON c.id = s.case_id "
	                    "WHERE c.method = 'fake_ok'",
	                    &null);
	double hi = db_real(h,
	                    "SELECT max(roof_ns) FROM samples s JOIN cases c ON c.id = s.case_id "
	                    "WHERE c.method = 'fake_ok'",
	                    &null);
	ck_assert_msg(!null && fabs(lo - want) < 1e-9 * want && fabs(hi - want) < 1e-9 * want,
	              "roof_ns %g..%g, want %g", lo, hi, want);
	/* softmax keeps the harness's own probe. */
	ck_assert_int_gt(db_int(h, "SELECT count(*) FROM samples s JOIN cases c ON c.id = "
	                           "s.case_id WHERE c.method = 'softmax' AND roof_ns > 0"),
	                 0);
	sqlite3_close(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("peer");
	TCase *tc = tcase_create("peer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, descriptors_load_and_bad_ones_are_refused);
	tcase_add_test(tc, a_correct_peer_meets_the_oracle);
	tcase_add_test(tc, faults_are_recorded_with_their_status);
	tcase_add_test(tc, a_sweep_interleaves_a_peer_with_built_ins);
	tcase_add_test(tc, a_peer_roof_replaces_the_probe);
	suite_add_tcase(s, tc);
	return attn_test_run(s, CK_NORMAL);
}
