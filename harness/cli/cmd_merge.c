/*
 * attnbench merge: the databases of a sharded sweep's tasks (or of several
 * machines) into one. The work is the store's (attn_store_merge, one
 * transaction per input) and the shard report the query layer's
 * (attn_query_shards); this verb checks every input before it writes
 * anything, says per input what came in and what was there already, and
 * ends with the sweeps that lack a shard or a case.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/query.h"
#include "attnbench/status.h"
#include "attnbench/store.h"
#include "cli.h"

static const char *help_text =
    "usage: attnbench merge --out ALL.db [--prefer old|new] [--quiet] IN.db...\n"
    "\n"
    "Copies every run of each IN.db, with all its cases, samples, counters,\n"
    "metrics, roofs, masks, fits and provenance, into ALL.db (created when\n"
    "missing), one transaction per input: an input that fails leaves ALL.db as\n"
    "it was before it. Inputs are opened read-only and never modified; one of an\n"
    "older schema is migrated on a private copy. Every input is checked before\n"
    "anything is written.\n"
    "\n"
    "A run is known by its uuid: merging the same file twice adds nothing, and a\n"
    "shard merged while half done, then again when finished, gains the rest.\n"
    "Runs of one sharded sweep (the same sweep_id) must not hold the same case\n"
    "with different results; such a conflict is refused unless\n"
    "--prefer old   keeps the case ALL.db holds, or\n"
    "--prefer new   replaces it with the input's.\n"
    "Runs without a sweep_id (two machines' runs of one spec) stay separate runs.\n"
    "\n"
    "Afterwards every sharded sweep in ALL.db is listed with the shards that are\n"
    "present, missing or incomplete. --quiet prints only sweeps lacking something.\n"
    "\n"
    "exit: 0 merged, no sharded sweep lacks a shard or a case; 2 bad usage, an\n"
    "input that is ALL.db itself, or a conflict without --prefer; 3 an input is\n"
    "not an attnbench database, corrupt or unreadable, or a write failed; 4 merged,\n"
    "but a sharded sweep lacks shards or cases (or its runs disagree).\n";

/* "1-3,5" for the ascending numbers v[0..n). */
static void fmt_ranges(const int64_t *v, int n, char *buf, size_t len)
{
	buf[0] = 0;
	size_t at = 0;
	for (int i = 0; i < n && at < len; i++) {
		int j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		int w = j > i + 1 ? snprintf(buf + at, len - at, "%s%lld-%lld", at ? "," : "",
		                             (long long)v[i], (long long)v[j])
		                  : snprintf(buf + at, len - at, "%s%lld", at ? "," : "",
		                             (long long)v[i]);
		if (j == i + 1)
			w += snprintf(buf + at + w, len - at - w, ",%lld", (long long)v[j]);
		at += w > 0 ? (size_t)w : 0;
		i = j;
	}
}

static void print_input(const char *path, const struct attn_merge_stats *s)
{
	char what[640];
	snprintf(what, sizeof(what), "%d run%s", s->runs, s->runs == 1 ? "" : "s");
	if (s->runs) {
		size_t at = strlen(what);
		at += (size_t)snprintf(what + at, sizeof(what) - at, " (host%s %s",
		                       strchr(s->hosts, ',') ? "s" : "",
		                       s->hosts[0] ? s->hosts : "unknown");
		if (s->shards[0] && at < sizeof(what))
			at += (size_t)snprintf(what + at, sizeof(what) - at, ", shard%s %s",
			                       strchr(s->shards, ',') ? "s" : "", s->shards);
		if (at < sizeof(what))
			snprintf(what + at, sizeof(what) - at, ")");
	}
	int nothing = s->runs_added == 0 && s->runs_advanced == 0 && s->cases_added == 0 &&
	              s->took_new == 0 && s->rows_added == 0;
	if (nothing) {
		printf("merge: %s: nothing new (%s, %lld case%s already there", path, what,
		       (long long)s->cases_present, s->cases_present == 1 ? "" : "s");
		if (s->kept_old)
			printf(", %lld conflict%s kept as held", (long long)s->kept_old,
			       s->kept_old == 1 ? "" : "s");
		printf(")\n");
		return;
	}
	printf("merge: %s: %s, %lld case%s added, %lld already there", path, what,
	       (long long)s->cases_added, s->cases_added == 1 ? "" : "s",
	       (long long)s->cases_present);
	if (s->runs_added != s->runs)
		printf(", %d run%s new", s->runs_added, s->runs_added == 1 ? "" : "s");
	if (s->runs_advanced)
		printf(", %d run%s moved forward", s->runs_advanced,
		       s->runs_advanced == 1 ? "" : "s");
	if (s->kept_old || s->took_new)
		printf(", conflicts: %lld kept old, %lld took new", (long long)s->kept_old,
		       (long long)s->took_new);
	printf("\n");
}

