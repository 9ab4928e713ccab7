/*
 * Tests of the exact built-in methods (softmax, flash, reference) and of the
 * shared kernels in methods/kernels, against the float64 reference on inputs
 * generated here with a small LCG.
 *
 * Every run of a method goes through run_checked(), which does what the
 * harness's check does and more: guard bytes after the output and after the
 * workspace (the method must stay inside what it declared), a workspace and
 * an output pre-filled with NaN (the method must write every output element
 * and never read scratch it has not written), a NaN/Inf scan, and the
 * relative Frobenius error ||O - R|| / ||R|| against the method's tolerance.
 *
 * The grid covers N in {1, 2, 7, 63, 64, 65, 130, 257, 1000}, D in
 * {1, 8, 64, 128} (N = 1000 with D in {8, 64} only, to stay quick), causal and
 * not, H = 4 with KVH in {4, 2, 1}, B = 2, prefill and decode, block sizes
 * that do not divide N and the automatic ones, and 1 and 2 threads; flash
 * decode has its own GQA grid (H = 8, KVH 1..8, 1 to 4 threads).
 */
#include <cblas.h>
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ATTN_EXAMPLE_PLUGIN
#include <dlfcn.h>
#endif

#include "attnbench/instance.h"
#include "attnbench/method.h"
#include "check_main.h"
#include "kernels/kernels.h"

extern const struct attn_method attn_method_softmax;
extern const struct attn_method attn_method_flash;
extern const struct attn_method attn_method_reference;

/* ---- inputs ------------------------------------------------------------------ */

/* Uniform in [-√3, √3) (unit variance) from a 64-bit LCG (Knuth's MMIX constants). */
static float lcg_uniform(uint64_t *state)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return ((float)(*state >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * 1.7320508f;
}

/* One case: the shape, its inputs and the float64 reference output. */
struct fixture {
	struct attn_shape s;
	struct attn_inputs in;
	float *q, *k, *v; /* (B, H, NQ, D), (B, KVH, N, D), (B, KVH, N, D) */
	double *ref;      /* (B, H, NQ, D) */
	size_t o_count;   /* B·H·NQ·D */
};

static size_t q_count(const struct attn_shape *s)
{
	return (size_t)(s->batch * s->heads * attn_shape_nq(s) * s->d);
}

static size_t kv_count(const struct attn_shape *s)
{
	return (size_t)(s->batch * s->kv_heads * s->n * s->d);
}

static void fixture_reference(struct fixture *f)
{
	f->ref = malloc(f->o_count * sizeof(double));
	ck_assert_ptr_nonnull(f->ref);
	ck_assert_int_eq(attn_reference_softmax(&f->s, &f->in, f->ref), ATTN_OK);
}

/* Random Q, K, V for shape s (Q multiplied by q_mul), and the reference. */
static void fixture_init(struct fixture *f, const struct attn_shape *s, uint64_t seed, float q_mul)
{
	uint64_t st = seed;
	memset(f, 0, sizeof *f);
	f->s = *s;
	f->o_count = q_count(s);
	f->q = malloc(q_count(s) * sizeof(float));
	f->k = malloc(kv_count(s) * sizeof(float));
	f->v = malloc(kv_count(s) * sizeof(float));
	ck_assert(f->q && f->k && f->v);
	for (size_t i = 0; i < q_count(s); i++)
		f->q[i] = q_mul * lcg_uniform(&st);
	for (size_t i = 0; i < kv_count(s); i++)
		f->k[i] = lcg_uniform(&st);
	for (size_t i = 0; i < kv_count(s); i++)
		f->v[i] = lcg_uniform(&st);
	f->in = (struct attn_inputs){.q = f->q, .k = f->k, .v = f->v};
	fixture_reference(f);
}

/*
 * The decode fixture of a prefill one: same K and V, and as the single query
 * of each head the prefill query at position N - 1.
 */
static void fixture_decode_of(struct fixture *d, const struct fixture *pf)
{
	struct attn_shape s = pf->s;
	const int64_t N = s.n, D = s.d;
	s.mode = ATTN_MODE_DECODE;
	memset(d, 0, sizeof *d);
	d->s = s;
	d->o_count = q_count(&s);
	d->q = malloc(q_count(&s) * sizeof(float));
	d->k = malloc(kv_count(&s) * sizeof(float));
	d->v = malloc(kv_count(&s) * sizeof(float));
	ck_assert(d->q && d->k && d->v);
	for (int64_t bh = 0; bh < s.batch * s.heads; bh++)
		memcpy(d->q + bh * D, pf->q + (bh * N + N - 1) * D, (size_t)D * sizeof(float));
	memcpy(d->k, pf->k, kv_count(&s) * sizeof(float));
	memcpy(d->v, pf->v, kv_count(&s) * sizeof(float));
	d->in = (struct attn_inputs){.q = d->q, .k = d->k, .v = d->v};
	fixture_reference(d);
}

static void fixture_free(struct fixture *f)
{
	free(f->q);
	free(f->k);
	free(f->v);
	free(f->ref);
}

/* ---- running a method under guard --------------------------------------------- */

static double rel_err(const float *out, const double *ref, size_t n)
{
	double num = 0.0, den = 0.0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)out[i] - ref[i];
		num += e * e;
		den += ref[i] * ref[i];
	}
	return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

