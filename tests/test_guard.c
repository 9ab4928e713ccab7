/*
 * Guarded memory (harness/src/guard.c) and what the runner makes of it:
 * canaries count the bytes written past the end exactly, a write that runs
 * further or backwards faults on a PROT_NONE page, read-only inputs fault
 * on the first write, and a shared mapping carries a child's writes back.
 * The faulting checks run in forked children (Check's fork mode).
 */
#include <check.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "internal.h"

/* Run fn(arg) in a child; the signal that ended it, 0 for a normal exit. */
static int child_signal(void (*fn)(struct attn__guarded *), struct attn__guarded *g)
{
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		fn(g);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

START_TEST(canaries_count_the_overrun)
{
	static const size_t sizes[] = {1, 100, 4095, 4096, 4097, 65536};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(*sizes); k++) {
		struct attn__guarded g;
		ck_assert_int_eq(attn__guarded_alloc(&g, sizes[k], 0), 0);
		ck_assert_uint_eq((uintptr_t)g.p % 4096, 0);
		ck_assert_uint_ge(g.canary, 4096);
		memset(g.p, 0x11, sizes[k]);
		ck_assert_uint_eq(attn__guarded_overrun(&g), 0);
		/* 17 floats past the end, the overrun 64 guard bytes missed */
		size_t past = 17 * sizeof(float);
		memset((char *)g.p + sizes[k], 0, past);
		ck_assert_uint_eq(attn__guarded_overrun(&g), past);
		ck_assert_uint_ge(attn__guarded_overhead(sizes[k]), g.map_bytes - sizes[k]);
		attn__guarded_free(&g);
	}
}
END_TEST

static void write_far(struct attn__guarded *g)
{
	volatile char *p = g->p;
	for (size_t i = 0; i < g->bytes + g->canary + 1; i++)
		p[i] = 1;
}

static void write_before(struct attn__guarded *g)
{
	volatile char *p = g->p;
	p[-1] = 1;
}

static void write_readonly(struct attn__guarded *g)
{
	volatile char *p = g->p;
	p[g->bytes / 2] = 1;
}

START_TEST(guard_pages_fault)
{
	struct attn__guarded g;
	ck_assert_int_eq(attn__guarded_alloc(&g, 1000, 0), 0);
	ck_assert_int_eq(child_signal(write_far, &g), SIGSEGV);
	ck_assert_int_eq(child_signal(write_before, &g), SIGSEGV);
	ck_assert_int_eq(child_signal(write_readonly, &g), 0);
	ck_assert_int_eq(attn__guarded_readonly(&g, 1), 0);
	ck_assert_int_eq(child_signal(write_readonly, &g), SIGSEGV);
	/* reads still work, and writable again after */
	ck_assert_int_eq(((volatile char *)g.p)[10], 0);
	ck_assert_int_eq(attn__guarded_readonly(&g, 0), 0);
	ck_assert_int_eq(child_signal(write_readonly, &g), 0);
	attn__guarded_free(&g);
}
END_TEST

START_TEST(where_names_the_place)
{
	struct attn__guarded g;
	size_t off = 0;
	ck_assert_int_eq(attn__guarded_alloc(&g, 4096, 0), 0);
	char *p = g.p;
	ck_assert_int_eq(attn__guarded_where(&g, p + 5, &off), ATTN__GUARD_INSIDE);
	ck_assert_uint_eq(off, 5);
	ck_assert_int_eq(attn__guarded_where(&g, p + 4096 + 8, &off), ATTN__GUARD_AFTER);
	ck_assert_uint_eq(off, 4104);
	ck_assert_int_eq(attn__guarded_where(&g, p - 3, &off), ATTN__GUARD_BEFORE);
	ck_assert_uint_eq(off, 3);
	ck_assert_int_eq(attn__guarded_where(&g, &off, &off), ATTN__GUARD_OUTSIDE);
	attn__guarded_free(&g);
}
END_TEST

START_TEST(shared_reaches_the_parent)
{
	struct attn__guarded g;
	ck_assert_int_eq(attn__guarded_alloc(&g, 256, 1), 0);
	pid_t pid = fork();
	if (pid == 0) {
		memset(g.p, 7, 256);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	ck_assert_int_eq(((unsigned char *)g.p)[255], 7);
	attn__guarded_free(&g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("guard");
	TCase *t = tcase_create("guard");
	tcase_add_test(t, canaries_count_the_overrun);
	tcase_add_test(t, guard_pages_fault);
	tcase_add_test(t, where_names_the_place);
	tcase_add_test(t, shared_reaches_the_parent);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return attn_test_run(suite(), CK_NORMAL);
}
