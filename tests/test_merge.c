/*
 * attnbench merge, end to end: real databases from the real `attnbench
 * sweep` (and, for the shard keys the sweep driver records, runs made with
 * the store API), merged by the real binary, the output read back with
 * SQLite. What issue 15 asks of the merge: the same shard twice adds
 * nothing; a half-done shard and then the finished one; two machines' runs
 * of one spec kept apart; an older schema migrated on a copy, the input
 * untouched; foreign, corrupt and text files refused with nothing written;
 * the output as its own input refused; conflicts refused or resolved; a
 * disk that fills at every write point of a merge leaving the output as it
 * was; missing and incomplete shards reported with exit 4; and the readers
 * (compare, fit, plot, export) working on the merged file.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attnbench/status.h"
#include "attnbench/store.h"

#include "check_main.h"
#include "cli_run.h"
#include "db.h"
#include "tmpdir.h"

/* A small sweep: 4 cases, each a fraction of a second. */
#define SWEEP_ARGS                                                                                 \
	"--methods flash,window --n 64,128 --d 16 --min-time 0 --min-reps 1 --warmup 0 "           \
	"--roof-budget 0 --counters none --quiet"

static char dir[TMPDIR_LEN];
static char err[1024];

static void setup(void)
{
	tmpdir_make(dir, "merge");
}

static void teardown(void)
{
	tmpdir_remove(dir);
}

/* dir/name (in one of 16 static buffers, used in turn, so a test can hold several). */
static const char *at(const char *name)
{
	static char bufs[16][TMPDIR_LEN + 64];
	static int k;
	char *b = bufs[k++ % 16];
	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

static void sweep_into(const char *path)
{
	int rc = cli("sweep --db %s " SWEEP_ARGS, path);
	ck_assert_msg(rc == 0, "sweep: %d: %s", rc, out);
}

/* --- what a file holds ------------------------------------------------------ */

struct buf {
	char *p;
	size_t n, cap;
};

static void put(struct buf *b, const char *s)
{
	size_t len = strlen(s);
	if (b->n + len + 1 > b->cap) {
		b->cap = 2 * (b->n + len + 1);
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	memcpy(b->p + b->n, s, len + 1);
	b->n += len;
}

/*
 * Every table's rows, sorted, each value quote()d: what a merge must leave
 * as it was (malloc'd). Read-only, so that it checkpoints nothing.
 */
static char *dump(const char *path)
{
	sqlite3 *db;
	ck_assert_msg(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "%s",
	              path);
	sqlite3_busy_timeout(db, 10000);
	struct buf b = {0};
	put(&b, "");
	sqlite3_stmt *t;
	ck_assert_int_eq(sqlite3_prepare_v2(db,
	                                    "SELECT name FROM sqlite_master WHERE type = 'table' "
	                                    "ORDER BY name",
	                                    -1, &t, NULL),
	                 SQLITE_OK);
	while (sqlite3_step(t) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(t, 0);
		char sql[512];
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", name);
		sqlite3_stmt *s;
		ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
		int n = sqlite3_column_count(s);
		sqlite3_finalize(s);
		/* sorted on every column: the same rows give the same text */
		char *q = sqlite3_mprintf("SELECT %s FROM \"%s\" ORDER BY 1", "*", name);
		for (int i = 2; i <= n; i++) {
			char *q2 = sqlite3_mprintf("%s, %d", q, i);
			sqlite3_free(q);
			q = q2;
		}
		ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
		sqlite3_free(q);
		put(&b, "== ");
		put(&b, name);
		put(&b, "\n");
		while (sqlite3_step(s) == SQLITE_ROW) {
			for (int i = 0; i < n; i++) {
				sqlite3_stmt *qs;
				ck_assert_int_eq(
				    sqlite3_prepare_v2(db, "SELECT quote(?)", -1, &qs, NULL),
				    SQLITE_OK);
				sqlite3_bind_value(qs, 1, sqlite3_column_value(s, i));
				ck_assert_int_eq(sqlite3_step(qs), SQLITE_ROW);
				put(&b, i ? "|" : "");
				put(&b, (const char *)sqlite3_column_text(qs, 0));
				sqlite3_finalize(qs);
			}
			put(&b, "\n");
		}
		sqlite3_finalize(s);
	}
	sqlite3_finalize(t);
	sqlite3_close(db);
	return b.p;
}

/* A file's bytes (malloc'd) and size; NULL, -1 when it is not there. */
static char *bytes_of(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	*len = -1;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)*len + 1);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(fread(b, 1, (size_t)*len, f), (size_t)*len);
	fclose(f);
	return b;
}

static long file_size_of(const char *path)
{
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	return (long)sb.st_size;
}