static void shape_label(char *buf, size_t len, const struct attn_method *m,
                        const struct attn_shape *s, const struct attn_params *p, int threads)
{
	int w = snprintf(buf, len, "%s B=%lld H=%lld KVH=%lld N=%lld D=%lld %s %s t=%d", m->name,
	                 (long long)s->batch, (long long)s->heads, (long long)s->kv_heads,
	                 (long long)s->n, (long long)s->d, s->causal ? "causal" : "full",
	                 s->mode == ATTN_MODE_DECODE ? "decode" : "prefill", threads);
	for (int i = 0; p && i < p->count && w > 0 && (size_t)w < len; i++)
		w += snprintf(buf + w, len - (size_t)w, " %s=%g", m->params[i].name, p->v[i]);
}

/*
 * Run m on f, check status, guards and finiteness; return the output
 * (B, H, NQ, D), which the caller frees.
 */
static float *run_checked(const struct attn_method *m, const struct fixture *f,
                          const struct attn_params *p, int threads, char *label, size_t labellen)
{
	char msg[256] = "";
	shape_label(label, labellen, m, &f->s, p, threads);

	/* NaN-filled scratch and output: reading the one or skipping the other shows. */
	struct attn_instance_opts io;
	attn_instance_opts_default(&io);
	io.threads = threads;
	io.seed = 42;
	io.guard = ATTN_GUARD_BYTES;
	io.poison = 1;
	io.inputs = &f->in;
	struct attn_instance *inst;
	ck_assert_msg(attn_instance_create(m, &f->s, p, &io, &inst, msg, sizeof msg) == ATTN_OK,
	              "%s: unsupported: %s", label, msg);
	struct attn_instance_sizes sz;
	attn_instance_sizes(inst, &sz);

	if (m->flags & ATTN_METHOD_USES_BLAS)
		openblas_set_num_threads(threads); /* what the harness does */
	ck_assert_msg(attn_instance_prepare(inst, NULL, 0) == ATTN_OK, "%s: prepare", label);
	int rc = attn_instance_forward(inst, 1, NULL, 0);
	ck_assert_msg(rc == ATTN_OK, "%s: forward returned %d", label, rc);
	size_t over_out, over_ws;
	attn_instance_overruns(inst, &over_out, &over_ws);
	ck_assert_msg(over_ws == 0, "%s: wrote past its %zu workspace bytes", label, sz.ws_bytes);
	ck_assert_msg(over_out == 0, "%s: wrote past the output", label);
	/* (One assertion per scan: Check logs every passing assertion, which is slow.) */
	const float *o = attn_instance_output(inst);
	size_t bad = 0;
	while (bad < f->o_count && isfinite(o[bad]))
		bad++;
	ck_assert_msg(bad == f->o_count, "%s: out[%zu] = %g", label, bad,
	              (double)o[bad < f->o_count ? bad : 0]);
	float *out = malloc(sz.out_bytes);
	ck_assert_ptr_nonnull(out);
	memcpy(out, o, sz.out_bytes);
	attn_instance_free(inst);
	return out;
}

/* run_checked, then the error against the reference within the method's tolerance. */
static void check_method(const struct attn_method *m, const struct fixture *f,
                         const struct attn_params *p, int threads)
{
	char label[256];
	float *out = run_checked(m, f, p, threads, label, sizeof label);
	double err = rel_err(out, f->ref, f->o_count);
	ck_assert_msg(err <= m->tolerance, "%s: relative error %.3g > tolerance %.3g", label, err,
	              m->tolerance);
	free(out);
}

