/*
 * The method registry: the built-in methods (generated at configure time
 * from the files under methods/) plus any external plugins loaded with
 * dlopen from --plugin or ATTNBENCH_PLUGIN_PATH.
 *
 * Every descriptor is validated on the way in: its ABI version, a name of
 * [a-z0-9_]+ that no other method has, the function pointers the harness
 * needs, parameter specs whose defaults lie in their ranges, and strings
 * that are NUL-terminated within their bounds (below) and one line of
 * printable UTF-8. A plugin's own code first runs in a probe child (see
 * attn_registry_load_plugin), never unguarded in the caller.
 */
#ifndef ATTNBENCH_REGISTRY_H
#define ATTNBENCH_REGISTRY_H

#include <stddef.h>

#include "attnbench/method.h"

struct attn_registry;

/* Bounds on descriptor strings, in bytes (method.h states them for plugin authors). */
#define ATTN_METHOD_NAME_MAX 48  /* [a-z0-9_] */
#define ATTN_PARAM_NAME_MAX  24  /* [A-Za-z0-9_], starting with a letter */
#define ATTN_CHOICE_MAX      48  /* one enum choice, [A-Za-z0-9_.+-] */
#define ATTN_CHOICES_MAX     64  /* choices of one enum */
#define ATTN_CATEGORY_MAX    64  /* category: printable UTF-8 */
#define ATTN_TEXT_MAX        256 /* summary, citation, parameter help: printable UTF-8 */

/* Seconds a plugin's probe may take to load it and answer (attn_registry_set_probe_timeout). */
#define ATTN_PLUGIN_PROBE_TIMEOUT_S 10.0

/* A registry holding the built-in methods. */
int attn_registry_init(struct attn_registry **out, char *err, size_t errlen);
void attn_registry_free(struct attn_registry *reg);

/*
 * Load a plugin shared object and register its methods. It is first tried in
 * a forked probe child: loaded, its entry point called, every descriptor
 * validated, unloaded, under the probe timeout; only when that answered
 * "fine" is it loaded into this process. On any error (no such file, missing
 * ATTN_PLUGIN_ENTRY, wrong ABI version, duplicate name, a bad string; its
 * initialisers, entry point or descriptors crashing, hanging, exiting or
 * starting a process) nothing of the plugin is registered, no process of the
 * probe is left, and err - one line - names the file and the problem, e.g.
 * "plugin X.so: its entry point crashed (signal 11, Segmentation fault);
 * not loaded".
 */
int attn_registry_load_plugin(struct attn_registry *reg, const char *path, char *err,
                              size_t errlen);

/*
 * Load every plugin named in ATTNBENCH_PLUGIN_PATH: a ':'-separated list of
 * .so files, .peer descriptors (attn_registry_load_peer) or directories
 * (whose *.so and *.peer files are loaded in name order).
 * The variable applies to every verb, so one bad entry must not stop them:
 * a plugin (or folder) that cannot be loaded is skipped and its error kept
 * as a warning (attn_registry_warning). Only running out of memory is an
 * error.
 */
int attn_registry_load_env(struct attn_registry *reg, char *err, size_t errlen);

/*
 * Register the peer described by the file at path (a `NAME.peer`: see
 * methods/peers/PROTOCOL.md), its origin the path. A bad descriptor is
 * ATTN_ERR_FORMAT naming the file, the line and the key.
 */
int attn_registry_load_peer(struct attn_registry *reg, const char *path, char *err, size_t errlen);

/*
 * Every `.so` plugin and `.peer` descriptor in dir, as ATTNBENCH_PLUGIN_PATH
 * loads a folder: a refused one becomes a warning. A missing dir is no
 * error (a build or install without peers).
 */
int attn_registry_load_peers_dir(struct attn_registry *reg, const char *dir, char *err,
                                 size_t errlen);

/* The plugins ATTNBENCH_PLUGIN_PATH named that were skipped: one line each, naming the file. */
int attn_registry_warning_count(const struct attn_registry *reg);
const char *attn_registry_warning(const struct attn_registry *reg, int i);

/* How long a plugin's probe may take, in seconds (<= 0: the default, ATTN_PLUGIN_PROBE_TIMEOUT_S).
 */
void attn_registry_set_probe_timeout(struct attn_registry *reg, double seconds);

/* Register one descriptor (validated). `origin` says where it came from. */
int attn_registry_add(struct attn_registry *reg, const struct attn_method *m, const char *origin,
                      char *err, size_t errlen);

int attn_registry_count(const struct attn_registry *reg);
const struct attn_method *attn_registry_at(const struct attn_registry *reg, int i);
/* "built-in" or the plugin's path. */
const char *attn_registry_origin(const struct attn_registry *reg, int i);
const struct attn_method *attn_registry_find(const struct attn_registry *reg, const char *name);
/*
 * " (did you mean 'flash'?)" into hint, naming the registered method nearest
 * to the first n bytes of name (fewest single-character edits, case ignored);
 * "" when none is within a third of the name's length (at least 2 edits).
 */
void attn_registry_suggest(const struct attn_registry *reg, const char *name, size_t n, char *hint,
                           size_t len);

/* Check one descriptor on its own; err says what is wrong. */
int attn_method_validate(const struct attn_method *m, char *err, size_t errlen);

const char *attn_family_name(enum attn_family f);
const char *attn_mode_name(enum attn_mode m);

/* The built-in table, generated by CMake from methods/<family>/<name>.c. */
extern const struct attn_method *const attn_builtin_methods[];
extern const int attn_builtin_count;

#endif /* ATTNBENCH_REGISTRY_H */