static void copy_file(const char *from, const char *to)
{
	long n;
	char *b = bytes_of(from, &n);
	ck_assert_ptr_nonnull(b);
	FILE *f = fopen(to, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(b, 1, (size_t)n, f), (size_t)n);
	ck_assert_int_eq(fclose(f), 0);
	free(b);
}

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* No private migration copy (.attnbench-merge-*) was left in dir. */
static void no_copies_left(void)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	while ((e = readdir(d)))
		ck_assert_msg(strncmp(e->d_name, ".attnbench-merge-", 17) != 0, "%s left in %s",
		              e->d_name, dir);
	closedir(d);
}

/*
 * The fuzz seeds (tests/fuzz/make_seed_db.c) in dir/seeds: v1.db (schema 1),
 * newer.db (a newer schema), foreign.db (another program's), attnbench.db.
 */
static void seeds(void)
{
	char cmd[TMPDIR_LEN + 512];
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/seeds && %s %s/seeds", dir, ATTN_MAKE_SEED_DB, dir);
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

/* --- runs with the sweep driver's shard keys, through the store API -------- */

struct shard {
	const char *sweep_id; /* NULL: an unsharded run */
	int index, count;
	int shard_cases;
	const char *host;
	const char *status;
	const char *const *keys;
	int n_keys;
	double ns;       /* the samples are ns, ns + 1, ns + 2: equal ns, equal results */
	int sweep_cases; /* 0: count x shard_cases */
};

static struct attn_case_record record(const char *key, const double *ns)
{
	static const int64_t it[3] = {1, 1, 1};
	static struct attn_metric m[1] = {{"median_ns", 0, 1, "ns"}};
	m[0].value = ns[1];
	struct attn_case_record r = {.key = key,
	                             .method = "flash",
	                             .family = "full",
	                             .params = "bq=64,bk=64",
	                             .batch = 1,
	                             .heads = 1,
	                             .kv_heads = 1,
	                             .n = 64,
	                             .d = 16,
	                             .mode = "prefill",
	                             .dist = "gaussian",
	                             .threads = 1,
	                             .seed = 42,
	                             .status = "ok",
	                             .n_samples = 3,
	                             .sample_ns = ns,
	                             .sample_iters = it,
	                             .n_metrics = 1,
	                             .metrics = m};
	return r;
}

/* A run as a shard of a sweep writes it, into the database at path (created). */
static void make_shard(const char *path, const struct shard *sh)
{
	char shard[32], idx[16], cnt[16], sc[16];
	snprintf(shard, sizeof(shard), "%d/%d", sh->index, sh->count);
	snprintf(idx, sizeof(idx), "%d", sh->index);
	snprintf(cnt, sizeof(cnt), "%d", sh->count);
	snprintf(sc, sizeof(sc), "%d", sh->shard_cases);
	char swc[16];
	snprintf(swc, sizeof(swc), "%d",
	         sh->sweep_cases ? sh->sweep_cases : sh->count * sh->shard_cases);
	struct attn_kv info[] = {{"hostname", sh->host},     {"cpu_model", "Test CPU"},
	                         {"sweep_id", sh->sweep_id}, {"shard", shard},
	                         {"shard_index", idx},       {"shard_count", cnt},
	                         {"shard_cases", sc},        {"spec_hash", "0123456789abcdef"},
	                         {"sweep_cases", swc}};
	struct attn_store *st = db_store_open(path, ATTN_STORE_CREATE);
	int64_t run;
	ck_assert_msg(attn_store_run_begin(st, "attnbench sweep", "n = 64\n", info,
	                                   sh->sweep_id ? 9 : 2, &run, err, sizeof(err)) == ATTN_OK,
	              "%s", err);
	double ns[3] = {sh->ns, sh->ns + 1, sh->ns + 2};
	for (int i = 0; i < sh->n_keys; i++) {
		struct attn_case_record r = record(sh->keys[i], ns);
		ck_assert_msg(attn_store_case_write(st, run, &r, err, sizeof(err)) == ATTN_OK, "%s",
		              err);
	}
	ck_assert_int_eq(attn_store_run_set_status(st, run, sh->status, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_store_run_release(st, run, err, sizeof(err)), ATTN_OK);
	attn_store_close(st);
}

/* Add keys to the (only) run of the database at path and mark it status. */
static void finish_shard(const char *path, const char *const *keys, int n, double ns0,
                         const char *status)
{
	struct attn_store *st = db_store_open(path, ATTN_STORE_EXISTING);
	int64_t run = 1;
	ck_assert_msg(attn_store_run_claim(st, run, 0, err, sizeof(err)) == ATTN_OK, "%s", err);
	double ns[3] = {ns0, ns0 + 1, ns0 + 2};
	for (int i = 0; i < n; i++) {
		struct attn_case_record r = record(keys[i], ns);
		ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	}
	ck_assert_int_eq(attn_store_run_set_status(st, run, status, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_store_run_release(st, run, err, sizeof(err)), ATTN_OK);
	attn_store_close(st);
}

static const char *const keys4[] = {"k1", "k2", "k3", "k4"};

/* --- the tests ------------------------------------------------------------- */

/* The same shard twice: the second merge adds nothing and says so. */
START_TEST(same_shard_twice)
{
	const char *a = at("a.db"), *all = at("all.db");
	sweep_into(a);
	int rc = cli("merge --out %s %s", all, a);
	ck_assert_msg(rc == 0, "%d: %s", rc, out);
	ck_assert_msg(strstr(out, "1 run (host ") && strstr(out, "4 cases added, 0 already there"),
	              "%s", out);
	char *first = dump(all);
	rc = cli("merge --out %s %s", all, a);
	ck_assert_msg(rc == 0, "%d: %s", rc, out);
	ck_assert_msg(strstr(out, "nothing new (1 run") && strstr(out, "4 cases already there"),
	              "%s", out);
	char *second = dump(all);
	ck_assert_str_eq(first, second);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM runs"), 1);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM cases"), 4);
	/* everything of the run came, with its uuid; its claim did not */
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM samples"),
	                 db_file_int(a, "SELECT count(*) FROM samples"));
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM metrics"),
	                 db_file_int(a, "SELECT count(*) FROM metrics"));
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM run_info"),
	                 db_file_int(a, "SELECT count(*) FROM run_info"));
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM run_owner"), 0);
	ck_assert_int_eq(db_file_int(all, "SELECT length(uuid) FROM runs"), 32);
	/* the run is the same run in both files */
	sqlite3 *db = db_file_open(all);
	char *sql = sqlite3_mprintf("ATTACH %Q AS a", a);
	db_exec(db, sql);
	sqlite3_free(sql);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM runs r JOIN a.runs s ON s.uuid = r.uuid"),
	                 1);
	sqlite3_close(db);
	free(first);
	free(second);
}
END_TEST