static struct attn_params params1(double a)
{
	struct attn_params p = {.count = 1};
	p.v[0] = a;
	return p;
}

static struct attn_params params2(double a, double b)
{
	struct attn_params p = {.count = 2};
	p.v[0] = a;
	p.v[1] = b;
	return p;
}

/* Block sizes: the defaults, the minimums, and sizes that divide few N of the grid. */
static const double softmax_blocks[] = {256, 16, 100};
/* Flash: 0 is auto, alone or with the other size given. */
static const double flash_tiles[][2] = {{64, 64}, {8, 8},  {13, 24}, {100, 40},
                                        {0, 0},   {0, 24}, {100, 0}};

static void check_exact_methods(const struct fixture *f)
{
	for (int threads = 1; threads <= 2; threads++) {
		for (size_t i = 0; i < sizeof softmax_blocks / sizeof *softmax_blocks; i++) {
			struct attn_params p = params1(softmax_blocks[i]);
			check_method(&attn_method_softmax, f, &p, threads);
		}
		for (size_t i = 0; i < sizeof flash_tiles / sizeof *flash_tiles; i++) {
			struct attn_params p = params2(flash_tiles[i][0], flash_tiles[i][1]);
			check_method(&attn_method_flash, f, &p, threads);
		}
	}
}

/* ---- the grid ----------------------------------------------------------------- */

#define GRID_MAX 512
static struct attn_shape grid[GRID_MAX];
static int grid_count;

static void grid_build(void)
{
	static const int64_t ns[] = {1, 2, 7, 63, 64, 65, 130, 257, 1000};
	static const int64_t ds[] = {1, 8, 64, 128};
	static const int64_t kvhs[] = {4, 2, 1};
	for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
		for (size_t b = 0; b < sizeof ds / sizeof *ds; b++)
			for (size_t c = 0; c < sizeof kvhs / sizeof *kvhs; c++)
				for (int causal = 0; causal <= 1; causal++)
					for (int mode = 0; mode <= 1; mode++) {
						/* Large N: two head dims, one GQA ratio. */
						if (ns[a] == 1000 &&
						    (ds[b] == 1 || ds[b] == 128 || kvhs[c] != 2))
							continue;
						if (grid_count == GRID_MAX)
							abort(); /* raise GRID_MAX */
						grid[grid_count++] = (struct attn_shape){
						    .batch = 2,
						    .heads = 4,
						    .kv_heads = kvhs[c],
						    .n = ns[a],
						    .d = ds[b],
						    .causal = causal,
						    .mode = (enum attn_mode)mode};
					}
}

START_TEST(test_grid)
{
	struct fixture f;
	fixture_init(&f, &grid[_i], 1000u + (uint64_t)_i, 1.0f);
	check_exact_methods(&f);
	if (f.s.n <= 257) { /* the float64 method is slow */
		struct attn_params none = {0};
		check_method(&attn_method_reference, &f, &none, 1);
	}
	fixture_free(&f);
}
END_TEST

/* ---- decode is the last row of causal prefill ---------------------------------- */

/* ||a - b|| / ||b|| over the last rows of each head of a prefill output. */
static double last_row_err(const float *dec, const float *pre, const struct attn_shape *s)
{
	const int64_t N = s->n, D = s->d;
	double num = 0.0, den = 0.0;
	for (int64_t bh = 0; bh < s->batch * s->heads; bh++)
		for (int64_t c = 0; c < D; c++) {
			double a = dec[bh * D + c], b = pre[(bh * N + N - 1) * D + c];
			num += (a - b) * (a - b);
			den += b * b;
		}
	return sqrt(num / den);
}

