/*
 * The option helpers and messages every verb shares (declared in cli.h),
 * apart from main() so that suites can link them.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attnbench/query.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "build_info.h"
#include "cli.h"

void cli_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "attnbench %s: ", verb);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

struct attn_registry *cli_registry(const char *verb, char **plugins, int n_plugins)
{
	struct attn_registry *reg;
	char err[1024];
	if (attn_registry_init(&reg, err, sizeof(err)) != ATTN_OK) {
		cli_error(verb, "%s", err);
		return NULL;
	}
	/* Peers shipped with the data: methods/peers in a source tree, peers/ installed. */
	char peers[PATH_MAX + 32];
	struct stat sb;
	snprintf(peers, sizeof(peers), "%s/methods/peers", cli_data_dir());
	if (stat(peers, &sb) != 0)
		snprintf(peers, sizeof(peers), "%s/peers", cli_data_dir());
	if (attn_registry_load_peers_dir(reg, peers, err, sizeof(err)) != ATTN_OK) {
		cli_error(verb, "%s", err);
		attn_registry_free(reg);
		return NULL;
	}
	if (attn_registry_load_env(reg, err, sizeof(err)) != ATTN_OK) {
		cli_error(verb, "%s", err);
		attn_registry_free(reg);
		return NULL;
	}
	/* The variable reaches every verb: a bad plugin in it is skipped, not fatal. */
	for (int i = 0; i < attn_registry_warning_count(reg); i++)
		cli_error(verb, "warning: skipped: %s", attn_registry_warning(reg, i));
	for (int i = 0; i < n_plugins; i++)
		if (attn_registry_load_plugin(reg, plugins[i], err, sizeof(err)) != ATTN_OK) {
			cli_error(verb, "%s", err);
			attn_registry_free(reg);
			return NULL;
		}
	return reg;
}

int cli_parse_size(const char *text, size_t *out)
{
	return attn_parse_size(text, out);
}

int cli_parse_real(const char *text, double *out)
{
	return attn_parse_real(text, out);
}

int cli_parse_int(const char *text, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (end == text || *end || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int cli_inject_slowdown(const char *verb, const struct attn_registry *reg, struct attn_run_opts *ro,
                        const char **value)
{
	const char *env = getenv("ATTNBENCH_INJECT_SLOWDOWN");
	if (value)
		*value = env && *env ? env : NULL;
	if (!env || !*env)
		return 0;
	const char *colon = strchr(env, ':');
	char name[128];
	if (!colon || colon == env || (size_t)(colon - env) >= sizeof(name)) {
		cli_error(verb,
		          "ATTNBENCH_INJECT_SLOWDOWN='%s': expected method:factor, e.g. "
		          "window:1.10",
		          env);
		return -1;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(colon - env), env);
	const struct attn_method *m = attn_registry_find(reg, name);
	if (!m) {
		cli_error(verb,
		          "ATTNBENCH_INJECT_SLOWDOWN='%s': no method named '%s' (see "
		          "attnbench list)",
		          env, name);
		return -1;
	}
	double factor;
	if (cli_parse_real(colon + 1, &factor) || !(factor > 1 && factor <= 10)) {
		cli_error(verb,
		          "ATTNBENCH_INJECT_SLOWDOWN='%s': factor '%s' is not a real in "
		          "(1, 10]",
		          env, colon + 1);
		return -1;
	}
	ro->inject_method = m->name;
	ro->inject_factor = factor;
	fprintf(stderr,
	        "%s: ATTNBENCH_INJECT_SLOWDOWN=%s: %s's forward is made %g%% slower (for "
	        "testing the gate only)\n",
	        verb, env, m->name, (factor - 1) * 100);
	return 0;
}

int cli_parse_run(const char *verb, const char *text, long *run)
{
	if (cli_parse_int(text, 1, 0x7fffffffL, run) == 0)
		return 0;
	cli_error(verb, "--run '%s': expected a run id (a whole number >= 1)", text);
	return -1;
}

const char *cli_fmt_ns(double ns, char *buf, size_t len)
{
	if (ns < 1e3)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", ns / 1e9);
	return buf;
}

const char *cli_fmt_bytes(double b, char *buf, size_t len)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", b, u[i]);
	return buf;
}

void cli_json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void cli_json_real(FILE *f, const char *name, double v)
{
	if (isfinite(v))
		fprintf(f, ", \"%s\": %.6g", name, v);
	else
		fprintf(f, ", \"%s\": null", name);
}

long cli_latest_ok_run(struct attn_store *st, long run)
{
	int64_t found;
	return attn_query_latest_ok_run(st, run, &found, NULL, 0) ? -1 : (long)found;
}

/*
 * ATTNBENCH_DATA_DIR, else the source tree this binary was built from, else
 * (an installed binary whose tree is gone) PREFIX/share/attnbench beside
 * PREFIX/bin/attnbench.
 */
const char *cli_data_dir(void)
{
	static char installed[PATH_MAX];
	const char *d = getenv("ATTNBENCH_DATA_DIR");
	if (d && *d)
		return d;
	char probe[PATH_MAX + 32];
	struct stat sb;
	snprintf(probe, sizeof(probe), "%s/workloads/presets", ATTN_DATA_DIR);
	if (stat(probe, &sb) == 0)
		return ATTN_DATA_DIR;
	ssize_t n = readlink("/proc/self/exe", installed, sizeof(installed) - 1);
	char *slash = n > 0 ? (installed[n] = 0, strrchr(installed, '/')) : NULL;
	if (!slash ||
	    (size_t)(slash - installed) + sizeof("/../share/attnbench") > sizeof(installed))
		return ATTN_DATA_DIR;
	strcpy(slash, "/../share/attnbench");
	return installed;
}

void cli_table_print(const char *const *head, int cols, const char *cells, size_t cell_len, int n,
                     int markdown)
{
	int w[32];
	if (cols > 32)
		cols = 32;
	for (int j = 0; j < cols; j++)
		w[j] = (int)strlen(head[j]);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < cols; j++) {
			int l = (int)strlen(cells + ((size_t)i * cols + j) * cell_len);
			w[j] = l > w[j] ? l : w[j];
		}
	const char *sep = markdown ? " | " : "  ";
	size_t cap = 8;
	for (int j = 0; j < cols; j++)
		cap += (size_t)w[j] + 3;
	char *line = malloc(cap);
	if (!line)
		return;
	for (int i = -1; i < n; i++) {
		/* one line into a buffer, so text can drop the padding at its end */
		int len = snprintf(line, cap, "%s", markdown ? "| " : "");
		for (int j = 0; j < cols; j++)
			len +=
			    snprintf(line + len, cap - (size_t)len, "%s%-*s", j ? sep : "", w[j],
			             i < 0 ? head[j] : cells + ((size_t)i * cols + j) * cell_len);
		while (!markdown && len > 0 && line[len - 1] == ' ')
			line[--len] = 0;
		printf("%s%s", line, markdown ? " |\n" : "\n");
		if (i < 0 && markdown) {
			for (int j = 0; j < cols; j++) {
				putchar('|');
				for (int k = 0; k < w[j] + 2; k++)
					putchar('-');
			}
			puts("|");
		}
	}
	free(line);
}