/* A shard merged half done, then finished: it gains the rest and completes. */
START_TEST(half_then_finished)
{
	const char *half = at("half.db"), *full = at("full.db"), *all = at("all.db");
	struct shard sh = {"sw/1", 1, 1, 4, "node1", "interrupted", keys4, 2, 100, 0};
	make_shard(half, &sh);
	db_file_copy(half, full);
	finish_shard(full, keys4 + 2, 2, 100, "complete");
	int rc = cli("merge --out %s %s", all, half);
	ck_assert_msg(rc == 4, "%d: %s", rc, out);
	ck_assert_msg(strstr(out, "incomplete: 1 (interrupted, 2 of 4 cases"), "%s", out);
	rc = cli("merge --out %s %s", all, full);
	ck_assert_msg(rc == 0, "%d: %s", rc, out);
	ck_assert_msg(strstr(out, "2 cases added, 2 already there"), "%s", out);
	ck_assert_msg(strstr(out, "1 run moved forward"), "%s", out);
	ck_assert_msg(strstr(out, "sweep sw/1: all 1 shard present and complete (4 cases)"), "%s",
	              out);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM runs"), 1);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM cases"), 4);
	ck_assert_int_eq(db_file_int(all, "SELECT status = 'complete' FROM runs"), 1);
	ck_assert_int_eq(db_file_int(all, "SELECT finished_at IS NOT NULL FROM runs"), 1);
	/* and the half-done file again does not move it back */
	rc = cli("merge --out %s %s", all, half);
	ck_assert_msg(rc == 0 && strstr(out, "nothing new"), "%d: %s", rc, out);
	ck_assert_int_eq(db_file_int(all, "SELECT status = 'complete' FROM runs"), 1);
}
END_TEST

