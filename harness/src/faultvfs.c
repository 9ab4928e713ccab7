/*
 * Fault injection for the store, as SQLite's own test suite does it, so the
 * tests can prove that a failing disk or an exhausted allocator costs at most
 * the case in flight. For testing only: the failures are real ones to SQLite.
 *
 *   ATTNBENCH_FAULT=KIND:N[:COUNT]
 *     write   the Nth xWrite (counted from 1 over every file) fails with
 *             SQLITE_IOERR_WRITE, as a dying disk does
 *     full    the Nth xWrite fails with SQLITE_FULL, as a disk that filled
 *     sync    the Nth xSync fails with SQLITE_IOERR_FSYNC
 *     open    the Nth xOpen fails with SQLITE_CANTOPEN
 *     malloc  the Nth allocation SQLite asks for (malloc or realloc) fails
 *   and so do the COUNT - 1 calls of that kind after it (default: every
 *   later one, since a disk that failed once rarely recovers).
 *   ATTNBENCH_FAULT_LOG=FILE appends a line per injected failure, and the
 *   counts of each kind at every close of the store (attn__fault_log_counts).
 *
 * The VFS is a shim over the default one (unix), registered as the new
 * default: every call goes through to the real file, after the count. Each
 * shim file carries the real one right behind it, so one allocation of
 * szOsFile bytes holds both. The allocator wraps SQLite's default and must be
 * installed before sqlite3_initialize, which is why the store calls
 * attn__fault_init before its first SQLite call.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/status.h"
#include "faultvfs.h"

enum fault_kind { FAULT_WRITE, FAULT_FULL, FAULT_SYNC, FAULT_OPEN, FAULT_MALLOC, FAULT_KINDS };

static const char *const kind_names[FAULT_KINDS] = {"write", "full", "sync", "open", "malloc"};

static struct {
	int configured, config_rc, registered;
	char config_err[256];
	int shim;             /* the allocator and VFS are installed (counting) */
	int armed;            /* and a fault is set */
	enum fault_kind kind; /* which calls fail */
	long long at, count;  /* from the at-th call, count of them (0: all) */
	long long calls[FAULT_KINDS];
	long long injected;
	char spec[64];
	char note[160];
	const char *log;
	sqlite3_vfs *real;
	sqlite3_mem_methods mem;
} F;

static void fault_log(const char *fmt, long long a, const char *b)
{
	if (!F.log)
		return;
	FILE *f = fopen(F.log, "a");
	if (!f)
		return;
	fprintf(f, fmt, a, b);
	fclose(f);
}

/*
 * Count one call of kind (write and full count the same xWrite calls) and
 * say whether it is to fail.
 */
static int fault_hit(enum fault_kind kind)
{
	long long n = ++F.calls[kind];
	if (kind == FAULT_WRITE)
		F.calls[FAULT_FULL] = n;
	if (!F.armed)
		return 0;
	int same = F.kind == kind || (kind == FAULT_WRITE && F.kind == FAULT_FULL);
	if (!same || n < F.at || (F.count > 0 && n >= F.at + F.count))
		return 0;
	F.injected++;
	snprintf(F.note, sizeof(F.note), " [ATTNBENCH_FAULT=%s: %lld failure%s injected]", F.spec,
	         F.injected, F.injected == 1 ? "" : "s");
	fault_log("injected %lld %s\n", n, kind_names[F.kind]);
	return 1;
}

/* --- the allocator ------------------------------------------------------- */

static void *mem_malloc(int n)
{
	return fault_hit(FAULT_MALLOC) ? NULL : F.mem.xMalloc(n);
}

static void *mem_realloc(void *p, int n)
{
	return fault_hit(FAULT_MALLOC) ? NULL : F.mem.xRealloc(p, n);
}

static void mem_free(void *p)
{
	F.mem.xFree(p);
}

static int mem_size(void *p)
{
	return F.mem.xSize(p);
}

static int mem_roundup(int n)
{
	return F.mem.xRoundup(n);
}

static int mem_init(void *app)
{
	(void)app;
	return F.mem.xInit(F.mem.pAppData);
}

static void mem_shutdown(void *app)
{
	(void)app;
	F.mem.xShutdown(F.mem.pAppData);
}

/* --- the file ------------------------------------------------------------ */

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real; /* the default VFS's file, right behind this struct */
};

#define REAL(f) (((struct fault_file *)(f))->real)

