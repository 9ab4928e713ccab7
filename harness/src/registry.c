/*
 * The method registry: built-in descriptors from the generated table, and
 * external plugins loaded with dlopen.
 *
 * A plugin is admitted whole or not at all: all of its descriptors are
 * validated (ABI version first, so that a plugin built for another ABI is
 * never read further than its first field) and checked for name clashes
 * before any is registered. Shared objects stay loaded until the registry is
 * freed, since their descriptors live in them.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/registry.h"
#include "attnbench/status.h"
#include "internal.h"

struct attn_registry {
	int count, cap;
	const struct attn_method **methods;
	char **origins;
	int n_handles;
	void **handles;
};

const char *attn_family_name(enum attn_family f)
{
	switch (f) {
	case ATTN_FAMILY_FULL: return "full";
	case ATTN_FAMILY_LINEAR: return "linear";
	case ATTN_FAMILY_SPARSE: return "sparse";
	case ATTN_FAMILY_HYBRID: return "hybrid";
	}
	return "unknown";
}

const char *attn_mode_name(enum attn_mode m)
{
	return m == ATTN_MODE_DECODE ? "decode" : "prefill";
}

static int valid_name(const char *s, size_t max)
{
	size_t n = 0;
	if (!s || !*s)
		return 0;
	for (; *s; s++, n++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	}
	return n <= max;
}

/* Parameter names may be capitalised like the survey's symbols ("C"). */
static int valid_param_name(const char *s)
{
	size_t n = 0;
	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return 0;
	for (; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return n <= 24;
}

int attn_method_validate(const struct attn_method *m, char *err, size_t errlen)
{
	if (!m)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "NULL method descriptor");
	if (m->abi_version != ATTN_ABI_VERSION)
		return attn_errf(err, errlen, ATTN_ERR_ABI,
				 "method built for ABI version %d, this attnbench speaks version %d",
				 m->abi_version, ATTN_ABI_VERSION);
	if (!valid_name(m->name, 48))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
				 "method name '%s' is not 1-48 characters of [a-z0-9_]",
				 m->name ? m->name : "(null)");
	if ((unsigned)m->family > ATTN_FAMILY_HYBRID)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "method '%s': unknown family %d",
				 m->name, (int)m->family);
	if (!m->forward || !m->workspace_bytes || !m->flops || !m->bytes)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
				 "method '%s': forward, workspace_bytes, flops and bytes are required",
				 m->name);
	if (!(m->flags & ATTN_METHOD_EXACT) && !m->oracle)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
				 "method '%s' is approximate and must bring its own float64 oracle",
				 m->name);
	if (!(m->tolerance > 0.0 && m->tolerance < 1.0))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
				 "method '%s': tolerance %g is not in (0, 1)", m->name, m->tolerance);
	if (m->n_params < 0 || m->n_params > ATTN_MAX_PARAMS || (m->n_params > 0 && !m->params))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
				 "method '%s': n_params %d is not in 0..%d", m->name, m->n_params,
				 ATTN_MAX_PARAMS);
	for (int i = 0; i < m->n_params; i++) {
		const struct attn_param_spec *p = &m->params[i];
		if (!valid_param_name(p->name))
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
					 "method '%s': parameter %d's name is not 1-24 characters of "
					 "[A-Za-z0-9_] starting with a letter",
					 m->name, i);
		for (int j = 0; j < i; j++)
			if (strcmp(m->params[j].name, p->name) == 0)
				return attn_errf(err, errlen, ATTN_ERR_DUPLICATE,
						 "method '%s': parameter '%s' declared twice",
						 m->name, p->name);
		if (p->type == ATTN_PARAM_ENUM) {
			int nchoices = 1;
			if (!p->choices || !*p->choices)
				return attn_errf(err, errlen, ATTN_ERR_INVALID,
						 "method '%s': enum parameter '%s' has no choices",
						 m->name, p->name);
			for (const char *c = p->choices; *c; c++)
				nchoices += *c == '|';
			if (p->def < 0 || p->def >= nchoices || p->def != (int)p->def)
				return attn_errf(err, errlen, ATTN_ERR_INVALID,
						 "method '%s': enum parameter '%s' default %g is not a "
						 "choice index",
						 m->name, p->name, p->def);
		} else if (!(p->min <= p->def && p->def <= p->max)) {
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
					 "method '%s': parameter '%s' default %g is outside [%g, %g]",
					 m->name, p->name, p->def, p->min, p->max);
		}
	}
	return ATTN_OK;
}

static int reg_push(struct attn_registry *reg, const struct attn_method *m, const char *origin)
{
	if (reg->count == reg->cap) {
		int cap = reg->cap ? 2 * reg->cap : 16;
		const struct attn_method **nm = realloc(reg->methods, cap * sizeof(*nm));
		if (!nm)
			return ATTN_ERR_NOMEM;
		reg->methods = nm;
		char **no = realloc(reg->origins, cap * sizeof(*no));
		if (!no)
			return ATTN_ERR_NOMEM;
		reg->origins = no;
		reg->cap = cap;
	}
	char *o = attn__strdup(origin);
	if (!o)
		return ATTN_ERR_NOMEM;
	reg->methods[reg->count] = m;
	reg->origins[reg->count] = o;
	reg->count++;
	return ATTN_OK;
}

int attn_registry_add(struct attn_registry *reg, const struct attn_method *m, const char *origin,
		      char *err, size_t errlen)
{
	int rc = attn_method_validate(m, err, errlen);
	if (rc)
		return rc;
	const struct attn_method *old = attn_registry_find(reg, m->name);
	if (old) {
		int i = 0;
		while (reg->methods[i] != old)
			i++;
		return attn_errf(err, errlen, ATTN_ERR_DUPLICATE,
				 "method '%s' from %s is already registered from %s", m->name,
				 origin, reg->origins[i]);
	}
	rc = reg_push(reg, m, origin);
	if (rc)
		return attn_errf(err, errlen, rc, "out of memory registering '%s'", m->name);
	return ATTN_OK;
}

