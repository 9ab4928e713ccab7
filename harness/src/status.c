/*
 * Status names, the error-message helper, and the small utilities the rest of
 * the harness shares (aligned allocation, the clock, saturating size math).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "attnbench/status.h"
#include "internal.h"

const char *attn_status_str(int status)
{
	switch (status) {
	case ATTN_OK: return "ok";
	case ATTN_ERR_INVALID: return "invalid argument";
	case ATTN_ERR_UNSUPPORTED: return "unsupported";
	case ATTN_ERR_NOMEM: return "out of memory";
	case ATTN_ERR_IO: return "I/O error";
	case ATTN_ERR_FORMAT: return "malformed input";
	case ATTN_ERR_NOTFOUND: return "not found";
	case ATTN_ERR_ABI: return "ABI version mismatch";
	case ATTN_ERR_DUPLICATE: return "duplicate name";
	case ATTN_ERR_DB: return "database error";
	case ATTN_ERR_INTERNAL: return "internal error";
	default: return "unknown status";
	}
}

int attn_errf(char *err, size_t errlen, int status, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

void attn__append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

void *attn__alloc(size_t bytes)
{
	/* aligned_alloc wants a multiple of the alignment. */
	size_t rounded = (bytes + 63) & ~(size_t)63;
	if (rounded < bytes)
		return NULL;
	if (rounded == 0)
		rounded = 64;
	void *p = aligned_alloc(64, rounded);
	if (p)
		memset(p, 0, rounded);
	return p;
}

void attn__free(void *p)
{
	free(p);
}

uint64_t attn__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

char *attn__strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

char *attn__trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

int attn__kv_line(char *line, char **key, char **val)
{
	char *hash = strchr(line, '#');
	if (hash)
		*hash = 0;
	char *t = attn__trim(line);
	*key = t;
	if (!*t)
		return 0;
	char *eq = strchr(t, '=');
	if (!eq)
		return -1;
	*eq = 0;
	*key = attn__trim(t);
	*val = attn__trim(eq + 1);
	return 1;
}

uint64_t attn__fnv1a64(uint64_t h, const void *bytes, size_t n)
{
	/* Offset basis and prime from the reference. */
	const unsigned char *b = bytes;
	for (size_t k = 0; k < n; k++) {
		h ^= b[k];
		h *= 0x100000001b3ull;
	}
	return h;
}

size_t attn__mul_sat(size_t a, size_t b)
{
	if (a != 0 && b > SIZE_MAX / a)
		return SIZE_MAX;
	return a * b;
}

size_t attn__add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/*
 * A process's start time in clock ticks after boot, field 22 of
 * /proc/PID/stat, and whether it is a zombie (dead, not yet reaped); -1 when
 * the file cannot be read (no such process, or no /proc).
 */
long long attn__proc_start(long long pid, int *zombie)
{
	char path[64], buf[1024];
	*zombie = 0;
	snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* The name in parentheses may hold spaces and parentheses: fields follow the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	long long start = -1;
	char *save = NULL;
	int field = 3;
	for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
		if (field == 3)
			*zombie = tok[0] == 'Z' || tok[0] == 'X';
		if (field == 22) {
			start = strtoll(tok, NULL, 10);
			break;
		}
	}
	return start;
}

int attn__reap_descendants(long long *first)
{
	int alive = 0;
	uint64_t until = attn__now_ns() + 2000000000ull;
	for (;;) {
		/* The exited first: their orphans are already ours. */
		pid_t w;
		while ((w = waitpid(-1, NULL, WNOHANG)) > 0)
			if (first && !*first)
				*first = w;
		if (w < 0 && errno != EINTR)
			return alive; /* ECHILD: none left */
		int found = 0;
		DIR *d = opendir("/proc/self/task");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char path[300];
			snprintf(path, sizeof(path), "/proc/self/task/%s/children", e->d_name);
			FILE *cf = fopen(path, "r");
			long pid;
			while (cf && fscanf(cf, "%ld", &pid) == 1) {
				int zombie;
				if (attn__proc_start(pid, &zombie) >= 0 && !zombie)
					alive++;
				if (first && !*first)
					*first = pid;
				kill((pid_t)pid, SIGKILL);
				while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
					;
				found++;
			}
			if (cf)
				fclose(cf);
		}
		if (d)
			closedir(d);
		if (attn__now_ns() > until)
			return alive;
		if (!found) {
			/* A child not listed yet (just forked): look again shortly. */
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
	}
}