START_TEST(test_decode_is_last_prefill_row)
{
	static const int64_t ns[] = {1, 65, 257, 1000};
	struct attn_shape s = {.batch = 2, .heads = 4, .kv_heads = 2, .d = 64, .causal = 1};
	s.n = ns[_i];
	struct fixture pf, df;
	fixture_init(&pf, &s, 77u + (uint64_t)_i, 1.0f);
	fixture_decode_of(&df, &pf);

	/* The oracle itself: same loops, same order, so equal to the last digit. */
	int same = 1;
	for (int64_t bh = 0; bh < s.batch * s.heads; bh++)
		for (int64_t c = 0; c < s.d; c++)
			same &= df.ref[bh * s.d + c] == pf.ref[(bh * s.n + s.n - 1) * s.d + c];
	ck_assert_msg(same, "reference: decode differs from the last prefill row");

	const struct attn_method *methods[] = {&attn_method_softmax, &attn_method_flash};
	for (int i = 0; i < 2; i++) {
		const struct attn_method *m = methods[i];
		struct attn_params p = {0}; /* defaults */
		char l1[256], l2[256];
		float *pre = run_checked(m, &pf, &p, 2, l1, sizeof l1);
		float *dec = run_checked(m, &df, &p, 2, l2, sizeof l2);
		double err = last_row_err(dec, pre, &s);
		ck_assert_msg(err <= m->tolerance, "%s: decode vs last prefill row: %.3g", l2, err);
		free(pre);
		free(dec);
	}
	fixture_free(&pf);
	fixture_free(&df);
}
END_TEST

/* Flash decode with fewer heads than threads: the keys are split and merged. */
START_TEST(test_flash_decode_split)
{
	static const int64_t ns[] = {1, 7, 100, 1000, 4099};
	struct attn_shape s = {
	    .batch = 1, .heads = 1, .kv_heads = 1, .d = 64, .causal = 1, .mode = ATTN_MODE_DECODE};
	s.n = ns[_i];
	struct fixture f;
	fixture_init(&f, &s, 5u + (uint64_t)_i, 1.0f);
	for (int threads = 1; threads <= 4; threads++) {
		struct attn_params dflt = params2(64, 64), small = params2(8, 8);
		check_method(&attn_method_flash, &f, &dflt, threads);
		check_method(&attn_method_flash, &f, &small, threads);
	}
	fixture_free(&f);
}
END_TEST

/*
 * Flash decode with GQA: the G = H/KVH query heads of a K/V head share one
 * pass over its keys, and with few K/V heads the keys are also split across
 * threads: every (G, split) combination must land each head's partial in
 * its own place. G = 8 and 4 use the 4-row dot kernel, G = 2 and 1 its
 * single rows; N = 4099 leaves ragged blocks and key ranges.
 */
START_TEST(test_flash_decode_gqa)
{
	static const int64_t kvhs[] = {1, 2, 4, 8};
	static const int64_t ns[] = {1, 100, 4099};
	struct attn_shape s = {.batch = 2, .heads = 8, .d = 72, .mode = ATTN_MODE_DECODE};
	s.kv_heads = kvhs[_i % 4];
	s.n = ns[_i / 4];
	struct fixture f;
	fixture_init(&f, &s, 31u + (uint64_t)_i, 1.0f);
	for (int threads = 1; threads <= 4; threads++) {
		struct attn_params dflt = {0}, small = params2(8, 8), odd = params2(8, 37);
		check_method(&attn_method_flash, &f, &dflt, threads);
		check_method(&attn_method_flash, &f, &small, threads);
		check_method(&attn_method_flash, &f, &odd, threads);
	}
	fixture_free(&f);
}
END_TEST

/* ---- stability ------------------------------------------------------------------ */

/*
 * Scores with a standard deviation of ~100 (Q scaled by 100): e^s overflows
 * float for s > 88, so only the max subtraction keeps this finite and right.
 */
START_TEST(test_huge_scores)
{
	struct attn_shape s = {.batch = 1, .heads = 2, .kv_heads = 1, .n = 300, .d = 64};
	s.causal = _i & 1;
	s.mode = (_i & 2) ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL;
	struct fixture f;
	fixture_init(&f, &s, 99u, 100.0f);
	check_exact_methods(&f);
	fixture_free(&f);
}
END_TEST

/* The tolerance holds at N = 4096, where float32 sums are longest. */
START_TEST(test_long_sequence)
{
	struct attn_shape s = {.batch = 1, .heads = 1, .kv_heads = 1, .n = 4096};
	s.d = _i ? 128 : 64;
	s.causal = _i;
	struct fixture f;
	fixture_init(&f, &s, 4096u + (uint64_t)_i, 1.0f);
	struct attn_params none = {0};
	check_method(&attn_method_softmax, &f, &none, 2);
	check_method(&attn_method_flash, &f, &none, 2);
	fixture_free(&f);
}
END_TEST

/* ---- descriptors ------------------------------------------------------------------ */

