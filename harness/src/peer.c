/*
 * Peers (peer.h): a method whose work runs in another program, which the
 * harness starts and drives over pipes with the line protocol written down
 * in methods/peers/PROTOCOL.md.
 *
 * A descriptor file becomes one allocation holding the parsed descriptor and
 * the `struct attn_method` made from it (data points back at the whole).
 * Its callbacks are these: supports() from the descriptor's `supports`
 * words and parameter ranges; flops() and bytes() those of the built-in
 * softmax when it says `flops = softmax`; workspace_bytes() the size of the
 * conversation's state, which lives in the workspace the harness hands
 * prepare() and forward(). prepare() writes the inputs as .npy files into
 * a private folder under /dev/shm, starts the program there (its own
 * process group, dying with its parent) and exchanges hello, case and
 * ready; forward() is one `run 1` and one `output`, for callers that
 * treat a peer as any method. The runner's timed path instead sends `run
 * ITERS` and takes the peer's own `ns` (attn__peer_run), and fetches the
 * output once, at the end (attn__peer_output).
 *
 * Every failure - the program missing, dead, crashed, silent on EOF or
 * talking nonsense - leaves a sentence in the state, with the last 2 KiB of
 * the program's stderr, and the status it stands for; the runner records
 * that sentence. After a failure the conversation is over: the program is
 * killed and later calls fail at once with the same sentence.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attnbench/instance.h"
#include "attnbench/registry.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"
#include "internal.h"
#include "kernels/kernels.h"
#include "npy.h"
#include "peer.h"

extern char **environ;

/* The built-in whose FLOP and byte formulas `flops = softmax` borrows. */
extern const struct attn_method attn_method_softmax;

#define MAX_ARGV      32
#define STDERR_TAIL   2048
#define QUIT_GRACE_NS 2000000000ull

enum supports_bit { SUP_CAUSAL = 1, SUP_FULL = 2, SUP_DECODE = 4, SUP_GQA = 8 };

struct peer_desc {
	struct attn_method m; /* first: attn__peer_free gets it back from &m */
	char path[PATH_MAX];  /* the descriptor file */
	char dir[PATH_MAX];   /* its folder: the program's working directory */
	char name[ATTN_METHOD_NAME_MAX + 1];
	char category[ATTN_CATEGORY_MAX + 1];
	char summary[ATTN_TEXT_MAX + 1], citation[ATTN_TEXT_MAX + 1];
	unsigned supports;
	int flops_softmax;
	int argc;
	char argv_text[1024]; /* the command, its words NUL-separated */
	const char *argv[MAX_ARGV];
	struct attn_param_spec params[ATTN_MAX_PARAMS];
	char pname[ATTN_MAX_PARAMS][ATTN_PARAM_NAME_MAX + 1];
	char pchoices[ATTN_MAX_PARAMS][512];
	char phelp[ATTN_MAX_PARAMS][ATTN_TEXT_MAX + 1];
};

/* The conversation with one running peer, in the instance's workspace. */
#define PEER_MAGIC 0x70656572u /* "peer" */
struct peer_state {
	unsigned magic;
	int pid;
	int to_fd, from_fd; /* its stdin, its stdout */
	const struct peer_desc *desc;
	struct attn_shape s;
	char dir[96];
	size_t got;      /* bytes of rbuf not yet consumed */
	char rbuf[4096]; /* what it wrote past the last line read */
	char line[4096];
	char info[1024]; /* the ready line's KEY=VALUE words */
	int failed;
	enum attn__peer_fail kind;
	char err[3072];
};

static const struct peer_desc *desc_of(const struct attn_method *m)
{
	return m->data;
}

/* ---- the descriptor file ------------------------------------------------- */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