/* Two machines' runs of one spec stay two runs, each with its own provenance. */
START_TEST(two_machines)
{
	const char *a = at("a.db"), *b = at("b.db"), *all = at("all.db");
	sweep_into(a);
	sweep_into(b);
	/* the second machine, faked: its host and CPU */
	db_file_exec(b, "UPDATE runs SET hostname = 'other-host', cpu_model = 'Other CPU';"
	                "UPDATE run_info SET value = 'Other CPU' WHERE key = 'cpu_model'");
	int rc = cli("merge --out %s %s %s", all, a, b);
	ck_assert_msg(rc == 0, "%d: %s", rc, out);
	ck_assert_msg(strstr(out, "(host other-host)"), "%s", out);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM runs"), 2);
	ck_assert_int_eq(db_file_int(all, "SELECT count(DISTINCT hostname) FROM runs"), 2);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM cases"), 8);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM runs r WHERE hostname = "
	                                  "'other-host' AND cpu_model = 'Other CPU' AND (SELECT "
	                                  "value FROM run_info WHERE run_id = r.id AND key = "
	                                  "'cpu_model') = 'Other CPU'"),
	                 1);
	/* every case under its own run, none moved to the other machine's */
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM cases c JOIN runs r ON r.id = "
	                                  "c.run_id WHERE r.hostname = 'other-host'"),
	                 4);
	/* the readers work on it and see both runs */
	ck_assert_msg(cli("export --db %s --format json", all) == 0, "%s", out);
	ck_assert_msg(strstr(out, "other-host") && strstr(out, "\"run_id\": 1") &&
	                  strstr(out, "\"run_id\": 2"),
	              "%.2000s", out);
	ck_assert_msg(cli("export --db %s", all) == 0, "%s", out);
	ck_assert_msg(cli("fit --db %s --run 1 --min-points 2", all) == 0, "%s", out);
	ck_assert_msg(cli("fit --db %s --run 2 --min-points 2", all) == 0, "%s", out);
	ck_assert_msg(cli("plot --db %s --run 2 --out %s/plots", all, dir) == 0, "%s", out);
	ck_assert_msg(cli("compare --baseline %s --baseline-run 1 --current %s --current-run 2 "
	                  "--allow-other-machine",
	                  all, all) == 0,
	              "%s", out);
}
END_TEST

/* A copy of path turned into a schema-8 file: no runs.uuid, marked 8, no WAL. */
static void make_v8(const char *path)
{
	db_file_exec(path, "DROP INDEX runs_uuid; ALTER TABLE runs DROP COLUMN uuid;"
	                   "UPDATE meta SET value = '8' WHERE key = 'schema_version';"
	                   "PRAGMA journal_mode = 'delete'");
}

/* An older schema is migrated on a private copy; the input stays byte for byte as it was. */
START_TEST(older_schema)
{
	const char *v8 = at("v8.db"), *v8b = at("v8b.db"), *all = at("all.db");
	sweep_into(v8);
	make_v8(v8);
	copy_file(v8, v8b);
	long l0, l1;
	struct stat s0, s1;
	char *before = bytes_of(v8, &l0);
	ck_assert_int_eq(stat(v8, &s0), 0);
	sleep(1); /* an mtime that moved would show */
	/* the readers read it as it is, without a uuid */
	ck_assert_msg(cli("export --db %s", v8) == 0, "%s", out);
	int rc = cli("merge --out %s %s", all, v8);
	ck_assert_msg(rc == 0, "%d: %s", rc, out);
	ck_assert_msg(strstr(out, "4 cases added"), "%s", out);
	char *after = bytes_of(v8, &l1);
	ck_assert_int_eq(stat(v8, &s1), 0);
	ck_assert(l0 == l1 && memcmp(before, after, (size_t)l0) == 0);
	ck_assert(s0.st_mtim.tv_sec == s1.st_mtim.tv_sec &&
	          s0.st_mtim.tv_nsec == s1.st_mtim.tv_nsec);
	ck_assert(!exists(at("v8.db-wal")) && !exists(at("v8.db-journal")));
	no_copies_left();
	ck_assert_int_eq(db_file_int(all, "SELECT length(uuid) FROM runs"), 32);
	/* the same old file, migrated apart, is the same run: nothing new */
	rc = cli("merge --out %s %s", all, v8b);
	ck_assert_msg(rc == 0 && strstr(out, "nothing new (1 run"), "%d: %s", rc, out);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM runs"), 1);
	/* and as old as the first schema (the fuzz seeds' v1.db: a run with no host) */
	seeds();
	const char *v1 = at("seeds/v1.db");
	char *v1_before = bytes_of(v1, &l0);
	rc = cli("merge --out %s %s", all, v1);
	ck_assert_msg(rc == 0 && strstr(out, "1 run (host unknown), 1 case added"), "%d: %s", rc,
	              out);
	char *v1_after = bytes_of(v1, &l1);
	ck_assert(l0 == l1 && memcmp(v1_before, v1_after, (size_t)l0) == 0);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM runs"), 2);
	ck_assert_int_eq(db_file_int(all, "SELECT ns FROM samples s JOIN cases c ON c.id = "
	                                  "s.case_id WHERE c.key = 'k'"),
	                 123);
	no_copies_left();
	free(before);
	free(after);
	free(v1_before);
	free(v1_after);
}
END_TEST

/*
 * Inputs that are not attnbench databases (another program's SQLite file,
 * a corrupt one, a text file, a newer schema, no file): refused, exit 3,
 * nothing written - an output that was not there is not created, one that
 * was is byte for byte as before, also when good inputs came with the bad.
 */
