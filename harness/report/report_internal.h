/*
 * Shared inside the report layer (harness/report/), not installed: the
 * gnuplot plumbing every chart and figure uses (quoting, running gnuplot,
 * making the output folder, the survey branches' palettes).
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

#endif /* ATTNBENCH_REPORT_INTERNAL_H */