static int copy_text(char *dst, size_t cap, const char *v)
{
	if (strlen(v) >= cap)
		return -1;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* A number that is all of v. */
static int parse_num(const char *v, double *out)
{
	return attn_parse_real(v, out) == ATTN_OK ? 0 : -1;
}

/* "NAME int|real DEFAULT MIN MAX HELP..." or "NAME enum A|B DEFAULT HELP...". */
static int parse_param(struct peer_desc *d, char *v, char *why, size_t len)
{
	int i = d->m.n_params;
	if (i == ATTN_MAX_PARAMS)
		return snprintf(why, len, "more than %d parameters", ATTN_MAX_PARAMS), -1;
	char *save = NULL, *name = strtok_r(v, " \t", &save), *type = strtok_r(NULL, " \t", &save);
	struct attn_param_spec *p = &d->params[i];
	if (!name || !type)
		return snprintf(why, len, "expected 'NAME int|real|enum ...'"), -1;
	if (copy_text(d->pname[i], sizeof(d->pname[i]), name))
		return snprintf(why, len, "parameter name '%s' is too long", name), -1;
	p->name = d->pname[i];
	if (strcmp(type, "enum") == 0) {
		char *choices = strtok_r(NULL, " \t", &save), *def = strtok_r(NULL, " \t", &save);
		if (!choices || !def)
			return snprintf(why, len, "enum '%s': expected 'CHOICES DEFAULT HELP'",
			                name),
			       -1;
		if (copy_text(d->pchoices[i], sizeof(d->pchoices[i]), choices))
			return snprintf(why, len, "enum '%s': choices too long", name), -1;
		p->type = ATTN_PARAM_ENUM;
		p->choices = d->pchoices[i];
		int idx = 0;
		const char *c = choices;
		size_t dl = strlen(def);
		for (;; idx++) {
			size_t w = strcspn(c, "|");
			if (w == dl && strncmp(c, def, dl) == 0)
				break;
			if (!c[w])
				return snprintf(why, len,
				                "enum '%s': default '%s' is not one of %s", name,
				                def, choices),
				       -1;
			c += w + 1;
		}
		p->def = idx;
	} else if (strcmp(type, "int") == 0 || strcmp(type, "real") == 0) {
		char *t[3];
		for (int k = 0; k < 3; k++)
			t[k] = strtok_r(NULL, " \t", &save);
		double x[3];
		for (int k = 0; k < 3; k++)
			if (!t[k] || parse_num(t[k], &x[k]))
				return snprintf(
				           why, len,
				           "'%s': expected 'DEFAULT MIN MAX HELP', got '%s' for "
				           "the %s",
				           name, t[k] ? t[k] : "nothing",
				           k == 0   ? "default"
				           : k == 1 ? "minimum"
				                    : "maximum"),
				       -1;
		p->type = type[0] == 'i' ? ATTN_PARAM_INT : ATTN_PARAM_REAL;
		p->def = x[0], p->min = x[1], p->max = x[2];
		if (!(x[1] <= x[0] && x[0] <= x[2]))
			return snprintf(why, len, "'%s': default %g is outside [%g, %g]", name,
			                x[0], x[1], x[2]),
			       -1;
		if (p->type == ATTN_PARAM_INT &&
		    (x[0] != floor(x[0]) || x[1] != floor(x[1]) || x[2] != floor(x[2])))
			return snprintf(why, len,
			                "int '%s': default, minimum and maximum must be whole",
			                name),
			       -1;
	} else {
		return snprintf(why, len, "'%s': type '%s' is not int, real or enum", name, type),
		       -1;
	}
	char *help = save ? trim(save) : "";
	if (copy_text(d->phelp[i], sizeof(d->phelp[i]), help))
		return snprintf(why, len, "'%s': help longer than %d bytes", name, ATTN_TEXT_MAX),
		       -1;
	p->help = d->phelp[i];
	d->m.n_params++;
	return 0;
}

/* One `key = value` into d; -1 with why on a bad value or key. */
static int parse_key(struct peer_desc *d, const char *key, char *v, unsigned *seen, char *why,
                     size_t len)
{
	static const char *const keys[] = {
	    "name",     "family",  "category", "summary",  "citation", "exact",   "tolerance",
	    "time_exp", "mem_exp", "flops",    "supports", "inputs",   "command", "param"};
	int k = 0, nkeys = (int)(sizeof(keys) / sizeof(*keys));
	while (k < nkeys && strcmp(keys[k], key) != 0)
		k++;
	if (k == nkeys)
		return snprintf(why, len,
		                "unknown key (one of name family category summary citation exact "
		                "tolerance time_exp mem_exp flops supports inputs command param)"),
		       -1;
	if (k != 13 && (*seen & (1u << k)))
		return snprintf(why, len, "given twice"), -1;
	*seen |= 1u << k;
	double x;
	char *save = NULL;
	switch (k) {
	case 0:
		if (strlen(v) < 1 || strlen(v) > ATTN_METHOD_NAME_MAX ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(v))
			return snprintf(why, len, "'%s' is not 1-%d characters of [a-z0-9_]", v,
			                ATTN_METHOD_NAME_MAX),
			       -1;
		strcpy(d->name, v);
		return 0;
	case 1:
		for (int f = ATTN_FAMILY_FULL; f <= ATTN_FAMILY_HYBRID; f++)
			if (strcmp(v, attn_family_name((enum attn_family)f)) == 0) {
				d->m.family = (enum attn_family)f;
				return 0;
			}
		return snprintf(why, len, "'%s' is not full, linear, sparse or hybrid", v), -1;
	case 2:
	case 3:
	case 4: {
		char *dst = k == 2 ? d->category : k == 3 ? d->summary : d->citation;
		size_t cap = k == 2 ? sizeof(d->category) : sizeof(d->summary);
		if (copy_text(dst, cap, v))
			return snprintf(why, len, "longer than %zu bytes", cap - 1), -1;
		return 0;
	}
	case 5:
		if (strcmp(v, "0") && strcmp(v, "1"))
			return snprintf(why, len, "'%s' is not 0 or 1", v), -1;
		d->m.flags = v[0] == '1' ? d->m.flags | ATTN_METHOD_EXACT
		                         : d->m.flags & ~(unsigned)ATTN_METHOD_EXACT;
		return 0;
	case 6:
	case 7:
	case 8:
		if (parse_num(v, &x))
			return snprintf(why, len, "'%s' is not a number", v), -1;
		if (k == 6)
			d->m.tolerance = x;
		else if (k == 7)
			d->m.time_exp = x;
		else
			d->m.mem_exp = x;
		return 0;
	case 9:
		if (strcmp(v, "softmax") && strcmp(v, "none"))
			return snprintf(why, len, "'%s' is not softmax or none", v), -1;
		d->flops_softmax = strcmp(v, "softmax") == 0;
		return 0;
	case 10:
		d->supports = 0;
		for (char *w = strtok_r(v, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
			unsigned b = strcmp(w, "causal") == 0   ? SUP_CAUSAL
			             : strcmp(w, "full") == 0   ? SUP_FULL
			             : strcmp(w, "decode") == 0 ? SUP_DECODE
			             : strcmp(w, "gqa") == 0    ? SUP_GQA
			                                        : 0;
			if (!b)
				return snprintf(why, len,
				                "'%s' is not one of causal, full, decode, gqa", w),
				       -1;
			d->supports |= b;
		}
		return 0;
	case 11:
		d->m.inputs = 0;
		for (char *w = strtok_r(v, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
			unsigned b = strcmp(w, "log_gate") == 0   ? ATTN_INPUT_LOG_GATE
			             : strcmp(w, "gate_vec") == 0 ? ATTN_INPUT_GATE_VEC
			             : strcmp(w, "beta") == 0     ? ATTN_INPUT_BETA
			                                          : 0;
			if (!b)
				return snprintf(why, len,
				                "'%s' is not one of log_gate, gate_vec, beta", w),
				       -1;
			d->m.inputs |= b;
		}
		return 0;
	case 12: {
		if (copy_text(d->argv_text, sizeof(d->argv_text), v))
			return snprintf(why, len, "longer than %zu bytes",
			                sizeof(d->argv_text) - 1),
			       -1;
		d->argc = 0;
		for (char *w = strtok_r(d->argv_text, " \t", &save); w;
		     w = strtok_r(NULL, " \t", &save)) {
			if (d->argc == MAX_ARGV - 1)
				return snprintf(why, len, "more than %d words", MAX_ARGV - 1), -1;
			d->argv[d->argc++] = w;
		}
		if (!d->argc)
			return snprintf(why, len, "empty"), -1;
		d->argv[d->argc] = NULL;
		return 0;
	}
	default: return parse_param(d, v, why, len);
	}
}

static int peer_supports(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, char *msg, size_t msglen);
static size_t peer_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                   const struct attn_params *p, int threads);
static double peer_flops(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p);
static double peer_bytes(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p);
static int peer_prepare(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, const struct attn_inputs *in, void *ws,
                        const struct attn_ctx *ctx);
static int peer_forward(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, const struct attn_inputs *in, float *out,
                        void *ws, const struct attn_ctx *ctx);
static int peer_oracle(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, const struct attn_inputs *in, double *out,
                       const struct attn_ctx *ctx);

int attn__peer_load(const char *path, struct attn_method **out, char *err, size_t errlen)
{
	*out = NULL;
	FILE *f = fopen(path, "r");
	if (!f)
		return attn_errf(err, errlen, ATTN_ERR_IO, "peer %s: cannot open: %s", path,
		                 strerror(errno));
	struct peer_desc *d = calloc(1, sizeof(*d));
	if (!d) {
		fclose(f);
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	char *slash = strrchr(d->path, '/');
	if (slash)
		snprintf(d->dir, sizeof(d->dir), "%.*s", (int)(slash - d->path), d->path);
	if (!slash || !d->dir[0])
		snprintf(d->dir, sizeof(d->dir), "%s", slash ? "/" : ".");
	d->m.tolerance = 1e-5;
	d->m.time_exp = 2;
	d->m.mem_exp = 1;
	d->m.flags = ATTN_METHOD_EXACT;
	d->flops_softmax = 1;
	d->supports = SUP_CAUSAL | SUP_FULL | SUP_DECODE | SUP_GQA;
	unsigned seen = 0;
	char buf[2048], why[600];
	int line = 0, rc = ATTN_OK;
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
			               "%s:%d: line longer than %zu bytes", path, line,
			               sizeof(buf) - 2);
			break;
		}
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = 0;
		char *t = trim(buf);
		if (!*t)
			continue;
		char *eq = strchr(t, '=');
		if (!eq) {
			rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
			               "%s:%d: expected 'key = value', got '%.60s'", path, line, t);
			break;
		}
		*eq = 0;
		char *key = trim(t), *val = trim(eq + 1);
		if (parse_key(d, key, val, &seen, why, sizeof(why))) {
			rc = attn_errf(err, errlen, ATTN_ERR_FORMAT, "%s:%d: key '%.40s': %s", path,
			               line, key, why);
			break;
		}
	}
	fclose(f);
	/* name, family and command have no default. */
	static const struct {
		unsigned bit;
		const char *key;
	} required[] = {{1u << 0, "name"}, {1u << 1, "family"}, {1u << 12, "command"}};
	for (size_t i = 0; rc == ATTN_OK && i < sizeof(required) / sizeof(*required); i++)
		if (!(seen & required[i].bit))
			rc = attn_errf(err, errlen, ATTN_ERR_FORMAT, "%s:%d: key '%s': missing",
			               path, line, required[i].key);
	if (rc) {
		free(d);
		return rc;
	}
	if (!(seen & (1u << 2)))
		snprintf(d->category, sizeof(d->category), "%s", attn_family_name(d->m.family));
	d->m.abi_version = ATTN_ABI_VERSION;
	d->m.name = d->name;
	d->m.category = d->category;
	d->m.summary = d->summary;
	d->m.citation = d->citation;
	d->m.params = d->params;
	d->m.data = d;
	d->m.supports = peer_supports;
	d->m.workspace_bytes = peer_workspace_bytes;
	d->m.flops = peer_flops;
	d->m.bytes = peer_bytes;
	d->m.prepare = peer_prepare;
	d->m.forward = peer_forward;
	/* An approximate peer is judged against softmax: its tolerance is that bound. */
	d->m.oracle = (d->m.flags & ATTN_METHOD_EXACT) ? NULL : peer_oracle;
	rc = attn_method_validate(&d->m, why, sizeof(why));
	if (rc) {
		free(d);
		return attn_errf(err, errlen, ATTN_ERR_FORMAT, "%s: %s", path, why);
	}
	*out = &d->m;
	return ATTN_OK;
}

