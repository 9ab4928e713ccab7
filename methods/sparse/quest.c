/*
 * `quest`: query-aware page selection for decode (Tang et al. 2024, Quest).
 * The KV cache is cut into pages of b keys; for each page the cache keeps,
 * as metadata, the element-wise min m_p and max M_p of its keys (built in
 * prepare(), untimed, as a KV cache would maintain it on append). A decode
 * step bounds the query's best score in each page,
 *
 *     U_p = Σ_c max(q_c M_pc, q_c m_pc)  >=  max_{j in p} q · k_j,
 *
 * keeps the pages with the `topk` largest bounds plus always the last page
 * (the current one, which the newest tokens are still filling), and
 * attends exactly over the kept pages only, through the engine's decode
 * path. Its reads are 2 D floats of metadata per page plus the kept pages'
 * K and V, against 2 b D floats per page for full decode: with a fraction
 * f of the pages kept, about b / (1 + f b) times fewer bytes (12.8 at b =
 * 64, f = 1/16; the paper's 16-key pages would give 8 at best, which is
 * why b defaults to the engine's 64 here).
 *
 * `topk` = 0 (the default) keeps ⌈pages / 16⌉ pages in all, the last one
 * among them: the paper's budgets are a fixed token count, about 1/16 of a
 * long context. Selection is per query head (GQA heads of a group may read
 * different pages), as in the paper.
 *
 * Decode only: supports() refuses prefill, where every query has its own
 * set (that is block_topk's and moba's job).
 */
#include <stdio.h>

#include "engines/blocksparse.h"
#include "engines/route.h"
#include "kernels/kernels.h"

enum { QUEST_P_B = 0, QUEST_P_TOPK = 1 };

/* The default keeps one page in QUEST_FRACTION. */
#define QUEST_FRACTION 16

static const struct attn_param_spec quest_params[] = {
    ATTN__ROUTE_PARAM_B,
    {"topk", ATTN_PARAM_INT, 0, 0, 1 << 20, NULL,
     "pages kept by bound besides the last; 0: auto, ceil(pages/16) pages in all"},
};

struct quest_cfg {
	int64_t pages; /* ⌈N / b⌉ */
	int64_t topk;  /* pages by bound, besides the last */
};

/* shared: per K/V head, kmin then kmax (pages, D) each. */
static void quest_prep(const struct attn__route_spec *rs, const struct attn_shape *s,
                       const struct attn_inputs *in, void *shared)
{
	const struct quest_cfg *c = rs->cfg;
	const int64_t N = s->n, D = s->d, pages = c->pages;
	for (int64_t kvh = 0; kvh < s->batch * s->kv_heads; kvh++) {
		float *kmin = (float *)shared + kvh * 2 * pages * D; /* (pages, D) */
		attn__route_page_minmax(in->k + kvh * N * D, N, D, rs->b, kmin, kmin + pages * D);
	}
}

static void quest_route(const struct attn__route_spec *rs, const struct attn_shape *s,
                        const struct attn_inputs *in, const void *shared, int64_t bh, char *region,
                        void *scratch)
{
	const struct quest_cfg *c = rs->cfg;
	const int64_t D = s->d, pages = c->pages;
	const float *kmin = (const float *)shared + attn__kv_head(s, bh) * 2 * pages * D;
	int64_t *row = (int64_t *)(region + rs->lo.off_row); /* (2) */
	int32_t *col = (int32_t *)(region + rs->lo.off_col); /* (topk + 1) */
	float *bound = scratch, *tmp = bound + pages;        /* (pages) each */
	const int64_t last = pages - 1;

	attn__route_quest_bound(in->q + bh * D, kmin, kmin + pages * D, pages, D, bound);
	row[0] = 0;
	row[1] = attn__route_pick(bound, pages, c->topk, &last, 1, tmp, col);
}

static void quest_spec(const struct attn_shape *s, const struct attn_params *p,
                       struct attn__route_spec *rs, void *cfg)
{
	struct quest_cfg *c = cfg;
	const int64_t b = attn__param_int(p, QUEST_P_B, ATTN__BS_B_DEFAULT);
	const int64_t topk = attn__param_int(p, QUEST_P_TOPK, 0);
	c->pages = attn__route_blocks(s->n, b);
	c->topk = topk > 0 ? topk : (c->pages + QUEST_FRACTION - 1) / QUEST_FRACTION - 1;
	*rs = (struct attn__route_spec){
	    .b = b,
	    .scratch_bytes = 2 * sizeof(float) * (size_t)c->pages,
	    .shared_bytes = 2 * sizeof(float) * (size_t)(s->batch * s->kv_heads * c->pages * s->d),
	    .route = quest_route,
	    .prep = quest_prep,
	    /* per head and page: 2 products, a max and an add per dimension */
	    .routing_flops = 4.0 * (double)(s->batch * s->heads * c->pages * s->d),
	    /* the metadata: 2 D floats per page and head */
	    .routing_bytes = sizeof(float) * 2.0 * (double)(s->batch * s->heads * c->pages * s->d),
	    .nominal_pairs = attn__route_nominal_pairs(s, b, c->topk + 1),
	    .cfg = c,
	};
	attn__route_layout_init(&rs->lo, s, b, attn__min64(c->pages, c->topk + 1), 0, 0, 0, 0);
	/* at most the pages before the last are there to pick */
	const int64_t used = attn__min64(c->topk, c->pages - 1);
	if (topk <= 0 || used != topk)
		rs->resolved[rs->n_resolved++] = (struct attn__bs_param){"topk", (double)used};
}

static int quest_supports(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	int rc = attn__check_params(s, p, quest_params, ATTN__COUNT(quest_params), msg, msglen);
	if (rc == ATTN_OK && s->mode != ATTN_MODE_DECODE) {
		if (msg && msglen > 0)
			snprintf(
			    msg, msglen,
			    "quest selects pages for one decode query; prefill is block_topk's "
			    "or moba's");
		rc = ATTN_ERR_UNSUPPORTED;
	}
	return rc;
}

ATTN__ROUTE_CFG_FITS(struct quest_cfg);
static const struct attn__route_method quest_data = {.spec = quest_spec};

const struct attn_method attn_method_quest = {
    ATTN__ROUTE_METHOD_COMMON(quest),
    .supports = quest_supports,
    .data = &quest_data,
    .name = "quest",
    .category = "block, decode",
    .summary = "decode over the KV pages with the largest upper bound "
               "sum_c max(q_c max_c, q_c min_c) of their scores, plus the last page",
    .citation = "Tang et al. 2024, Quest: Query-Aware Sparsity for Efficient Long-Context LLM "
                "Inference (ICML 2024)",
    /* a decode step: the bounds are O(N/b · D), the kept pages O(topk · b · D) */
    .time_exp = 1.0,
    .mem_exp = 1.0,
};
