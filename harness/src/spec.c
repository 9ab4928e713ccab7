/*
 * The sweep spec parser: numeric axes ("256..65536x2,100000"), method lists
 * with parameter grids ("flash,gla[form=chunk,recurrent;C=32..128x2]") and
 * the canonical "k=v,k=v" text of a method's parameters. The grammar is in
 * spec.h.
 *
 * These strings come straight from the command line, so every error quotes
 * the whole text and then says which token is wrong, at which byte offset,
 * and what was expected there; the CLI only prefixes the option name. All
 * parse errors are ATTN_ERR_INVALID (ATTN_ERR_NOMEM when memory runs out).
 *
 * Expansion is bounded: no range, grid or whole spec may expand to more than
 * SPEC_MAX_VALUES values, so a typo such as "1..1M+1" is refused at once
 * instead of queuing a million cases. Repeats are dropped, keeping the first
 * occurrence, which keeps the run order the one the user wrote.
 */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/spec.h"
#include "attnbench/status.h"
#include "internal.h"
#include "peer.h"

#define SPEC_MAX_VALUES 100000

/* Characters that end a token anywhere in the grammar. */
#define SPEC_SEPARATORS ",;[]="

struct parser {
	const char *text;
	size_t pos;
	char *err;
	size_t errlen;
};

/* Write "'<whole text>': <what>" into the error buffer and return status. */
static int parse_fail(const struct parser *ps, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int parse_fail(const struct parser *ps, int status, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return attn_errf(ps->err, ps->errlen, status, "'%s': %s", ps->text, what);
}

/*
 * Length of the token that starts at `off`: up to the next separator, however
 * long (an enum choice or a real may be longer than any message shows).
 */
static int token_len(const char *text, size_t off)
{
	size_t n = strcspn(text + off, SPEC_SEPARATORS);
	return n > INT_MAX ? INT_MAX : (int)n;
}

/* How much of a token a message quotes: the first SPEC_SHOWN bytes. */
#define SPEC_SHOWN 60
static int shown(int n)
{
	return n > SPEC_SHOWN ? SPEC_SHOWN : n;
}

/*
 * Describe what was found at `off` for an "expected X, found Y" message: the
 * token, the lone separator, or the end of the text.
 */
static void describe_found(const char *text, size_t off, char *buf, size_t len)
{
	int n = shown(token_len(text, off));

	if (text[off] == '\0')
		snprintf(buf, len, "the end of the text");
	else
		snprintf(buf, len, "'%.*s'", n > 0 ? n : 1, text + off);
}

static int fail_expected(const struct parser *ps, const char *expected)
{
	char found[80];

	describe_found(ps->text, ps->pos, found, sizeof(found));
	return parse_fail(ps, ATTN_ERR_INVALID, "expected %s at offset %zu, found %s", expected,
	                  ps->pos, found);
}

/* --- growable arrays ------------------------------------------------------ */

struct i64vec {
	int64_t *v;
	size_t n, cap;
};

static int i64vec_push(struct i64vec *a, int64_t x)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 16;
		int64_t *nv = realloc(a->v, cap * sizeof(*nv));
		if (!nv)
			return ATTN_ERR_NOMEM;
		a->v = nv;
		a->cap = cap;
	}
	a->v[a->n++] = x;
	return ATTN_OK;
}

struct casevec {
	struct attn_method_case *v;
	size_t n, cap;
};

static int casevec_push(struct casevec *a, const struct attn_method *m, const struct attn_params *p)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 16;
		struct attn_method_case *nv = realloc(a->v, cap * sizeof(*nv));
		if (!nv)
			return ATTN_ERR_NOMEM;
		a->v = nv;
		a->cap = cap;
	}
	a->v[a->n].method = m;
	a->v[a->n].params = *p;
	a->n++;
	return ATTN_OK;
}

/* --- dropping repeats, first occurrence kept ------------------------------ */

/*
 * Both arrays are deduplicated the same way: sort pointers to the elements
 * by value, breaking ties by address so the first occurrence leads each run
 * of equals, mark those leaders, then compact in the original order. That is
 * O(n log n) where the obvious pairwise scan would be quadratic in up to
 * 100000 values.
 */
static int cmp_addr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
	return (x > y) - (x < y);
}

static int cmp_i64_ptr(const void *pa, const void *pb)
{
	const int64_t *a = *(const int64_t *const *)pa, *b = *(const int64_t *const *)pb;
	if (*a != *b)
		return (*a > *b) - (*a < *b);
	return cmp_addr(a, b);
}

static int case_value_cmp(const struct attn_method_case *a, const struct attn_method_case *b)
{
	int c = cmp_addr(a->method, b->method);
	if (c)
		return c;
	if (a->params.count != b->params.count)
		return (a->params.count > b->params.count) - (a->params.count < b->params.count);
	for (int i = 0; i < a->params.count; i++) {
		double x = a->params.v[i], y = b->params.v[i];
		if (x != y)
			return (x > y) - (x < y);
	}
	return 0;
}

