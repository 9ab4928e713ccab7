/* A plugin whose entry point never returns: its probe must time out and leave nothing. */
#include "common_plugin.h"

const struct attn_method *const *attn_plugin_methods(void);
const struct attn_method *const *attn_plugin_methods(void)
{
	tp_note_pid();
	for (;;)
		sleep(3600);
}