void attn__peer_free(struct attn_method *m)
{
	if (m && attn__method_is_peer(m))
		free((void *)(uintptr_t)m->data);
}

int attn__method_is_peer(const struct attn_method *m)
{
	return m && m->prepare == peer_prepare && m->forward == peer_forward;
}

/* ---- the callbacks that need no program ---------------------------------- */

static int peer_supports(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, char *msg, size_t msglen)
{
	const struct peer_desc *d = desc_of(m);
	const char *no = NULL;
	if (s->mode == ATTN_MODE_DECODE && !(d->supports & SUP_DECODE))
		no = "decode";
	else if (s->mode == ATTN_MODE_PREFILL && s->causal && !(d->supports & SUP_CAUSAL))
		no = "causal prefill";
	else if (s->mode == ATTN_MODE_PREFILL && !s->causal && !(d->supports & SUP_FULL))
		no = "non-causal prefill";
	else if (s->kv_heads < s->heads && !(d->supports & SUP_GQA))
		no = "kv_heads < heads (gqa)";
	if (no)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED,
		                 "peer %s does not take %s (its descriptor's supports)", m->name,
		                 no);
	for (int i = 0; p && i < m->n_params && i < p->count; i++) {
		const struct attn_param_spec *ps = &m->params[i];
		double v = p->v[i];
		if (ps->type == ATTN_PARAM_ENUM)
			continue;
		if (!(v >= ps->min && v <= ps->max) ||
		    (ps->type == ATTN_PARAM_INT && v != floor(v)))
			return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED,
			                 "%s %g is outside [%g, %g]", ps->name, v, ps->min,
			                 ps->max);
	}
	return ATTN_OK;
}

