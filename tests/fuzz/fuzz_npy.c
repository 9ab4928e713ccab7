/*
 * Fuzz target: the .npy reader (npy.h), which `attnbench run --q FILE ...`
 * points at whatever file a user names.
 *
 * The input is a whole file: written to this process's directory and read
 * with attn_npy_read. Checked besides crashes, leaks and undefined
 * behaviour: a refusal has a message naming the file; an accepted file has
 * 0 to ATTN_NPY_MAX_DIMS dimensions, is long enough for its shape, and its
 * floats are the file's own (the bytes of a '<f4' file, the rounded values
 * of a '<f8' one); written back with attn_npy_write and read again, it gives
 * the same shape and the same bits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "npy.h"

/* Where the data starts, from the prefix the reader accepted (format 1.0, or 2.0 and 3.0). */
static size_t data_offset(const uint8_t *data)
{
	size_t hlen = (size_t)data[8] | (size_t)data[9] << 8;

	if (data[6] == 1)
		return 10 + hlen;
	return 12 + (hlen | (size_t)data[10] << 16 | (size_t)data[11] << 24);
}

static void check_values(const uint8_t *data, size_t size, const struct attn_npy *a, int64_t count)
{
	size_t off = data_offset(data);
	char *header = fuzz_text(data + (data[6] == 1 ? 10 : 12), off - (data[6] == 1 ? 10 : 12));
	size_t elsize = strstr(header, "<f8") ? 8 : 4;

	free(header);
	FUZZ_CHECK(off <= size && size - off >= (size_t)count * elsize,
	           "%lld elements of %zu bytes accepted from %zu bytes of data", (long long)count,
	           elsize, size > off ? size - off : 0);
	for (int64_t i = 0; i < count; i++) {
		float want;
		if (elsize == 4) {
			memcpy(&want, data + off + 4 * (size_t)i, 4);
		} else {
			double d;
			memcpy(&d, data + off + 8 * (size_t)i, 8);
			want = (float)d;
		}
		FUZZ_CHECK(memcmp(&want, &a->data[i], 4) == 0, "element %lld differs from the file",
		           (long long)i);
	}
}

static void check_roundtrip(const struct attn_npy *a, int64_t count)
{
	char path[512], err[512] = "";
	struct attn_npy back;

	snprintf(path, sizeof(path), "%s/back.npy", fuzz_dir());
	int rc = attn_npy_write(path, a->ndim, a->shape, a->data, err, sizeof(err));
	FUZZ_CHECK(rc == 0, "an array just read cannot be written: %s", err);
	rc = attn_npy_read(path, &back, err, sizeof(err));
	FUZZ_CHECK(rc == 0, "an array just written cannot be read: %s", err);
	FUZZ_CHECK(back.ndim == a->ndim &&
	               memcmp(back.shape, a->shape, (size_t)a->ndim * sizeof(a->shape[0])) == 0,
	           "the shape changed on the way back");
	FUZZ_CHECK(count == 0 || memcmp(back.data, a->data, (size_t)count * 4) == 0,
	           "the data changed on the way back");
	attn_npy_free(&back);
	remove(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[512], err[512] = "";
	struct attn_npy a;

	snprintf(path, sizeof(path), "%s/in.npy", fuzz_dir());
	fuzz_write_file(path, data, size);
	int rc = attn_npy_read(path, &a, err, sizeof(err));
	FUZZ_CHECK_MESSAGE(rc, err);
	FUZZ_CHECK(rc == 0 || strstr(err, path), "the message does not name the file: %s", err);
	if (rc == 0) {
		int64_t count = 1;
		FUZZ_CHECK(a.ndim >= 0 && a.ndim <= ATTN_NPY_MAX_DIMS, "%d dimensions", a.ndim);
		for (int i = 0; i < a.ndim; i++) {
			FUZZ_CHECK(a.shape[i] >= 0, "dimension %d is %lld", i,
			           (long long)a.shape[i]);
			FUZZ_CHECK(a.shape[i] == 0 || count <= INT64_MAX / a.shape[i],
			           "the element count overflows");
			count *= a.shape[i];
		}
		FUZZ_CHECK((count > 0) == (a.data != NULL), "%lld elements, data %p",
		           (long long)count, (void *)a.data);
		FUZZ_CHECK(size >= 10, "accepted a file of %zu bytes", size);
		check_values(data, size, &a, count);
		check_roundtrip(&a, count);
		attn_npy_free(&a);
	}
	remove(path);
	return 0;
}
