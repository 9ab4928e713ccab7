/*
 * The sweep spec grammar: numeric axes and method lists with per-method
 * parameter grids, plus the canonical text form of a method's parameters.
 *
 * Numeric axis (--n, --d, --heads, --kv-heads, --batch, --threads):
 *     axis  := item (',' item)*
 *     item  := num                      a single value         64
 *            | num '..' num 'x' num     geometric, factor >= 2  256..65536x2
 *            | num '..' num '+' num     linear, step >= 1       1..8+1
 *     num   := digits ['k' | 'K' | 'm' | 'M']   (k = 1024, m = 1048576)
 * Values keep their first-seen order; repeats are dropped. Every value must
 * lie within the axis's [min, max]; a range's end must be >= its start.
 *
 * Method list (--methods):
 *     list   := entry (',' entry)*
 *     entry  := name | name '[' grid ']' | 'all'
 *     grid   := param (';' param)*
 *     param  := key '=' value (',' value)*
 * A value is a number, a numeric range as above (for INT params), or an
 * enum choice's name. Example:  flash,softmax[block=64,128],gla[form=chunk,recurrent;C=32..128x2]
 * `all` is every registered method not flagged ORACLE_ONLY. The grid is
 * expanded as a Cartesian product; parameters not named take their defaults.
 * Errors name the offending token, its offset and what was expected.
 */
#ifndef ATTNBENCH_SPEC_H
#define ATTNBENCH_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/method.h"
#include "attnbench/registry.h"

struct attn_axis {
	int count;
	int64_t *values; /* malloc'd; attn_axis_free releases it */
};

int attn_axis_parse(const char *text, int64_t min, int64_t max, struct attn_axis *out, char *err,
                    size_t errlen);
void attn_axis_free(struct attn_axis *axis);

/* One (method, parameter values) pair of an expanded method list. */
struct attn_method_case {
	const struct attn_method *method;
	struct attn_params params;
};

struct attn_method_list {
	int count;
	struct attn_method_case *items; /* malloc'd */
};

int attn_methods_parse(const char *text, const struct attn_registry *reg,
                       struct attn_method_list *out, char *err, size_t errlen);
void attn_method_list_free(struct attn_method_list *list);

/* Every parameter at its default. */
void attn_params_default(const struct attn_method *m, struct attn_params *out);

/*
 * Set one parameter from "key=value" (the --param form of `run`); the value
 * must be a single number in range or an enum choice.
 */
int attn_params_set(const struct attn_method *m, struct attn_params *p, const char *kv, char *err,
                    size_t errlen);

/*
 * Canonical text of all parameters in descriptor order, "C=64,form=chunk"
 * (enums by name, reals with %.9g, ints as integers), "" when the method has
 * none. Returns the length it needed, like snprintf.
 */
int attn_params_format(const struct attn_method *m, const struct attn_params *p, char *buf,
                       size_t len);

/*
 * Parameters as text, "k=v,k=v" (the form above, as the database stores
 * it), read one pair at a time: *pos starts at the text and moves past each
 * pair and its comma. Returns 1 with the pair's key and value (pointers
 * into the text with their lengths; val NULL for a pair without '='), 0 at
 * the end of the text. Every reader of stored params text uses this.
 */
struct attn_param_kv {
	const char *key, *val;
	size_t key_len, val_len;
};
int attn_params_next(const char **pos, struct attn_param_kv *kv);

/* The value of parameter `name` in params text into buf: 1, or 0 and "" if absent. */
int attn_params_value(const char *params, const char *name, char *buf, size_t len);

/* The value of the parameter named `name`, or `fallback` if there is none. */
double attn_params_get(const struct attn_method *m, const struct attn_params *p, const char *name,
                       double fallback);

/* The name of the enum choice at `index` of spec->choices into buf. */
int attn_param_choice_name(const struct attn_param_spec *spec, int index, char *buf, size_t len);

/*
 * Numbers as a user writes them, on the command line and in spec files
 * alike (0, or -1 for text that is not one): a finite real >= 0 in strtod's
 * grammar with nothing after it; a size, the same with an optional k, M, G
 * or T (powers of 1024), then an optional i and B ("512MiB").
 */
int attn_parse_real(const char *text, double *out);
int attn_parse_size(const char *text, size_t *out);

#endif /* ATTNBENCH_SPEC_H */