static size_t peer_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                   const struct attn_params *p, int threads)
{
	(void)m, (void)s, (void)p, (void)threads;
	return sizeof(struct peer_state);
}

static double peer_flops(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p)
{
	(void)p;
	return desc_of(m)->flops_softmax ? attn__softmax_flops(s) : NAN;
}

static double peer_bytes(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p)
{
	(void)p;
	return desc_of(m)->flops_softmax ? attn_call_bytes(&attn_method_softmax, s, NULL) : NAN;
}

static int peer_oracle(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, const struct attn_inputs *in, double *out,
                       const struct attn_ctx *ctx)
{
	(void)m, (void)p, (void)ctx;
	return attn_reference_softmax(s, in, out);
}

/* ---- the conversation ----------------------------------------------------- */

/* The last STDERR_TAIL bytes of the peer's stderr, on one line, into buf ("" when none). */
static void stderr_tail(const struct peer_state *st, char *buf, size_t len)
{
	char path[160];
	buf[0] = 0;
	snprintf(path, sizeof(path), "%s/stderr", st->dir);
	FILE *f = fopen(path, "rb");
	if (!f)
		return;
	char tail[STDERR_TAIL + 1];
	long at = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : 0;
	if (at > STDERR_TAIL)
		fseek(f, at - STDERR_TAIL, SEEK_SET);
	else
		rewind(f);
	size_t n = fread(tail, 1, STDERR_TAIL, f);
	fclose(f);
	tail[n] = 0;
	while (n && isspace((unsigned char)tail[n - 1]))
		tail[--n] = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)tail[i] < 0x20 || tail[i] == 0x7f)
			tail[i] = tail[i] == '\n' ? '|' : ' ';
	if (n)
		snprintf(buf, len, "; its stderr: %s%s", at > STDERR_TAIL ? "..." : "", tail);
}

