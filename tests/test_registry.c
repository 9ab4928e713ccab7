/*
 * The registry: the generated built-in table, descriptor validation, and
 * external plugins (the shipped example, and plugins that are broken in each
 * way the loader must refuse: wrong ABI, no entry symbol, a duplicate name;
 * an entry point that crashes, hangs, exits or starts a process; descriptor
 * strings with a newline, without a NUL, pointing nowhere, or an enum choice
 * too long to select), each refused by the probe with this process intact
 * and no process left; and ATTNBENCH_PLUGIN_PATH, whose bad plugins are
 * skipped with a warning each. A plugin built for ABI version 1 still loads,
 * through the registry's adapter, and `run` and `sweep` check it against the
 * oracle like any method; an unknown version is refused.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attnbench/registry.h"
#include "attnbench/status.h"

#include "check_main.h"
#include "db.h"
#include "slurp.h"
#include "test_registry_util.h"
#include "tmpdir.h"

static char err[1024];

static int fwd(const struct attn_method *m, const struct attn_shape *s, const struct attn_params *p,
               const struct attn_inputs *in, float *out, void *ws, const struct attn_ctx *ctx)
{
	(void)m;
	(void)s, (void)p, (void)in, (void)out, (void)ws, (void)ctx;
	return 0;
}
static size_t wsb(const struct attn_method *m, const struct attn_shape *s,
                  const struct attn_params *p, int t)
{
	(void)m;
	(void)s, (void)p, (void)t;
	return 0;
}
static double zero(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p)
{
	(void)m;
	(void)s, (void)p;
	return 0;
}

static struct attn_method good(void)
{
	struct attn_method m = {.abi_version = ATTN_ABI_VERSION,
	                        .name = "synthetic",
	                        .family = ATTN_FAMILY_FULL,
	                        .flags = ATTN_METHOD_EXACT,
	                        .time_exp = 2,
	                        .mem_exp = 1,
	                        .tolerance = 1e-5,
	                        .workspace_bytes = wsb,
	                        .flops = zero,
	                        .bytes = zero,
	                        .forward = fwd};
	return m;
}

START_TEST(builtins_registered)
{
	struct attn_registry *reg = test_registry_make(NULL, 0);
	ck_assert_int_eq(attn_registry_count(reg), attn_builtin_count);
	ck_assert_int_ge(attn_builtin_count, 3);
	const char *want[] = {"reference", "softmax", "flash"};
	for (int i = 0; i < 3; i++) {
		const struct attn_method *m = attn_registry_find(reg, want[i]);
		ck_assert_msg(m != NULL, "built-in %s missing", want[i]);
		ck_assert_int_eq(m->abi_version, ATTN_ABI_VERSION);
	}
	ck_assert_str_eq(attn_registry_origin(reg, 0), "built-in");
	ck_assert(attn_registry_find(reg, "nope") == NULL);
	/* Every built-in is itself valid. */
	for (int i = 0; i < attn_registry_count(reg); i++)
		ck_assert_int_eq(attn_method_validate(attn_registry_at(reg, i), err, sizeof(err)),
		                 ATTN_OK);
	attn_registry_free(reg);
}
END_TEST

START_TEST(validation_rejects)
{
	struct attn_method m = good();
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_OK);
	m.abi_version = 3;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_ABI);
	ck_assert(strstr(err, "ABI version 3") != NULL);
	m = good();
	m.name = "Bad-Name";
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	m = good();
	m.forward = NULL;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	m = good();
	m.flags = 0; /* approximate without an oracle */
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert(strstr(err, "oracle") != NULL);
	m = good();
	m.tolerance = 0;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	static const struct attn_param_spec bad_def[] = {
	    {.name = "w", .type = ATTN_PARAM_INT, .def = 10, .min = 16, .max = 64}};
	m = good();
	m.n_params = 1;
	m.params = bad_def;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	static const struct attn_param_spec dup[] = {
	    {.name = "C", .type = ATTN_PARAM_INT, .def = 64, .min = 1, .max = 64},
	    {.name = "C", .type = ATTN_PARAM_INT, .def = 64, .min = 1, .max = 64}};
	m.n_params = 2;
	m.params = dup;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_DUPLICATE);
	static const struct attn_param_spec en[] = {
	    {.name = "form", .type = ATTN_PARAM_ENUM, .def = 3, .choices = "a|b|c"}};
	m.n_params = 1;
	m.params = en;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
}
END_TEST

