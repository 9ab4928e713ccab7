/*
 * The method registry: built-in descriptors from the generated table, and
 * external plugins loaded with dlopen.
 *
 * A plugin is admitted whole or not at all: all of its descriptors are
 * validated (ABI version first, so that a plugin built for another ABI is
 * never read further than its first field) and checked for name clashes
 * before any is registered. Shared objects stay loaded until the registry is
 * freed, since their descriptors live in them.
 *
 * Loading a plugin runs its code - initialisers, the entry point - and
 * reading its descriptors follows pointers it chose, so a broken plugin could
 * crash, hang or exit whatever verb loads it. Each plugin is therefore first
 * tried in a probe: a forked child that loads it, calls the entry point,
 * validates every descriptor (strings read with a bound, so a missing NUL
 * faults in the child, not here), unloads it and reports over a pipe, under
 * a timeout. Only a plugin whose probe answered "fine" is loaded here; a
 * crash, hang, exit or process left behind in the probe is the plugin's
 * failure and its error names the file and what happened.
 *
 * A descriptor of ABI version 1 (method.h's struct attn_method_v1) is read by
 * that layout, validated by the same rules and registered as an adapter: a
 * version 2 descriptor the registry allocates, whose data is the version 1
 * descriptor and whose callbacks forward to its callbacks. So everything
 * past the registry sees version 2 only.
 *
 * Descriptor strings end up in logs, tables, CSV, JSON and the database, so
 * they must be one line of printable text: names and enum choices are
 * refused unless they are plain identifiers, and free text (category,
 * summary, citation, parameter help) is refused - not cleaned up - when it
 * holds a control character or is not UTF-8, so the plugin's author learns
 * of it and what is shown is what the plugin says.
 */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attnbench/registry.h"
#include "attnbench/status.h"
#include "internal.h"
#include "peer.h"

struct attn_registry {
	int count, cap;
	const struct attn_method **methods;
	char **origins;
	int n_handles;
	void **handles;
	int n_adapters;
	struct attn_method **adapters; /* of version 1 descriptors, ours to free */
	int n_peers;
	struct attn_method **peers; /* made from .peer files, ours to free */
	int n_warnings;
	char **warnings;
	double probe_timeout_s;
};

const char *attn_family_name(enum attn_family f)
{
	switch (f) {
	case ATTN_FAMILY_FULL: return "full";
	case ATTN_FAMILY_LINEAR: return "linear";
	case ATTN_FAMILY_SPARSE: return "sparse";
	case ATTN_FAMILY_HYBRID: return "hybrid";
	}
	return "unknown";
}

const char *attn_mode_name(enum attn_mode m)
{
	return m == ATTN_MODE_DECODE ? "decode" : "prefill";
}

/* --- descriptor strings --------------------------------------------------- */

/*
 * At most `max` bytes of s for a message, with every byte that is not
 * printable ASCII written as \n, \t or \xNN, and "..." when cut; the bytes
 * past a missing NUL are never read.
 */