START_TEST(refused_inputs)
{
	const char *a = at("a.db"), *all = at("all.db"), *none = at("none.db");
	sweep_into(a);
	seeds();
	const char *foreign = at("seeds/foreign.db"), *corrupt = at("corrupt.db"),
	           *text = at("notes.txt"), *newer = at("seeds/newer.db");
	FILE *f = fopen(text, "w");
	ck_assert_ptr_nonnull(f);
	fputs("just some notes, not a database\n", f);
	fclose(f);
	/* a corrupt one: pages past the schema scribbled over */
	db_file_copy(a, corrupt);
	db_file_exec(corrupt, "PRAGMA journal_mode = 'delete'");
	f = fopen(corrupt, "r+b");
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	for (long off = 2 * 4096; off < len; off += 4096) {
		fseek(f, off + 8, SEEK_SET);
		for (int i = 0; i < 64; i++)
			fputc(0xEE, f);
	}
	fclose(f);
	struct {
		const char *path, *says;
	} bad[] = {{foreign, "another program"},
	           {corrupt, "corrupt"},
	           {text, "not a database"},
	           {newer, "newer than"},
	           {at("missing.db"), "cannot open"}};
	ck_assert_int_eq(cli("merge --out %s %s", all, a), 0);
	long l0, l1;
	char *before = bytes_of(all, &l0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int rc = cli("merge --out %s %s", none, bad[i].path);
		ck_assert_msg(rc == 3 && strstr(out, bad[i].path) && strstr(out, bad[i].says),
		              "%s: %d: %s", bad[i].path, rc, out);
		ck_assert_msg(!exists(none), "%s: the output was created", bad[i].path);
		/* with a good input before it: still nothing written */
		rc = cli("merge --out %s %s %s", all, a, bad[i].path);
		ck_assert_msg(rc == 3 && strstr(out, "nothing was merged"), "%s: %d: %s",
		              bad[i].path, rc, out);
		char *after = bytes_of(all, &l1);
		ck_assert_msg(l0 == l1 && memcmp(before, after, (size_t)l0) == 0,
		              "%s: the output changed", bad[i].path);
		free(after);
	}
	/* the output itself foreign: refused before anything is written */
	int rc = cli("merge --out %s %s", foreign, a);
	ck_assert_msg(rc == 3 && strstr(out, "another program"), "%d: %s", rc, out);
	ck_assert_int_eq(db_file_int(foreign, "SELECT count(*) FROM sqlite_master"), 1);
	free(before);
}
END_TEST

/* The output as its own input, by name, by link or by its -wal: refused, exit 2. */
START_TEST(input_is_output)
{
	const char *a = at("a.db"), *all = at("all.db"), *sym = at("sym.db"), *hard = at("hard.db");
	sweep_into(a);
	ck_assert_int_eq(cli("merge --out %s %s", all, a), 0);
	ck_assert_int_eq(symlink(all, sym), 0);
	ck_assert_int_eq(link(all, hard), 0);
	const char *ins[] = {all, sym, hard};
	for (int i = 0; i < 3; i++) {
		int rc = cli("merge --out %s %s", all, ins[i]);
		ck_assert_msg(rc == 2 && strstr(out, "cannot be merged into itself"), "%s: %d: %s",
		              ins[i], rc, out);
	}
	/* while a reader holds it, its -wal is there */
	sqlite3 *db = db_file_open(all);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM runs"), 1);
	char wal[TMPDIR_LEN + 64];
	snprintf(wal, sizeof(wal), "%s-wal", all);
	ck_assert(exists(wal));
	int rc = cli("merge --out %s %s", all, wal);
	ck_assert_msg(rc == 2 && strstr(out, "itself"), "%d: %s", rc, out);
	sqlite3_close(db);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM runs"), 1);
}
END_TEST

/* Usage: --out required, --prefer's values, --help. */
START_TEST(usage)
{
	ck_assert_int_eq(cli("merge --help"), 0);
	ck_assert(strstr(out, "--prefer old"));
	ck_assert_int_eq(cli("merge %s/a.db", dir), 2);
	ck_assert(strstr(out, "--out"));
	ck_assert_int_eq(cli("merge --out %s/all.db", dir), 2);
	ck_assert(strstr(out, "no input"));
	ck_assert_int_eq(cli("merge --out %s/all.db --prefer newest %s/a.db", dir, dir), 2);
	ck_assert(strstr(out, "--prefer 'newest'"));
	ck_assert(!exists(at("all.db")));
	ck_assert_int_eq(cli("--help"), 0);
	ck_assert(strstr(out, "merge"));
}
END_TEST

/*
 * Two shards of one sweep claiming the same case with different results:
 * refused (exit 2, nothing of the second written) without --prefer;
 * --prefer old keeps the first, --prefer new takes the second. The same
 * result twice is no conflict.
 */
