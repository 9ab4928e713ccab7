/*
 * Fuzz target: opening a database (store.h), which every verb does on
 * whatever file --db names: not SQLite, corrupt, foreign, older or newer.
 *
 * The input is the whole file. It is written to this process's directory
 * and opened in each of the three modes, on a fresh copy each time (no
 * -wal, -shm or -journal beside it): ATTN_STORE_READONLY, then
 * ATTN_STORE_EXISTING and ATTN_STORE_CREATE.
 *
 * Checked besides crashes, leaks and undefined behaviour, as store.h
 * promises: a refusal has a message and leaves the file byte for byte as it
 * was; a read-only open never changes it, refused or not; an accepted file
 * answers the read calls (an unfinished run, its roofs, a case) with a
 * value or an error with a message. A file accepted for writing takes a new
 * run with one case, and a case written with success is there when the file
 * is opened again read-only: nothing recorded is lost.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/status.h"
#include "attnbench/store.h"
#include "fuzz.h"

static char db_path[512];

/* The database file alone, as the input has it: what SQLite left beside it is removed. */
static void db_fresh(const uint8_t *data, size_t size)
{
	static const char *const side[] = {"-wal", "-shm", "-journal"};
	char p[600];

	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", db_path, side[i]);
		remove(p);
	}
	fuzz_write_file(db_path, data, size);
}

static int db_unchanged(const uint8_t *data, size_t size)
{
	size_t now_size = 0;
	uint8_t *now = fuzz_read_file(db_path, &now_size);
	int same = now && now_size == size && (size == 0 || memcmp(now, data, size) == 0);

	free(now);
	return same;
}

/* The calls a reader makes; each answers or fails with a message. */
static void read_calls(struct attn_store *st)
{
	char err[1024] = "", *spec = NULL;
	int64_t run = 0;
	struct attn_roof roofs[4];
	int n = -1;

	int rc = attn_store_run_find_unfinished(st, &run, &spec, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == ATTN_ERR_NOTFOUND || err[0], "find_unfinished %d, no message",
	           rc);
	FUZZ_CHECK(rc != 0 || spec != NULL, "an unfinished run without a spec");
	free(spec);
	if (rc != 0)
		run = 1;
	err[0] = '\0';
	rc = attn_store_run_roofs_load(st, run, roofs, 4, &n, err, sizeof(err));
	FUZZ_CHECK_MESSAGE(rc, err);
	FUZZ_CHECK(rc != 0 || (n >= 0 && n <= 4), "%d roofs loaded into 4", n);
	rc = attn_store_case_done(st, run, "fuzz");
	FUZZ_CHECK(rc == 0 || rc == 1 || rc < 0, "case_done %d", rc);
}

static struct attn_case_record record(void)
{
	static const double ns[2] = {100, 110};
	static const int64_t iters[2] = {1, 1};
	static const struct attn_metric m[2] = {{"median_ns", 105, 1, "ns"},
	                                        {"papi_tot_ins", 0, 0, "1"}};
	struct attn_case_record r = {.key = "fuzz-case",
	                             .method = "flash",
	                             .family = "full",
	                             .params = "",
	                             .batch = 1,
	                             .heads = 1,
	                             .kv_heads = 1,
	                             .n = 64,
	                             .d = 8,
	                             .mode = "prefill",
	                             .dist = "gaussian",
	                             .threads = 1,
	                             .seed = 42,
	                             .status = "ok",
	                             .message = "",
	                             .n_samples = 2,
	                             .sample_ns = ns,
	                             .sample_iters = iters,
	                             .n_metrics = 2,
	                             .metrics = m};
	return r;
}

/* A new run with one case; if the case was written, it is found on reopening. */
static void write_calls(struct attn_store *st)
{
	static const struct attn_kv info[] = {{"compiler", "fuzz"}};
	char err[1024] = "";
	int64_t run = 0;
	struct attn_case_record r = record();

	int rc = attn_store_run_begin(st, "fuzz", "n = 64\n", info, 1, &run, err, sizeof(err));
	FUZZ_CHECK_MESSAGE(rc, err);
	int written = 0;
	if (rc == 0) {
		rc = attn_store_case_write(st, run, &r, err, sizeof(err));
		FUZZ_CHECK_MESSAGE(rc, err);
		written = rc == 0;
		if (written)
			FUZZ_CHECK(attn_store_case_done(st, run, r.key) == 1,
			           "a case just written is missing");
		err[0] = '\0';
		rc = attn_store_run_set_status(st, run, "complete", err, sizeof(err));
		FUZZ_CHECK_MESSAGE(rc, err);
	}
	attn_store_close(st);
	if (!written)
		return;

	struct attn_store *ro = NULL;
	err[0] = '\0';
	rc = attn_store_open(db_path, ATTN_STORE_READONLY, &ro, err, sizeof(err));
	FUZZ_CHECK(rc == 0, "a database just written is refused: %s", err);
	FUZZ_CHECK(attn_store_case_done(ro, run, r.key) == 1,
	           "a case written is lost on reopening");
	attn_store_close(ro);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int modes[] = {ATTN_STORE_READONLY, ATTN_STORE_EXISTING, ATTN_STORE_CREATE};
	static const char *const names[] = {"read-only", "existing", "create"};

	if (!db_path[0])
		snprintf(db_path, sizeof(db_path), "%s/fuzz.db", fuzz_dir());
	for (int i = 0; i < 3; i++) {
		struct attn_store *st = NULL;
		char err[1024] = "";

		db_fresh(data, size);
		int rc = attn_store_open(db_path, modes[i], &st, err, sizeof(err));
		FUZZ_CHECK_MESSAGE(rc, err);
		FUZZ_CHECK((rc == 0) == (st != NULL), "%s open: status %d, store %p", names[i], rc,
		           (void *)st);
		if (rc == 0) {
			read_calls(st);
			if (modes[i] == ATTN_STORE_READONLY)
				attn_store_close(st);
			else
				write_calls(st); /* closes st */
		}
		FUZZ_CHECK(!(rc != 0 || modes[i] == ATTN_STORE_READONLY) ||
		               db_unchanged(data, size),
		           "%s open %s, and the file changed (%s)", names[i],
		           rc ? "refused" : "accepted", rc ? err : "read-only");
	}
	db_fresh(NULL, 0);
	remove(db_path);
	return 0;
}
