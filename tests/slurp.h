/*
 * A whole file as a NUL-terminated string for a suite to search: malloc'd
 * (the caller frees it); fails the test when the file cannot be read. And a
 * file's size, for the outputs a suite checks only for being there and not
 * nearly empty.
 */
#ifndef ATTN_TEST_SLURP_H
#define ATTN_TEST_SLURP_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static inline char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s cannot be read", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(b);
	b[fread(b, 1, (size_t)n, f)] = 0;
	fclose(f);
	return b;
}

/* The size of the file at path in bytes, -1 if it is not there. */
static inline long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

#endif /* ATTN_TEST_SLURP_H */
