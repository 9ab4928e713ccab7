/*
 * A plugin whose entry point segfaults: --plugin must refuse it (exit 2,
 * naming the file and the signal), and on ATTNBENCH_PLUGIN_PATH every verb
 * must go on without it after one warning.
 */
#include "common_plugin.h"

const struct attn_method *const *attn_plugin_methods(void);
const struct attn_method *const *attn_plugin_methods(void)
{
	volatile const struct attn_method *const *volatile bad = NULL;
	return (const struct attn_method *const *)bad[1];
}