START_TEST(test_supports_rejects)
{
	const struct attn_method *methods[] = {&attn_method_softmax, &attn_method_flash,
	                                       &attn_method_reference};
	struct attn_shape ok = {.batch = 1, .heads = 4, .kv_heads = 2, .n = 16, .d = 8};
	for (int i = 0; i < 3; i++) {
		const struct attn_method *m = methods[i];
		struct attn_shape bad[4] = {ok, ok, ok, ok};
		bad[0].kv_heads = 3; /* does not divide 4 */
		bad[1].d = 0;
		bad[2].n = 0;
		bad[3].kv_heads = 0;
		char msg[128] = "";
		ck_assert_int_eq(attn_call_supports(m, &ok, NULL, msg, sizeof msg), ATTN_OK);
		for (int j = 0; j < 4; j++) {
			msg[0] = '\0';
			ck_assert_int_eq(attn_call_supports(m, &bad[j], NULL, msg, sizeof msg),
			                 ATTN_ERR_UNSUPPORTED);
			ck_assert_msg(msg[0] != '\0', "%s: no reason for case %d", m->name, j);
		}
	}
	/* Parameters outside their range. */
	char msg[128] = "";
	struct attn_params p = params1(8);
	ck_assert_int_eq(attn_call_supports(&attn_method_softmax, &ok, &p, msg, sizeof msg),
	                 ATTN_ERR_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(msg, "block"));
	p = params2(64, 2000);
	ck_assert_int_eq(attn_call_supports(&attn_method_flash, &ok, &p, msg, sizeof msg),
	                 ATTN_ERR_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(msg, "bk"));
}
END_TEST

START_TEST(test_descriptors)
{
	const struct attn_method *methods[] = {&attn_method_softmax, &attn_method_flash,
	                                       &attn_method_reference};
	for (int i = 0; i < 3; i++) {
		const struct attn_method *m = methods[i];
		ck_assert_int_eq(m->abi_version, ATTN_ABI_VERSION);
		ck_assert(m->flags & ATTN_METHOD_EXACT);
		ck_assert_int_eq(m->family, ATTN_FAMILY_FULL);
		ck_assert_str_eq(m->category, "softmax");
		ck_assert(m->tolerance > 0.0 && m->tolerance <= 1e-5);
		for (int j = 0; j < m->n_params; j++)
			ck_assert(m->params[j].def >= m->params[j].min &&
			          m->params[j].def <= m->params[j].max);
	}
	ck_assert(attn_method_reference.flags & ATTN_METHOD_ORACLE_ONLY);
	ck_assert(attn_method_softmax.flags & ATTN_METHOD_USES_BLAS);

	/* FLOPs: 4·D per kept pair; causal prefill keeps N(N+1)/2 of N². */
	struct attn_shape s = {.batch = 2, .heads = 4, .kv_heads = 2, .n = 100, .d = 64};
	ck_assert(attn_call_flops(&attn_method_flash, &s, NULL) == 2 * 4 * 4.0 * 100 * 100 * 64);
	s.causal = 1;
	ck_assert(attn_call_flops(&attn_method_flash, &s, NULL) ==
	          2 * 4 * 4.0 * 100 * 101 / 2 * 64);
	s.mode = ATTN_MODE_DECODE;
	ck_assert(attn_call_flops(&attn_method_softmax, &s, NULL) == 2 * 4 * 4.0 * 100 * 64);

	/* Memory: softmax holds one block of scores; flash's does not grow with N. */
	struct attn_shape big = {.batch = 1, .heads = 1, .kv_heads = 1, .n = 8192, .d = 64};
	ck_assert_uint_eq(attn_call_workspace_bytes(&attn_method_softmax, &big, NULL, 1),
	                  256u * 8192u * sizeof(float));
	size_t w1 = attn_call_workspace_bytes(&attn_method_flash, &big, NULL, 2);
	big.n = 65536;
	ck_assert_uint_eq(attn_call_workspace_bytes(&attn_method_flash, &big, NULL, 2), w1);
}
END_TEST

/*
 * Auto tile sizes (bq = bk = 0, the defaults): the workspace is the same as
 * with the sizes they resolve to, and shrinks the query tile only when the
 * threads would run short of tiles.
 */
