/*
 * The end of every suite's main(): run it (forking per test, so a crash or a
 * hang fails one test) and turn the failure count into the exit code CTest
 * reads.
 */
#ifndef ATTN_CHECK_MAIN_H
#define ATTN_CHECK_MAIN_H

#include <check.h>

static inline int attn_test_run(Suite *s, enum print_output verbosity)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, verbosity);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}

#endif /* ATTN_CHECK_MAIN_H */