static int cmp_case_ptr(const void *pa, const void *pb)
{
	const struct attn_method_case *a = *(const struct attn_method_case *const *)pa;
	const struct attn_method_case *b = *(const struct attn_method_case *const *)pb;
	int c = case_value_cmp(a, b);
	return c ? c : cmp_addr(a, b);
}

/*
 * Keep the first of each run of equal elements of base[0..n) (element size
 * `size`), compacting in place; returns the new count or -1 without memory.
 */
static long dedup(void *base, size_t n, size_t size, int (*cmp_ptr)(const void *, const void *),
                  int (*equal)(const void *, const void *))
{
	char *b = base;
	const void **ptrs;
	unsigned char *keep;
	size_t out = 0;

	if (n < 2)
		return (long)n;
	ptrs = malloc(n * sizeof(*ptrs));
	keep = calloc(n, 1);
	if (!ptrs || !keep) {
		free(ptrs);
		free(keep);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		ptrs[i] = b + i * size;
	qsort(ptrs, n, sizeof(*ptrs), cmp_ptr);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || !equal(ptrs[i - 1], ptrs[i]))
			keep[((const char *)ptrs[i] - b) / size] = 1;
	for (size_t i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		if (out != i)
			memcpy(b + out * size, b + i * size, size);
		out++;
	}
	free(ptrs);
	free(keep);
	return (long)out;
}

static int equal_i64(const void *a, const void *b)
{
	return *(const int64_t *)a == *(const int64_t *)b;
}

static int equal_case(const void *a, const void *b)
{
	return case_value_cmp(a, b) == 0;
}

/* --- numbers and numeric ranges ------------------------------------------- */

/*
 * num := digits ['k' | 'K' | 'm' | 'M']. `allow_x` says a geometric range's
 * 'x' may follow directly ("65536x2", "64kx2"), so it is not a bad suffix.
 * `expected` names what the caller wanted here, for the message.
 */
static int parse_uint(struct parser *ps, const char *expected, int allow_x, int64_t *out)
{
	const char *t = ps->text;
	size_t start = ps->pos, i = start, alpha;
	int64_t v = 0, mult = 1;

	if (t[i] == '-' && isdigit((unsigned char)t[i + 1]))
		return parse_fail(ps, ATTN_ERR_INVALID,
		                  "negative number '%.*s' at offset %zu; values must be 0 or more",
		                  shown(token_len(t, i)), t + i, i);
	if (!isdigit((unsigned char)t[i]))
		return fail_expected(ps, expected);
	for (; isdigit((unsigned char)t[i]); i++) {
		int d = t[i] - '0';
		if (v > (INT64_MAX - d) / 10)
			return parse_fail(ps, ATTN_ERR_INVALID,
			                  "number '%.*s' at offset %zu does not fit in 64 bits",
			                  (int)strspn(t + start, "0123456789"), t + start, start);
		v = 10 * v + d;
	}
	for (alpha = 0; isalpha((unsigned char)t[i + alpha]); alpha++)
		;
	if (alpha > 0 && !(allow_x && t[i] == 'x')) {
		if (t[i] == 'k' || t[i] == 'K')
			mult = 1024;
		else if (t[i] == 'm' || t[i] == 'M')
			mult = 1048576;
		if (mult == 1 || (alpha > 1 && !(allow_x && t[i + 1] == 'x')))
			return parse_fail(
			    ps, ATTN_ERR_INVALID,
			    "unknown suffix '%.*s' at offset %zu; expected k, K, m or M",
			    (int)alpha, t + i, i);
		if (v > INT64_MAX / mult)
			return parse_fail(ps, ATTN_ERR_INVALID,
			                  "number '%.*s' at offset %zu does not fit in 64 bits",
			                  (int)(i + 1 - start), t + start, start);
		v *= mult;
		i++;
	}
	ps->pos = i;
	*out = v;
	return ATTN_OK;
}

/*
 * A token like "64.5" or "1e3" is a number, just not a whole one; say so
 * rather than complain about a suffix or a stray '.'.
 */
static int looks_fractional(const char *text, size_t off)
{
	int n = token_len(text, off);
	char tok[64], *end;

	if (n >= (int)sizeof(tok))
		return 0;
	memcpy(tok, text + off, (size_t)n);
	tok[n] = '\0';
	if (!isdigit((unsigned char)tok[0]) || !strpbrk(tok, ".eE") || strstr(tok, ".."))
		return 0;
	strtod(tok, &end);
	return *end == '\0';
}