START_TEST(test_flash_auto_tiles)
{
	const struct attn_method *m = &attn_method_flash;
	struct attn_shape s = {.batch = 1, .heads = 1, .kv_heads = 1, .n = 4096, .d = 64};
	struct attn_params dflt = {0}, big = params2(128, 64), small = params2(32, 64);
	ck_assert_uint_eq(attn_call_workspace_bytes(m, &s, &dflt, 2),
	                  attn_call_workspace_bytes(m, &s, &big, 2));
	/* 512 queries, 2 threads: 4 tiles of 128 are too few, 8 of 64 or 16 of 32 are not. */
	s.n = 512;
	ck_assert_uint_lt(attn_call_workspace_bytes(m, &s, &dflt, 2),
	                  attn_call_workspace_bytes(m, &s, &big, 2));
	s.n = 100; /* never below 32 */
	ck_assert_uint_eq(attn_call_workspace_bytes(m, &s, &dflt, 2),
	                  attn_call_workspace_bytes(m, &s, &small, 2));
	/* Out of range: negative, between auto and the smallest tile, above the maximum. */
	static const double bad[][2] = {{-1, 0}, {0, 5}, {7, 64}, {0, 1025}};
	for (int i = 0; i < 4; i++) {
		struct attn_params p = params2(bad[i][0], bad[i][1]);
		char msg[128] = "";
		ck_assert_int_eq(attn_call_supports(m, &s, &p, msg, sizeof msg),
		                 ATTN_ERR_UNSUPPORTED);
		ck_assert_msg(strstr(msg, i == 0 || i == 2 ? "bq" : "bk") != NULL, "%s", msg);
	}
}
END_TEST

/* ---- shared kernels ------------------------------------------------------------------ */

START_TEST(test_fast_exp)
{
	/* Within 3 ulp (relative 3·2^-23) wherever the result is a normal float. */
	double worst = 0.0, worst2 = 0.0;
	for (int i = 0; i <= 200000; i++) {
		float x = -87.0f + 175.0f * (float)i / 200000.0f;
		double want = exp((double)x), got = attn__expf(x);
		double r = fabs(got - want) / want;
		worst = r > worst ? r : worst;
		float y = -125.0f + 252.0f * (float)i / 200000.0f;
		double want2 = exp2((double)y), got2 = attn__exp2f(y);
		double r2 = fabs(got2 - want2) / want2;
		worst2 = r2 > worst2 ? r2 : worst2;
	}
	ck_assert_msg(worst < 3 * 0x1p-23, "expf worst relative error %g", worst);
	ck_assert_msg(worst2 < 3 * 0x1p-23, "exp2f worst relative error %g", worst2);

	/* Far negative flushes to zero, large saturates finite, NaN stays NaN. */
	ck_assert(attn__expf(-88.0f) == 0.0f && attn__expf(-1e30f) == 0.0f);
	ck_assert(attn__expf(-INFINITY) == 0.0f && attn__exp2f(-INFINITY) == 0.0f);
	ck_assert(attn__exp2f(-126.0f) == 0.0f);
	ck_assert(attn__expf(0.0f) == 1.0f && attn__exp2f(0.0f) == 1.0f);
	ck_assert(isfinite(attn__expf(1e30f)) && isfinite(attn__exp2f(INFINITY)));
	ck_assert(isnan(attn__expf(NAN)) && isnan(attn__exp2f(NAN)));

	/* The vectorised row pass agrees with the scalar function. */
	float row[37];
	for (int i = 0; i < 37; i++)
		row[i] = -3.0f + 0.25f * (float)i;
	float sum = attn__exp_shift_sum(row, 37, 6.0f), want = 0.0f;
	for (int i = 0; i < 37; i++) {
		float e = attn__expf(-3.0f + 0.25f * (float)i - 6.0f);
		ck_assert(row[i] == e);
		want += e;
	}
	ck_assert(fabsf(sum - want) <= 1e-6f * want);
}
END_TEST

START_TEST(test_softmax_row)
{
	float x[10] = {1, 2, 3, 4, 5, 100, 100, 100, 100, 100};
	attn__softmax_row(x, 5, 10);
	double l = 0.0;
	for (int i = 0; i < 5; i++)
		l += exp(i + 1.0 - 5.0);
	for (int i = 0; i < 5; i++)
		ck_assert(fabs(x[i] - exp(i + 1.0 - 5.0) / l) < 1e-7);
	for (int i = 5; i < 10; i++)
		ck_assert(x[i] == 0.0f);
}
END_TEST