static const char *show(const char *s, size_t max, char *buf, size_t len)
{
	size_t lim = max < 40 ? max : 40, n = strnlen(s, lim), o = 0;
	int cut = n == lim && (lim < max ? s[lim] != 0 : 1);
	buf[0] = 0;
	for (size_t i = 0; i < n && o + 5 < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			o += (size_t)snprintf(buf + o, len - o, "\\n");
		else if (c == '\t')
			o += (size_t)snprintf(buf + o, len - o, "\\t");
		else if (c < 0x20 || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c, buf[o] = 0;
	}
	if (cut && o + 4 < len)
		snprintf(buf + o, len - o, "...");
	return buf;
}

/* A name of 1..max characters from [a-z0-9_], read no further than max + 1 bytes. */
static int valid_name(const char *s, size_t max)
{
	if (!s || !*s)
		return 0;
	size_t n = strnlen(s, max + 1);
	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Parameter names may be capitalised like the survey's symbols ("C"). */
static int valid_param_name(const char *s)
{
	if (!s || !is_alpha(*s))
		return 0;
	size_t n = strnlen(s, ATTN_PARAM_NAME_MAX + 1);
	if (n > ATTN_PARAM_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(is_alpha(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/*
 * Why the free text s (at most max bytes) cannot be shown on one line of a
 * log, a table or a JSON string, written into why; 0 when it can (NULL
 * can). It must be NUL-terminated within max bytes, valid UTF-8, and free
 * of control characters (C0, DEL and C1: a newline would split a log line,
 * an escape would reach the user's terminal).
 */
static int text_unfit(const char *s, size_t max, char *why, size_t len)
{
	if (!s)
		return 0;
	size_t n = strnlen(s, max + 1);
	if (n > max)
		return snprintf(why, len, "is longer than %zu bytes (or not NUL-terminated)", max),
		       1;
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = u[i], k, cp;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return snprintf(why, len,
				                "has a control character (0x%02x) at byte %zu", c,
				                i),
				       1;
			i++;
			continue;
		}
		/* The sequence's length, the bits its lead byte holds, and its smallest code point.
		 */
		unsigned least;
		if ((c & 0xe0) == 0xc0)
			k = 2, cp = c & 0x1f, least = 0x80;
		else if ((c & 0xf0) == 0xe0)
			k = 3, cp = c & 0x0f, least = 0x800;
		else if ((c & 0xf8) == 0xf0)
			k = 4, cp = c & 0x07, least = 0x10000;
		else
			return snprintf(why, len, "is not UTF-8 (byte 0x%02x at byte %zu)", c, i),
			       1;
		if (i + k > n)
			return snprintf(why, len, "is not UTF-8 (a sequence cut at byte %zu)", i),
			       1;
		for (unsigned j = 1; j < k; j++) {
			if ((u[i + j] & 0xc0) != 0x80)
				return snprintf(why, len, "is not UTF-8 (byte 0x%02x at byte %zu)",
				                u[i + j], i + j),
				       1;
			cp = cp << 6 | (u[i + j] & 0x3f);
		}
		if (cp < least || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return snprintf(why, len, "is not UTF-8 (a bad sequence at byte %zu)", i),
			       1;
		if (cp >= 0x80 && cp <= 0x9f)
			return snprintf(why, len, "has a control character (U+%04X) at byte %zu",
			                cp, i),
			       1;
		i += k;
	}
	return 0;
}

/*
 * Why an enum's choices ("a|b|c") are unusable, into why; 0 when fine, with
 * their count in *count. Each must be a word the spec grammar can carry
 * (1..ATTN_CHOICE_MAX characters of [A-Za-z0-9_.+-]: no separator, space or
 * '|'), and each distinct, or one could never be selected.
 */
static int choices_unfit(const char *c, int *count, char *why, size_t len)
{
	size_t max = (size_t)ATTN_CHOICES_MAX * (ATTN_CHOICE_MAX + 1);
	size_t n = strnlen(c, max + 1);
	char one[ATTN_CHOICE_MAX + 2], shown[200];
	if (n > max)
		return snprintf(why, len, "are longer than %zu bytes (or not NUL-terminated)", max),
		       1;
	*count = 0;
	for (size_t i = 0; i <= n;) {
		size_t w = strcspn(c + i, "|"), bad = w == 0 || w > ATTN_CHOICE_MAX;
		if (++*count > ATTN_CHOICES_MAX)
			return snprintf(why, len, "are more than %d", ATTN_CHOICES_MAX), 1;
		for (size_t j = i; j < i + w && !bad; j++)
			bad = !(is_alpha(c[j]) || (c[j] >= '0' && c[j] <= '9') ||
			        strchr("_.+-", c[j]));
		snprintf(one, sizeof(one), "%.*s", (int)(w < sizeof(one) - 1 ? w : sizeof(one) - 1),
		         c + i);
		if (bad)
			return snprintf(why, len,
			                "'%s': choice %d '%s' is not 1-%d characters of "
			                "[A-Za-z0-9_.+-]",
			                show(c, max, shown, 100), *count,
			                show(one, sizeof(one) - 1, shown + 100, 100),
			                ATTN_CHOICE_MAX),
			       1;
		for (size_t p = 0; p < i;) {
			size_t pw = strcspn(c + p, "|");
			if (pw == w && strncmp(c + p, c + i, w) == 0)
				return snprintf(why, len, "'%s': choice '%s' is there twice",
				                show(c, max, shown, sizeof(shown)), one),
				       1;
			p += pw + 1;
		}
		i += w + 1;
	}
	return 0;
}

/* --- ABI version 1 -------------------------------------------------------- */

static const struct attn_method_v1 *v1_of(const struct attn_method *m)
{
	return m->data;
}

static int v1_supports(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, char *msg, size_t msglen)
{
	return v1_of(m)->supports(s, p, msg, msglen);
}

static size_t v1_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                 const struct attn_params *p, int threads)
{
	return v1_of(m)->workspace_bytes(s, p, threads);
}

static double v1_flops(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p)
{
	return v1_of(m)->flops(s, p);
}

static double v1_bytes(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p)
{
	return v1_of(m)->bytes(s, p);
}

static int v1_prepare(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, void *ws,
                      const struct attn_ctx *ctx)
{
	return v1_of(m)->prepare(s, p, in, ws, ctx);
}

static int v1_forward(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, float *out,
                      void *ws, const struct attn_ctx *ctx)
{
	return v1_of(m)->forward(s, p, in, out, ws, ctx);
}

static int v1_oracle(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p, const struct attn_inputs *in, double *out,
                     const struct attn_ctx *ctx)
{
	return v1_of(m)->oracle(s, p, in, out, ctx);
}

/*
 * The version 2 face of version 1 descriptor o: its fields, data = o, and a
 * forwarder for each callback o has (NULL where o has none, so validation
 * and the optional callbacks read alike).
 */
static struct attn_method v1_adapter(const struct attn_method_v1 *o)
{
	return (struct attn_method){
	    .abi_version = ATTN_ABI_VERSION,
	    .name = o->name,
	    .family = o->family,
	    .category = o->category,
	    .summary = o->summary,
	    .citation = o->citation,
	    .flags = o->flags,
	    .time_exp = o->time_exp,
	    .mem_exp = o->mem_exp,
	    .tolerance = o->tolerance,
	    .inputs = o->inputs,
	    .n_params = o->n_params,
	    .params = o->params,
	    .data = o,
	    .supports = o->supports ? v1_supports : NULL,
	    .workspace_bytes = o->workspace_bytes ? v1_workspace_bytes : NULL,
	    .flops = o->flops ? v1_flops : NULL,
	    .bytes = o->bytes ? v1_bytes : NULL,
	    .prepare = o->prepare ? v1_prepare : NULL,
	    .forward = o->forward ? v1_forward : NULL,
	    .oracle = o->oracle ? v1_oracle : NULL,
	};
}

static int validate_v2(const struct attn_method *m, char *err, size_t errlen);

int attn_method_validate(const struct attn_method *m, char *err, size_t errlen)
{
	if (!m)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "NULL method descriptor");
	/* Only the first field is common to every version: read no further before it. */
	if (m->abi_version == ATTN_ABI_VERSION_1) {
		const struct attn_method a =
		    v1_adapter((const struct attn_method_v1 *)(const void *)m);
		return validate_v2(&a, err, errlen);
	}
	if (m->abi_version != ATTN_ABI_VERSION)
		return attn_errf(err, errlen, ATTN_ERR_ABI,
		                 "method built for ABI version %d, this attnbench speaks version "
		                 "%d (and loads version %d)",
		                 m->abi_version, ATTN_ABI_VERSION, ATTN_ABI_VERSION_1);
	return validate_v2(m, err, errlen);
}

/* The rules for a version 2 descriptor (a version 1 one's adapter included). */
static int validate_v2(const struct attn_method *m, char *err, size_t errlen)
{
	char shown[200], why[300];
	if (!valid_name(m->name, ATTN_METHOD_NAME_MAX))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "method name '%s' is not 1-%d characters of [a-z0-9_]",
		                 m->name ? show(m->name, 256, shown, sizeof(shown)) : "(null)",
		                 ATTN_METHOD_NAME_MAX);
	if ((unsigned)m->family > ATTN_FAMILY_HYBRID)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "method '%s': unknown family %d",
		                 m->name, (int)m->family);
	/* The free text, each with its bound. */
	const struct {
		const char *what, *text;
		size_t max;
	} texts[] = {{"category", m->category, ATTN_CATEGORY_MAX},
	             {"summary", m->summary, ATTN_TEXT_MAX},
	             {"citation", m->citation, ATTN_TEXT_MAX}};
	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++)
		if (text_unfit(texts[i].text, texts[i].max, why, sizeof(why)))
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "method '%s': its %s '%s' %s; descriptor text must be one "
			                 "line of printable UTF-8",
			                 m->name, texts[i].what,
			                 show(texts[i].text, texts[i].max, shown, sizeof(shown)),
			                 why);
	if (!m->forward || !m->workspace_bytes || !m->flops || !m->bytes)
		return attn_errf(
		    err, errlen, ATTN_ERR_INVALID,
		    "method '%s': forward, workspace_bytes, flops and bytes are required", m->name);
	if (!(m->flags & ATTN_METHOD_EXACT) && !m->oracle)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "method '%s' is approximate and must bring its own float64 oracle",
		                 m->name);
	if (!(m->tolerance > 0.0 && m->tolerance < 1.0))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "method '%s': tolerance %g is not in (0, 1)", m->name,
		                 m->tolerance);
	/* The fit compares measured exponents with these: they must be figures. */
	if (!(m->time_exp >= 0 && m->time_exp <= 8) || !(m->mem_exp >= 0 && m->mem_exp <= 8))
		return attn_errf(
		    err, errlen, ATTN_ERR_INVALID,
		    "method '%s': complexity exponents (time %g, memory %g) are not in "
		    "[0, 8]",
		    m->name, m->time_exp, m->mem_exp);
	if (m->n_params < 0 || m->n_params > ATTN_MAX_PARAMS || (m->n_params > 0 && !m->params))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "method '%s': n_params %d is not in 0..%d", m->name, m->n_params,
		                 ATTN_MAX_PARAMS);
	for (int i = 0; i < m->n_params; i++) {
		const struct attn_param_spec *p = &m->params[i];
		if (!valid_param_name(p->name))
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "method '%s': parameter %d's name '%s' is not 1-%d "
			                 "characters of [A-Za-z0-9_] starting with a letter",
			                 m->name, i,
			                 p->name ? show(p->name, 256, shown, sizeof(shown))
			                         : "(null)",
			                 ATTN_PARAM_NAME_MAX);
		for (int j = 0; j < i; j++)
			if (strcmp(m->params[j].name, p->name) == 0)
				return attn_errf(err, errlen, ATTN_ERR_DUPLICATE,
				                 "method '%s': parameter '%s' declared twice",
				                 m->name, p->name);
		if (text_unfit(p->help, ATTN_TEXT_MAX, why, sizeof(why)))
			return attn_errf(
			    err, errlen, ATTN_ERR_INVALID,
			    "method '%s': parameter '%s': its help '%s' %s; descriptor "
			    "text must be one line of printable UTF-8",
			    m->name, p->name, show(p->help, ATTN_TEXT_MAX, shown, sizeof(shown)),
			    why);
		if ((unsigned)p->type > ATTN_PARAM_ENUM)
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "method '%s': parameter '%s' has unknown type %d", m->name,
			                 p->name, (int)p->type);
		if (p->type == ATTN_PARAM_ENUM) {
			int nchoices = 0;
			if (!p->choices || !*p->choices)
				return attn_errf(err, errlen, ATTN_ERR_INVALID,
				                 "method '%s': enum parameter '%s' has no choices",
				                 m->name, p->name);
			if (choices_unfit(p->choices, &nchoices, why, sizeof(why)))
				return attn_errf(err, errlen, ATTN_ERR_INVALID,
				                 "method '%s': enum parameter '%s': its choices %s",
				                 m->name, p->name, why);
			if (p->def < 0 || p->def >= nchoices || p->def != (int)p->def)
				return attn_errf(
				    err, errlen, ATTN_ERR_INVALID,
				    "method '%s': enum parameter '%s' default %g is not a "
				    "choice index",
				    m->name, p->name, p->def);
		} else if (!(p->min <= p->def && p->def <= p->max)) {
			return attn_errf(
			    err, errlen, ATTN_ERR_INVALID,
			    "method '%s': parameter '%s' default %g is outside [%g, %g]", m->name,
			    p->name, p->def, p->min, p->max);
		}
	}
	return ATTN_OK;
}

