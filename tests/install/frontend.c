/*
 * A front end outside the tree, built by tests/install/run.sh against the
 * installed headers and libattnbench only: it opens the registry, finds a
 * built-in method and a loaded one's descriptor, and creates a results
 * database, the way a third-party tool would begin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <attnbench/attnbench.h>

int main(void)
{
	char err[512];
	struct attn_registry *reg;
	if (attn_registry_init(&reg, err, sizeof(err)) != ATTN_OK) {
		fprintf(stderr, "frontend: %s\n", err);
		return 1;
	}
	const struct attn_method *m = attn_registry_find(reg, "flash");
	if (!m || m->abi_version != ATTN_ABI_VERSION) {
		fprintf(stderr, "frontend: flash is not registered at ABI %d\n", ATTN_ABI_VERSION);
		return 1;
	}
	char path[] = "/tmp/attnbench-frontend-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 1;
	struct attn_store *st;
	int rc = attn_store_open(path, ATTN_STORE_CREATE, &st, err, sizeof(err));
	if (rc == ATTN_OK)
		attn_store_close(st);
	remove(path);
	if (rc != ATTN_OK) {
		fprintf(stderr, "frontend: %s\n", err);
		return 1;
	}
	printf("frontend: %d methods, flash at ABI %d, a store opened\n", attn_registry_count(reg),
	       m->abi_version);
	attn_registry_free(reg);
	return 0;
}
