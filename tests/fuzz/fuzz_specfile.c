/*
 * Fuzz target: spec files (workloads/presets/NAME.spec, `--spec FILE`) and
 * the canonical text a run stores and `--resume` reads back.
 *
 * The input is a whole file's text: attn_sweep_spec_load_text on top of the
 * defaults, then attn_sweep_expand with the built-in registry. Checked
 * besides crashes, leaks and undefined behaviour: a refusal has a message;
 * the canonical text of an accepted spec, loaded into a fresh spec, gives
 * the same canonical text (what --resume relies on: the text holds every
 * key's value, and the expansion is a function of those, so equal texts
 * expand alike and the second expansion is not redone); the `options`
 * lines stay out of the canonical text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/registry.h"
#include "attnbench/sweep.h"
#include "fuzz.h"

static const struct attn_registry *registry(void)
{
	static struct attn_registry *reg;
	char err[512];

	if (!reg)
		FUZZ_CHECK(attn_registry_init(&reg, err, sizeof(err)) == 0, "registry: %s", err);
	return reg;
}

/* The number of cases sp expands to, or -1 when it is refused (with a message). */
static int expand_count(const struct attn_sweep_spec *sp)
{
	struct attn_case_list cases = {0};
	char err[1024] = "";
	int rc = attn_sweep_expand(sp, registry(), &cases, err, sizeof(err));

	FUZZ_CHECK_MESSAGE(rc, err);
	int n = rc ? -1 : cases.count;
	FUZZ_CHECK(rc || (n >= 1 && n <= 1000000), "%d cases", n);
	attn_case_list_free(&cases);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attn_sweep_spec sp, again;
	char *text = fuzz_text(data, size);
	char err[1024] = "";

	FUZZ_CHECK(attn_sweep_spec_init(&sp) == 0, "out of memory");
	int rc = attn_sweep_spec_load_text(&sp, text, "fuzz.spec", err, sizeof(err));
	FUZZ_CHECK_MESSAGE(rc, err);
	if (rc == 0) {
		expand_count(&sp);
		char *canon = attn_sweep_spec_text(&sp);
		FUZZ_CHECK(canon != NULL, "out of memory");
		FUZZ_CHECK(strncmp(canon, "options", 7) != 0 && !strstr(canon, "\noptions"),
		           "options reached the canonical text:\n%s", canon);

		FUZZ_CHECK(attn_sweep_spec_init(&again) == 0, "out of memory");
		rc = attn_sweep_spec_load_text(&again, canon, "canonical", err, sizeof(err));
		FUZZ_CHECK(rc == 0, "the canonical text is refused: %s\n%s", err, canon);
		char *canon2 = attn_sweep_spec_text(&again);
		FUZZ_CHECK(canon2 != NULL, "out of memory");
		FUZZ_CHECK(strcmp(canon, canon2) == 0,
		           "canonical text changed on reload:\n%s---\n%s", canon, canon2);
		free(canon2);
		free(canon);
		attn_sweep_spec_free(&again);
	}
	attn_sweep_spec_free(&sp);
	free(text);
	return 0;
}
