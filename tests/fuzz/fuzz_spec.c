/*
 * Fuzz target: the spec grammar (spec.h, sweep.h) one setting at a time, as
 * the sweep options of the command line hand it over.
 *
 * The input is "key=value" (split at the first '='), as `--key value`
 * would set it: attn_sweep_spec_set, then attn_sweep_expand with the
 * built-in registry, which is where every value is parsed and checked.
 * Whatever the key, the value also goes straight to each parser on its own:
 * a numeric axis (attn_axis_parse), a method list (attn_methods_parse) and
 * a `--param` setting of every registered method (attn_params_set).
 *
 * Besides "no crash, no leak, no undefined behaviour", what each header
 * promises is checked: a refusal has a message; an axis holds 1 to 100000
 * values, in [min, max], without repeats; a method list's cases have
 * parameters in their specs' ranges, and each case's canonical text
 * (attn_params_format) is accepted back by attn_params_set and gives the
 * same values; an expanded sweep's shapes lie within the axes' bounds.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/registry.h"
#include "attnbench/spec.h"
#include "attnbench/sweep.h"
#include "fuzz.h"

/* Built once: the fuzzer calls the target millions of times. */
static const struct attn_registry *registry(void)
{
	static struct attn_registry *reg;
	char err[512];

	if (!reg)
		FUZZ_CHECK(attn_registry_init(&reg, err, sizeof(err)) == 0, "registry: %s", err);
	return reg;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void check_axis(const char *text, int64_t min, int64_t max)
{
	struct attn_axis ax = {0};
	char err[512] = "";
	int rc = attn_axis_parse(text, min, max, &ax, err, sizeof(err));

	FUZZ_CHECK_MESSAGE(rc, err);
	if (rc) {
		attn_axis_free(&ax);
		return;
	}
	FUZZ_CHECK(ax.count >= 1 && ax.count <= 100000, "axis '%s': %d values", text, ax.count);
	int64_t *sorted = malloc((size_t)ax.count * sizeof(*sorted));
	FUZZ_CHECK(sorted != NULL, "out of memory");
	for (int i = 0; i < ax.count; i++) {
		FUZZ_CHECK(ax.values[i] >= min && ax.values[i] <= max,
		           "axis '%s': value %lld outside [%lld, %lld]", text,
		           (long long)ax.values[i], (long long)min, (long long)max);
		sorted[i] = ax.values[i];
	}
	qsort(sorted, (size_t)ax.count, sizeof(*sorted), cmp_i64);
	for (int i = 1; i < ax.count; i++)
		FUZZ_CHECK(sorted[i] != sorted[i - 1], "axis '%s': %lld repeated", text,
		           (long long)sorted[i]);
	free(sorted);
	attn_axis_free(&ax);
}

/* p's values lie in m's parameter specs: ints whole and in range, enums a valid choice. */
static void check_params(const struct attn_method *m, const struct attn_params *p, const char *src)
{
	char name[128];

	FUZZ_CHECK(p->count == m->n_params, "%s from '%s': %d values for %d parameters", m->name,
	           src, p->count, m->n_params);
	for (int i = 0; i < p->count; i++) {
		const struct attn_param_spec *s = &m->params[i];
		double v = p->v[i];

		FUZZ_CHECK(isfinite(v), "%s.%s from '%s': %g", m->name, s->name, src, v);
		if (s->type == ATTN_PARAM_ENUM) {
			FUZZ_CHECK(v == floor(v) &&
			               attn_param_choice_name(s, (int)v, name, sizeof(name)) == 0,
			           "%s.%s from '%s': %g is no choice", m->name, s->name, src, v);
			continue;
		}
		FUZZ_CHECK(v >= s->min && v <= s->max, "%s.%s from '%s': %.17g outside [%g, %g]",
		           m->name, s->name, src, v, s->min, s->max);
		if (s->type == ATTN_PARAM_INT)
			FUZZ_CHECK(v == floor(v), "%s.%s from '%s': %.17g is not whole", m->name,
			           s->name, src, v);
	}
}

/*
 * The canonical text of p is what runs are stored and resumed with: each of
 * its "k=v" must be accepted by attn_params_set and give p back (reals to
 * the 9 digits the text keeps).
 */
static void check_format_roundtrip(const struct attn_method *m, const struct attn_params *p)
{
	char text[4096], err[512];
	struct attn_params back;
	int len = attn_params_format(m, p, text, sizeof(text));

	FUZZ_CHECK(len >= 0 && (size_t)len < sizeof(text), "%s: canonical text of %d bytes",
	           m->name, len);
	attn_params_default(m, &back);
	char *save = NULL;
	for (char *kv = strtok_r(text, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		int rc = attn_params_set(m, &back, kv, err, sizeof(err));
		FUZZ_CHECK(rc == 0, "%s: its own canonical '%s' refused: %s", m->name, kv, err);
	}
	for (int i = 0; i < p->count; i++) {
		double a = p->v[i], b = back.v[i];
		int same = m->params[i].type == ATTN_PARAM_REAL
		               ? fabs(a - b) <= 1e-8 * fabs(a) + 1e-300
		               : a == b;
		FUZZ_CHECK(same, "%s.%s: %.17g formatted and read back as %.17g", m->name,
		           m->params[i].name, a, b);
	}
}

static void check_methods(const char *text)
{
	struct attn_method_list ml = {0};
	char err[1024] = "";
	int rc = attn_methods_parse(text, registry(), &ml, err, sizeof(err));

	FUZZ_CHECK_MESSAGE(rc, err);
	if (rc == 0) {
		FUZZ_CHECK(ml.count >= 0 && ml.count <= 100000, "'%s': %d cases", text, ml.count);
		for (int i = 0; i < ml.count; i++) {
			FUZZ_CHECK(ml.items[i].method != NULL, "'%s': case %d has no method", text,
			           i);
			check_params(ml.items[i].method, &ml.items[i].params, text);
			/* Formatting every one of 100000 cases would slow the search for little. */
			if (i < 64)
				check_format_roundtrip(ml.items[i].method, &ml.items[i].params);
		}
	}
	attn_method_list_free(&ml);
}

/* value as `run --param` would pass it, to every registered method. */
static void check_param_set(const char *kv)
{
	const struct attn_registry *reg = registry();

	for (int i = 0; i < attn_registry_count(reg); i++) {
		const struct attn_method *m = attn_registry_at(reg, i);
		struct attn_params p;
		char err[1024] = "";

		attn_params_default(m, &p);
		int rc = attn_params_set(m, &p, kv, err, sizeof(err));
		FUZZ_CHECK_MESSAGE(rc, err);
		check_params(m, &p, kv);
	}
}

static void check_sweep(const char *key, const char *value)
{
	struct attn_sweep_spec sp;
	struct attn_case_list cases = {0};
	char err[1024] = "";

	FUZZ_CHECK(attn_sweep_spec_init(&sp) == 0, "out of memory");
	int rc = attn_sweep_spec_set(&sp, key, value, err, sizeof(err));
	FUZZ_CHECK_MESSAGE(rc, err);
	if (rc == 0) {
		rc = attn_sweep_expand(&sp, registry(), &cases, err, sizeof(err));
		FUZZ_CHECK_MESSAGE(rc, err);
	}
	if (rc == 0) {
		FUZZ_CHECK(cases.count >= 1 && cases.count <= 1000000, "%s=%s: %d cases", key,
		           value, cases.count);
		for (int i = 0; i < cases.count; i++) {
			const struct attn_case *c = &cases.items[i];
			FUZZ_CHECK(c->method && c->shape.n >= 1 && c->shape.d >= 1 &&
			               c->shape.heads >= 1 && c->shape.kv_heads >= 1 &&
			               c->shape.batch >= 1 && c->threads >= 1 &&
			               (c->shape.causal == 0 || c->shape.causal == 1),
			           "%s=%s: case %d out of bounds", key, value, i);
		}
	}
	attn_case_list_free(&cases);
	attn_sweep_spec_free(&sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	char *eq = strchr(text, '=');
	const char *value = eq ? eq + 1 : text;

	if (eq) {
		*eq = '\0';
		check_sweep(text, value);
		*eq = '=';
	}
	check_axis(value, 1, INT64_C(1) << 40);
	check_axis(value, 0, INT64_MAX);
	check_methods(value);
	check_param_set(text);
	free(text);
	return 0;
}