int attn_registry_init(struct attn_registry **out, char *err, size_t errlen)
{
	*out = NULL;
	struct attn_registry *reg = calloc(1, sizeof(*reg));
	if (!reg)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	for (int i = 0; i < attn_builtin_count; i++) {
		int rc = attn_registry_add(reg, attn_builtin_methods[i], "built-in", err, errlen);
		if (rc) {
			attn_registry_free(reg);
			return rc;
		}
	}
	*out = reg;
	return ATTN_OK;
}

void attn_registry_free(struct attn_registry *reg)
{
	if (!reg)
		return;
	for (int i = 0; i < reg->count; i++)
		free(reg->origins[i]);
	free(reg->origins);
	free(reg->methods);
	for (int i = 0; i < reg->n_handles; i++)
		dlclose(reg->handles[i]);
	free(reg->handles);
	free(reg);
}

int attn_registry_load_plugin(struct attn_registry *reg, const char *path, char *err,
			      size_t errlen)
{
	/*
	 * A bare name would make dlopen search the library path; a plugin is
	 * always a file the user named, so make it a path.
	 */
	char buf[4096];
	if (!strchr(path, '/')) {
		snprintf(buf, sizeof(buf), "./%s", path);
		path = buf;
	}
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return attn_errf(err, errlen, ATTN_ERR_NOTFOUND, "cannot load plugin %s: %s", path,
				 dlerror());
	attn_plugin_entry_fn entry;
	void *sym = dlsym(h, ATTN_PLUGIN_ENTRY);
	if (!sym) {
		dlclose(h);
		return attn_errf(err, errlen, ATTN_ERR_NOTFOUND,
				 "plugin %s does not export %s(); see harness/include/attnbench/"
				 "method.h",
				 path, ATTN_PLUGIN_ENTRY);
	}
	/* POSIX guarantees a function pointer survives this round trip. */
	memcpy(&entry, &sym, sizeof(entry));
	const struct attn_method *const *list = entry();
	int n = 0, rc = ATTN_OK;
	char why[512];
	if (!list || !list[0]) {
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID, "plugin %s exports no methods", path);
		goto fail;
	}
	for (; list[n]; n++) {
		if (n >= 4096) {
			rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
				       "plugin %s: method list is not NULL-terminated", path);
			goto fail;
		}
		rc = attn_method_validate(list[n], why, sizeof(why));
		if (rc) {
			attn_errf(err, errlen, rc, "plugin %s: %s", path, why);
			goto fail;
		}
		const struct attn_method *old = attn_registry_find(reg, list[n]->name);
		for (int j = 0; j < n && !old; j++)
			if (strcmp(list[j]->name, list[n]->name) == 0)
				old = list[j];
		if (old) {
			rc = attn_errf(err, errlen, ATTN_ERR_DUPLICATE,
				       "plugin %s: method '%s' is already registered", path,
				       list[n]->name);
			goto fail;
		}
	}
	void **nh = realloc(reg->handles, (reg->n_handles + 1) * sizeof(*nh));
	if (!nh) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		goto fail;
	}
	reg->handles = nh;
	reg->handles[reg->n_handles++] = h;
	for (int i = 0; i < n; i++) {
		rc = reg_push(reg, list[i], path);
		if (rc)
			return attn_errf(err, errlen, rc, "out of memory");
	}
	return ATTN_OK;
fail:
	dlclose(h);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(struct attn_registry *reg, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d)
		return attn_errf(err, errlen, ATTN_ERR_NOTFOUND,
				 "ATTNBENCH_PLUGIN_PATH: cannot open directory %s", dir);
	char **names = NULL;
	int n = 0, rc = ATTN_OK;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
			continue;
		char **nn = realloc(names, (n + 1) * sizeof(*nn));
		if (!nn || !(nn[n] = attn__strdup(e->d_name))) {
			names = nn ? nn : names;
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof(*names), cmp_str);
	for (int i = 0; i < n && rc == ATTN_OK; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = attn_registry_load_plugin(reg, path, err, errlen);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int attn_registry_load_env(struct attn_registry *reg, char *err, size_t errlen)
{
	const char *env = getenv("ATTNBENCH_PLUGIN_PATH");
	if (!env || !*env)
		return ATTN_OK;
	char *copy = attn__strdup(env), *save = NULL;
	if (!copy)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	int rc = ATTN_OK;
	for (char *tok = strtok_r(copy, ":", &save); tok && rc == ATTN_OK;
	     tok = strtok_r(NULL, ":", &save)) {
		DIR *d = opendir(tok);
		if (d) {
			closedir(d);
			rc = load_dir(reg, tok, err, errlen);
		} else {
			rc = attn_registry_load_plugin(reg, tok, err, errlen);
		}
	}
	free(copy);
	return rc;
}

int attn_registry_count(const struct attn_registry *reg)
{
	return reg->count;
}

const struct attn_method *attn_registry_at(const struct attn_registry *reg, int i)
{
	return i >= 0 && i < reg->count ? reg->methods[i] : NULL;
}

const char *attn_registry_origin(const struct attn_registry *reg, int i)
{
	return i >= 0 && i < reg->count ? reg->origins[i] : NULL;
}

const struct attn_method *attn_registry_find(const struct attn_registry *reg, const char *name)
{
	for (int i = 0; i < reg->count; i++)
		if (strcmp(reg->methods[i]->name, name) == 0)
			return reg->methods[i];
	return NULL;
}
