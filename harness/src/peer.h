/*
 * Peers: methods whose work runs in a program of their own, described by a
 * `NAME.peer` file and driven over the line protocol of
 * methods/peers/PROTOCOL.md (peer.c). The registry turns each descriptor
 * into a harness-made ABI version 2 method; its callbacks start the program
 * in prepare() and talk to it; the state of that conversation lives in the
 * instance's workspace. The runner asks the instance (instance.c) whether a
 * method is a peer, because a peer times itself: its sample is the `ns` it
 * answers, and its output is fetched once, after the timed samples.
 */
#ifndef ATTNBENCH_PEER_H
#define ATTNBENCH_PEER_H

#include <stddef.h>

#include "attnbench/method.h"

struct attn_instance;

/* Where a case's peer folders are made: PREFIX<case pid>-XXXXXX. */
#define ATTN__PEER_DIR_PREFIX "/dev/shm/attnbench-peer-"

/*
 * Parse the descriptor at path into a method of ours (free it with
 * attn__peer_free). A bad one is ATTN_ERR_FORMAT with "PATH:LINE: key
 * 'KEY': why" in err.
 */
int attn__peer_load(const char *path, struct attn_method **out, char *err, size_t errlen);
void attn__peer_free(struct attn_method *m);

/* 1 when m is a descriptor attn__peer_load made. */
int attn__method_is_peer(const struct attn_method *m);

/*
 * Remove the peer folders of case process pid that are left (a case killed
 * at its timeout cannot remove its own); the number removed.
 */
int attn__peer_remove_dirs(long pid);

/* One timed sample of a peer. */
struct attn__peer_sample {
	double ns;         /* the peer's own clock for the ITERS calls */
	double wall_ns;    /* the harness's clock around the round trip */
	double roof_ns;    /* the peer's matmul, when it timed one; else 0 */
	double roof_flops; /* its FLOPs */
};

/* How a peer's failure is recorded: the case status it stands for. */
enum attn__peer_fail {
	ATTN__PEER_FAILED = 0,
	ATTN__PEER_CRASHED = 1,
	ATTN__PEER_UNSUPPORTED = 2,
	ATTN__PEER_FAILED_CHECK = 3
};

/*
 * The instance side (instance.c): whether inst's method is a peer whose
 * prepare() ran; `run ITERS`; the output into the instance's output buffer
 * (`output`); the `ready` line's KEY=VALUE info ("" when none); and after a
 * failed call, the sentence and status the peer left.
 */
int attn__instance_is_peer(const struct attn_instance *inst);
int attn__instance_peer_run(struct attn_instance *inst, long iters, int flush, int roof,
                            struct attn__peer_sample *out);
int attn__instance_peer_output(struct attn_instance *inst);
const char *attn__instance_peer_info(const struct attn_instance *inst);
const char *attn__instance_peer_error(const struct attn_instance *inst, enum attn__peer_fail *kind);

/* The same on the workspace that holds a peer's state (for instance.c). */
int attn__peer_run(void *ws, long iters, int flush, int roof, struct attn__peer_sample *out);
int attn__peer_output(void *ws, const struct attn_shape *s, float *out);
const char *attn__peer_info(const void *ws);
const char *attn__peer_error(const void *ws, enum attn__peer_fail *kind);
void attn__peer_close(void *ws);

#endif /* ATTNBENCH_PEER_H */