/* Check a value just parsed from text[start, ps->pos) against [min, max]. */
static int check_bounds(const struct parser *ps, size_t start, int64_t v, int64_t min, int64_t max,
                        const char *whose)
{
	int n = (int)(ps->pos - start);

	if (v < min)
		return parse_fail(ps, ATTN_ERR_INVALID,
		                  "'%.*s' (= %lld) at offset %zu is below the minimum %lld%s", n,
		                  ps->text + start, (long long)v, start, (long long)min, whose);
	if (v > max)
		return parse_fail(ps, ATTN_ERR_INVALID,
		                  "'%.*s' (= %lld) at offset %zu is above the maximum %lld%s", n,
		                  ps->text + start, (long long)v, start, (long long)max, whose);
	return ATTN_OK;
}

/*
 * item := num | num '..' num 'x' num | num '..' num '+' num, each value in
 * [min, max] (`whose` completes the bound messages, e.g. " of 'C'"). The
 * values are appended to `out`; *was_range says whether it was a range.
 */
static int parse_num_item(struct parser *ps, int64_t min, int64_t max, const char *whose,
                          struct i64vec *out, int *was_range)
{
	const char *t = ps->text;
	size_t s0 = ps->pos, s1, s2;
	int64_t a = 0, b = 0, step = 0, count;
	char op;
	int rc;

	*was_range = 0;
	if (looks_fractional(t, s0))
		return parse_fail(ps, ATTN_ERR_INVALID,
		                  "expected a whole number at offset %zu, found '%.*s'", s0,
		                  shown(token_len(t, s0)), t + s0);
	if ((rc = parse_uint(ps, "a number", 0, &a)) ||
	    (rc = check_bounds(ps, s0, a, min, max, whose)))
		return rc;
	if (t[ps->pos] != '.' || t[ps->pos + 1] != '.') {
		if (i64vec_push(out, a))
			return parse_fail(ps, ATTN_ERR_NOMEM, "out of memory");
		return ATTN_OK;
	}

	*was_range = 1;
	ps->pos += 2;
	s1 = ps->pos;
	if ((rc = parse_uint(ps, "a number after '..'", 1, &b)) ||
	    (rc = check_bounds(ps, s1, b, min, max, whose)))
		return rc;
	if (b < a)
		return parse_fail(ps, ATTN_ERR_INVALID,
		                  "range end '%.*s' at offset %zu is less than its start %lld",
		                  (int)(ps->pos - s1), t + s1, s1, (long long)a);
	op = t[ps->pos];
	if (op != 'x' && op != '+')
		return fail_expected(ps, "'x' (geometric) or '+' (linear) after the range end");
	ps->pos++;
	s2 = ps->pos;
	rc = parse_uint(ps, op == 'x' ? "a factor after 'x'" : "a step after '+'", 0, &step);
	if (rc)
		return rc;
	if (op == 'x' && step < 2)
		return parse_fail(ps, ATTN_ERR_INVALID,
		                  "geometric factor '%.*s' at offset %zu must be at least 2",
		                  (int)(ps->pos - s2), t + s2, s2);
	if (op == 'x' && a == 0)
		return parse_fail(ps, ATTN_ERR_INVALID,
		                  "a geometric range cannot start at 0 (offset %zu)", s0);
	if (op == '+' && step < 1)
		return parse_fail(ps, ATTN_ERR_INVALID,
		                  "linear step '%.*s' at offset %zu must be at least 1",
		                  (int)(ps->pos - s2), t + s2, s2);

	if (op == '+') {
		count = (b - a) / step + 1;
	} else {
		count = 1;
		for (int64_t v = a; v <= b / step; v *= step)
			count++;
	}
	if (count > SPEC_MAX_VALUES)
		return parse_fail(ps, ATTN_ERR_INVALID,
		                  "range '%.*s' at offset %zu expands to %lld values, more than %d",
		                  (int)(ps->pos - s0), t + s0, s0, (long long)count,
		                  SPEC_MAX_VALUES);
	/* The loops stop before v + step or v * step could pass b, so never overflow. */
	for (int64_t v = a, i = 0; i < count; i++) {
		if (i64vec_push(out, v))
			return parse_fail(ps, ATTN_ERR_NOMEM, "out of memory");
		if (i + 1 < count)
			v = op == '+' ? v + step : v * step;
	}
	return ATTN_OK;
}

/* --- numeric axes --------------------------------------------------------- */