START_TEST(conflicts)
{
	const char *s1 = at("s1.db"), *s2 = at("s2.db"), *same = at("same.db"), *all = at("all.db");
	static const char *const k12[] = {"k1", "k2"}, *const k23[] = {"k2", "k3"};
	/* shards that overlap on k2: the sweep has 3 cases */
	struct shard a = {"sweepA/2", 1, 2, 2, "node1", "complete", k12, 2, 100, 3};
	struct shard b = {"sweepA/2", 2, 2, 2, "node2", "complete", k23, 2, 500, 3};
	make_shard(s1, &a);
	make_shard(s2, &b);
	b.ns = 100; /* k2 as shard 1 has it */
	make_shard(same, &b);
	/* alone, shard 1 of 2 is a sweep lacking a shard */
	ck_assert_int_eq(cli("merge --out %s %s", all, s1), 4);
	ck_assert_msg(strstr(out, "missing: 2"), "%s", out);
	char *first = dump(all);
	int rc = cli("merge --out %s %s", all, s2);
	ck_assert_msg(rc == 2, "%d: %s", rc, out);
	ck_assert_msg(strstr(out, "sweep sweepA/2") && strstr(out, "case k2") &&
	                  strstr(out, "node1") && strstr(out, "node2") && strstr(out, all) &&
	                  strstr(out, s2) && strstr(out, "--prefer"),
	              "%s", out);
	char *after = dump(all);
	ck_assert_str_eq(first, after);
	free(after);

	/* identical: present, not a conflict */
	const char *all3 = at("all3.db");
	ck_assert_int_eq(cli("merge --out %s %s", all3, s1), 4);
	rc = cli("merge --out %s %s", all3, same);
	ck_assert_msg(rc == 0 && strstr(out, "1 case added, 1 already there"), "%d: %s", rc, out);
	ck_assert_int_eq(db_file_int(all3, "SELECT count(*) FROM cases WHERE key = 'k2'"), 1);

	/* old wins */
	rc = cli("merge --out %s --prefer old %s", all, s2);
	ck_assert_msg(rc == 0 && strstr(out, "1 kept old, 0 took new"), "%d: %s", rc, out);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM cases WHERE key = 'k2'"), 1);
	ck_assert_int_eq(db_file_int(all, "SELECT r.hostname = 'node1' FROM cases c JOIN runs r "
	                                  "ON r.id = c.run_id WHERE c.key = 'k2'"),
	                 1);
	ck_assert_int_eq(db_file_int(all, "SELECT count(*) FROM cases"), 3);
	/* k2 is in shard 1, k3 in shard 2: the sweep has its 3 cases */
	ck_assert_msg(strstr(out, "all 2 shards present and complete (3 cases)"), "%s", out);

	/* new wins: the held case and its rows go */
	const char *all2 = at("all2.db");
	ck_assert_int_eq(cli("merge --out %s %s", all2, s1), 4);
	rc = cli("merge --out %s --prefer new %s", all2, s2);
	ck_assert_msg(rc == 0 && strstr(out, "0 kept old, 1 took new"), "%d: %s", rc, out);
	ck_assert_int_eq(db_file_int(all2, "SELECT count(*) FROM cases WHERE key = 'k2'"), 1);
	ck_assert_int_eq(db_file_int(all2, "SELECT r.hostname = 'node2' FROM cases c JOIN runs r "
	                                   "ON r.id = c.run_id WHERE c.key = 'k2'"),
	                 1);
	ck_assert_int_eq(db_file_int(all2, "SELECT min(ns) FROM samples s JOIN cases c ON c.id = "
	                                   "s.case_id WHERE c.key = 'k2'"),
	                 500);
	ck_assert_int_eq(db_file_int(all2, "SELECT count(*) FROM samples"), 9);
	ck_assert_int_eq(db_file_int(all2, "SELECT count(*) FROM metrics"), 3);
	free(first);
}
END_TEST

/* Missing and incomplete shards, and runs that disagree: listed, exit 4. */
START_TEST(missing_shards)
{
	static const char *const k1[] = {"a1", "a2"}, *const k3[] = {"c1"};
	struct shard one = {"sw3", 1, 3, 2, "n1", "complete", k1, 2, 100, 0};
	struct shard three = {"sw3", 3, 3, 2, "n3", "interrupted", k3, 1, 100, 0};
	const char *p1 = at("p1.db"), *p3 = at("p3.db"), *all = at("all.db");
	make_shard(p1, &one);
	make_shard(p3, &three);
	int rc = cli("merge --out %s %s %s", all, p1, p3);
	ck_assert_msg(rc == 4, "%d: %s", rc, out);
	ck_assert_msg(strstr(out, "merge: sweep sw3: shards 1,3 of 3 present; missing: 2; "
	                          "incomplete: 3 (interrupted, 1 of 2 cases, host n3)"),
	              "%s", out);
	/* --quiet keeps the report of what is lacking */
	rc = cli("merge --quiet --out %s %s", all, p1);
	ck_assert_msg(rc == 4 && strstr(out, "missing: 2") && !strstr(out, "nothing new"), "%d: %s",
	              rc, out);
	/* a second run claiming shard 1, and one that counts other shards */
	struct shard again = {"sw3", 1, 3, 2, "n9", "complete", k1, 2, 100, 0};
	struct shard other = {"sw3", 2, 4, 2, "n2", "complete", k3, 1, 100, 0};
	const char *p1b = at("p1b.db"), *p2 = at("p2.db");
	make_shard(p1b, &again);
	make_shard(p2, &other);
	rc = cli("merge --out %s --prefer old %s %s", all, p1b, p2);
	ck_assert_msg(rc == 4 && strstr(out, "shard 1 is claimed by two runs") &&
	                  strstr(out, "disagree on shard_count"),
	              "%d: %s", rc, out);
}
END_TEST