/* attn__gemm against three loops, on sizes that hit every edge path, A plain and transposed. */
START_TEST(test_gemm)
{
	static const int64_t sizes[][3] = {{8, 32, 5}, {13, 37, 9}, {16, 64, 64},
	                                   {3, 5, 1},  {24, 96, 0}, {1, 1, 1}};
	uint64_t st = 3;
	for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
		const int64_t m = sizes[t][0], n = sizes[t][1], k = sizes[t][2];
		const int64_t lda = k + 3, ldb = n + 5, ldc = n + 7;
		const int64_t a_count = m * lda > k * (m + 2) ? m * lda : k * (m + 2);
		float *a = malloc((size_t)(a_count + 1) * sizeof(float));
		float *b = malloc((size_t)(k * ldb + 1) * sizeof(float));
		float *c = malloc((size_t)(m * ldc) * sizeof(float));
		ck_assert(a && b && c);
		for (int64_t i = 0; i < a_count; i++)
			a[i] = lcg_uniform(&st);
		for (int64_t i = 0; i < k * ldb; i++)
			b[i] = lcg_uniform(&st);
		for (int variant = 0; variant < 4; variant++) {
			/* A row-major (i, p) at a[i lda + p], or transposed at a[p (m + 2) + i]. */
			const int accumulate = variant & 1, trans = variant >> 1;
			const int64_t rsa = trans ? 1 : lda, csa = trans ? m + 2 : 1;
			for (int64_t i = 0; i < m * ldc; i++)
				c[i] = accumulate ? 1.0f : NAN;
			attn__gemm(m, n, k, a, rsa, csa, b, ldb, c, ldc, accumulate);
			double worst = 0.0; /* scaled error; NaN (an unwritten C) shows as NaN */
			for (int64_t i = 0; i < m; i++)
				for (int64_t j = 0; j < n; j++) {
					double want = accumulate ? 1.0 : 0.0;
					for (int64_t p = 0; p < k; p++)
						want +=
						    (double)a[i * rsa + p * csa] * b[p * ldb + j];
					double e = fabs(c[i * ldc + j] - want) / (1 + fabs(want));
					worst = (e > worst || isnan(e)) ? e : worst;
				}
			ck_assert_msg(worst < 1e-5, "m=%lld n=%lld k=%lld variant %d: error %g",
			              (long long)m, (long long)n, (long long)k, variant, worst);
		}
		free(a);
		free(b);
		free(c);
	}
}
END_TEST

/* attn__gemm_nt against three loops: 4-row and single-row tiles, ragged key counts and k. */
START_TEST(test_gemm_nt)
{
	static const int64_t sizes[][3] = {{8, 64, 128}, {4, 4, 16},  {5, 7, 33},
	                                   {1, 9, 1},    {2, 3, 100}, {9, 13, 72}};
	uint64_t st = 5;
	for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
		const int64_t m = sizes[t][0], n = sizes[t][1], k = sizes[t][2];
		const int64_t lda = k + 3, ldb = k + 1, ldc = n + 2;
		float *a = malloc((size_t)(m * lda) * sizeof(float));
		float *b = malloc((size_t)(n * ldb) * sizeof(float));
		float *c = malloc((size_t)(m * ldc) * sizeof(float));
		ck_assert(a && b && c);
		for (int64_t i = 0; i < m * lda; i++)
			a[i] = lcg_uniform(&st);
		for (int64_t i = 0; i < n * ldb; i++)
			b[i] = lcg_uniform(&st);
		for (int64_t i = 0; i < m * ldc; i++)
			c[i] = NAN;
		attn__gemm_nt(m, n, k, a, lda, b, ldb, c, ldc);
		double worst = 0.0; /* NaN (an unwritten C) shows as NaN */
		for (int64_t i = 0; i < m; i++)
			for (int64_t j = 0; j < n; j++) {
				double want = 0.0;
				for (int64_t p = 0; p < k; p++)
					want += (double)a[i * lda + p] * b[j * ldb + p];
				double e = fabs(c[i * ldc + j] - want) / (1 + fabs(want));
				worst = (e > worst || isnan(e)) ? e : worst;
			}
		ck_assert_msg(worst < 1e-5, "m=%lld n=%lld k=%lld: error %g", (long long)m,
		              (long long)n, (long long)k, worst);
		free(a);
		free(b);
		free(c);
	}
}
END_TEST