int attn_axis_parse(const char *text, int64_t min, int64_t max, struct attn_axis *out, char *err,
                    size_t errlen)
{
	struct parser ps = {text, 0, err, errlen};
	struct i64vec vals = {NULL, 0, 0};
	int rc = ATTN_OK, was_range;
	long n;

	out->count = 0;
	out->values = NULL;
	if (!text)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "no axis text");
	if (text[0] == '\0')
		return parse_fail(&ps, ATTN_ERR_INVALID, "empty axis: expected a number");
	for (;;) {
		if (text[ps.pos] == ',') {
			rc = parse_fail(&ps, ATTN_ERR_INVALID, "empty item at offset %zu", ps.pos);
			goto fail;
		}
		if (text[ps.pos] == '\0') {
			rc = parse_fail(&ps, ATTN_ERR_INVALID,
			                "trailing ',' at offset %zu: expected a number after it",
			                ps.pos - 1);
			goto fail;
		}
		rc = parse_num_item(&ps, min, max, "", &vals, &was_range);
		if (rc)
			goto fail;
		if (vals.n > SPEC_MAX_VALUES) {
			rc = parse_fail(&ps, ATTN_ERR_INVALID,
			                "the axis expands to more than %d values", SPEC_MAX_VALUES);
			goto fail;
		}
		if (text[ps.pos] == '\0')
			break;
		if (text[ps.pos] != ',') {
			rc =
			    fail_expected(&ps, was_range ? "',' or the end after the range"
			                                 : "',', '..' or the end after the number");
			goto fail;
		}
		ps.pos++;
	}
	n = dedup(vals.v, vals.n, sizeof(*vals.v), cmp_i64_ptr, equal_i64);
	if (n < 0) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		goto fail;
	}
	out->count = (int)n;
	out->values = vals.v;
	return ATTN_OK;
fail:
	free(vals.v);
	return rc;
}

void attn_axis_free(struct attn_axis *axis)
{
	if (!axis)
		return;
	free(axis->values);
	axis->values = NULL;
	axis->count = 0;
}

/* --- parameters ----------------------------------------------------------- */

/* The choice at `index` of a '|'-separated list, its length in *len; NULL if none. */
static const char *choice_at(const char *choices, int index, size_t *len)
{
	const char *s = choices;

	if (!s || index < 0)
		return NULL;
	for (int i = 0; i < index; i++) {
		s = strchr(s, '|');
		if (!s)
			return NULL;
		s++;
	}
	*len = strcspn(s, "|");
	return s;
}

/* The index of choice text[0..n) in `choices`, or -1. */
static int choice_find(const char *choices, const char *text, size_t n)
{
	size_t len;
	const char *c;

	for (int i = 0; (c = choice_at(choices, i, &len)); i++)
		if (len == n && strncmp(c, text, n) == 0)
			return i;
	return -1;
}

static void list_choices(const char *choices, char *buf, size_t len)
{
	size_t n;
	const char *c;

	buf[0] = '\0';
	for (int i = 0; (c = choice_at(choices, i, &n)); i++)
		attn__append(buf, len, "%s%.*s", i ? ", " : "", (int)n, c);
}

static int param_find(const struct attn_method *m, const char *name, size_t n)
{
	for (int i = 0; i < m->n_params; i++)
		if (strlen(m->params[i].name) == n && strncmp(m->params[i].name, name, n) == 0)
			return i;
	return -1;
}

static int fail_unknown_param(const struct parser *ps, const struct attn_method *m, size_t off,
                              int n)
{
	char known[400] = "";

	for (int i = 0; i < m->n_params; i++)
		attn__append(known, sizeof(known), "%s%s", i ? ", " : "", m->params[i].name);
	return parse_fail(ps, ATTN_ERR_INVALID,
	                  "unknown parameter '%.*s' for method '%s' at offset %zu; %s%s", n,
	                  ps->text + off, m->name, off,
	                  m->n_params ? "its parameters: " : "it has no parameters", known);
}

/* An INT parameter's [min, max] as int64, clamped so the conversion is defined. */
static int64_t to_i64_floor(double x)
{
	if (x >= 9.2e18)
		return INT64_MAX;
	if (x <= -9.2e18)
		return INT64_MIN;
	return (int64_t)floor(x);
}

static int64_t to_i64_ceil(double x)
{
	if (x >= 9.2e18)
		return INT64_MAX;
	if (x <= -9.2e18)
		return INT64_MIN;
	return (int64_t)ceil(x);
}

/*
 * real := ['+' | '-'] digits ['.' digits] [('e' | 'E') ['+' | '-'] digits],
 * with at least one digit before the exponent. Checked by hand because strtod
 * also takes "nan", "inf", hex floats and leading blanks.
 */
static size_t real_syntax_len(const char *s)
{
	size_t i = 0, digits = 0;

	if (s[i] == '+' || s[i] == '-')
		i++;
	for (; isdigit((unsigned char)s[i]); i++)
		digits++;
	if (s[i] == '.')
		for (i++; isdigit((unsigned char)s[i]); i++)
			digits++;
	if (digits == 0)
		return 0;
	if (s[i] == 'e' || s[i] == 'E') {
		size_t j = i + 1;
		if (s[j] == '+' || s[j] == '-')
			j++;
		if (!isdigit((unsigned char)s[j]))
			return i;
		for (; isdigit((unsigned char)s[j]); j++)
			;
		i = j;
	}
	return i;
}

