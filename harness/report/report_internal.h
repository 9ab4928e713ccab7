/*
 * Shared inside the report layer (harness/report/), not installed: the
 * gnuplot plumbing every chart and figure uses (quoting, running gnuplot,
 * making the output folder, the survey branches' palettes), and how a
 * caption names the run (or the shards of a sweep) it shows.
 */
#ifndef ATTNBENCH_REPORT_INTERNAL_H
#define ATTNBENCH_REPORT_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

/* A gnuplot single-quoted string: only the quote is special, and it is doubled. */
void attn__gp_str(FILE *f, const char *s);
/*
 * Run `gnuplot NAME.gp` in DIR with its stderr kept in NAME.log; on success
 * remove the log, on failure leave it and return ATTN_ERR_IO with its
 * contents in err.
 */
int attn__gp_run(const char *dir, const char *name, char *err, size_t errlen);
/* mkdir -p; 0 or -1 with errno. */
int attn__gp_mkdirs(const char *dir);
/* Colour `rank` (0 first) of a survey branch's palette ("full", "linear", ...). */
const char *attn__gp_family_colour(const char *family, int rank);

/*
 * Which runs a caption shows, from attn_query_run_info: "run 3", "run 3
 * (shard 2/3)" for a lone shard, or "runs 3, 4, 5 (shards 1/3, 2/3, 3/3)"
 * for a merged sweep; and the set's host and CPU the same way: one run's
 * own, or the distinct ones of the set with "hosts" when there are several.
 */
struct attn_query_run;
void attn__run_words(const struct attn_query_run *r, char *buf, size_t len);
const char *attn__run_hosts(const struct attn_query_run *r);
const char *attn__run_cpus(const struct attn_query_run *r);
const char *attn__run_commits(const struct attn_query_run *r);

#endif /* ATTNBENCH_REPORT_INTERNAL_H */