/* The counts line ATTNBENCH_FAULT_LOG ends with: how many writes a run made. */
static long long writes_of(const char *log, long long *syncs)
{
	FILE *f = fopen(log, "r");
	ck_assert_msg(f != NULL, "%s: no fault log", log);
	char line[256];
	long long w = -1, s, o, m;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "counts write=%lld sync=%lld open=%lld malloc=%lld", &w, &s, &o,
		           &m) != 4)
			continue;
	fclose(f);
	ck_assert_msg(w > 0, "%s has no counts line", log);
	*syncs = s;
	return w;
}

/*
 * A disk that fills during the second input's merge, at write points
 * spread over the whole merge (a v9 input, and a v8 one migrated on a
 * copy): exit 3 naming why, the output exactly as after the first input
 * (or, for a fault after the commit, exactly as after both), no copy left
 * behind; and the same merge without the fault completes it.
 */
START_TEST(disk_fills)
{
	char a[TMPDIR_LEN + 16], b[TMPDIR_LEN + 16], b8[TMPDIR_LEN + 16], base[TMPDIR_LEN + 16],
	    ref[TMPDIR_LEN + 16], log[TMPDIR_LEN + 16], o[TMPDIR_LEN + 16];
	snprintf(a, sizeof(a), "%s/a.db", dir);
	snprintf(b, sizeof(b), "%s/b.db", dir);
	snprintf(b8, sizeof(b8), "%s/b8.db", dir);
	snprintf(base, sizeof(base), "%s/base.db", dir);
	snprintf(ref, sizeof(ref), "%s/ref.db", dir);
	snprintf(log, sizeof(log), "%s/fault.log", dir);
	snprintf(o, sizeof(o), "%s/o.db", dir);
	sweep_into(a);
	sweep_into(b);
	db_file_copy(b, b8);
	make_v8(b8);
	ck_assert_int_eq(cli("merge --out %s %s", base, a), 0);
	char *after_first = dump(base);
	const char *seconds[] = {b, b8};
	for (int k = 0; k < 2; k++) {
		const char *in = seconds[k];
		remove(ref);
		copy_file(base, ref);
		unlink(log);
		setenv("ATTNBENCH_FAULT_LOG", log, 1);
		ck_assert_msg(cli("merge --out %s %s", ref, in) == 0, "%s", out);
		unsetenv("ATTNBENCH_FAULT_LOG");
		long long syncs, w = writes_of(log, &syncs);
		char *after_both = dump(ref);
		ck_assert_str_ne(after_first, after_both);
		int failed = 0;
		/* every write filling the disk (a spread when there are many), every sync failing
		 */
		for (int kind = 0; kind < 2; kind++) {
			long long points = kind ? syncs : w, step = points > 60 ? points / 60 : 1;
			for (long long p = 1; p <= points; p += step) {
				char side[TMPDIR_LEN + 80], spec[64];
				remove(o);
				snprintf(side, sizeof(side), "%s-wal", o);
				remove(side);
				snprintf(side, sizeof(side), "%s-shm", o);
				remove(side);
				copy_file(base, o);
				snprintf(spec, sizeof(spec), "%s:%lld", kind ? "sync" : "full", p);
				setenv("ATTNBENCH_FAULT", spec, 1);
				int rc = cli("merge --out %s %s", o, in);
				unsetenv("ATTNBENCH_FAULT");
				char *d = dump(o);
				if (rc != 0) {
					ck_assert_msg(rc == 3, "%s %s: exit %d: %s", in, spec, rc,
					              out);
					ck_assert_msg(
					    strstr(out, kind ? "I/O error" : "disk is full") &&
					        strstr(out, "ATTNBENCH_FAULT"),
					    "%s %s: no reason: %s", in, spec, out);
					int before = strcmp(d, after_first) == 0;
					/* a fault after the commit: merged, and the message says so
					 */
					ck_assert_msg(
					    before || (strcmp(d, after_both) == 0 &&
					               strstr(out, "merged and committed")),
					    "%s %s: the output is neither as before nor as "
					    "after: %s",
					    in, spec, out);
					ck_assert_msg(!before || strstr(out, "left as it was"),
					              "%s %s: %s", in, spec, out);
					failed += before;
				} else {
					ck_assert_msg(strcmp(d, after_both) == 0,
					              "%s %s: exit 0, output wrong", in, spec);
				}
				free(d);
				no_copies_left();
				/* again without the fault: complete */
				rc = cli("merge --out %s %s", o, in);
				ck_assert_msg(rc == 0, "%s %s: the merge after the fault: %d: %s",
				              in, spec, rc, out);
				d = dump(o);
				ck_assert_msg(strcmp(d, after_both) == 0,
				              "%s %s: not complete after re-run", in, spec);
				free(d);
			}
		}
		ck_assert_msg(failed > 0, "%s: no fault point failed the merge", in);
		free(after_both);
	}
	free(after_first);
}
END_TEST

