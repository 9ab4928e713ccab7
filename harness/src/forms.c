/*
 * Every form of a method on the same inputs, and how far apart they land
 * (see forms.h). One workload is generated; each form the method accepts
 * for the shape gets an instance of its own (instance.h: a workspace of
 * exactly what workspace_bytes() asks, an output), runs prepare() and
 * forward() as the runner would, and keeps a copy of its output until all
 * the pairs are compared.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/forms.h"
#include "attnbench/instance.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"
#include "internal.h"

int attn_method_form_param(const struct attn_method *m)
{
	for (int i = 0; i < m->n_params && i < ATTN_MAX_PARAMS; i++)
		if (m->params[i].type == ATTN_PARAM_ENUM && strcmp(m->params[i].name, "form") == 0)
			return i;
	return -1;
}

/*
 * max_i |a[i] - b[i]| / max_i |a[i]| over n elements, with the conventions
 * of forms.h: +inf for a non-finite element, 0/0 = 0, x/0 = +inf.
 */
static double pair_rel(const float *a, const float *b, size_t n)
{
	double diff = 0.0, mag = 0.0;

	for (size_t i = 0; i < n; i++) {
		if (!isfinite(a[i]) || !isfinite(b[i]))
			return INFINITY;
		diff = fmax(diff, fabs((double)a[i] - (double)b[i]));
		mag = fmax(mag, fabs((double)a[i]));
	}
	if (mag == 0.0)
		return diff == 0.0 ? 0.0 : INFINITY;
	return diff / mag;
}

/*
 * Run form `form` (parameter index fi) of m on `in` into a fresh output
 * (o, attn__free() it). ATTN_ERR_UNSUPPORTED with the method's reason in
 * msg when supports() refuses the shape.
 */
static int run_form(const struct attn_method *m, const struct attn_shape *s, int fi, int form,
                    const struct attn_inputs *in, uint64_t seed, int threads, float **o, char *msg,
                    size_t msglen)
{
	struct attn_params p;
	attn_params_default(m, &p);
	p.v[fi] = form;
	*o = NULL;

	const size_t out_bytes =
	    attn__mul_sat((size_t)(s->batch * s->heads * attn_shape_nq(s) * s->d), sizeof(float));
	struct attn_instance_opts io;
	attn_instance_opts_default(&io);
	io.threads = threads;
	io.seed = seed;
	io.inputs = in;
	struct attn_instance *inst;
	float *out = NULL;
	int rc = attn_instance_create(m, s, &p, &io, &inst, msg, msglen);
	int nomem = rc == ATTN_ERR_NOMEM;
	if (rc == ATTN_OK && (rc = attn_instance_prepare(inst, msg, msglen)) == ATTN_OK &&
	    (rc = attn_instance_forward(inst, 1, msg, msglen)) == ATTN_OK) {
		/* The copy outlives the instance, whose workspace goes at once. */
		if ((out = attn__alloc(out_bytes)) != NULL)
			memcpy(out, attn_instance_output(inst), out_bytes);
		else
			rc = ATTN_ERR_NOMEM, nomem = 1;
	}
	if (nomem)
		attn_errf(msg, msglen, rc,
		          "cannot allocate an output of %zu bytes and a workspace of %zu",
		          out_bytes, attn_call_workspace_bytes(m, s, &p, threads));
	attn_instance_free(inst);
	if (rc != ATTN_OK)
		return rc;
	*o = out;
	return ATTN_OK;
}

int attn_forms_diff(const struct attn_method *m, const struct attn_shape *s, enum attn_dist dist,
                    uint64_t seed, int threads, struct attn_forms_diff *out, char *err,
                    size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->max_rel = NAN;
	const int fi = attn_method_form_param(m);
	if (fi < 0)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "%s has no form parameter",
		                 m->name);
	if (threads < 1)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "threads %d < 1", threads);
	const struct attn_param_spec *spec = &m->params[fi];
	int nf = 0;
	char name[64];
	while (attn_param_choice_name(spec, nf, name, sizeof(name)) != ATTN_ERR_NOTFOUND)
		nf++;

	struct attn_workload w;
	int rc = attn_workload_alloc(s, m->inputs, dist, seed, &w);
	if (rc != ATTN_OK)
		return attn_errf(err, errlen, rc, "%s: cannot make the inputs: %s", m->name,
		                 attn_status_str(rc));
	float **o = calloc((size_t)nf > 0 ? (size_t)nf : 1, sizeof(*o));
	if (!o) {
		attn_workload_free(&w);
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	}

	/* Pass 1: run each form the method accepts; note why the others were refused. */
	char why[512] = "", msg[256];
	int ran = 0;
	for (int f = 0; f < nf && rc == ATTN_OK; f++) {
		attn_param_choice_name(spec, f, name, sizeof(name));
		rc = run_form(m, s, fi, f, &w.in, seed, threads, &o[f], msg, sizeof(msg));
		if (rc == ATTN_ERR_UNSUPPORTED) {
			attn__append(out->skipped, sizeof(out->skipped), "%s%s",
			             out->skipped[0] ? "," : "", name);
			attn__append(why, sizeof(why), "%s%s: %s", why[0] ? "; " : "", name, msg);
			rc = ATTN_OK;
		} else if (rc != ATTN_OK) {
			attn_errf(err, errlen, rc, "%s form=%s: %s", m->name, name, msg);
		} else {
			attn__append(out->forms, sizeof(out->forms), "%s%s",
			             out->forms[0] ? "," : "", name);
			ran++;
		}
	}
	if (rc == ATTN_OK && ran < 2)
		rc = attn_errf(
		    err, errlen, ATTN_ERR_UNSUPPORTED,
		    "%s: %d form(s) ran on this shape (%s), two are needed to compare; %s", m->name,
		    ran, ran ? out->forms : "none", why);

	/* Pass 2: every pair a < b of the forms that ran, against a's magnitude. */
	if (rc == ATTN_OK) {
		const size_t n = (size_t)(s->batch * s->heads * attn_shape_nq(s) * s->d);
		out->max_rel = -1.0;
		for (int a = 0; a < nf; a++)
			for (int b = a + 1; b < nf; b++) {
				if (!o[a] || !o[b])
					continue;
				const double rel = pair_rel(o[a], o[b], n);
				if (rel > out->max_rel) {
					char na[32], nb[32];
					attn_param_choice_name(spec, a, na, sizeof(na));
					attn_param_choice_name(spec, b, nb, sizeof(nb));
					out->max_rel = rel;
					snprintf(out->worst, sizeof(out->worst), "%s/%s", na, nb);
				}
			}
	}
	for (int f = 0; f < nf; f++)
		attn__free(o[f]);
	free(o);
	attn_workload_free(&w);
	return rc;
}
