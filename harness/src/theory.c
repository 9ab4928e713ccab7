/*
 * A method's theoretical exponents per form and mode (see theory.h): the
 * one place that turns a descriptor's prefill figures into those of a
 * form and a decode step.
 */
#include <math.h>
#include <string.h>

#include "attnbench/forms.h"
#include "attnbench/spec.h"
#include "attnbench/theory.h"

/* The value of key `form` in a "k=v,k=v" string into buf, or "" when absent. */
static void form_value(const char *params, char *buf, size_t len)
{
	buf[0] = '\0';
	for (const char *f = params ? strstr(params, "form=") : NULL; f;
	     f = strstr(f + 1, "form=")) {
		if (f != params && f[-1] != ',' && f[-1] != ';')
			continue;
		f += 5;
		size_t n = strcspn(f, ",;");
		if (n >= len)
			n = len - 1;
		memcpy(buf, f, n);
		buf[n] = '\0';
		return;
	}
}

int attn_method_theory(const struct attn_method *m, const char *params, int decode,
                       double *time_exp, double *mem_exp)
{
	double t = NAN, mem = NAN;
	if (!m) {
		if (time_exp)
			*time_exp = t;
		if (mem_exp)
			*mem_exp = mem;
		return -1;
	}
	t = m->time_exp;
	mem = m->mem_exp;
	const int fi = attn_method_form_param(m);
	char form[64], def[64];
	form_value(params, form, sizeof(form));
	if (fi >= 0 && form[0] &&
	    attn_param_choice_name(&m->params[fi], (int)m->params[fi].def, def, sizeof(def)) == 0 &&
	    strcmp(form, def) != 0) {
		if (strcmp(form, "parallel") == 0)
			t = 2.0;
		else if (strcmp(def, "parallel") == 0 &&
		         (strcmp(form, "recurrent") == 0 || strcmp(form, "chunk") == 0))
			t = 1.0;
		/*
		 * The descriptor's mem_exp is its default form's. Another form's
		 * memory is its implementation's (a linear method's parallel form
		 * tiles its scores, O(N); the delta rule's solve holds N x N), so
		 * it is not claimed.
		 */
		mem = NAN;
	}
	if (decode)
		t = t > 1.0 ? t - 1.0 : 0.0;
	if (time_exp)
		*time_exp = t;
	if (mem_exp)
		*mem_exp = mem;
	return 0;
}

int attn_theory_is_decode(const char *shape)
{
	return shape && strstr(shape, " decode") != NULL;
}