/*
 * A real full disk: the output on a tmpfs of this test's own mount
 * namespace, sized from a little over the output after the first input
 * upwards. At each size the second input's merge either fits or stops with
 * exit 3 on a full disk, the output as after the first input; then the
 * tmpfs grows and the same merge completes it. Until some size stops one
 * and a later one lets it in.
 */
START_TEST(tmpfs_fills)
{
	char mnt[TMPDIR_LEN + 16], o[TMPDIR_LEN + 32], a[TMPDIR_LEN + 16], b[TMPDIR_LEN + 16],
	    base[TMPDIR_LEN + 16];
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	snprintf(o, sizeof(o), "%s/all.db", mnt);
	snprintf(a, sizeof(a), "%s/a.db", dir);
	snprintf(b, sizeof(b), "%s/b.db", dir);
	snprintf(base, sizeof(base), "%s/base.db", dir);
	sweep_into(a);
	sweep_into(b);
	ck_assert_int_eq(cli("merge --out %s %s", base, a), 0);
	char *after_first = dump(base);
	long base_len = file_size_of(base);
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0) {
		ck_assert_msg(errno == EPERM, "mount tmpfs on %s: %s", mnt, strerror(errno));
		fprintf(stderr,
		        "test_merge: tmpfs_fills: the full-disk check needs mount "
		        "(CAP_SYS_ADMIN): %s; this one check did not run\n",
		        strerror(errno));
		free(after_first);
		return;
	}
	int stopped = 0, fitted = 0;
	for (long kib = base_len / 1024 + 8; kib <= 8192 && !fitted; kib += 16) {
		char opts[32];
		snprintf(opts, sizeof(opts), "size=%ldk", kib);
		ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
		ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, opts), 0);
		copy_file(base, o);
		int rc = cli("merge --out %s %s", o, b);
		ck_assert_msg(rc == 0 || rc == 3, "%s: exit %d: %s", opts, rc, out);
		/* the disk grows (a reader needs room for the -shm too), then is read */
		ck_assert_int_eq(
		    mount(NULL, mnt, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, "size=16m"), 0);
		char *d = dump(o);
		if (rc == 3) {
			ck_assert_msg(strstr(out, "full"),
			              "%s: exit 3 without saying the disk is full: %s", opts, out);
			if (!strstr(out, "merged and committed")) {
				ck_assert_msg(strcmp(d, after_first) == 0,
				              "%s: the output is not as it was: %s", opts, out);
				stopped = 1;
			}
		}
		fitted = rc == 0;
		free(d);
		/* and the same merge completes it */
		rc = cli("merge --out %s %s", o, b);
		ck_assert_msg(rc == 0, "%s: after growing: exit %d: %s", opts, rc, out);
		ck_assert_int_eq(db_file_int(o, "SELECT count(*) FROM runs"), 2);
		ck_assert_int_eq(db_file_int(o, "SELECT count(*) FROM cases"), 8);
	}
	ck_assert_msg(fitted, "the merge never fitted");
	ck_assert_msg(stopped, "no size stopped the merge");
	umount2(mnt, MNT_DETACH);
	free(after_first);
}
END_TEST

static Suite *merge_suite(void)
{
	Suite *s = suite_create("merge");
	TCase *tc = tcase_create("merge");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, same_shard_twice);
	tcase_add_test(tc, half_then_finished);
	tcase_add_test(tc, two_machines);
	tcase_add_test(tc, older_schema);
	tcase_add_test(tc, refused_inputs);
	tcase_add_test(tc, input_is_output);
	tcase_add_test(tc, usage);
	tcase_add_test(tc, conflicts);
	tcase_add_test(tc, missing_shards);
	tcase_add_test(tc, disk_fills);
	tcase_add_test(tc, tmpfs_fills);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return attn_test_run(merge_suite(), CK_NORMAL);
}