START_TEST(duplicate_name_refused)
{
	struct attn_registry *reg = test_registry_make(NULL, 0);
	struct attn_method m = good();
	m.name = "flash";
	ck_assert_int_eq(attn_registry_add(reg, &m, "test", err, sizeof(err)), ATTN_ERR_DUPLICATE);
	ck_assert(strstr(err, "flash") && strstr(err, "built-in"));
	int before = attn_registry_count(reg);
	m.name = "synthetic";
	ck_assert_int_eq(attn_registry_add(reg, &m, "test", err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_registry_count(reg), before + 1);
	attn_registry_free(reg);
}
END_TEST

START_TEST(example_plugin_loads)
{
	struct attn_registry *reg = test_registry_make(NULL, 0);
	int before = attn_registry_count(reg);
	ck_assert_msg(attn_registry_load_plugin(reg, ATTN_EXAMPLE_PLUGIN, err, sizeof(err)) ==
	                  ATTN_OK,
	              "%s", err);
	ck_assert_int_gt(attn_registry_count(reg), before);
	const struct attn_method *m = attn_registry_at(reg, before);
	ck_assert_str_eq(attn_registry_origin(reg, before), ATTN_EXAMPLE_PLUGIN);
	ck_assert(m->flags & ATTN_METHOD_EXACT);
	/* Loading it twice is a duplicate, and registers nothing. */
	int after = attn_registry_count(reg);
	ck_assert_int_eq(attn_registry_load_plugin(reg, ATTN_EXAMPLE_PLUGIN, err, sizeof(err)),
	                 ATTN_ERR_DUPLICATE);
	ck_assert_int_eq(attn_registry_count(reg), after);
	attn_registry_free(reg);
}
END_TEST

static int load_test_plugin(const char *name, char *msg, size_t len)
{
	struct attn_registry *reg = test_registry_make(NULL, 0);
	attn_registry_set_probe_timeout(reg, 1);
	char path[1024];
	test_plugin_path(path, sizeof(path), name);
	int before = attn_registry_count(reg);
	int rc = attn_registry_load_plugin(reg, path, msg, len);
	if (rc)
		ck_assert_int_eq(attn_registry_count(reg), before);
	attn_registry_free(reg);
	return rc;
}

START_TEST(broken_plugins_refused)
{
	char msg[1024];
	ck_assert_int_eq(load_test_plugin("badabi", msg, sizeof(msg)), ATTN_ERR_ABI);
	ck_assert_msg(strstr(msg, "badabi.so") && strstr(msg, "999"), "%s", msg);
	ck_assert_int_eq(load_test_plugin("nosym", msg, sizeof(msg)), ATTN_ERR_NOTFOUND);
	ck_assert_msg(strstr(msg, ATTN_PLUGIN_ENTRY) != NULL, "%s", msg);
	ck_assert_int_eq(load_test_plugin("dup", msg, sizeof(msg)), ATTN_ERR_DUPLICATE);
	ck_assert_msg(strstr(msg, "flash") != NULL, "%s", msg);
	ck_assert_int_eq(load_test_plugin("no_such_plugin", msg, sizeof(msg)), ATTN_ERR_NOTFOUND);
	ck_assert_msg(strstr(msg, "no_such_plugin.so") != NULL, "%s", msg);
	ck_assert_int_eq(load_test_plugin("crash", msg, sizeof(msg)), ATTN_OK);
}
END_TEST

static size_t v1_ws(const struct attn_shape *s, const struct attn_params *p, int threads)
{
	(void)s, (void)p, (void)threads;
	return 0;
}

static double v1_zero(const struct attn_shape *s, const struct attn_params *p)
{
	(void)s, (void)p;
	return 0;
}

static int v1_fwd(const struct attn_shape *s, const struct attn_params *p,
                  const struct attn_inputs *in, float *out, void *ws, const struct attn_ctx *ctx)
{
	(void)s, (void)p, (void)in, (void)out, (void)ws, (void)ctx;
	return 0;
}

/* A version 1 descriptor is validated by the same rules, read by its own layout. */
START_TEST(v1_descriptor_validated)
{
	struct attn_method_v1 v1 = {.abi_version = ATTN_ABI_VERSION_1,
	                            .name = "synthetic_v1",
	                            .family = ATTN_FAMILY_FULL,
	                            .flags = ATTN_METHOD_EXACT,
	                            .time_exp = 2,
	                            .mem_exp = 1,
	                            .tolerance = 1e-5,
	                            .workspace_bytes = v1_ws,
	                            .flops = v1_zero,
	                            .bytes = v1_zero,
	                            .forward = v1_fwd};
	const struct attn_method *m = (const struct attn_method *)(const void *)&v1;
	ck_assert_msg(attn_method_validate(m, err, sizeof(err)) == ATTN_OK, "%s", err);
	v1.name = "Bad-Name";
	ck_assert_int_eq(attn_method_validate(m, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert(strstr(err, "Bad-Name") != NULL);
	v1.name = "synthetic_v1";
	v1.forward = NULL;
	ck_assert_int_eq(attn_method_validate(m, err, sizeof(err)), ATTN_ERR_INVALID);
	v1.forward = v1_fwd;
	v1.summary = "two\nlines";
	ck_assert_int_eq(attn_method_validate(m, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert(strstr(err, "summary") != NULL);
	v1.summary = NULL;
	/* Added directly, it is registered as a version 2 adapter of itself. */
	struct attn_registry *reg = test_registry_make(NULL, 0);
	ck_assert_msg(attn_registry_add(reg, m, "test", err, sizeof(err)) == ATTN_OK, "%s", err);
	const struct attn_method *a = attn_registry_find(reg, "synthetic_v1");
	ck_assert(a != NULL && a != m);
	ck_assert_int_eq(a->abi_version, ATTN_ABI_VERSION);
	ck_assert(a->data == (const void *)&v1);
	ck_assert(a->supports == NULL && a->prepare == NULL && a->oracle == NULL);
	struct attn_shape s = {1, 1, 1, 8, 4, 0, ATTN_MODE_PREFILL};
	ck_assert_int_eq(a->forward(a, &s, NULL, NULL, NULL, NULL, NULL), 0);
	attn_registry_free(reg);
}
END_TEST

/* `cmd` (shell words, after the CLI) with stdout and stderr into file log: the exit code. */
static int v1_cli(const char *log, const char *args)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "%s %s >%s 2>&1", ATTN_CLI, args, log);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/*
 * The version 1 plugin loads (its descriptor seen as version 2, its data
 * the plugin's own descriptor, its callbacks forwarding), and `run` and
 * `sweep` run it and check it against the oracle: status ok.
 */
START_TEST(v1_plugin_runs)
{
	static const char *const v1[] = {"v1_plugin"};
	char so[1024];
	test_plugin_path(so, sizeof(so), v1[0]);
	struct attn_registry *reg = test_registry_make(v1, 1);
	const struct attn_method *m = test_method_find(reg, "v1_exact");
	ck_assert_int_eq(m->abi_version, ATTN_ABI_VERSION);
	ck_assert(m->data != NULL &&
	          ((const struct attn_method_v1 *)m->data)->abi_version == ATTN_ABI_VERSION_1);
	ck_assert_str_eq(m->summary,
	                 "exact softmax attention from a plugin built for ABI version 1");
	struct attn_shape big = {1, 1, 1, 8, 2048, 0, ATTN_MODE_PREFILL};
	char msg[128] = "";
	ck_assert_int_eq(m->supports(m, &big, NULL, msg, sizeof(msg)), ATTN_ERR_UNSUPPORTED);
	ck_assert_str_eq(msg, "v1_exact holds D <= 1024, not 2048");
	struct attn_shape s = {2, 4, 2, 32, 16, 1, ATTN_MODE_PREFILL};
	ck_assert_double_eq(m->flops(m, &s, NULL), 4.0 * 16 * (32 * 33 / 2) * 8);
	attn_registry_free(reg);

	char dir[TMPDIR_LEN], log[TMPDIR_LEN + 16], db[TMPDIR_LEN + 16], args[3072];
	tmpdir_make(dir, "v1");
	snprintf(log, sizeof(log), "%s/log", dir);
	snprintf(db, sizeof(db), "%s/v1.db", dir);
	snprintf(args, sizeof(args),
	         "run --plugin %s --method v1_exact --n 32 --d 16 --causal --min-time 0.01 "
	         "--timeout 10",
	         so);
	int rc = v1_cli(log, args);
	char *out = slurp(log);
	ck_assert_msg(rc == 0 && strstr(out, "status   ok") != NULL, "run exited %d: %s", rc, out);
	free(out);
	snprintf(args, sizeof(args),
	         "sweep --db %s --plugin %s --methods v1_exact --n 32 --d 16 --min-time 0.01 "
	         "--warmup 0 --roof-budget 0 --timeout 10 --counters none --quiet",
	         db, so);
	rc = v1_cli(log, args);
	out = slurp(log);
	ck_assert_msg(rc == 0, "sweep exited %d: %s", rc, out);
	free(out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE method = 'v1_exact' "
	                                 "AND status = 'ok'"),
	                 1);
	tmpdir_remove(dir);
}
END_TEST

/* A process the suite's plugins noted in ATTN_HOSTILE_PIDFILE is still running. */
static int noted_alive(const char *pidfile)
{
	FILE *f = fopen(pidfile, "r");
	long pid;
	int alive = 0;
	while (f && fscanf(f, "%ld", &pid) == 1) {
		char path[64], state = 0;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		FILE *s = fopen(path, "r");
		if (s && fscanf(s, "%*d (%*[^)]) %c", &state) == 1 && state != 'Z' && state != 'X')
			alive++;
		if (s)
			fclose(s);
	}
	if (f)
		fclose(f);
	return alive;
}

/*
 * Plugins whose code misbehaves while loaded: refused with the file and
 * what happened named, this process unharmed, and nothing left running.
 */
START_TEST(hostile_entry_points_refused)
{
	char msg[1024], pidfile[256];
	snprintf(pidfile, sizeof(pidfile), "/tmp/attn_registry_pids_%ld", (long)getpid());
	unlink(pidfile);
	setenv("ATTN_HOSTILE_PIDFILE", pidfile, 1);
	static const struct {
		const char *so, *says[3];
	} want[] = {
	    {"hostile_entry_crash",
	     {"its entry point crashed (signal 11, Segmentation fault)", "not loaded"}},
	    {"hostile_entry_exit", {"its entry point exited (status 0) instead of returning"}},
	    {"hostile_entry_hang", {"its entry point did not return within 1 s", "not loaded"}},
	    {"hostile_entry_fork", {"started a process", "killed", "not loaded"}},
	    {"hostile_badptr", {"reading its method descriptors crashed (signal 11"}},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		time_t t0 = time(NULL);
		ck_assert_int_eq(load_test_plugin(want[i].so, msg, sizeof(msg)), ATTN_ERR_INVALID);
		ck_assert_msg(strstr(msg, want[i].so) != NULL, "%s", msg);
		for (int j = 0; j < 3 && want[i].says[j]; j++)
			ck_assert_msg(strstr(msg, want[i].says[j]) != NULL, "%s: no '%s' in: %s",
			              want[i].so, want[i].says[j], msg);
		ck_assert_msg(time(NULL) - t0 < 5, "%s took %ld s", want[i].so,
		              (long)(time(NULL) - t0));
	}
	ck_assert_int_eq(noted_alive(pidfile), 0);
	unlink(pidfile);
	unsetenv("ATTN_HOSTILE_PIDFILE");
}
END_TEST

/* Descriptor strings that would reach a log raw, be read past their end, or never match. */
START_TEST(hostile_strings_refused)
{
	char msg[1024];
	static const struct {
		const char *so, *says[3];
	} want[] = {
	    {"hostile_newline_summary",
	     {"its summary 'looks fine\\nFORGED LOG LINE' has a control character (0x0a) at byte "
	      "10"}},
	    {"hostile_newline_name", {"method name 'hostile\\nFORGED LOG LINE' is not"}},
	    {"hostile_unterminated", {"its summary 'xxxx", "...' is longer than 256 bytes"}},
	    {"hostile_long_choice", {"enum parameter 'form': its choices", "choice 2", "1-48"}},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		ck_assert_int_eq(load_test_plugin(want[i].so, msg, sizeof(msg)), ATTN_ERR_INVALID);
		ck_assert_msg(strstr(msg, want[i].so) != NULL, "%s", msg);
		ck_assert_msg(strchr(msg, '\n') == NULL, "a raw newline in: %s", msg);
		for (int j = 0; j < 3 && want[i].says[j]; j++)
			ck_assert_msg(strstr(msg, want[i].says[j]) != NULL, "%s: no '%s' in: %s",
			              want[i].so, want[i].says[j], msg);
	}
}
END_TEST

/* Free text: one line of printable UTF-8 within its bound, or the descriptor is refused. */
START_TEST(validation_text)
{
	struct attn_method m = good();
	static const char *fine[] = {"Dao, Fu, Ermon, Rudra, R\xc3\xa9 (2022)",
	                             "\xe2\x89\x88 softmax", "\xf0\x9f\x98\x80", "plain"};
	for (size_t i = 0; i < sizeof(fine) / sizeof(*fine); i++) {
		m.citation = fine[i];
		ck_assert_msg(attn_method_validate(&m, err, sizeof(err)) == ATTN_OK, "%s", err);
	}
	static const struct {
		const char *text, *says;
	} bad[] = {
	    {"tab\there", "control character (0x09) at byte 3"},
	    {"bell\a", "control character (0x07)"},
	    {"del\x7f", "control character (0x7f)"},
	    {"esc\x1b[2J", "control character (0x1b)"},
	    {"c1 \xc2\x9b", "control character (U+009B)"},
	    {"latin1 \xe9t\xe9", "not UTF-8"},
	    {"overlong \xc0\xaf", "not UTF-8"},
	    {"surrogate \xed\xa0\x80", "not UTF-8"},
	    {"cut \xe2\x89", "not UTF-8"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		m = good();
		m.summary = bad[i].text;
		ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
		ck_assert_msg(strstr(err, "summary") && strstr(err, bad[i].says), "%s", err);
		for (const char *c = err; *c; c++)
			ck_assert_msg((unsigned char)*c >= 0x20 && *c != 0x7f,
			              "the message itself carries a control byte: %s", err);
	}
	static char longtext[ATTN_TEXT_MAX + 2];
	memset(longtext, 'a', sizeof(longtext) - 1);
	m = good();
	m.summary = longtext;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_msg(strstr(err, "longer than 256"), "%s", err);
	longtext[ATTN_TEXT_MAX] = 0;
	ck_assert_msg(attn_method_validate(&m, err, sizeof(err)) == ATTN_OK, "%s", err);
	char cat[ATTN_CATEGORY_MAX + 2];
	memset(cat, 'c', sizeof(cat) - 1);
	cat[sizeof(cat) - 1] = 0;
	m = good();
	m.category = cat;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_msg(strstr(err, "category"), "%s", err);
	/* A name: 48 characters is the most, and only [a-z0-9_]. */
	char name[ATTN_METHOD_NAME_MAX + 2];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	m = good();
	m.name = name;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	name[ATTN_METHOD_NAME_MAX] = 0;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_OK);
	m.name = "with space";
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	/* Parameter help is free text too. */
	static const struct attn_param_spec helpnl[] = {{.name = "w",
	                                                 .type = ATTN_PARAM_INT,
	                                                 .def = 16,
	                                                 .min = 1,
	                                                 .max = 64,
	                                                 .help = "window\nsize"}};
	m = good();
	m.n_params = 1;
	m.params = helpnl;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_msg(strstr(err, "help") && strstr(err, "window\\nsize"), "%s", err);
	/* Complexity exponents are figures. */
	m = good();
	m.time_exp = 0.0 / 0.0;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	m = good();
	m.mem_exp = -1;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
}
END_TEST

/* Enum choices: words the spec grammar can select, distinct, within their bounds. */
START_TEST(validation_choices)
{
	static const struct {
		const char *choices, *says;
	} bad[] = {
	    {"a||b", "choice 2 '' is not"},
	    {"a|b c", "choice 2 'b c' is not"},
	    {"a|b,c", "choice 2 'b,c' is not"},
	    {"a|b\nc", "choice 2 'b\\nc' is not"},
	    {"a|b|a", "choice 'a' is there twice"},
	    {"a|", "choice 2 '' is not"},
	    {"a|0123456789012345678901234567890123456789012345678", "is not 1-48"},
	};
	struct attn_method m = good();
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct attn_param_spec en = {
		    .name = "form", .type = ATTN_PARAM_ENUM, .def = 0, .choices = bad[i].choices};
		m.n_params = 1;
		m.params = &en;
		ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
		ck_assert_msg(strstr(err, bad[i].says), "%s: %s", bad[i].choices, err);
	}
	static const char *fine[] = {"parallel|recurrent|chunk", "minimax|jamba|gemma3", "a",
	                             "x.y|x-y|x+y|X_Y",
	                             "a|012345678901234567890123456789012345678901234567"};
	for (size_t i = 0; i < sizeof(fine) / sizeof(*fine); i++) {
		struct attn_param_spec en = {
		    .name = "form", .type = ATTN_PARAM_ENUM, .def = 0, .choices = fine[i]};
		m.n_params = 1;
		m.params = &en;
		ck_assert_msg(attn_method_validate(&m, err, sizeof(err)) == ATTN_OK, "%s: %s",
		              fine[i], err);
	}
	/* 64 choices at most. */
	static char many[65 * 3 + 1];
	size_t o = 0;
	for (int i = 0; i < 65; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "%s%c%c", i ? "|" : "",
		                      'a' + i / 26, 'a' + i % 26);
	struct attn_param_spec en = {
	    .name = "form", .type = ATTN_PARAM_ENUM, .def = 0, .choices = many};
	m.params = &en;
	ck_assert_int_eq(attn_method_validate(&m, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_msg(strstr(err, "more than 64"), "%s", err);
	many[strlen(many) - 3] = 0;
	ck_assert_msg(attn_method_validate(&m, err, sizeof(err)) == ATTN_OK, "%s", err);
}
END_TEST

START_TEST(plugin_path_env)
{
	struct attn_registry *reg = test_registry_make(NULL, 0);
	int before = attn_registry_count(reg);
	setenv("ATTNBENCH_PLUGIN_PATH", ATTN_EXAMPLE_PLUGIN, 1);
	ck_assert_msg(attn_registry_load_env(reg, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_gt(attn_registry_count(reg), before);
	ck_assert_int_eq(attn_registry_warning_count(reg), 0);
	attn_registry_free(reg);

	/*
	 * A folder loads every .so in it; the test folder's broken ones are
	 * skipped, one warning each naming its file, and the rest load.
	 */
	reg = test_registry_make(NULL, 0);
	attn_registry_set_probe_timeout(reg, 1);
	setenv("ATTNBENCH_PLUGIN_PATH", ATTN_TEST_PLUGIN_DIR, 1);
	ck_assert_msg(attn_registry_load_env(reg, err, sizeof(err)) == ATTN_OK, "%s", err);
	static const char *skipped[] = {"badabi",
	                                "dup",
	                                "nosym",
	                                "hostile_badptr",
	                                "hostile_entry_crash",
	                                "hostile_entry_exit",
	                                "hostile_entry_fork",
	                                "hostile_entry_hang",
	                                "hostile_long_choice",
	                                "hostile_newline_name",
	                                "hostile_newline_summary",
	                                "hostile_unterminated"};
	int n = (int)(sizeof(skipped) / sizeof(*skipped));
	ck_assert_int_eq(attn_registry_warning_count(reg), n);
	for (int i = 0; i < n; i++) {
		char file[128];
		snprintf(file, sizeof(file), "/%s.so", skipped[i]);
		int found = 0;
		for (int j = 0; j < n; j++)
			found += strstr(attn_registry_warning(reg, j), file) != NULL;
		ck_assert_msg(found == 1, "%d warnings name %s", found, file);
	}
	for (int j = 0; j < n; j++)
		ck_assert(strchr(attn_registry_warning(reg, j), '\n') == NULL);
	ck_assert(attn_registry_warning(reg, n) == NULL);
	static const char *loaded[] = {"crash_plugin",    "hang_plugin",       "nan_plugin",
	                               "hostile_write_k", "hostile_flops_nan", "hostile_bytes_neg"};
	for (size_t i = 0; i < sizeof(loaded) / sizeof(*loaded); i++)
		ck_assert_msg(attn_registry_find(reg, loaded[i]) != NULL, "%s not loaded",
		              loaded[i]);
	attn_registry_free(reg);

	/* A path that is not there is a warning too. */
	reg = test_registry_make(NULL, 0);
	setenv("ATTNBENCH_PLUGIN_PATH", "/nonexistent/dir/x.so:" ATTN_EXAMPLE_PLUGIN, 1);
	ck_assert_int_eq(attn_registry_load_env(reg, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_registry_warning_count(reg), 1);
	ck_assert(strstr(attn_registry_warning(reg, 0), "/nonexistent/dir/x.so") != NULL);
	ck_assert(attn_registry_find(reg, "naive_ext") != NULL);
	unsetenv("ATTNBENCH_PLUGIN_PATH");
	attn_registry_free(reg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, builtins_registered);
	tcase_add_test(tc, validation_rejects);
	tcase_add_test(tc, duplicate_name_refused);
	tcase_add_test(tc, example_plugin_loads);
	tcase_add_test(tc, broken_plugins_refused);
	tcase_add_test(tc, hostile_entry_points_refused);
	tcase_add_test(tc, hostile_strings_refused);
	tcase_add_test(tc, validation_text);
	tcase_add_test(tc, validation_choices);
	tcase_add_test(tc, plugin_path_env);
	tcase_add_test(tc, v1_descriptor_validated);
	tcase_add_test(tc, v1_plugin_runs);
	suite_add_tcase(s, tc);
	int failed = attn_test_run(s, CK_NORMAL);
	return failed != 0;
}