/* Whether the real's text t[0..n) has a non-zero digit before its exponent. */
static int real_nonzero(const char *t, size_t n)
{
	for (size_t i = 0; i < n && t[i] != 'e' && t[i] != 'E'; i++)
		if (t[i] >= '1' && t[i] <= '9')
			return 1;
	return 0;
}

static int parse_real(struct parser *ps, const struct attn_param_spec *spec, double *out)
{
	const char *t = ps->text + ps->pos;
	size_t n = real_syntax_len(t), start = ps->pos;
	int tl = token_len(ps->text, start);
	char *end;
	double v;

	if (n == 0 || (int)n != tl) {
		char expected[80];
		snprintf(expected, sizeof(expected), "a number for '%s'", spec->name);
		return fail_expected(ps, expected);
	}
	/*
	 * The token ends at a separator or the end of the text, neither of which
	 * strtod reads, so it converts exactly the n bytes checked above.
	 */
	errno = 0;
	v = strtod(t, &end);
	/*
	 * A value beyond a double's range would be stored as something the user
	 * did not write: HUGE_VAL, or 0 (or a denormal) for "1e-400".
	 */
	if ((errno == ERANGE || (v == 0 && real_nonzero(t, n))) && isfinite(v))
		return parse_fail(ps, ATTN_ERR_INVALID,
		                  "'%.*s' at offset %zu is too small for a double (it would be "
		                  "stored as %.9g); give '%s' 0 or at least %.9g",
		                  shown((int)n), t, start, v, spec->name, DBL_MIN);
	if ((size_t)(end - t) != n || !isfinite(v) || v < spec->min || v > spec->max)
		return parse_fail(ps, ATTN_ERR_INVALID,
		                  "'%.*s' at offset %zu is outside [%.9g, %.9g], the range of '%s'",
		                  shown((int)n), t, start, spec->min, spec->max, spec->name);
	ps->pos += n;
	*out = v;
	return ATTN_OK;
}

static int push_value(double **v, size_t *n, size_t *cap, double x)
{
	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		double *nv = realloc(*v, ncap * sizeof(*nv));
		if (!nv)
			return ATTN_ERR_NOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = x;
	return ATTN_OK;
}

/*
 * One value of parameter `spec` at ps->pos: an enum choice's name, a real, or
 * for an INT parameter a number or (when `allow_range`) a numeric range.
 * Values are appended to `out` (as doubles).
 */
static int parse_param_value(struct parser *ps, const struct attn_param_spec *spec, int allow_range,
                             double **out, size_t *n, size_t *cap)
{
	size_t start = ps->pos;
	int len = token_len(ps->text, start), rc = ATTN_OK;

	if (len == 0) {
		char expected[80];
		snprintf(expected, sizeof(expected), "a value for '%s'", spec->name);
		return fail_expected(ps, expected);
	}
	if (spec->type == ATTN_PARAM_ENUM) {
		int idx = choice_find(spec->choices, ps->text + start, (size_t)len);
		if (idx < 0) {
			char choices[400];
			list_choices(spec->choices, choices, sizeof(choices));
			return parse_fail(
			    ps, ATTN_ERR_INVALID,
			    "unknown choice '%.*s' for '%s' at offset %zu; choices: %s", shown(len),
			    ps->text + start, spec->name, start, choices);
		}
		ps->pos += (size_t)len;
		rc = push_value(out, n, cap, idx);
	} else if (spec->type == ATTN_PARAM_REAL) {
		double v = 0;
		if ((rc = parse_real(ps, spec, &v)))
			return rc;
		rc = push_value(out, n, cap, v);
	} else {
		struct i64vec ints = {NULL, 0, 0};
		char whose[64];
		int was_range;

		snprintf(whose, sizeof(whose), " of '%s'", spec->name);
		rc = parse_num_item(ps, to_i64_ceil(spec->min), to_i64_floor(spec->max), whose,
		                    &ints, &was_range);
		if (rc == ATTN_OK && was_range && !allow_range)
			rc =
			    parse_fail(ps, ATTN_ERR_INVALID,
			               "expected a single value for '%s' at offset %zu, found the "
			               "range '%.*s'",
			               spec->name, start, (int)(ps->pos - start), ps->text + start);
		for (size_t i = 0; rc == ATTN_OK && i < ints.n; i++)
			rc = push_value(out, n, cap, (double)ints.v[i]);
		free(ints.v);
	}
	if (rc == ATTN_ERR_NOMEM)
		return parse_fail(ps, rc, "out of memory");
	return rc;
}

