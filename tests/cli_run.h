/*
 * Running the built `attnbench` from a suite (test_cli.c, test_fit.c):
 * cli("sweep --db %s ...", ...) runs ATTN_CLI with those arguments, stdout
 * and stderr folded into `out`, and returns the exit code (128 + the signal
 * when it was killed).
 */
#ifndef ATTN_TEST_CLI_RUN_H
#define ATTN_TEST_CLI_RUN_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>

static char out[65536];

static int cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int cli(const char *fmt, ...)
{
	char args[4096], cmd[4200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", ATTN_CLI, args);
	FILE *p = popen(cmd, "r");
	ck_assert(p != NULL);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif /* ATTN_TEST_CLI_RUN_H */
