/*
 * Tests of the .npy reader and writer (npy.c): round trips, the file layout
 * numpy expects (64-byte aligned data, header ending in '\n'), hand-crafted
 * version 2.0/3.0 and float64 files, and every malformed file we refuse,
 * each of which must say which file and what is wrong.
 *
 * Files live in a fresh directory per test (tmpdir.h), removed afterwards.
 */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attnbench/status.h"
#include "check_main.h"
#include "npy.h"
#include "tmpdir.h"

static char dir[TMPDIR_LEN];

static void setup(void)
{
	tmpdir_make(dir, "npy");
}

static void teardown(void)
{
	tmpdir_remove(dir);
}

static const char *in_dir(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static int count_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void write_bytes(const char *path, const void *buf, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* The whole file in a malloc'd buffer. */
static unsigned char *read_bytes(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long size;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*n = (size_t)size;
	return buf;
}

/*
 * Write a .npy by hand: format version `major`.0, the dict text as given
 * (padded with spaces and '\n' to 64 bytes, as numpy does), then `data`.
 */
static void craft(const char *path, int major, const char *dict, const void *data, size_t n)
{
	size_t prefix = major == 1 ? 10 : 12, dlen = strlen(dict);
	size_t total = (prefix + dlen + 1 + 63) / 64 * 64, hlen = total - prefix;
	unsigned char *buf = calloc(1, total + n);

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)major;
	buf[7] = 0;
	for (size_t i = 0; i < prefix - 8; i++)
		buf[8 + i] = (unsigned char)(hlen >> (8 * i));
	memcpy(buf + prefix, dict, dlen);
	memset(buf + prefix + dlen, ' ', hlen - dlen - 1);
	buf[total - 1] = '\n';
	if (n)
		memcpy(buf + total, data, n);
	write_bytes(path, buf, total + n);
	free(buf);
}

/* Reading `path` fails with `status`, and the message names the file and the problem. */
static void expect_read_err(const char *path, int status, const char *needle)
{
	struct attn_npy a;
	char err[512] = "";
	int rc = attn_npy_read(path, &a, err, sizeof(err));

	ck_assert_msg(rc == status, "%s: status %d, want %d (%s)", path, rc, status, err);
	ck_assert_ptr_null(a.data);
	ck_assert_int_eq(a.ndim, 0);
	ck_assert_msg(strstr(err, path), "message \"%s\" does not name the file", err);
	ck_assert_msg(strstr(err, needle), "message \"%s\" lacks \"%s\"", err, needle);
}

/* --- round trips ---------------------------------------------------------- */

static void round_trip(int ndim, const int64_t *shape)
{
	const char *path = in_dir("rt.npy");
	int64_t count = 1;
	float *data;
	struct attn_npy a;
	char err[512] = "";
	unsigned char *raw;
	size_t n, hlen, off;

	for (int i = 0; i < ndim; i++)
		count *= shape[i];
	data = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
	ck_assert_ptr_nonnull(data);
	for (int64_t i = 0; i < count; i++)
		data[i] = (float)i * 0.5f - 3.25f;

	ck_assert_msg(attn_npy_write(path, ndim, shape, data, err, sizeof(err)) == ATTN_OK, "%s",
	              err);
	ck_assert_int_eq(count_files(), 1);

	/* The layout numpy expects: version 1.0, aligned data, header ending in '\n'. */
	raw = read_bytes(path, &n);
	ck_assert_int_eq(memcmp(raw, "\x93NUMPY\x01\x00", 8), 0);
	hlen = (size_t)raw[8] | (size_t)raw[9] << 8;
	off = 10 + hlen;
	ck_assert_uint_eq(off % 64, 0);
	ck_assert_int_eq(raw[off - 1], '\n');
	ck_assert_uint_eq(n, off + (size_t)count * 4);
	ck_assert_int_eq(
	    memcmp(raw + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (", 51), 0);
	free(raw);

	ck_assert_msg(attn_npy_read(path, &a, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_eq(a.ndim, ndim);
	for (int i = 0; i < ndim; i++)
		ck_assert_int_eq(a.shape[i], shape[i]);
	for (int64_t i = 0; i < count; i++)
		ck_assert_float_eq(a.data[i], data[i]);
	if (count == 0)
		ck_assert_ptr_null(a.data);
	attn_npy_free(&a);
	ck_assert_ptr_null(a.data);
	free(data);
}

START_TEST(test_round_trip_shapes)
{
	round_trip(0, NULL);
	round_trip(1, (int64_t[]){5});
	round_trip(2, (int64_t[]){2, 3});
	round_trip(3, (int64_t[]){2, 3, 4});
	round_trip(4, (int64_t[]){2, 4, 33, 16});
	round_trip(8, (int64_t[]){1, 2, 1, 2, 1, 2, 1, 3});
	round_trip(1, (int64_t[]){0});
	round_trip(3, (int64_t[]){3, 0, 2});
	round_trip(1, (int64_t[]){100000});
}
END_TEST

START_TEST(test_header_text)
{
	const char *path = in_dir("h.npy");
	float x[6] = {0};
	char err[256];
	unsigned char *raw;
	size_t n;

	ck_assert_int_eq(attn_npy_write(path, 2, (int64_t[]){2, 3}, x, err, sizeof(err)), ATTN_OK);
	raw = read_bytes(path, &n);
	raw[n] = '\0';
	ck_assert_ptr_nonnull(strstr(
	    (char *)raw + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
	free(raw);

	/* A one-element tuple keeps Python's trailing comma. */
	ck_assert_int_eq(attn_npy_write(path, 1, (int64_t[]){6}, x, err, sizeof(err)), ATTN_OK);
	raw = read_bytes(path, &n);
	raw[n] = '\0';
	ck_assert_ptr_nonnull(strstr((char *)raw + 10, "'shape': (6,), }"));
	free(raw);

	ck_assert_int_eq(attn_npy_write(path, 0, NULL, x, err, sizeof(err)), ATTN_OK);
	raw = read_bytes(path, &n);
	raw[n] = '\0';
	ck_assert_ptr_nonnull(strstr((char *)raw + 10, "'shape': (), }"));
	free(raw);
}
END_TEST

START_TEST(test_overwrite)
{
	const char *path = in_dir("o.npy");
	float a[4] = {1, 2, 3, 4}, b[2] = {9, 8};
	struct attn_npy r;
	char err[256];

	ck_assert_int_eq(attn_npy_write(path, 1, (int64_t[]){4}, a, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_npy_write(path, 1, (int64_t[]){2}, b, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(count_files(), 1);
	ck_assert_int_eq(attn_npy_read(path, &r, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(r.shape[0], 2);
	ck_assert_float_eq(r.data[0], 9);
	ck_assert_float_eq(r.data[1], 8);
	attn_npy_free(&r);
}
END_TEST

/* --- hand-made files ------------------------------------------------------ */

START_TEST(test_read_v2_v3)
{
	const float x[4] = {1.5f, -2, 3, 4.25f};
	struct attn_npy a;
	char err[256] = "";

	craft(in_dir("v2.npy"), 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", x,
	      sizeof(x));
	ck_assert_msg(attn_npy_read(in_dir("v2.npy"), &a, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_eq(a.ndim, 2);
	ck_assert_int_eq(a.shape[0], 2);
	ck_assert_int_eq(a.shape[1], 2);
	for (int i = 0; i < 4; i++)
		ck_assert_float_eq(a.data[i], x[i]);
	attn_npy_free(&a);

	craft(in_dir("v3.npy"), 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", x,
	      sizeof(x));
	ck_assert_msg(attn_npy_read(in_dir("v3.npy"), &a, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_eq(a.ndim, 1);
	ck_assert_int_eq(a.shape[0], 4);
	ck_assert_float_eq(a.data[3], 4.25f);
	attn_npy_free(&a);
}
END_TEST

START_TEST(test_read_v1_variants)
{
	const float x[6] = {1, 2, 3, 4, 5, 6};
	struct attn_npy a;
	char err[256] = "";

	/* Any key order, double quotes, no trailing comma, Python 2 longs. */
	craft(in_dir("a.npy"), 1,
	      "{\"shape\": (3L, 2L), \"fortran_order\": False, \"descr\": \"<f4\"}", x, sizeof(x));
	ck_assert_msg(attn_npy_read(in_dir("a.npy"), &a, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_eq(a.ndim, 2);
	ck_assert_int_eq(a.shape[0], 3);
	ck_assert_int_eq(a.shape[1], 2);
	ck_assert_float_eq(a.data[5], 6);
	attn_npy_free(&a);

	/* Trailing bytes after the data are ignored, as numpy does. */
	unsigned char more[sizeof(x) + 5];
	memcpy(more, x, sizeof(x));
	memcpy(more + sizeof(x), "extra", 5);
	craft(in_dir("b.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", more,
	      sizeof(more));
	ck_assert_msg(attn_npy_read(in_dir("b.npy"), &a, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_eq(a.shape[0], 6);
	attn_npy_free(&a);
}
END_TEST

START_TEST(test_read_f8)
{
	const double x[5] = {1.5, -2.25, 1e10, 3.141592653589793, 1e-40};
	struct attn_npy a;
	char err[256] = "";

	craft(in_dir("f8.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", x,
	      sizeof(x));
	ck_assert_msg(attn_npy_read(in_dir("f8.npy"), &a, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_eq(a.ndim, 1);
	ck_assert_int_eq(a.shape[0], 5);
	for (int i = 0; i < 5; i++)
		ck_assert_float_eq(a.data[i], (float)x[i]);
	attn_npy_free(&a);
}
END_TEST

START_TEST(test_read_f8_large)
{
	/* More than one conversion chunk, and not a multiple of it. */
	const int n = 10007;
	double *x = malloc(n * sizeof(double));
	struct attn_npy a;
	char err[256] = "";

	ck_assert_ptr_nonnull(x);
	for (int i = 0; i < n; i++)
		x[i] = i * 0.25;
	craft(in_dir("f8.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (10007,), }",
	      x, n * sizeof(double));
	ck_assert_msg(attn_npy_read(in_dir("f8.npy"), &a, err, sizeof(err)) == ATTN_OK, "%s", err);
	for (int i = 0; i < n; i++)
		ck_assert_float_eq(a.data[i], (float)x[i]);
	attn_npy_free(&a);
	free(x);
}
END_TEST

/* --- malformed files ------------------------------------------------------ */

#define DICT(descr, fortran, shape)                                                                \
	"{'descr': '" descr "', 'fortran_order': " fortran ", 'shape': " shape ", }"

START_TEST(test_missing_file)
{
	expect_read_err(in_dir("nope.npy"), ATTN_ERR_IO, "cannot open");
	/* A directory is not a readable file either. */
	struct attn_npy a;
	char err[256];
	ck_assert_int_ne(attn_npy_read(dir, &a, err, sizeof(err)), ATTN_OK);
}
END_TEST

START_TEST(test_bad_magic)
{
	const char *path = in_dir("bad.npy");
	static const char zip[] = "PK\x03\x04 this is a zip";

	write_bytes(path, zip, sizeof(zip) - 1);
	expect_read_err(path, ATTN_ERR_FORMAT, "not a .npy file");
	write_bytes(path, "", 0);
	expect_read_err(path, ATTN_ERR_FORMAT, "not a .npy file");
	write_bytes(path, "hi", 2);
	expect_read_err(path, ATTN_ERR_FORMAT, "not a .npy file");
}
END_TEST

START_TEST(test_bad_version)
{
	const char *path = in_dir("v4.npy");

	craft(path, 4, DICT("<f4", "False", "(1,)"), "\0\0\0\0", 4);
	expect_read_err(path, ATTN_ERR_FORMAT, "unsupported .npy format version 4.0");
}
END_TEST

START_TEST(test_truncated_header)
{
	const char *path = in_dir("th.npy");
	unsigned char buf[40];

	write_bytes(path, "\x93NUMPY\x01", 7);
	expect_read_err(path, ATTN_ERR_FORMAT, "truncated header");
	write_bytes(path, "\x93NUMPY\x02\x00\x10", 9);
	expect_read_err(path, ATTN_ERR_FORMAT, "truncated header");
	/* The length says 118 bytes of header; only 30 follow. */
	memcpy(buf, "\x93NUMPY\x01\x00\x76\x00", 10);
	memcpy(buf + 10, "{'descr': '<f4', 'fortran_ord", 30);
	write_bytes(path, buf, 40);
	expect_read_err(path, ATTN_ERR_FORMAT, "truncated header (30 of 118 bytes)");
}
END_TEST

START_TEST(test_truncated_data)
{
	const char *path = in_dir("td.npy");
	const float x[5] = {0};

	craft(path, 1, DICT("<f4", "False", "(2, 3)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "truncated data (20 of 24 bytes)");
	craft(path, 1, DICT("<f8", "False", "(3,)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "truncated data (20 of 24 bytes)");
	/* A huge shape is refused by size, before anything is allocated. */
	craft(path, 1, DICT("<f4", "False", "(1000000000000,)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "truncated data");
}
END_TEST

START_TEST(test_bad_dtypes)
{
	const char *path = in_dir("dt.npy");
	const float x[4] = {0};

	craft(path, 1, DICT(">f4", "False", "(4,)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "big-endian data ('>f4') is not supported");
	craft(path, 1, DICT(">f8", "False", "(2,)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "big-endian");
	craft(path, 1, DICT("<i4", "False", "(4,)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "unsupported dtype '<i4'; expected '<f4' or '<f8'");
	craft(path, 1, DICT("<f2", "False", "(4,)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "unsupported dtype '<f2'");
	craft(path, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", x,
	      sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "unsupported dtype");
}
END_TEST

START_TEST(test_fortran_order)
{
	const char *path = in_dir("fo.npy");
	const float x[6] = {0};

	craft(path, 1, DICT("<f4", "True", "(2, 3)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "Fortran-order arrays are not supported");
	craft(path, 1, DICT("<f4", "maybe", "(2, 3)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "expected True or False");
}
END_TEST

START_TEST(test_bad_shapes)
{
	const char *path = in_dir("sh.npy");
	const float x[6] = {0};

	craft(path, 1, DICT("<f4", "False", "(2, x)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "expected a non-negative integer in 'shape'");
	craft(path, 1, DICT("<f4", "False", "(2, -3)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "non-negative integer");
	craft(path, 1, DICT("<f4", "False", "[2, 3]"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "expected '(' to open 'shape'");
	craft(path, 1, DICT("<f4", "False", "(2 3)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "expected ',' or ')' in 'shape'");
	craft(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3", x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "malformed .npy header");
	craft(path, 1, DICT("<f4", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 6)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "more than 8 dimensions");
	craft(path, 1, DICT("<f4", "False", "(99999999999999999999,)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "does not fit in 64 bits");
	craft(path, 1, DICT("<f4", "False", "(4294967296, 4294967296, 4294967296)"), x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "element count overflows");
}
END_TEST

START_TEST(test_bad_dicts)
{
	const char *path = in_dir("dc.npy");
	const float x[4] = {0};

	craft(path, 1, "{'descr': '<f4', 'fortran_order': False, }", x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "no 'shape' key");
	craft(path, 1, "{'fortran_order': False, 'shape': (4,), }", x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "no 'descr' key");
	craft(path, 1, "{'descr': '<f4', 'shape': (4,), }", x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "no 'fortran_order' key");
	craft(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1, }", x,
	      sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "unexpected or repeated key 'x'");
	craft(path, 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", x,
	      sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "unexpected or repeated key 'descr'");
	craft(path, 1, "'descr': '<f4', 'fortran_order': False, 'shape': (4,)", x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "expected '{'");
	craft(path, 1, "{'descr' '<f4', 'fortran_order': False, 'shape': (4,)}", x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "expected ':' after a key");
	craft(path, 1, "{'descr': '<f4' 'fortran_order': False, 'shape': (4,)}", x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "expected ',' or '}' after a value");
	craft(path, 1, "{'descr: '<f4', 'fortran_order': False, 'shape': (4,)}", x, sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "malformed .npy header");
	craft(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} junk", x,
	      sizeof(x));
	expect_read_err(path, ATTN_ERR_FORMAT, "unexpected text after the closing '}'");
}
END_TEST

/* --- write failures ------------------------------------------------------- */

START_TEST(test_write_errors)
{
	float x[4] = {0};
	char err[512] = "";
	char path[512];

	/* No such directory: an I/O error naming the file, and nothing created. */
	snprintf(path, sizeof(path), "%s/missing/out.npy", dir);
	ck_assert_int_eq(attn_npy_write(path, 1, (int64_t[]){4}, x, err, sizeof(err)), ATTN_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, path));

	/* The final name is a directory: the rename fails and the temporary file goes. */
	snprintf(path, sizeof(path), "%s/adir", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(attn_npy_write(path, 1, (int64_t[]){4}, x, err, sizeof(err)), ATTN_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, "cannot rename"));
	ck_assert_int_eq(count_files(), 1);

	/* Bad arguments. */
	snprintf(path, sizeof(path), "%s/bad.npy", dir);
	ck_assert_int_eq(
	    attn_npy_write(path, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, x, err, sizeof(err)),
	    ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_npy_write(path, 2, (int64_t[]){2, -2}, x, err, sizeof(err)),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_npy_write(path, 1, (int64_t[]){4}, NULL, err, sizeof(err)),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_npy_write(path, 3,
	                                (int64_t[]){INT64_C(1) << 40, INT64_C(1) << 40, 1 << 20}, x,
	                                err, sizeof(err)),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(count_files(), 1);
}
END_TEST

static Suite *npy_suite(void)
{
	Suite *s = suite_create("npy");
	TCase *good = tcase_create("good");
	TCase *bad = tcase_create("bad");

	tcase_add_checked_fixture(good, setup, teardown);
	tcase_add_test(good, test_round_trip_shapes);
	tcase_add_test(good, test_header_text);
	tcase_add_test(good, test_overwrite);
	tcase_add_test(good, test_read_v2_v3);
	tcase_add_test(good, test_read_v1_variants);
	tcase_add_test(good, test_read_f8);
	tcase_add_test(good, test_read_f8_large);
	suite_add_tcase(s, good);

	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_add_test(bad, test_missing_file);
	tcase_add_test(bad, test_bad_magic);
	tcase_add_test(bad, test_bad_version);
	tcase_add_test(bad, test_truncated_header);
	tcase_add_test(bad, test_truncated_data);
	tcase_add_test(bad, test_bad_dtypes);
	tcase_add_test(bad, test_fortran_order);
	tcase_add_test(bad, test_bad_shapes);
	tcase_add_test(bad, test_bad_dicts);
	tcase_add_test(bad, test_write_errors);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	return attn_test_run(npy_suite(), CK_NORMAL);
}
