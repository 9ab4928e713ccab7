/*
 * A fitted curve as the text cells of a table (see report.h): the one
 * wording of exponents, theory, dominant term and crossover, shared by
 * `attnbench fit` and the figure set's page.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attnbench/fit.h"
#include "attnbench/report.h"
#include "attnbench/theory.h"

const char *const attn_report_fit_col_names[ATTN_REPORT_FIT_COLS] = {
    "method",
    "params",
    "family",
    "points",
    "exponent [95% CI]",
    "theory",
    "dominant",
    "crossover N* vs flash [95% CI]",
    "note"};

static void fmt_crossover(const struct attn_fit_crossover *c, const char *method, char *b,
                          size_t len)
{
	switch (c->kind) {
	case ATTN_FIT_CROSS_NONE:
		snprintf(b, len, strcmp(method, "flash") ? "-" : "(reference)");
		break;
	case ATTN_FIT_CROSS_NEVER: snprintf(b, len, "never in range"); break;
	case ATTN_FIT_CROSS_ALWAYS_FASTER: snprintf(b, len, "always faster"); break;
	case ATTN_FIT_CROSS_FASTER_ABOVE:
	case ATTN_FIT_CROSS_SLOWER_ABOVE:
		snprintf(b, len, "%s above %.0f [%.0f, %.0f]",
		         c->kind == ATTN_FIT_CROSS_FASTER_ABOVE ? "faster" : "slower", c->n_star,
		         c->ci_lo, c->ci_hi);
		break;
	}
}

double attn_report_fit_theory(const struct attn_fit_row *r, const struct attn_registry *reg)
{
	double t = NAN;
	const struct attn_method *m = reg ? attn_registry_find(reg, r->method) : NULL;
	attn_method_theory(m, r->params, attn_theory_is_decode(r->family), &t, NULL);
	return t;
}

void attn_report_fit_cells(const struct attn_fit_row *r, const struct attn_registry *reg,
                           char cells[ATTN_REPORT_FIT_COLS][320])
{
	snprintf(cells[0], 320, "%s", r->method);
	snprintf(cells[1], 320, "%s", r->params);
	snprintf(cells[2], 320, "%s", r->family);
	snprintf(cells[3], 320, "%d", r->n_points);
	if (isfinite(r->exponent))
		snprintf(cells[4], 320, "%.3f [%.3f, %.3f]", r->exponent, r->ci_lo, r->ci_hi);
	else
		snprintf(cells[4], 320, "-");
	const double theory = attn_report_fit_theory(r, reg);
	if (isfinite(theory))
		snprintf(cells[5], 320, "%g", theory);
	else
		snprintf(cells[5], 320, "-");
	if (r->dominant >= 0)
		snprintf(cells[6], 320, "%s (%.0f%%)", attn_fit_term_name(r->dominant),
		         100 * r->share[r->dominant]);
	else
		snprintf(cells[6], 320, "-");
	fmt_crossover(&r->cross, r->method, cells[7], 320);
	snprintf(cells[8], 320, "%s", r->note);
}