void attn_params_default(const struct attn_method *m, struct attn_params *out)
{
	int n = m->n_params < 0 ? 0 : m->n_params;

	memset(out, 0, sizeof(*out));
	if (n > ATTN_MAX_PARAMS)
		n = ATTN_MAX_PARAMS;
	out->count = n;
	for (int i = 0; i < n; i++)
		out->v[i] = m->params[i].def;
}

int attn_params_set(const struct attn_method *m, struct attn_params *p, const char *kv, char *err,
                    size_t errlen)
{
	struct parser ps = {kv, 0, err, errlen};
	size_t klen;
	double *vals = NULL;
	size_t n = 0, cap = 0;
	int idx, rc;

	if (!kv)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "no parameter text");
	klen = strcspn(kv, SPEC_SEPARATORS);
	if (klen == 0)
		return fail_expected(&ps, "a parameter name");
	ps.pos = klen;
	if (kv[klen] != '=')
		return fail_expected(&ps, "'=' after the parameter name");
	idx = param_find(m, kv, klen);
	if (idx < 0)
		return fail_unknown_param(&ps, m, 0, (int)klen);
	ps.pos = klen + 1;
	rc = parse_param_value(&ps, &m->params[idx], 0, &vals, &n, &cap);
	if (rc == ATTN_OK && kv[ps.pos] != '\0')
		rc = fail_expected(&ps, "the end after the value");
	if (rc == ATTN_OK)
		p->v[idx] = vals[0];
	free(vals);
	return rc;
}

int attn_params_format(const struct attn_method *m, const struct attn_params *p, char *buf,
                       size_t len)
{
	size_t used = 0;
	int n = p->count < m->n_params ? p->count : m->n_params;

	if (buf && len > 0)
		buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		const struct attn_param_spec *s = &m->params[i];
		char *dst = buf && used < len ? buf + used : NULL;
		size_t room = dst ? len - used : 0;
		const char *sep = i ? "," : "";
		const char *choice = NULL;
		size_t clen = 0;
		int w;

		if (s->type == ATTN_PARAM_ENUM && p->v[i] == (int)p->v[i])
			choice = choice_at(s->choices, (int)p->v[i], &clen);
		if (choice)
			w = snprintf(dst, room, "%s%s=%.*s", sep, s->name, (int)clen, choice);
		else if (s->type == ATTN_PARAM_INT)
			w = snprintf(dst, room, "%s%s=%.0f", sep, s->name, p->v[i]);
		else
			w = snprintf(dst, room, "%s%s=%.9g", sep, s->name, p->v[i]);
		if (w < 0)
			return w;
		used += (size_t)w;
	}
	return (int)used;
}

int attn_params_next(const char **pos, struct attn_param_kv *kv)
{
	const char *p = *pos;

	if (!p || !*p)
		return 0;
	kv->key = p;
	kv->key_len = strcspn(p, "=,");
	kv->val = p[kv->key_len] == '=' ? p + kv->key_len + 1 : NULL;
	kv->val_len = kv->val ? strcspn(kv->val, ",") : 0;
	p += strcspn(p, ",");
	*pos = p + (*p == ',');
	return 1;
}

int attn_params_value(const char *params, const char *name, char *buf, size_t len)
{
	struct attn_param_kv kv;
	size_t nl = strlen(name);

	for (const char *p = params; attn_params_next(&p, &kv);)
		if (kv.val && kv.key_len == nl && memcmp(kv.key, name, nl) == 0) {
			snprintf(buf, len, "%.*s", (int)kv.val_len, kv.val);
			return 1;
		}
	if (len)
		buf[0] = 0;
	return 0;
}

double attn_params_get(const struct attn_method *m, const struct attn_params *p, const char *name,
                       double fallback)
{
	int i = param_find(m, name, strlen(name));

	return i >= 0 && i < p->count ? p->v[i] : fallback;
}

int attn_param_choice_name(const struct attn_param_spec *spec, int index, char *buf, size_t len)
{
	size_t n;
	const char *c = spec ? choice_at(spec->choices, index, &n) : NULL;

	if (buf && len > 0)
		buf[0] = '\0';
	if (!c)
		return ATTN_ERR_NOTFOUND;
	if (!buf || n >= len) {
		if (buf && len > 0)
			snprintf(buf, len, "%.*s", (int)n, c);
		return ATTN_ERR_INVALID;
	}
	memcpy(buf, c, n);
	buf[n] = '\0';
	return ATTN_OK;
}

/* --- method lists --------------------------------------------------------- */

/* One parameter named in a grid and the values it takes. */
struct grid_axis {
	int index; /* into the method's params */
	double *v;
	size_t n, cap;
};

static void grid_free(struct grid_axis *g, int n)
{
	for (int i = 0; i < n; i++)
		free(g[i].v);
}

