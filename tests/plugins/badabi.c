/* A plugin built for a future ABI: the loader must refuse it and read no further. */
#include <stddef.h>

#include "attnbench/method.h"

static const struct attn_method future = {.abi_version = 999, .name = "badabi_plugin"};

const struct attn_method *const *attn_plugin_methods(void);
const struct attn_method *const *attn_plugin_methods(void)
{
	static const struct attn_method *const list[] = {&future, NULL};
	return list;
}