/* --- the table ------------------------------------------------------------ */

static int reg_push(struct attn_registry *reg, const struct attn_method *m, const char *origin)
{
	if (reg->count == reg->cap) {
		int cap = reg->cap ? 2 * reg->cap : 16;
		const struct attn_method **nm = realloc(reg->methods, cap * sizeof(*nm));
		if (!nm)
			return ATTN_ERR_NOMEM;
		reg->methods = nm;
		char **no = realloc(reg->origins, cap * sizeof(*no));
		if (!no)
			return ATTN_ERR_NOMEM;
		reg->origins = no;
		reg->cap = cap;
	}
	char *o = attn__strdup(origin);
	if (!o)
		return ATTN_ERR_NOMEM;
	if (m->abi_version == ATTN_ABI_VERSION_1) {
		struct attn_method **na =
		    realloc(reg->adapters, (reg->n_adapters + 1) * sizeof(*na));
		struct attn_method *a = na ? malloc(sizeof(*a)) : NULL;
		if (na)
			reg->adapters = na;
		if (!a) {
			free(o);
			return ATTN_ERR_NOMEM;
		}
		*a = v1_adapter((const struct attn_method_v1 *)(const void *)m);
		reg->adapters[reg->n_adapters++] = a;
		m = a;
	}
	reg->methods[reg->count] = m;
	reg->origins[reg->count] = o;
	reg->count++;
	return ATTN_OK;
}

