/*
 * Sweep specs and their expansion into cases (see sweep.h).
 *
 * Cases are ordered with the method innermost, so every method at one shape
 * runs back to back: a drift in machine speed then hits the methods being
 * compared alike, and a killed sweep leaves whole shapes behind it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/spec.h"
#include "attnbench/status.h"
#include "attnbench/sweep.h"
#include "attnbench/workload.h"
#include "internal.h"

enum { K_METHODS, K_N, K_D, K_HEADS, K_KV_HEADS, K_BATCH, K_THREADS, K_CAUSAL, K_MODE, K_DIST,
       K_SEED };

const char *const attn_sweep_keys[ATTN_SWEEP_KEYS] = {
	"methods", "n", "d", "heads", "kv_heads", "batch", "threads", "causal", "mode", "dist",
	"seed"};

static const char *const defaults[ATTN_SWEEP_KEYS] = {
	"all", "256..4096x2", "64", "1", "heads", "1", "1", "0", "prefill", "gaussian", "42"};

int attn_sweep_spec_init(struct attn_sweep_spec *sp)
{
	memset(sp, 0, sizeof(*sp));
	for (int i = 0; i < ATTN_SWEEP_KEYS; i++)
		if (!(sp->value[i] = attn__strdup(defaults[i]))) {
			attn_sweep_spec_free(sp);
			return ATTN_ERR_NOMEM;
		}
	return ATTN_OK;
}

void attn_sweep_spec_free(struct attn_sweep_spec *sp)
{
	for (int i = 0; i < ATTN_SWEEP_KEYS; i++) {
		free(sp->value[i]);
		sp->value[i] = NULL;
	}
	free(sp->options);
	sp->options = NULL;
}

int attn_sweep_spec_set(struct attn_sweep_spec *sp, const char *key, const char *value, char *err,
			size_t errlen)
{
	char k[32];
	snprintf(k, sizeof(k), "%s", key);
	for (char *c = k; *c; c++)
		if (*c == '-')
			*c = '_';
	for (int i = 0; i < ATTN_SWEEP_KEYS; i++)
		if (strcmp(k, attn_sweep_keys[i]) == 0) {
			char *v = attn__strdup(value);
			if (!v)
				return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
			free(sp->value[i]);
			sp->value[i] = v;
			return ATTN_OK;
		}
	return attn_errf(err, errlen, ATTN_ERR_INVALID,
			 "unknown sweep key '%s'; known: methods, n, d, heads, kv_heads, batch, "
			 "threads, causal, mode, dist, seed",
			 key);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

/* Append an `options` line's words to sp->options, after a blank. */
static int add_options(struct attn_sweep_spec *sp, const char *words)
{
	size_t had = sp->options ? strlen(sp->options) : 0;
	char *o = realloc(sp->options, had + strlen(words) + 2);
	if (!o)
		return ATTN_ERR_NOMEM;
	snprintf(o + had, strlen(words) + 2, "%s%s", had ? " " : "", words);
	sp->options = o;
	return ATTN_OK;
}

int attn_sweep_spec_load_text(struct attn_sweep_spec *sp, const char *text, const char *origin,
			      char *err, size_t errlen)
{
	char *copy = attn__strdup(text);
	if (!copy)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	int rc = ATTN_OK, lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *t = trim(line);
		if (!*t)
			continue;
		char *eq = strchr(t, '=');
		if (!eq) {
			rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
				       "%s:%d: expected 'key = value', got '%s'", origin, lineno, t);
			break;
		}
		*eq = 0;
		char why[256];
		if (strcmp(trim(t), "options") == 0) {
			if ((rc = add_options(sp, trim(eq + 1)))) {
				attn_errf(err, errlen, rc, "out of memory");
				break;
			}
			continue;
		}
		if ((rc = attn_sweep_spec_set(sp, trim(t), trim(eq + 1), why, sizeof(why)))) {
			attn_errf(err, errlen, rc, "%s:%d: %s", origin, lineno, why);
			break;
		}
	}
	free(copy);
	return rc;
}

/* The whole spec file into *text (malloc'd). */
static int read_spec_file(const char *path, char **text, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return attn_errf(err, errlen, ATTN_ERR_IO, "cannot read spec file %s", path);
	size_t len = 0;
	*text = NULL;
	FILE *m = open_memstream(text, &len);
	int c;
	while (m && (c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	if (!m)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	fclose(m);
	return ATTN_OK;
}

int attn_sweep_spec_load_file(struct attn_sweep_spec *sp, const char *path, char *err,
			      size_t errlen)
{
	char *text;
	int rc = read_spec_file(path, &text, err, errlen);
	if (rc)
		return rc;
	rc = attn_sweep_spec_load_text(sp, text, path, err, errlen);
	free(text);
	return rc;
}

char *attn_sweep_spec_text(const struct attn_sweep_spec *sp)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	if (!m)
		return NULL;
	for (int i = 0; i < ATTN_SWEEP_KEYS; i++)
		fprintf(m, "%s = %s\n", attn_sweep_keys[i], sp->value[i]);
	fclose(m);
	return text;
}

/* "0", "1" or "both" (and for mode "prefill", "decode", "both") into a list. */
static int parse_pair(const char *key, const char *v, const char *a, const char *b, int *vals,
		      int *count, char *err, size_t errlen)
{
	if (strcmp(v, a) == 0) {
		vals[0] = 0;
		*count = 1;
	} else if (strcmp(v, b) == 0) {
		vals[0] = 1;
		*count = 1;
	} else if (strcmp(v, "both") == 0) {
		vals[0] = 0;
		vals[1] = 1;
		*count = 2;
	} else {
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
				 "%s '%s': expected %s, %s or both", key, v, a, b);
	}
	return ATTN_OK;
}