static int f_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	if (fault_hit(FAULT_WRITE))
		return F.kind == FAULT_FULL ? SQLITE_FULL : SQLITE_IOERR_WRITE;
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
	if (fault_hit(FAULT_SYNC))
		return SQLITE_IOERR_FSYNC;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int f_lock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int f_unlock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int f_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int f_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int f_device_chars(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

/* The version 2 and 3 methods exist only when the real file has them. */
static int f_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	const sqlite3_io_methods *m = REAL(f)->pMethods;
	return m->iVersion >= 2 ? m->xShmMap(REAL(f), pg, pgsz, extend, pp) : SQLITE_IOERR;
}

static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	const sqlite3_io_methods *m = REAL(f)->pMethods;
	return m->iVersion >= 2 ? m->xShmLock(REAL(f), off, n, flags) : SQLITE_IOERR;
}

static void f_shm_barrier(sqlite3_file *f)
{
	const sqlite3_io_methods *m = REAL(f)->pMethods;
	if (m->iVersion >= 2)
		m->xShmBarrier(REAL(f));
}

static int f_shm_unmap(sqlite3_file *f, int del)
{
	const sqlite3_io_methods *m = REAL(f)->pMethods;
	return m->iVersion >= 2 ? m->xShmUnmap(REAL(f), del) : SQLITE_OK;
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	const sqlite3_io_methods *m = REAL(f)->pMethods;
	if (m->iVersion >= 3)
		return m->xFetch(REAL(f), off, n, pp);
	*pp = NULL;
	return SQLITE_OK;
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	const sqlite3_io_methods *m = REAL(f)->pMethods;
	return m->iVersion >= 3 ? m->xUnfetch(REAL(f), off, p) : SQLITE_OK;
}

static const sqlite3_io_methods fault_io = {
    .iVersion = 3,
    .xClose = f_close,
    .xRead = f_read,
    .xWrite = f_write,
    .xTruncate = f_truncate,
    .xSync = f_sync,
    .xFileSize = f_file_size,
    .xLock = f_lock,
    .xUnlock = f_unlock,
    .xCheckReservedLock = f_check_reserved,
    .xFileControl = f_file_control,
    .xSectorSize = f_sector_size,
    .xDeviceCharacteristics = f_device_chars,
    .xShmMap = f_shm_map,
    .xShmLock = f_shm_lock,
    .xShmBarrier = f_shm_barrier,
    .xShmUnmap = f_shm_unmap,
    .xFetch = f_fetch,
    .xUnfetch = f_unfetch,
};

