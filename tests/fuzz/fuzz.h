/*
 * What the fuzz targets share: the libFuzzer entry point's prototype, a
 * check that turns a broken promise into a crash the fuzzer keeps, the
 * fuzzed bytes as a C string, and a private directory for the files a target
 * hands to the library.
 *
 * A target is built two ways (tests/fuzz/CMakeLists.txt): with libFuzzer
 * (-DATTNBENCH_FUZZ=ON, clang) to search for inputs, and with replay.c as
 * main() in every normal build, where CTest feeds it the seed corpus and
 * every input that once crashed (tests/fuzz/regress/<target>/). Both call
 * LLVMFuzzerTestOneInput once per input, so a target must not keep state
 * from one input to the next beyond what it builds once (the registry).
 *
 * The targets check more than "no crash": a refusal must come with a
 * message, an accepted input must satisfy the header's promises (values in
 * range, files left untouched, ...). A broken promise calls FUZZ_CHECK,
 * which prints what failed and aborts: libFuzzer saves the input, and the
 * replay driver's test fails.
 */
#ifndef ATTN_FUZZ_H
#define ATTN_FUZZ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: promise broken: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A refused input must say why: the message is set and ends inside its buffer. */
#define FUZZ_CHECK_MESSAGE(rc, err)                                                                \
	FUZZ_CHECK((rc) == 0 || ((err)[0] != '\0' && memchr((err), '\0', sizeof(err))),            \
	           "status %d with an empty message", (rc))

/* The fuzzed bytes as a NUL-terminated string (malloc'd); NUL bytes inside stay. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL, "out of memory for %zu bytes", size);
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * This process's own directory for files, made on first use under
 * $TMPDIR (or /tmp) and never reused by another process, so that parallel
 * fuzzing jobs and CTest runs do not meet. Removed at exit (files a target
 * leaves in it are its own to remove first).
 */
static char fuzz_dir_path[256];

static inline void fuzz_dir_remove(void)
{
	if (fuzz_dir_path[0])
		rmdir(fuzz_dir_path);
}

static inline const char *fuzz_dir(void)
{
	if (!fuzz_dir_path[0]) {
		const char *base = getenv("TMPDIR");
		int n = snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/attn_fuzz_XXXXXX",
		                 base && *base ? base : "/tmp");
		FUZZ_CHECK(n > 0 && (size_t)n < sizeof(fuzz_dir_path), "TMPDIR %s is too long",
		           base);
		FUZZ_CHECK(mkdtemp(fuzz_dir_path) != NULL, "mkdtemp %s: %s", fuzz_dir_path,
		           strerror(errno));
		atexit(fuzz_dir_remove);
	}
	return fuzz_dir_path;
}

/* Replace the file at path with exactly these bytes. */
static inline void fuzz_write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	FUZZ_CHECK(f != NULL, "cannot create %s: %s", path, strerror(errno));
	FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size, "cannot write %s: %s", path,
	           strerror(errno));
	FUZZ_CHECK(fclose(f) == 0, "cannot close %s: %s", path, strerror(errno));
}

/* The whole file (malloc'd) and its size; NULL if it cannot be read. */
static inline uint8_t *fuzz_read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			uint8_t *nb = realloc(buf, cap);
			FUZZ_CHECK(nb != NULL, "out of memory reading %s", path);
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	int failed = ferror(f);
	fclose(f);
	if (failed) {
		free(buf);
		return NULL;
	}
	*size = len;
	return buf;
}

#endif /* ATTN_FUZZ_H */