/*
 * The row passes in base 2 (whichever implementation the build selected)
 * give exactly attn__exp2f's values, also below -125 (0) and at the edges
 * of a row whose length is not a multiple of the vector width.
 */
START_TEST(test_exp2_rows)
{
	enum { LEN = 53 };
	float x[LEN], y[LEN], shift[LEN], sum[LEN];
	for (int i = 0; i < LEN; i++) {
		x[i] = -140.0f + 5.3f * (float)i; /* -140 .. 135.6 */
		y[i] = x[i];
		shift[i] = 0.25f * (float)(i % 5);
		sum[i] = 1.0f;
	}
	attn__exp2_sub_into(x, shift, sum, LEN);
	int same = 1;
	for (int i = 0; i < LEN; i++) {
		const float e = attn__exp2f(y[i] - shift[i]);
		same &= x[i] == e && sum[i] == 1.0f + e;
	}
	ck_assert_msg(same, "attn__exp2_sub_into differs from attn__exp2f");

	for (int i = 0; i < LEN; i++)
		x[i] = y[i] = -30.0f + 0.7f * (float)i;
	const float total = attn__exp2_shift_sum(x, LEN, 3.0f);
	double want = 0.0;
	same = 1;
	for (int i = 0; i < LEN; i++) {
		const float e = attn__exp2f(y[i] - 3.0f);
		same &= x[i] == e;
		want += e;
	}
	ck_assert_msg(same, "attn__exp2_shift_sum differs from attn__exp2f");
	ck_assert(fabs(total - want) <= 1e-6 * want);
}
END_TEST

/* ---- the example external plugin ------------------------------------------------------ */

#ifdef ATTN_EXAMPLE_PLUGIN
START_TEST(test_example_plugin)
{
	void *so = dlopen(ATTN_EXAMPLE_PLUGIN, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(so != NULL, "dlopen: %s", dlerror());
	attn_plugin_entry_fn entry;
	void *sym = dlsym(so, ATTN_PLUGIN_ENTRY);
	ck_assert_ptr_nonnull(sym);
	memcpy(&entry, &sym, sizeof entry); /* object to function pointer, POSIX-blessed */
	const struct attn_method *const *list = entry();
	ck_assert_ptr_nonnull(list);
	ck_assert_ptr_nonnull(list[0]);
	for (int i = 0; list[i]; i++) {
		const struct attn_method *m = list[i];
		ck_assert_int_eq(m->abi_version, ATTN_ABI_VERSION);
		static const int64_t ns[] = {1, 7, 130};
		for (int a = 0; a < 3; a++)
			for (int c = 0; c < 4; c++) {
				struct attn_shape s = {.batch = 2,
				                       .heads = 4,
				                       .kv_heads = 2,
				                       .n = ns[a],
				                       .d = 16,
				                       .causal = c & 1,
				                       .mode = (c & 2) ? ATTN_MODE_DECODE
				                                       : ATTN_MODE_PREFILL};
				struct fixture f;
				struct attn_params none = {0};
				fixture_init(&f, &s, 11u, 1.0f);
				check_method(m, &f, &none, 1);
				fixture_free(&f);
			}
	}
	dlclose(so);
}
END_TEST
#endif

/* ---- main ------------------------------------------------------------------------------ */

static Suite *methods_suite(void)
{
	Suite *s = suite_create("methods");
	TCase *tc = tcase_create("exact");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_fast_exp);
	tcase_add_test(tc, test_softmax_row);
	tcase_add_test(tc, test_gemm);
	tcase_add_test(tc, test_gemm_nt);
	tcase_add_test(tc, test_exp2_rows);
	tcase_add_test(tc, test_supports_rejects);
	tcase_add_test(tc, test_descriptors);
	tcase_add_loop_test(tc, test_grid, 0, grid_count);
	tcase_add_loop_test(tc, test_decode_is_last_prefill_row, 0, 4);
	tcase_add_loop_test(tc, test_flash_decode_split, 0, 5);
	tcase_add_loop_test(tc, test_flash_decode_gqa, 0, 12);
	tcase_add_test(tc, test_flash_auto_tiles);
	tcase_add_loop_test(tc, test_huge_scores, 0, 4);
	tcase_add_loop_test(tc, test_long_sequence, 0, 2);
#ifdef ATTN_EXAMPLE_PLUGIN
	tcase_add_test(tc, test_example_plugin);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	grid_build();
	return attn_test_run(methods_suite(), CK_NORMAL);
}