int attn_registry_add(struct attn_registry *reg, const struct attn_method *m, const char *origin,
                      char *err, size_t errlen)
{
	int rc = attn_method_validate(m, err, errlen);
	if (rc)
		return rc;
	const struct attn_method *old = attn_registry_find(reg, m->name);
	if (old) {
		int i = 0;
		while (reg->methods[i] != old)
			i++;
		return attn_errf(err, errlen, ATTN_ERR_DUPLICATE,
		                 "method '%s' from %s is already registered from %s", m->name,
		                 origin, reg->origins[i]);
	}
	rc = reg_push(reg, m, origin);
	if (rc)
		return attn_errf(err, errlen, rc, "out of memory registering '%s'", m->name);
	return ATTN_OK;
}

int attn_registry_init(struct attn_registry **out, char *err, size_t errlen)
{
	*out = NULL;
	struct attn_registry *reg = calloc(1, sizeof(*reg));
	if (!reg)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	reg->probe_timeout_s = ATTN_PLUGIN_PROBE_TIMEOUT_S;
	for (int i = 0; i < attn_builtin_count; i++) {
		int rc = attn_registry_add(reg, attn_builtin_methods[i], "built-in", err, errlen);
		if (rc) {
			attn_registry_free(reg);
			return rc;
		}
	}
	*out = reg;
	return ATTN_OK;
}

