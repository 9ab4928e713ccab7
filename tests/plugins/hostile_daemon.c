/*
 * A plugin whose forward() is right but, on its first call, starts a daemon
 * (fork, setsid, fork again, the middle process exits) that sleeps 600 s:
 * out of the case's process group and re-parented, it must still be found,
 * killed, and the case `failed` saying it left a process behind.
 */
#include <sys/wait.h>

#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ws, (void)ctx;
	static int forked;
	if (!forked++) {
		pid_t mid = fork();
		if (mid == 0) {
			setsid();
			if (fork() == 0) {
				tp_note_pid();
				sleep(600);
			}
			_exit(0);
		}
		if (mid > 0)
			waitpid(mid, NULL, 0);
	}
	tp_attention(s, in, out);
	return 0;
}

TP_METHOD(hostile_daemon, "hostile_daemon", forward, tp_workspace)
