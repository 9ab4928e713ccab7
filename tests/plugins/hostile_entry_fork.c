/*
 * A plugin whose entry point starts a process that sleeps 600 s and then
 * returns a sound method: it is refused, and the process killed, since it
 * would otherwise run on in every verb.
 */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ws, (void)ctx;
	tp_attention(s, in, out);
	return 0;
}

TP_DESCRIPTOR(entry_fork, "hostile_entry_fork", forward, tp_workspace, NULL, tp_zero, tp_zero)

const struct attn_method *const *attn_plugin_methods(void);
const struct attn_method *const *attn_plugin_methods(void)
{
	static const struct attn_method *const list[] = {&entry_fork, NULL};
	if (fork() == 0) {
		tp_note_pid();
		sleep(600);
		_exit(0);
	}
	return list;
}