void attn_registry_free(struct attn_registry *reg)
{
	if (!reg)
		return;
	for (int i = 0; i < reg->count; i++)
		free(reg->origins[i]);
	free(reg->origins);
	free(reg->methods);
	for (int i = 0; i < reg->n_adapters; i++)
		free(reg->adapters[i]);
	free(reg->adapters);
	for (int i = 0; i < reg->n_peers; i++)
		attn__peer_free(reg->peers[i]);
	free(reg->peers);
	for (int i = 0; i < reg->n_handles; i++)
		dlclose(reg->handles[i]);
	free(reg->handles);
	for (int i = 0; i < reg->n_warnings; i++)
		free(reg->warnings[i]);
	free(reg->warnings);
	free(reg);
}

void attn_registry_set_probe_timeout(struct attn_registry *reg, double seconds)
{
	reg->probe_timeout_s = seconds > 0 ? seconds : ATTN_PLUGIN_PROBE_TIMEOUT_S;
}

/* --- opening a plugin ----------------------------------------------------- */

/*
 * What a plugin's code is doing, as the probe tells the parent one byte
 * ahead of each step, so that a crash or hang is blamed on the right part.
 */
enum probe_phase {
	PHASE_NONE = 0,
	PHASE_LOAD = 'l',   /* dlopen: its initialisers run */
	PHASE_ENTRY = 'e',  /* its entry point */
	PHASE_READ = 'r',   /* reading and validating its descriptors */
	PHASE_UNLOAD = 'u', /* dlclose: its finalisers run */
	PHASE_REPORT = 'R'  /* followed by the int status and the message */
};

static const char *phase_what(int phase)
{
	switch (phase) {
	case PHASE_LOAD: return "loading it (its initialisers)";
	case PHASE_ENTRY: return "its entry point";
	case PHASE_READ: return "reading its method descriptors";
	case PHASE_UNLOAD: return "unloading it (its finalisers)";
	default: return "the process trying it";
	}
}

/* The probe's last words: PHASE_REPORT, the status, and the error message. */
struct probe_report {
	char tag;
	int rc;
	char msg[1024];
};

static void phase_mark(int fd, char phase)
{
	if (fd >= 0 && write(fd, &phase, 1) != 1) {
		/* The parent is gone or the pipe broke: nothing to tell anyone. */
	}
}

/*
 * Open the plugin at path, call its entry point and validate what it
 * returns against reg: its handle, list and count. In the probe (phase_fd
 * >= 0) each step is announced first, and a plugin refused there is not
 * dlclose'd, so its finalisers cannot muddle the report.
 */
static int plugin_open(const struct attn_registry *reg, const char *path, int phase_fd,
                       void **handle, const struct attn_method *const **out, int *count, char *err,
                       size_t errlen)
{
	*handle = NULL;
	*out = NULL;
	*count = 0;
	phase_mark(phase_fd, PHASE_LOAD);
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return attn_errf(err, errlen, ATTN_ERR_NOTFOUND, "cannot load plugin %s: %s", path,
		                 dlerror());
	attn_plugin_entry_fn entry;
	void *sym = dlsym(h, ATTN_PLUGIN_ENTRY);
	int n = 0, rc = ATTN_OK;
	char why[512];
	if (!sym) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOTFOUND,
		               "plugin %s does not export %s(); see harness/include/attnbench/"
		               "method.h",
		               path, ATTN_PLUGIN_ENTRY);
		goto fail;
	}
	/* POSIX guarantees a function pointer survives this round trip. */
	memcpy(&entry, &sym, sizeof(entry));
	phase_mark(phase_fd, PHASE_ENTRY);
	const struct attn_method *const *list = entry();
	phase_mark(phase_fd, PHASE_READ);
	if (!list || !list[0]) {
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID, "plugin %s exports no methods", path);
		goto fail;
	}
	for (; list[n]; n++) {
		if (n >= 4096) {
			rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
			               "plugin %s: method list is not NULL-terminated", path);
			goto fail;
		}
		rc = attn_method_validate(list[n], why, sizeof(why));
		if (rc) {
			attn_errf(err, errlen, rc, "plugin %s: %s", path, why);
			goto fail;
		}
		/* name is the second field of version 1 and 2 alike: read in place. */
		const struct attn_method *old = attn_registry_find(reg, list[n]->name);
		for (int j = 0; j < n && !old; j++)
			if (strcmp(list[j]->name, list[n]->name) == 0)
				old = list[j];
		if (old) {
			rc = attn_errf(err, errlen, ATTN_ERR_DUPLICATE,
			               "plugin %s: method '%s' is already registered", path,
			               list[n]->name);
			goto fail;
		}
	}
	*handle = h;
	*out = list;
	*count = n;
	return ATTN_OK;