static void reap(struct peer_state *st, int *wstatus, uint64_t grace_ns)
{
	*wstatus = -1;
	if (st->pid <= 0)
		return;
	uint64_t until = attn__now_ns() + grace_ns;
	pid_t w;
	while ((w = waitpid(st->pid, wstatus, WNOHANG)) == 0 && attn__now_ns() < until) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	/* Whatever it started in its group goes with it. */
	kill(-st->pid, SIGKILL);
	if (w == 0) {
		kill(st->pid, SIGKILL);
		while ((w = waitpid(st->pid, wstatus, 0)) < 0 && errno == EINTR)
			;
		*wstatus = -1; /* killed by us: not its own doing */
	}
	st->pid = -1;
}

static void close_fds(struct peer_state *st)
{
	if (st->to_fd >= 0)
		close(st->to_fd);
	if (st->from_fd >= 0)
		close(st->from_fd);
	st->to_fd = st->from_fd = -1;
}

/* Fail the conversation: kill the peer and keep the sentence. Returns ATTN_ERR_INVALID. */
static int fail(struct peer_state *st, enum attn__peer_fail kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct peer_state *st, enum attn__peer_fail kind, const char *fmt, ...)
{
	if (st->failed)
		return ATTN_ERR_INVALID;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
	close_fds(st);
	int ws;
	reap(st, &ws, 0);
	char tail[STDERR_TAIL + 64];
	stderr_tail(st, tail, sizeof(tail));
	attn__append(st->err, sizeof(st->err), "%s", tail);
	st->kind = kind;
	st->failed = 1;
	return ATTN_ERR_INVALID;
}

/* The peer stopped talking while `what` was awaited: say how it ended. */
static int fail_gone(struct peer_state *st, const char *what)
{
	close_fds(st);
	int ws;
	reap(st, &ws, 1000000000ull);
	if (ws != -1 && WIFSIGNALED(ws))
		return fail(st, ATTN__PEER_CRASHED,
		            "peer %s was killed by signal %d (%s) before %s", st->desc->name,
		            WTERMSIG(ws), strsignal(WTERMSIG(ws)), what);
	if (ws != -1 && WIFEXITED(ws))
		return fail(st, ATTN__PEER_FAILED, "peer %s exited with status %d before %s",
		            st->desc->name, WEXITSTATUS(ws), what);
	return fail(st, ATTN__PEER_FAILED, "peer %s closed its stdout before %s (killed)",
	            st->desc->name, what);
}

/* Write all of text to the peer; a peer gone away is not our SIGPIPE. */
static int send_line(struct peer_state *st, const char *text, const char *what)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old);
	size_t n = strlen(text), off = 0;
	int bad = 0;
	while (off < n) {
		ssize_t w = write(st->to_fd, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			bad = 1;
			break;
		}
		off += (size_t)w;
	}
	sigaction(SIGPIPE, &old, NULL);
	return bad ? fail_gone(st, what) : ATTN_OK;
}

/* The next line from the peer into st->line, without its newline. */
static int read_line(struct peer_state *st, const char *what)
{
	for (;;) {
		char *nl = memchr(st->rbuf, '\n', st->got);
		if (nl) {
			size_t n = (size_t)(nl - st->rbuf);
			memcpy(st->line, st->rbuf, n);
			st->line[n] = 0;
			memmove(st->rbuf, nl + 1, st->got - n - 1);
			st->got -= n + 1;
			return ATTN_OK;
		}
		if (st->got == sizeof(st->rbuf))
			return fail(st, ATTN__PEER_FAILED,
			            "peer protocol: a line longer than %zu bytes while awaiting %s",
			            sizeof(st->rbuf), what);
		ssize_t r = read(st->from_fd, st->rbuf + st->got, sizeof(st->rbuf) - st->got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return fail_gone(st, what);
		st->got += (size_t)r;
	}
}

/* A line quoted in a message: at most 80 bytes, control characters as '?'. */
static const char *quoted(const char *line, char *buf, size_t len)
{
	snprintf(buf, len, "%.80s%s", line, strlen(line) > 80 ? "..." : "");
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return buf;
}

/* The word w starts line and is followed by a space or its end: the rest, else NULL. */
static const char *after_word(const char *line, const char *w)
{
	size_t n = strlen(w);
	if (strncmp(line, w, n) != 0 || (line[n] && line[n] != ' '))
		return NULL;
	return line + n + (line[n] == ' ');
}

/* The reply to an `error REASON` line, or the protocol violation of any other. */
static int fail_reply(struct peer_state *st, const char *expected, const char *cmd)
{
	char q[96];
	const char *reason = after_word(st->line, "error");
	if (reason)
		return fail(st, ATTN__PEER_FAILED, "peer %s answered `%s` with an error: %s",
		            st->desc->name, cmd, quoted(reason, q, sizeof(q)));
	return fail(st, ATTN__PEER_FAILED, "peer protocol: expected '%s', got '%s'", expected,
	            quoted(st->line, q, sizeof(q)));
}

static int remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	char path[PATH_MAX];
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	return rmdir(dir);
}

