/*
 * The replay driver: main() for a fuzz target in a normal (gcc or clang,
 * no libFuzzer) build. Each argument is an input file, or a directory whose
 * files are inputs (in name order, not recursive); each is passed once to
 * LLVMFuzzerTestOneInput, as libFuzzer would pass it.
 *
 * CTest runs it on the target's seed corpus and on every input that once
 * crashed it (tests/fuzz/regress/<target>/), so each suite run replays them
 * with whatever compiler and sanitizers the build has. A target that breaks
 * a promise aborts (fuzz.h), which fails the test with the input's name
 * printed just before; an argument that cannot be read fails it too, and so
 * does replaying nothing at all, which would prove nothing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
	size_t size = 0;
	uint8_t *data = fuzz_read_file(path, &size);

	if (!data) {
		fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* Said before the call, so the input of a crash is the last name printed. */
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files directly in dir, in name order; returns how many were replayed or -1. */
static int replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int done = 0;

	if (!d) {
		fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **nn = realloc(names, cap * sizeof(*nn));
			FUZZ_CHECK(nn != NULL, "out of memory listing %s", dir);
			names = nn;
		}
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		names[n] = malloc(len);
		FUZZ_CHECK(names[n] != NULL, "out of memory listing %s", dir);
		snprintf(names[n], len, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n && done >= 0; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			done = replay_file(names[i]) ? -1 : done + 1;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return done;
}

int main(int argc, char **argv)
{
	int total = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		int n;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]) ? -1 : 1;
		if (n < 0)
			return 1;
		total += n;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no inputs given; usage: %s FILE|DIR...\n", argv[0]);
		return 1;
	}
	printf("replayed %d inputs, 0 failed\n", total);
	return 0;
}