fail:
	if (phase_fd < 0)
		dlclose(h);
	return rc;
}

/* The probe child: try the plugin, report over fd, never return. */
static void probe_child(const struct attn_registry *reg, const char *path, int fd, pid_t parent)
{
	/* Die with the parent; own a process group; adopt orphaned descendants. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	setpgid(0, 0);
	int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGALRM, SIGCHLD};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		signal(sigs[i], SIG_DFL);
	/* What the plugin prints while being tried would be printed twice. */
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	struct probe_report rep = {PHASE_REPORT, ATTN_OK, ""};
	void *h;
	const struct attn_method *const *list;
	int n;
	rep.rc = plugin_open(reg, path, fd, &h, &list, &n, rep.msg, sizeof(rep.msg));
	if (rep.rc == ATTN_OK) {
		phase_mark(fd, PHASE_UNLOAD);
		dlclose(h);
	}
	/* As a subreaper, what the plugin's code started is all below it. */
	long long first = 0;
	attn__reap_descendants(&first);
	pid_t left = (pid_t)first;
	if (rep.rc == ATTN_OK && left)
		rep.rc = attn_errf(rep.msg, sizeof(rep.msg), ATTN_ERR_INVALID,
		                   "plugin %s: loading it started a process (pid %ld), which was "
		                   "killed; a plugin must not start processes until forward(); not "
		                   "loaded",
		                   path, (long)left);
	/* One write of less than PIPE_BUF bytes is atomic: the parent sees all or nothing. */
	size_t len = offsetof(struct probe_report, msg) + strlen(rep.msg) + 1;
	if (write(fd, &rep, len) != (ssize_t)len)
		_exit(1);
	_exit(0);
}

/*
 * Try the plugin at path in a probe child under reg's timeout: ATTN_OK when
 * it loaded, answered and validated there, else err says what went wrong.
 */