/* --- the VFS ------------------------------------------------------------- */

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	(void)vfs;
	struct fault_file *ff = (struct fault_file *)f;
	ff->real = (sqlite3_file *)(ff + 1);
	ff->base.pMethods = NULL; /* on failure SQLite must not call xClose */
	if (fault_hit(FAULT_OPEN))
		return SQLITE_CANTOPEN;
	int rc = F.real->xOpen(F.real, name, ff->real, flags, out_flags);
	if (ff->real->pMethods)
		ff->base.pMethods = &fault_io;
	return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return F.real->xDelete(F.real, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return F.real->xAccess(F.real, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return F.real->xFullPathname(F.real, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return F.real->xDlOpen(F.real, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	F.real->xDlError(F.real, n, msg);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return F.real->xDlSym(F.real, h, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	F.real->xDlClose(F.real, h);
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return F.real->xRandomness(F.real, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return F.real->xSleep(F.real, us);
}

static int v_current_time(sqlite3_vfs *vfs, double *t)
{
	(void)vfs;
	return F.real->xCurrentTime(F.real, t);
}

static int v_last_error(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	return F.real->xGetLastError ? F.real->xGetLastError(F.real, n, msg) : 0;
}

static int v_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
	(void)vfs;
	if (F.real->iVersion >= 2 && F.real->xCurrentTimeInt64)
		return F.real->xCurrentTimeInt64(F.real, t);
	double d;
	int rc = F.real->xCurrentTime(F.real, &d);
	*t = (sqlite3_int64)(d * 86400000.0);
	return rc;
}

/* Version 2: the system-call hooks of version 3 are the real VFS's business. */
static sqlite3_vfs fault_vfs = {
    .iVersion = 2,
    .zName = "attnbench-fault",
    .xOpen = v_open,
    .xDelete = v_delete,
    .xAccess = v_access,
    .xFullPathname = v_full_pathname,
    .xDlOpen = v_dlopen,
    .xDlError = v_dlerror,
    .xDlSym = v_dlsym,
    .xDlClose = v_dlclose,
    .xRandomness = v_randomness,
    .xSleep = v_sleep,
    .xCurrentTime = v_current_time,
    .xGetLastError = v_last_error,
    .xCurrentTimeInt64 = v_current_time64,
};

/* --- set up -------------------------------------------------------------- */

/* "KIND:N[:COUNT]" into F; -1 when it is not that. */
static int parse_spec(const char *spec)
{
	char kind[16];
	long long at = 0, count = 0;
	int used = 0;
	if (strlen(spec) >= sizeof(F.spec))
		return -1;
	int got = sscanf(spec, "%15[a-z]:%lld%n:%lld%n", kind, &at, &used, &count, &used);
	if (got < 2 || spec[used] != 0 || at < 1 || (got == 3 && count < 1))
		return -1;
	for (int k = 0; k < FAULT_KINDS; k++)
		if (strcmp(kind, kind_names[k]) == 0) {
			F.kind = (enum fault_kind)k;
			F.at = at;
			F.count = got == 3 ? count : 0;
			F.armed = 1;
			snprintf(F.spec, sizeof(F.spec), "%s", spec);
			return 0;
		}
	return -1;
}

/*
 * Once per process: read the variables and, when either is set, hand SQLite
 * the counting allocator (before it starts: it takes one only then).
 */
static int fault_config(char *err, size_t errlen)
{
	const char *spec = getenv("ATTNBENCH_FAULT");
	F.log = getenv("ATTNBENCH_FAULT_LOG");
	if (F.log && !*F.log)
		F.log = NULL;
	if (spec && *spec && parse_spec(spec))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "ATTNBENCH_FAULT='%s': expected KIND:N[:COUNT] with KIND write, "
		                 "full, sync, open or malloc and N, COUNT >= 1 (for testing only)",
		                 spec);
	F.shim = F.armed || F.log;
	if (!F.shim)
		return ATTN_OK;
	sqlite3_mem_methods wrap = {mem_malloc,  mem_free, mem_realloc,  mem_size,
	                            mem_roundup, mem_init, mem_shutdown, NULL};
	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &F.mem) != SQLITE_OK ||
	    sqlite3_config(SQLITE_CONFIG_MALLOC, &wrap) != SQLITE_OK)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "ATTNBENCH_FAULT: SQLite was started before the store, so its "
		                 "allocator cannot be replaced");
	return ATTN_OK;
}

int attn__fault_init(char *err, size_t errlen)
{
	if (!F.configured) {
		F.configured = 1;
		F.config_rc = fault_config(F.config_err, sizeof(F.config_err));
	}
	if (F.config_rc)
		return attn_errf(err, errlen, F.config_rc, "%s", F.config_err);
	/*
	 * Started here, not by the first sqlite3_open_v2, so that a start that
	 * failed (a malloc fault can do that) is reported as such; it is tried
	 * again on the next call, as SQLite itself would.
	 */
	if (sqlite3_initialize() != SQLITE_OK)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM,
		                 "SQLite could not start: out of memory%s", attn__fault_note());
	if (F.shim && !F.registered) {
		F.real = sqlite3_vfs_find(NULL);
		if (!F.real)
			return attn_errf(err, errlen, ATTN_ERR_INTERNAL,
			                 "SQLite has no default VFS");
		fault_vfs.szOsFile = (int)sizeof(struct fault_file) + F.real->szOsFile;
		fault_vfs.mxPathname = F.real->mxPathname;
		if (sqlite3_vfs_register(&fault_vfs, 1) != SQLITE_OK)
			return attn_errf(err, errlen, ATTN_ERR_NOMEM,
			                 "ATTNBENCH_FAULT: registering the fault VFS failed%s",
			                 attn__fault_note());
		F.registered = 1;
	}
	return ATTN_OK;
}

const char *attn__fault_note(void)
{
	return F.injected ? F.note : "";
}

void attn__fault_log_counts(void)
{
	if (!F.log)
		return;
	FILE *f = fopen(F.log, "a");
	if (!f)
		return;
	fprintf(f, "counts write=%lld sync=%lld open=%lld malloc=%lld\n", F.calls[FAULT_WRITE],
	        F.calls[FAULT_SYNC], F.calls[FAULT_OPEN], F.calls[FAULT_MALLOC]);
	fclose(f);
}
