/*
 * A fresh directory for a test's files, under $TMPDIR (or /tmp), named
 * attn_TAG_XXXXXX, and its removal with everything under it.
 *
 * A suite makes one in its checked setup and removes it in the checked
 * teardown. In fork mode a failed assertion ends the test's process before
 * its checked teardown, so the files of a failed test stay behind to be
 * looked at.
 */
#ifndef ATTN_TEST_TMPDIR_H
#define ATTN_TEST_TMPDIR_H

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Short, so that a suite's paths inside the directory fit their buffers. */
#define TMPDIR_LEN 128

static inline void tmpdir_make(char dir[TMPDIR_LEN], const char *tag)
{
	const char *base = getenv("TMPDIR");
	int n = snprintf(dir, TMPDIR_LEN, "%s/attn_%s_XXXXXX", base && *base ? base : "/tmp", tag);
	ck_assert_msg(n > 0 && n < TMPDIR_LEN, "TMPDIR %s is too long for the tests", base);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
}

static inline int tmpdir_remove_entry(const char *path, const struct stat *st, int flag,
                                      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and all under it; a dir never made (empty name) is no error. */
static inline void tmpdir_remove(const char *dir)
{
	if (!dir[0])
		return;
	ck_assert_msg(nftw(dir, tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0,
	              "cannot remove %s: %s", dir, strerror(errno));
}

#endif /* ATTN_TEST_TMPDIR_H */