/*
 * Expand the grid as nested loops in the order the parameters were written,
 * the last one varying fastest, starting from the defaults.
 */
static int grid_expand(const struct parser *ps, const struct attn_method *m,
                       const struct grid_axis *g, int ng, struct casevec *cases)
{
	size_t idx[ATTN_MAX_PARAMS] = {0};
	struct attn_params p;

	attn_params_default(m, &p);
	for (;;) {
		int k;
		for (k = 0; k < ng; k++)
			p.v[g[k].index] = g[k].v[idx[k]];
		if (casevec_push(cases, m, &p))
			return parse_fail(ps, ATTN_ERR_NOMEM, "out of memory");
		for (k = ng - 1; k >= 0; k--) {
			if (++idx[k] < g[k].n)
				break;
			idx[k] = 0;
		}
		if (k < 0)
			return ATTN_OK;
	}
}

/* grid := param (';' param)*, param := key '=' value (',' value)*, inside '[' ']'. */
static int parse_grid(struct parser *ps, const struct attn_method *m, struct casevec *cases)
{
	const char *t = ps->text;
	size_t open = ps->pos, combos = 1;
	struct grid_axis g[ATTN_MAX_PARAMS];
	int ng = 0, rc = ATTN_OK;

	ps->pos++;
	if (t[ps->pos] == ']') {
		rc = parse_fail(ps, ATTN_ERR_INVALID, "empty parameter grid for '%s' at offset %zu",
		                m->name, open);
		goto out;
	}
	for (;;) {
		size_t ks = ps->pos;
		int klen = (int)strcspn(t + ks, SPEC_SEPARATORS), idx;

		if (t[ks] == '\0') {
			rc = parse_fail(ps, ATTN_ERR_INVALID,
			                "missing ']' to close the '[' at offset %zu", open);
			goto out;
		}
		if (klen == 0) {
			rc = fail_expected(ps, "a parameter name");
			goto out;
		}
		idx = param_find(m, t + ks, (size_t)klen);
		if (idx < 0) {
			rc = fail_unknown_param(ps, m, ks, klen);
			goto out;
		}
		for (int k = 0; k < ng; k++) {
			if (g[k].index == idx) {
				rc = parse_fail(ps, ATTN_ERR_INVALID,
				                "duplicate parameter '%.*s' at offset %zu", klen,
				                t + ks, ks);
				goto out;
			}
		}
		ps->pos += (size_t)klen;
		if (t[ps->pos] != '=') {
			char expected[80];
			snprintf(expected, sizeof(expected), "'=' after '%.*s'", klen, t + ks);
			rc = fail_expected(ps, expected);
			goto out;
		}
		ps->pos++;
		g[ng].index = idx;
		g[ng].v = NULL;
		g[ng].n = g[ng].cap = 0;
		ng++;
		for (;;) {
			rc = parse_param_value(ps, &m->params[idx], 1, &g[ng - 1].v, &g[ng - 1].n,
			                       &g[ng - 1].cap);
			if (rc)
				goto out;
			if (g[ng - 1].n > SPEC_MAX_VALUES) {
				rc = parse_fail(ps, ATTN_ERR_INVALID,
				                "'%.*s' at offset %zu takes more than %d values",
				                klen, t + ks, ks, SPEC_MAX_VALUES);
				goto out;
			}
			if (t[ps->pos] != ',')
				break;
			ps->pos++;
		}
		combos = attn__mul_sat(combos, g[ng - 1].n);
		if (t[ps->pos] == ';') {
			ps->pos++;
			continue;
		}
		if (t[ps->pos] == ']') {
			ps->pos++;
			break;
		}
		if (t[ps->pos] == '\0')
			rc = parse_fail(ps, ATTN_ERR_INVALID,
			                "missing ']' to close the '[' at offset %zu", open);
		else
			rc = fail_expected(ps, "',', ';' or ']' after the value");
		goto out;
	}
	if (combos > SPEC_MAX_VALUES || cases->n + combos > SPEC_MAX_VALUES) {
		rc = parse_fail(ps, ATTN_ERR_INVALID,
		                "the grid of '%s' at offset %zu brings the list to more than %d "
		                "combinations",
		                m->name, open, SPEC_MAX_VALUES);
		goto out;
	}
	rc = grid_expand(ps, m, g, ng, cases);
out:
	grid_free(g, ng);
	return rc;
}

static int fail_unknown_method(const struct parser *ps, const struct attn_registry *reg, size_t off,
                               int n)
{
	char known[800] = "";

	for (int i = 0; i < attn_registry_count(reg); i++)
		attn__append(known, sizeof(known), "%s%s", i ? ", " : "",
		             attn_registry_at(reg, i)->name);
	char hint[128];
	attn_registry_suggest(reg, ps->text + off, (size_t)n, hint, sizeof(hint));
	return parse_fail(ps, ATTN_ERR_INVALID,
	                  "unknown method '%.*s' at offset %zu%s; known: %s; a method of your "
	                  "own is loaded with --plugin FILE.so",
	                  n, ps->text + off, off, hint, known[0] ? known : "(none)");
}