/* The shard report; 1 when a sweep lacks something (exit 4). */
static int print_shards(struct attn_store *st, int quiet, int *failed)
{
	struct attn_query_sweep_shards *v;
	int n, lacking = 0;
	char err[1024];
	*failed = 0;
	if (attn_query_shards(st, &v, &n, err, sizeof(err)) != ATTN_OK) {
		cli_error("merge", "reading the sharded sweeps: %s", err);
		*failed = 1;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		const struct attn_query_sweep_shards *w = &v[i];
		int bad = w->n_missing || w->n_incomplete || w->problems;
		lacking |= bad;
		if (quiet && !bad)
			continue;
		int64_t *present = malloc((size_t)(w->n_runs ? w->n_runs : 1) * sizeof(*present));
		int np = 0;
		for (int k = 0; present && k < w->n_runs; k++) {
			int64_t x = w->runs[k].index;
			if (x >= 1 && x <= w->shard_count && (!np || present[np - 1] != x))
				present[np++] = x;
		}
		char have[512] = "", miss[512] = "";
		if (present)
			fmt_ranges(present, np, have, sizeof(have));
		free(present);
		fmt_ranges(w->missing, w->n_missing, miss, sizeof(miss));
		if (!bad) {
			printf(
			    "merge: sweep %s: all %lld shard%s present and complete (%lld cases)\n",
			    w->sweep_id, (long long)w->shard_count, w->shard_count == 1 ? "" : "s",
			    (long long)w->cases);
			continue;
		}
		printf("merge: sweep %s: shards %s of %lld present", w->sweep_id,
		       np ? have : "none", (long long)w->shard_count);
		if (w->n_missing)
			printf("; missing: %s", miss);
		if (w->n_incomplete) {
			printf("; incomplete:");
			int first = 1;
			for (int k = 0; k < w->n_runs; k++) {
				const struct attn_query_shard_run *r = &w->runs[k];
				if (!r->incomplete)
					continue;
				printf("%s %lld (%s, %lld", first ? "" : ",", (long long)r->index,
				       r->status, (long long)r->cases);
				if (r->shard_cases >= 0)
					printf(" of %lld", (long long)r->shard_cases);
				printf(" cases, host %s)", r->host[0] ? r->host : "unknown");
				first = 0;
			}
		}
		if (w->problems)
			printf("; inconsistent: %s", w->problems);
		printf("\n");
	}
	attn_query_shards_free(v, n);
	return lacking;
}

static int exit_for(int rc)
{
	return rc == ATTN_ERR_INVALID ? EXIT_USAGE : EXIT_DB;
}

int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
	                                     {"out", required_argument, 0, 'o'},
	                                     {"prefer", required_argument, 0, 'p'},
	                                     {"quiet", no_argument, 0, 'q'},
	                                     {0, 0, 0, 0}};
	const char *out_path = NULL;
	int prefer = ATTN_MERGE_PREFER_NONE, quiet = 0, c;
	while ((c = getopt_long(argc, argv, "ho:p:q", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(help_text, stdout); return EXIT_OK;
		case 'o': out_path = optarg; break;
		case 'p':
			if (strcmp(optarg, "old") == 0)
				prefer = ATTN_MERGE_PREFER_OLD;
			else if (strcmp(optarg, "new") == 0)
				prefer = ATTN_MERGE_PREFER_NEW;
			else {
				cli_error("merge", "--prefer '%s': one of old, new", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'q': quiet = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (!out_path || !*out_path) {
		cli_error("merge", "--out ALL.db is required (see attnbench merge --help)");
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		cli_error("merge", "no input database (attnbench merge --out %s IN.db...)",
		          out_path);
		return EXIT_USAGE;
	}
	char err[2048];
	/* Every input before anything is written: one bad one, and ALL.db is not touched. */
	int worst = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		int rc = attn_store_merge_check(out_path, argv[i], err, sizeof(err));
		if (rc != ATTN_OK) {
			cli_error("merge", "%s", err);
			int e = exit_for(rc);
			worst = worst == EXIT_USAGE || e == EXIT_USAGE ? EXIT_USAGE : e;
		}
	}
	if (worst != EXIT_OK) {
		cli_error("merge", "nothing was merged; %s was not touched", out_path);
		return worst;
	}
	struct attn_store *st;
	int rc = attn_store_open(out_path, ATTN_STORE_CREATE, &st, err, sizeof(err));
	if (rc != ATTN_OK) {
		cli_error("merge", "%s", err);
		return EXIT_DB;
	}
	for (int i = optind; i < argc; i++) {
		struct attn_merge_stats s;
		rc = attn_store_merge(st, argv[i], prefer, &s, err, sizeof(err));
		if (rc != ATTN_OK && s.committed) {
			/* merged, but the disk failed writing it back: heard, and the end */
			cli_error("merge", "%s", err);
			if (!quiet)
				print_input(argv[i], &s);
			attn_store_close(st);
			return EXIT_DB;
		}
		if (rc != ATTN_OK) {
			cli_error("merge", "%s", err);
			if (i > optind)
				cli_error(
				    "merge",
				    "%s was left as it was before %s: the %d input%s before it "
				    "are merged, %s and those after it are not",
				    out_path, argv[i], i - optind, i - optind == 1 ? "" : "s",
				    argv[i]);
			else
				cli_error("merge", "%s was left as it was: nothing was merged",
				          out_path);
			attn_store_close(st);
			return exit_for(rc);
		}
		if (!quiet)
			print_input(argv[i], &s);
	}
	int failed, lacking = print_shards(st, quiet, &failed);
	attn_store_close(st);
	if (failed)
		return EXIT_DB;
	return lacking ? EXIT_INCOMPLETE : EXIT_OK;
}