int attn__peer_remove_dirs(long pid)
{
	char prefix[64];
	int n = snprintf(prefix, sizeof(prefix), "attnbench-peer-%ld-", pid), removed = 0;
	DIR *d = opendir("/dev/shm");
	if (!d)
		return 0;
	struct dirent *e;
	char path[PATH_MAX];
	while ((e = readdir(d)))
		if (strncmp(e->d_name, prefix, (size_t)n) == 0) {
			snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
			removed += remove_dir(path) == 0;
		}
	closedir(d);
	return removed;
}

/* ${PYTHON}: $ATTNBENCH_PYTHON, else /usr/bin/python3 where it exists, else python3 on PATH. */
static const char *python(void)
{
	const char *p = getenv("ATTNBENCH_PYTHON");
	if (p && *p)
		return p;
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

/* The environment for the peer: ours, with the thread variables set and ATTNBENCH_PEER=1. */
static char **peer_env(int threads, char store[5][64])
{
	static const char *const set[] = {"ATTNBENCH_PEER", "OMP_NUM_THREADS",
	                                  "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"};
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 5, sizeof(*env));
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int ours = 0;
		for (int j = 0; j < 4; j++) {
			size_t l = strlen(set[j]);
			ours |= strncmp(environ[i], set[j], l) == 0 && environ[i][l] == '=';
		}
		if (!ours)
			env[k++] = environ[i];
	}
	for (int j = 0; j < 4; j++) {
		snprintf(store[j], 64, "%s=%d", set[j], j == 0 ? 1 : threads);
		env[k++] = store[j];
	}
	env[k] = NULL;
	return env;
}

static int spawn(struct peer_state *st, int threads)
{
	const struct peer_desc *d = st->desc;
	char py[PATH_MAX], words[MAX_ARGV][PATH_MAX], err_path[160];
	char *argv[MAX_ARGV + 1];
	snprintf(py, sizeof(py), "%s", python());
	for (int i = 0; i < d->argc; i++) {
		const char *w = d->argv[i], *at = strstr(w, "${PYTHON}");
		int n = at ? snprintf(words[i], sizeof(words[i]), "%.*s%s%s", (int)(at - w), w, py,
		                      at + strlen("${PYTHON}"))
		           : snprintf(words[i], sizeof(words[i]), "%s", w);
		if (n < 0 || (size_t)n >= sizeof(words[i]))
			return fail(st, ATTN__PEER_FAILED, "peer %s: command word %d is too long",
			            d->name, i + 1);
		argv[i] = words[i];
	}
	argv[d->argc] = NULL;
	char envstore[5][64];
	char **env = peer_env(threads, envstore);
	snprintf(err_path, sizeof(err_path), "%s/stderr", st->dir);
	int errfd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	if (!env || errfd < 0 || pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		int e = errno;
		free(env);
		for (int i = 0; i < 2; i++) {
			if (in[i] >= 0)
				close(in[i]);
			if (out[i] >= 0)
				close(out[i]);
		}
		if (errfd >= 0)
			close(errfd);
		return fail(st, ATTN__PEER_FAILED, "peer %s: cannot set up its pipes: %s", d->name,
		            strerror(e));
	}
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		/* Not the runner's protocol pipe, nor anything else the harness holds open. */
		close_range(3, ~0u, 0);
		if (chdir(d->dir) != 0) {
			static const char m[] = "attnbench: cannot enter the descriptor's folder\n";
			ssize_t w = write(STDERR_FILENO, m, sizeof(m) - 1);
			(void)w;
			_exit(127);
		}
		execvpe(argv[0], argv, env);
		static const char m[] = "attnbench: cannot start the peer's command: exec failed\n";
		ssize_t w = write(STDERR_FILENO, m, sizeof(m) - 1);
		(void)w;
		_exit(127);
	}
	int e = errno;
	free(env);
	close(in[0]);
	close(out[1]);
	close(errfd);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return fail(st, ATTN__PEER_FAILED, "peer %s: fork: %s", d->name, strerror(e));
	}
	setpgid(pid, pid);
	st->pid = pid;
	st->to_fd = in[1];
	st->from_fd = out[0];
	return ATTN_OK;
}