static int plugin_probe(const struct attn_registry *reg, const char *path, char *err, size_t errlen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return attn_errf(err, errlen, ATTN_ERR_IO, "plugin %s: pipe: %s", path,
		                 strerror(errno));
	/* A plugin that exits would flush our buffered output a second time. */
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid(), pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return attn_errf(err, errlen, ATTN_ERR_IO,
		                 "plugin %s: cannot start the process that tries it: fork: %s",
		                 path, strerror(e));
	}
	if (pid == 0) {
		close(p[0]);
		probe_child(reg, path, p[1], parent);
	}
	close(p[1]);
	setpgid(pid, pid); /* also here, so that the kill below cannot race the child's */

	/*
	 * Read until the child is gone (not until EOF: a process the plugin
	 * started may hold the pipe open) or the deadline passes.
	 */
	char buf[2048];
	size_t got = 0;
	int st = 0, timed_out = 0, eof = 0;
	uint64_t deadline = attn__now_ns() + (uint64_t)(reg->probe_timeout_s * 1e9);
	for (;;) {
		struct pollfd pfd = {p[0], POLLIN, 0};
		if (!eof && got < sizeof(buf) && poll(&pfd, 1, 10) > 0) {
			ssize_t k = read(p[0], buf + got, sizeof(buf) - got);
			if (k > 0)
				got += (size_t)k;
			else if (k == 0 || errno != EINTR)
				eof = 1;
		} else if (eof || got == sizeof(buf)) {
			struct timespec ts = {0, 5000000};
			nanosleep(&ts, NULL);
		}
		/* Ended? Seen without reaping, so that its process group stays its own. */
		siginfo_t si = {0};
		int w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
		if ((w == 0 && si.si_pid == pid) || (w < 0 && errno != EINTR)) {
			/* What it wrote just before it ended. */
			while (!eof && got < sizeof(buf) && poll(&pfd, 1, 0) > 0) {
				ssize_t k = read(p[0], buf + got, sizeof(buf) - got);
				if (k <= 0)
					break;
				got += (size_t)k;
			}
			break;
		}
		if (attn__now_ns() > deadline) {
			timed_out = 1;
			break;
		}
	}
	/* Whatever the plugin started in the probe's process group goes with it. */
	kill(-pid, SIGKILL);
	if (timed_out)
		kill(pid, SIGKILL);
	pid_t w;
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	int reaped = w == pid;
	close(p[0]);

	size_t i = 0;
	int phase = PHASE_NONE;
	while (i < got && buf[i] != PHASE_REPORT)
		phase = buf[i++];
	size_t head = offsetof(struct probe_report, msg);
	if (!timed_out && i < got && got - i > head) {
		int rc;
		memcpy(&rc, buf + i + offsetof(struct probe_report, rc), sizeof(rc));
		buf[sizeof(buf) - 1] = 0;
		if (got < sizeof(buf))
			buf[got] = 0;
		if (rc != ATTN_OK)
			attn_errf(err, errlen, rc, "%s", buf + i + head);
		return rc;
	}
	if (timed_out)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "plugin %s: %s did not return within %g s; not loaded", path,
		                 phase_what(phase), reg->probe_timeout_s);
	if (reaped && WIFSIGNALED(st))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "plugin %s: %s crashed (signal %d, %s)%s; not loaded", path,
		                 phase_what(phase), WTERMSIG(st), strsignal(WTERMSIG(st)),
		                 phase == PHASE_READ
		                     ? ": a descriptor, list or string pointer of it "
		                       "points to no memory"
		                     : "");
	if (reaped && WIFEXITED(st))
		return attn_errf(
		    err, errlen, ATTN_ERR_INVALID,
		    "plugin %s: %s exited (status %d) instead of returning; not loaded", path,
		    phase_what(phase), WEXITSTATUS(st));
	return attn_errf(err, errlen, ATTN_ERR_INVALID,
	                 "plugin %s: %s ended without an answer; not loaded", path,
	                 phase_what(phase));
}