/*
 * `all`: every registered method not flagged ORACLE_ONLY and not a peer, at
 * its defaults; `peers` (want_peers 1): every peer. Peers stay out of `all`
 * because each needs its own interpreter and packages (numpy, torch), which a
 * default sweep, `check` and the figure sets must not depend on.
 */
static int add_all(const struct parser *ps, const struct attn_registry *reg, int want_peers,
                   struct casevec *cases)
{
	struct attn_params p;

	for (int i = 0; i < attn_registry_count(reg); i++) {
		const struct attn_method *m = attn_registry_at(reg, i);
		if ((m->flags & ATTN_METHOD_ORACLE_ONLY) || attn__method_is_peer(m) != want_peers)
			continue;
		attn_params_default(m, &p);
		if (casevec_push(cases, m, &p))
			return parse_fail(ps, ATTN_ERR_NOMEM, "out of memory");
	}
	return ATTN_OK;
}

int attn_methods_parse(const char *text, const struct attn_registry *reg,
                       struct attn_method_list *out, char *err, size_t errlen)
{
	struct parser ps = {text, 0, err, errlen};
	struct casevec cases = {NULL, 0, 0};
	struct attn_params p;
	int rc = ATTN_OK;
	long n;

	out->count = 0;
	out->items = NULL;
	if (!text)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "no method list text");
	if (text[0] == '\0')
		return parse_fail(&ps, ATTN_ERR_INVALID,
		                  "empty method list: expected a method name");
	for (;;) {
		size_t s = ps.pos;
		int len = (int)strcspn(text + s, SPEC_SEPARATORS);
		char name[64];
		const struct attn_method *m;

		if (text[s] == ',') {
			rc = parse_fail(&ps, ATTN_ERR_INVALID, "empty item at offset %zu", s);
			goto fail;
		}
		if (text[s] == '\0') {
			rc = parse_fail(
			    &ps, ATTN_ERR_INVALID,
			    "trailing ',' at offset %zu: expected a method name after it", s - 1);
			goto fail;
		}
		if (len == 0) {
			rc = fail_expected(&ps, "a method name");
			goto fail;
		}
		ps.pos += (size_t)len;
		int peers = len == 5 && strncmp(text + s, "peers", 5) == 0;
		if ((len == 3 && strncmp(text + s, "all", 3) == 0) || peers) {
			if (text[ps.pos] == '[') {
				rc = parse_fail(&ps, ATTN_ERR_INVALID,
				                "'%s' at offset %zu takes no parameter grid",
				                peers ? "peers" : "all", s);
				goto fail;
			}
			if ((rc = add_all(&ps, reg, peers, &cases)))
				goto fail;
		} else {
			m = NULL;
			if ((size_t)len < sizeof(name)) {
				memcpy(name, text + s, (size_t)len);
				name[len] = '\0';
				m = attn_registry_find(reg, name);
			}
			if (!m) {
				rc = fail_unknown_method(&ps, reg, s, len);
				goto fail;
			}
			if (text[ps.pos] == '[') {
				rc = parse_grid(&ps, m, &cases);
			} else {
				attn_params_default(m, &p);
				if (casevec_push(&cases, m, &p))
					rc = parse_fail(&ps, ATTN_ERR_NOMEM, "out of memory");
			}
			if (rc)
				goto fail;
		}
		if (cases.n > SPEC_MAX_VALUES) {
			rc = parse_fail(&ps, ATTN_ERR_INVALID,
			                "the method list expands to more than %d combinations",
			                SPEC_MAX_VALUES);
			goto fail;
		}
		if (text[ps.pos] == '\0')
			break;
		if (text[ps.pos] == ']') {
			rc = parse_fail(&ps, ATTN_ERR_INVALID, "unmatched ']' at offset %zu",
			                ps.pos);
			goto fail;
		}
		if (text[ps.pos] != ',') {
			rc = fail_expected(&ps, text[ps.pos - 1] == ']'
			                            ? "',' or the end after the grid"
			                            : "',', '[' or the end after the method name");
			goto fail;
		}
		ps.pos++;
	}
	n = dedup(cases.v, cases.n, sizeof(*cases.v), cmp_case_ptr, equal_case);
	if (n < 0) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		goto fail;
	}
	out->count = (int)n;
	out->items = cases.v;
	return ATTN_OK;
fail:
	free(cases.v);
	return rc;
}

void attn_method_list_free(struct attn_method_list *list)
{
	if (!list)
		return;
	free(list->items);
	list->items = NULL;
	list->count = 0;
}