static int parse_dists(const char *v, enum attn_dist *dists, int *count, char *err, size_t errlen)
{
	char *copy = attn__strdup(v), *save = NULL;
	if (!copy)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	int rc = ATTN_OK;
	*count = 0;
	for (char *t = strtok_r(copy, ",", &save); t && rc == ATTN_OK;
	     t = strtok_r(NULL, ",", &save)) {
		enum attn_dist d;
		char why[256];
		if ((rc = attn_dist_parse(trim(t), &d, why, sizeof(why)))) {
			attn_errf(err, errlen, rc, "dist: %s", why);
			break;
		}
		int seen = 0;
		for (int i = 0; i < *count; i++)
			seen |= dists[i] == d;
		if (!seen)
			dists[(*count)++] = d;
	}
	if (rc == ATTN_OK && *count == 0)
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID, "dist '%s': no distribution named", v);
	free(copy);
	return rc;
}

static int parse_seed(const char *v, uint64_t *seed, char *err, size_t errlen)
{
	char *end;
	if (!*v || *v == '-')
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
				 "seed '%s': expected a non-negative integer", v);
	*seed = strtoull(v, &end, 10);
	if (*end)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
				 "seed '%s': expected a non-negative integer, '%s' is not a digit",
				 v, end);
	return ATTN_OK;
}

int attn_sweep_expand(const struct attn_sweep_spec *sp, const struct attn_registry *reg,
		      struct attn_case_list *out, char *err, size_t errlen)
{
	static const struct {
		int key;
		int64_t min, max;
	} axes[] = {{K_N, 1, INT64_C(1) << 40}, {K_D, 1, 65536},     {K_HEADS, 1, 65536},
		    {K_KV_HEADS, 1, 65536},     {K_BATCH, 1, 65536}, {K_THREADS, 1, 4096}};
	struct attn_axis ax[6] = {{0}};
	struct attn_method_list ml = {0};
	int causal[2] = {0}, ncausal = 0, mode[2] = {0}, nmode = 0, ndist = 0;
	enum attn_dist dists[ATTN_DIST_COUNT];
	uint64_t seed = 0;
	char why[512];
	int rc = ATTN_OK;
	memset(out, 0, sizeof(*out));

	for (int i = 0; i < 6; i++) {
		const char *v = sp->value[axes[i].key];
		if (axes[i].key == K_KV_HEADS && strcmp(v, "heads") == 0)
			continue; /* same as heads, per case */
		if ((rc = attn_axis_parse(v, axes[i].min, axes[i].max, &ax[i], why, sizeof(why)))) {
			attn_errf(err, errlen, rc, "%s: %s", attn_sweep_keys[axes[i].key], why);
			goto done;
		}
	}
	if ((rc = parse_pair("causal", sp->value[K_CAUSAL], "0", "1", causal, &ncausal, err,
			     errlen)) ||
	    (rc = parse_pair("mode", sp->value[K_MODE], "prefill", "decode", mode, &nmode, err,
			     errlen)) ||
	    (rc = parse_dists(sp->value[K_DIST], dists, &ndist, err, errlen)) ||
	    (rc = parse_seed(sp->value[K_SEED], &seed, err, errlen)))
		goto done;
	if ((rc = attn_methods_parse(sp->value[K_METHODS], reg, &ml, why, sizeof(why)))) {
		attn_errf(err, errlen, rc, "methods: %s", why);
		goto done;
	}
	if (ml.count == 0) {
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID, "methods '%s': no method selected",
			       sp->value[K_METHODS]);
		goto done;
	}

	struct attn_axis *n = &ax[0], *d = &ax[1], *h = &ax[2], *kvh = &ax[3], *b = &ax[4],
			 *th = &ax[5];
	int nkv = kvh->count ? kvh->count : 1;
	double total = (double)ndist * b->count * h->count * nkv * d->count * n->count * ncausal *
		       nmode * th->count * ml.count;
	if (total > 1e6) {
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
			       "the spec expands to %.0f cases; more than 1000000 is surely a "
			       "mistake",
			       total);
		goto done;
	}
	out->items = calloc(total > 0 ? (size_t)total : 1, sizeof(*out->items));
	if (!out->items) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (int i0 = 0; i0 < ndist; i0++)
	for (int i1 = 0; i1 < b->count; i1++)
	for (int i2 = 0; i2 < h->count; i2++)
	for (int i3 = 0; i3 < nkv; i3++)
	for (int i4 = 0; i4 < nmode; i4++)
	for (int i5 = 0; i5 < ncausal; i5++)
	for (int i6 = 0; i6 < d->count; i6++)
	for (int i7 = 0; i7 < n->count; i7++)
	for (int i8 = 0; i8 < th->count; i8++)
	for (int i9 = 0; i9 < ml.count; i9++) {
		struct attn_case *c = &out->items[out->count++];
		c->method = ml.items[i9].method;
		c->params = ml.items[i9].params;
		c->shape.batch = b->values[i1];
		c->shape.heads = h->values[i2];
		c->shape.kv_heads = kvh->count ? kvh->values[i3] : h->values[i2];
		c->shape.n = n->values[i7];
		c->shape.d = d->values[i6];
		c->shape.causal = causal[i5];
		c->shape.mode = mode[i4] ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL;
		c->dist = dists[i0];
		c->threads = (int)th->values[i8];
		c->seed = seed;
	}
done:
	for (int i = 0; i < 6; i++)
		attn_axis_free(&ax[i]);
	attn_method_list_free(&ml);
	if (rc)
		attn_case_list_free(out);
	return rc;
}

void attn_case_list_free(struct attn_case_list *list)
{
	free(list->items);
	list->items = NULL;
	list->count = 0;
}