/* The inputs as .npy files in the folder, and the case line naming them. */
static int write_inputs(struct peer_state *st, const struct attn_params *p,
                        const struct attn_inputs *in, const struct attn_ctx *ctx, char *line,
                        size_t len)
{
	const struct attn_shape *s = &st->s;
	const struct peer_desc *d = st->desc;
	const int64_t nq = attn_shape_nq(s);
	const int64_t qs[4] = {s->batch, s->heads, nq, s->d};
	const int64_t kv[4] = {s->batch, s->kv_heads, s->n, s->d};
	const int64_t bhn[4] = {s->batch, s->heads, s->n, s->d};
	const struct {
		const char *name;
		const float *data;
		int ndim;
		const int64_t *shape;
	} t[] = {{"q", in->q, 4, qs},
	         {"k", in->k, 4, kv},
	         {"v", in->v, 4, kv},
	         {"log_gate", in->log_gate, 3, bhn},
	         {"gate_vec", in->gate_vec, 4, bhn},
	         {"beta", in->beta, 3, bhn}};
	snprintf(line, len,
	         "case method=%s batch=%lld heads=%lld kv_heads=%lld n=%lld nq=%lld d=%lld "
	         "mode=%s causal=%d threads=%d seed=%llu dtype=float32",
	         d->name, (long long)s->batch, (long long)s->heads, (long long)s->kv_heads,
	         (long long)s->n, (long long)nq, (long long)s->d, attn_mode_name(s->mode),
	         s->causal ? 1 : 0, ctx ? ctx->threads : 1,
	         (unsigned long long)(ctx ? ctx->seed : 0));
	char path[160], why[512];
	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
		if (!t[i].data || (i >= 3 && !(d->m.inputs & (1u << (i - 3)))))
			continue;
		snprintf(path, sizeof(path), "%s/%s.npy", st->dir, t[i].name);
		if (attn_npy_write(path, t[i].ndim, t[i].shape, t[i].data, why, sizeof(why)))
			return fail(st, ATTN__PEER_FAILED, "peer %s: writing its input: %s",
			            d->name, why);
		attn__append(line, len, " %s=%s", t[i].name, path);
	}
	attn__append(line, len, " out=%s/out.npy", st->dir);
	for (int i = 0; i < d->m.n_params; i++) {
		const struct attn_param_spec *ps = &d->m.params[i];
		double v = p && i < p->count ? p->v[i] : ps->def;
		if (ps->type == ATTN_PARAM_ENUM) {
			char c[ATTN_CHOICE_MAX + 1];
			attn_param_choice_name(ps, (int)v, c, sizeof(c));
			attn__append(line, len, " p.%s=%s", ps->name, c);
		} else {
			attn__append(line, len, " p.%s=%.17g", ps->name, v);
		}
	}
	attn__append(line, len, "\n");
	return ATTN_OK;
}

static int peer_prepare(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, const struct attn_inputs *in, void *ws,
                        const struct attn_ctx *ctx)
{
	struct peer_state *st = ws;
	memset(st, 0, sizeof(*st));
	st->magic = PEER_MAGIC;
	st->pid = -1;
	st->to_fd = st->from_fd = -1;
	st->desc = desc_of(m);
	st->s = *s;
	snprintf(st->dir, sizeof(st->dir), "%s%ld-XXXXXX", ATTN__PEER_DIR_PREFIX, (long)getpid());
	if (!mkdtemp(st->dir)) {
		int e = errno;
		st->dir[0] = 0;
		return fail(st, ATTN__PEER_FAILED,
		            "peer %s: cannot make its folder under /dev/shm: %s", m->name,
		            strerror(e));
	}
	char *line = malloc(8192);
	if (!line)
		return fail(st, ATTN__PEER_FAILED, "out of memory");
	int rc = write_inputs(st, p, in, ctx, line, 8192);
	if (!rc)
		rc = spawn(st, ctx ? ctx->threads : 1);
	if (!rc)
		rc = read_line(st, "answering `hello`");
	if (!rc && strcmp(st->line, "hello attnbench-peer 1") != 0) {
		char q[96];
		rc = fail(st, ATTN__PEER_FAILED,
		          "peer protocol: expected 'hello attnbench-peer 1' first, got '%s'",
		          quoted(st->line, q, sizeof(q)));
	}
	if (!rc)
		rc = send_line(st, line, "answering `case`");
	free(line);
	if (!rc)
		rc = read_line(st, "answering `case`");
	if (rc)
		return rc;
	const char *rest;
	char q[96];
	if ((rest = after_word(st->line, "ready"))) {
		snprintf(st->info, sizeof(st->info), "%s", rest);
		for (char *c = st->info; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = ' ';
		return ATTN_OK;
	}
	if ((rest = after_word(st->line, "unsupported"))) {
		quoted(*rest ? rest : "(no reason given)", q, sizeof(q));
		close_fds(st);
		int w;
		reap(st, &w, QUIT_GRACE_NS);
		snprintf(st->err, sizeof(st->err), "%s", q);
		st->kind = ATTN__PEER_UNSUPPORTED;
		st->failed = 1;
		return ATTN_ERR_UNSUPPORTED;
	}
	return fail_reply(st, "ready|unsupported|error ...", "case");
}

int attn__peer_run(void *ws, long iters, int flush, int roof, struct attn__peer_sample *out)
{
	struct peer_state *st = ws;
	memset(out, 0, sizeof(*out));
	if (st->magic != PEER_MAGIC || st->failed)
		return ATTN_ERR_INVALID;
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "run %ld flush=%d roof=%d\n", iters, flush ? 1 : 0,
	         roof ? 1 : 0);
	uint64_t t0 = attn__now_ns();
	int rc = send_line(st, cmd, "answering `run`");
	if (!rc)
		rc = read_line(st, "answering `run`");
	uint64_t t1 = attn__now_ns();
	if (rc)
		return rc;
	const char *rest = after_word(st->line, "ns");
	char *end, q[96];
	double ns = rest ? strtod(rest, &end) : NAN;
	if (!rest || end == rest || !(ns > 0) || !isfinite(ns) || (*end && *end != ' '))
		return fail_reply(st, "ns N", "run");
	/* Optional KEY=VALUE words after it: the peer's roof. */
	for (const char *w = end; *w;) {
		while (*w == ' ')
			w++;
		double v;
		int used = 0;
		if (sscanf(w, "roof_ns=%lf%n", &v, &used) == 1 && used)
			out->roof_ns = v;
		else if (sscanf(w, "roof_flops=%lf%n", &v, &used) == 1 && used)
			out->roof_flops = v;
		else if (*w)
			return fail(st, ATTN__PEER_FAILED,
			            "peer protocol: expected 'ns N [roof_ns=NS roof_flops=FLOPS]', "
			            "got '%s'",
			            quoted(st->line, q, sizeof(q)));
		w += used;
	}
	if (!(out->roof_ns > 0 && out->roof_flops > 0 && isfinite(out->roof_ns) &&
	      isfinite(out->roof_flops)))
		out->roof_ns = out->roof_flops = 0;
	out->ns = ns;
	out->wall_ns = (double)(t1 - t0);
	return ATTN_OK;
}