/* Control characters of err (from a path, or dlerror) as '?', so that it stays one line. */
static void one_line(char *err, size_t errlen)
{
	for (size_t i = 0; err && i < errlen && err[i]; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			err[i] = '?';
}

int attn_registry_load_plugin(struct attn_registry *reg, const char *path, char *err, size_t errlen)
{
	/*
	 * A bare name would make dlopen search the library path; a plugin is
	 * always a file the user named, so make it a path.
	 */
	char buf[4096];
	if (!strchr(path, '/')) {
		snprintf(buf, sizeof(buf), "./%s", path);
		path = buf;
	}
	int rc = plugin_probe(reg, path, err, errlen);
	if (rc) {
		one_line(err, errlen);
		return rc;
	}
	/*
	 * The probe found it sound; here it runs the same code again. A plugin
	 * whose answer differs from the probe's is still validated in full.
	 */
	void *h;
	const struct attn_method *const *list;
	int n;
	rc = plugin_open(reg, path, -1, &h, &list, &n, err, errlen);
	if (rc) {
		one_line(err, errlen);
		return rc;
	}
	void **nh = realloc(reg->handles, (reg->n_handles + 1) * sizeof(*nh));
	if (!nh) {
		dlclose(h);
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	}
	reg->handles = nh;
	reg->handles[reg->n_handles++] = h;
	for (int i = 0; i < n; i++) {
		rc = reg_push(reg, list[i], path);
		if (rc)
			return attn_errf(err, errlen, rc, "out of memory");
	}
	return ATTN_OK;
}

/* --- ATTNBENCH_PLUGIN_PATH ------------------------------------------------ */

/* Keep a plugin's refusal as a warning: ATTN_OK, or NOMEM when even that fails. */
static int warn(struct attn_registry *reg, const char *msg, char *err, size_t errlen)
{
	char **nw = realloc(reg->warnings, (reg->n_warnings + 1) * sizeof(*nw));
	if (!nw)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	reg->warnings = nw;
	if (!(nw[reg->n_warnings] = attn__strdup(msg)))
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	reg->n_warnings++;
	return ATTN_OK;
}

static int is_peer_file(const char *name)
{
	size_t len = strlen(name);
	return len > 5 && strcmp(name + len - 5, ".peer") == 0;
}

/* Load one plugin or peer of the path; its refusal becomes a warning, only NOMEM an error. */
static int load_or_warn(struct attn_registry *reg, const char *path, char *err, size_t errlen)
{
	char why[1024];
	int rc = is_peer_file(path) ? attn_registry_load_peer(reg, path, why, sizeof(why))
	                            : attn_registry_load_plugin(reg, path, why, sizeof(why));
	if (rc == ATTN_ERR_NOMEM)
		return attn_errf(err, errlen, rc, "%s", why);
	return rc ? warn(reg, why, err, errlen) : ATTN_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(struct attn_registry *reg, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d) {
		char why[1024];
		snprintf(why, sizeof(why), "cannot open plugin directory %s: %s", dir,
		         strerror(errno));
		one_line(why, sizeof(why));
		return warn(reg, why, err, errlen);
	}
	char **names = NULL;
	int n = 0, rc = ATTN_OK;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if ((len < 4 || strcmp(e->d_name + len - 3, ".so") != 0) &&
		    !is_peer_file(e->d_name))
			continue;
		char **nn = realloc(names, (n + 1) * sizeof(*nn));
		if (!nn || !(nn[n] = attn__strdup(e->d_name))) {
			names = nn ? nn : names;
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof(*names), cmp_str);
	for (int i = 0; i < n && rc == ATTN_OK; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = load_or_warn(reg, path, err, errlen);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int attn_registry_load_peer(struct attn_registry *reg, const char *path, char *err, size_t errlen)
{
	struct attn_method *m;
	int rc = attn__peer_load(path, &m, err, errlen);
	if (rc) {
		one_line(err, errlen);
		return rc;
	}
	struct attn_method **np = realloc(reg->peers, (reg->n_peers + 1) * sizeof(*np));
	if (!np) {
		attn__peer_free(m);
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	}
	reg->peers = np;
	rc = attn_registry_add(reg, m, path, err, errlen);
	if (rc) {
		attn__peer_free(m);
		one_line(err, errlen);
		return rc;
	}
	reg->peers[reg->n_peers++] = m;
	return ATTN_OK;
}

int attn_registry_load_peers_dir(struct attn_registry *reg, const char *dir, char *err,
                                 size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d)
		return ATTN_OK;
	closedir(d);
	return load_dir(reg, dir, err, errlen);
}

int attn_registry_load_env(struct attn_registry *reg, char *err, size_t errlen)
{
	const char *env = getenv("ATTNBENCH_PLUGIN_PATH");
	if (!env || !*env)
		return ATTN_OK;
	char *copy = attn__strdup(env), *save = NULL;
	if (!copy)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	int rc = ATTN_OK;
	for (char *tok = strtok_r(copy, ":", &save); tok && rc == ATTN_OK;
	     tok = strtok_r(NULL, ":", &save)) {
		DIR *d = opendir(tok);
		if (d) {
			closedir(d);
			rc = load_dir(reg, tok, err, errlen);
		} else {
			rc = load_or_warn(reg, tok, err, errlen);
		}
	}
	free(copy);
	return rc;
}

int attn_registry_warning_count(const struct attn_registry *reg)
{
	return reg->n_warnings;
}

const char *attn_registry_warning(const struct attn_registry *reg, int i)
{
	return i >= 0 && i < reg->n_warnings ? reg->warnings[i] : NULL;
}

/* --- lookups -------------------------------------------------------------- */

int attn_registry_count(const struct attn_registry *reg)
{
	return reg->count;
}

const struct attn_method *attn_registry_at(const struct attn_registry *reg, int i)
{
	return i >= 0 && i < reg->count ? reg->methods[i] : NULL;
}

const char *attn_registry_origin(const struct attn_registry *reg, int i)
{
	return i >= 0 && i < reg->count ? reg->origins[i] : NULL;
}

const struct attn_method *attn_registry_find(const struct attn_registry *reg, const char *name)
{
	for (int i = 0; i < reg->count; i++)
		if (strcmp(reg->methods[i]->name, name) == 0)
			return reg->methods[i];
	return NULL;
}

/* Levenshtein distance of a[0..na) and b, case ignored; names are short (< 64). */
static int edit_distance(const char *a, size_t na, const char *b)
{
	size_t nb = strlen(b);
	int row[65];
	if (na > 64 || nb > 64)
		return 1 << 20;
	for (size_t j = 0; j <= nb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= na; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= nb; j++) {
			int up = row[j];
			int same =
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
			int best = diag + !same;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[nb];
}

void attn_registry_suggest(const struct attn_registry *reg, const char *name, size_t n, char *hint,
                           size_t len)
{
	const char *best = NULL;
	int best_d = (int)(n / 3) > 2 ? (int)(n / 3) : 2;
	for (int i = 0; i < reg->count; i++) {
		int d = edit_distance(name, n, reg->methods[i]->name);
		if (d <= best_d && (!best || d < best_d)) {
			best = reg->methods[i]->name;
			best_d = d;
		}
	}
	if (best)
		snprintf(hint, len, " (did you mean '%s'?)", best);
	else if (len)
		hint[0] = 0;
}
