/*
 * A plugin whose forward() is right but, on its first call, forks a child
 * that sleeps 600 s: the case must be `failed` saying it left a process
 * behind (not `timeout`), and that process must be killed.
 */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ws, (void)ctx;
	static int forked;
	if (!forked++ && fork() == 0) {
		tp_note_pid();
		sleep(600);
		_exit(0);
	}
	tp_attention(s, in, out);
	return 0;
}

TP_METHOD(hostile_fork, "hostile_fork", forward, tp_workspace)
