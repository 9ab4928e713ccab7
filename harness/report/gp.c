/*
 * The gnuplot plumbing of the report layer (see report_internal.h): the
 * charts and figures write a script and data files, and gnuplot, run here in
 * the output folder, only draws them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attnbench/report.h"
#include "attnbench/status.h"
#include "report_internal.h"

void attn__gp_str(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
	}
	fputc('\'', f);
}

int attn_report_have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char buf[4096];
	while (path && *path) {
		size_t len = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/gnuplot", (int)(len ? len : 1), len ? path : ".");
		if (access(buf, X_OK) == 0)
			return 1;
		path += len + (path[len] == ':');
	}
	return 0;
}

int attn__gp_run(const char *dir, const char *name, char *err, size_t errlen)
{
	char script[512], log[4096];
	snprintf(script, sizeof(script), "%s.gp", name);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return attn_errf(err, errlen, ATTN_ERR_IO, "cannot start gnuplot: %s",
		                 strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		if (chdir(dir) == 0)
			execlp("gnuplot", "gnuplot", script, (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return attn_errf(err, errlen, ATTN_ERR_IO, "waiting for gnuplot: %s",
			                 strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		unlink(log); /* kept only to show what went wrong */
		return ATTN_OK;
	}
	/* The message, then gnuplot's own lines, which say what it could not draw. */
	int rc = attn_errf(err, errlen, ATTN_ERR_IO,
	                   "gnuplot failed on %s/%s (exit %d); its messages:", dir, script,
	                   WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	size_t len = err && errlen ? strlen(err) : 0;
	FILE *f = err && errlen ? fopen(log, "r") : NULL;
	char line[1024];
	while (f && fgets(line, sizeof(line), f) && len + 1 < errlen) {
		snprintf(err + len, errlen - len, "\n%s", line);
		len = strlen(err);
		if (len && err[len - 1] == '\n')
			err[--len] = 0;
	}
	if (f)
		fclose(f);
	return rc;
}

int attn__gp_mkdirs(const char *dir)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *q = buf + 1; *q; q++)
		if (*q == '/') {
			*q = 0;
			if (mkdir(buf, 0777) && errno != EEXIST)
				return -1;
			*q = '/';
		}
	return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

/*
 * Colour `rank` of a survey branch's palette: full attention in greys and
 * black, linear in blues and greens, sparse in oranges and reds, hybrid in
 * purples. Anything else is a neutral brown.
 */
const char *attn__gp_family_colour(const char *family, int rank)
{
	static const char *full[] = {"#000000", "#707070", "#3a3a3a", "#a0a0a0"};
	static const char *linear[] = {"#1f4e9c", "#2e8b57", "#4a90d9", "#006d5b", "#74a9cf",
	                               "#41ab5d", "#08306b", "#00441b", "#3182bd", "#78c679",
	                               "#0b6e99", "#238443", "#6baed6", "#005a32"};
	static const char *sparse[] = {"#e6550d", "#cb181d", "#fd8d3c", "#a50f15",
	                               "#f16913", "#ef3b2c", "#8c2d04", "#fc9272",
	                               "#d94801", "#67000d", "#fdae6b", "#b30000"};
	static const char *hybrid[] = {"#6a3d9a", "#9e7cc1", "#3f007d",
	                               "#807dba", "#54278f", "#bcbddc"};
	static const struct {
		const char *family;
		const char **colours;
		int n;
	} pal[] = {{"full", full, 4},
	           {"linear", linear, 14},
	           {"sparse", sparse, 12},
	           {"hybrid", hybrid, 6}};
	for (size_t f = 0; f < sizeof(pal) / sizeof(*pal); f++)
		if (strcmp(pal[f].family, family) == 0)
			return pal[f].colours[rank % pal[f].n];
	return "#8c510a";
}

int attn_report_split_fields(char *line, char **field, int max)
{
	int n = 1;
	for (const char *q = line; (q = strchr(q, '|')); q++)
		n++;
	char *p = line;
	for (int i = 0; i < max && i < n; i++) {
		char *bar = i < max - 1 ? strchr(p, '|') : NULL;
		if (bar)
			*bar = 0;
		field[i] = p + strspn(p, " \t");
		size_t len = strlen(field[i]);
		while (len && strchr(" \t\r\n", field[i][len - 1]))
			field[i][--len] = 0;
		p = bar ? bar + 1 : p;
	}
	return n;
}

int attn_report_mkdirs(const char *dir)
{
	return attn__gp_mkdirs(dir) ? ATTN_ERR_IO : ATTN_OK;
}