int attn__peer_output(void *ws, const struct attn_shape *s, float *out)
{
	struct peer_state *st = ws;
	if (st->magic != PEER_MAGIC || st->failed)
		return ATTN_ERR_INVALID;
	int rc = send_line(st, "output\n", "answering `output`");
	if (!rc)
		rc = read_line(st, "answering `output`");
	if (rc)
		return rc;
	if (strcmp(st->line, "ok") != 0)
		return fail_reply(st, "ok", "output");
	char path[160], why[512];
	snprintf(path, sizeof(path), "%s/out.npy", st->dir);
	struct attn_npy a;
	if (attn_npy_read(path, &a, why, sizeof(why)))
		return fail(st, ATTN__PEER_FAILED_CHECK, "peer %s's output: %s", st->desc->name,
		            why);
	unlink(path);
	const int64_t want[4] = {s->batch, s->heads, attn_shape_nq(s), s->d};
	int same = a.ndim == 4 && a.elsize == sizeof(float);
	for (int i = 0; same && i < 4; i++)
		same = a.shape[i] == want[i];
	if (!same) {
		char got[160] = "(";
		for (int i = 0; i < a.ndim; i++)
			attn__append(got, sizeof(got), "%s%lld", i ? ", " : "",
			             (long long)a.shape[i]);
		attn__append(got, sizeof(got), "%s)", a.ndim == 1 ? "," : "");
		const char *dtype = a.elsize == sizeof(float) ? "float32" : "float64";
		attn_npy_free(&a);
		return fail(st, ATTN__PEER_FAILED_CHECK,
		            "peer %s wrote an output of shape %s %s; expected (%lld, %lld, %lld, "
		            "%lld) float32",
		            st->desc->name, got, dtype, (long long)want[0], (long long)want[1],
		            (long long)want[2], (long long)want[3]);
	}
	memcpy(out, a.data, (size_t)(want[0] * want[1] * want[2] * want[3]) * sizeof(float));
	attn_npy_free(&a);
	return ATTN_OK;
}

static int peer_forward(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, const struct attn_inputs *in, float *out,
                        void *ws, const struct attn_ctx *ctx)
{
	(void)m, (void)p, (void)in, (void)ctx;
	struct attn__peer_sample smp;
	int rc = attn__peer_run(ws, 1, 0, 0, &smp);
	return rc ? rc : attn__peer_output(ws, s, out);
}

const char *attn__peer_info(const void *ws)
{
	const struct peer_state *st = ws;
	return st->magic == PEER_MAGIC ? st->info : "";
}

const char *attn__peer_error(const void *ws, enum attn__peer_fail *kind)
{
	const struct peer_state *st = ws;
	if (st->magic != PEER_MAGIC || !st->failed)
		return NULL;
	*kind = st->kind;
	return st->err;
}

void attn__peer_close(void *ws)
{
	struct peer_state *st = ws;
	if (!st || st->magic != PEER_MAGIC)
		return;
	if (st->to_fd >= 0 && !st->failed) {
		/* quit, then EOF; it has QUIT_GRACE_NS to exit before it is killed. */
		struct sigaction ign = {.sa_handler = SIG_IGN}, old;
		sigemptyset(&ign.sa_mask);
		sigaction(SIGPIPE, &ign, &old);
		ssize_t w = write(st->to_fd, "quit\n", 5);
		(void)w;
		sigaction(SIGPIPE, &old, NULL);
	}
	close_fds(st);
	int wstatus;
	reap(st, &wstatus, QUIT_GRACE_NS);
	if (st->dir[0])
		remove_dir(st->dir);
	st->dir[0] = 0;
	st->magic = 0;
}
