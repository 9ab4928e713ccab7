/*
 * NumPy .npy files, so `attnbench run` can take its inputs from numpy or
 * PyTorch and hand its outputs back.
 *
 * The format (numpy/lib/format.py): the magic "\x93NUMPY", a major and minor
 * version byte, the header length (2 bytes little-endian in version 1.0, 4
 * bytes in 2.0 and 3.0), then a Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ended by '\n' so that the data, which follows
 * directly, starts at a multiple of 64 bytes.
 *
 * The header is parsed by a small hand-written parser that knows exactly the
 * three keys numpy writes, rather than anything like a Python evaluator:
 * what we do not understand is an ATTN_ERR_FORMAT naming the file, never a
 * guess. Shapes are checked for overflow before anything is allocated, and
 * the data's size is checked against the file's before it is read, so a
 * corrupt header cannot make us allocate terabytes.
 *
 * Files are written to a temporary name in the same directory and renamed
 * into place, so a failed or interrupted write never leaves a half file
 * under the final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attnbench/status.h"
#include "internal.h"
#include "npy.h"

#define NPY_MAGIC     "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN     64
/* numpy refuses headers over 10000 bytes by default; allow some slack. */
#define NPY_MAX_HEADER 65536
/* Elements converted or byte-swapped per step, so no second full-size buffer is needed. */
#define NPY_CHUNK 4096

static int host_is_little_endian(void)
{
	const uint16_t one = 1;
	unsigned char first;

	memcpy(&first, &one, 1);
	return first == 1;
}

/* Reverse the byte order of n elements of `size` bytes, in place. */
static void swap_bytes(void *data, size_t n, size_t size)
{
	unsigned char *p = data;

	for (size_t i = 0; i < n; i++, p += size)
		for (size_t a = 0, b = size - 1; a < b; a++, b--) {
			unsigned char t = p[a];
			p[a] = p[b];
			p[b] = t;
		}
}

/* --- the header dict ------------------------------------------------------ */

struct header {
	const char *s; /* NUL-terminated */
	size_t pos;
	const char *path;
	char *err;
	size_t errlen;
};

static int header_fail(const struct header *h, const char *what)
{
	return attn_errf(h->err, h->errlen, ATTN_ERR_FORMAT,
	                 "%s: malformed .npy header: %s at header byte %zu", h->path, what, h->pos);
}

static void skip_space(struct header *h)
{
	while (h->s[h->pos] == ' ' || h->s[h->pos] == '\t' || h->s[h->pos] == '\n' ||
	       h->s[h->pos] == '\r')
		h->pos++;
}

/* A quoted Python string without escapes (numpy writes none here): its span. */
static int parse_string(struct header *h, const char **start, size_t *len)
{
	char quote = h->s[h->pos];
	const char *end;

	if (quote != '\'' && quote != '"')
		return header_fail(h, "expected a quoted string");
	end = strchr(h->s + h->pos + 1, quote);
	if (!end)
		return header_fail(h, "unterminated string");
	*start = h->s + h->pos + 1;
	*len = (size_t)(end - *start);
	if (memchr(*start, '\\', *len))
		return header_fail(h, "escape sequences in strings are not supported");
	h->pos = (size_t)(end - h->s) + 1;
	return ATTN_OK;
}

static int parse_bool(struct header *h, int *out)
{
	if (strncmp(h->s + h->pos, "True", 4) == 0) {
		*out = 1;
		h->pos += 4;
	} else if (strncmp(h->s + h->pos, "False", 5) == 0) {
		*out = 0;
		h->pos += 5;
	} else {
		return header_fail(h, "expected True or False for 'fortran_order'");
	}
	return ATTN_OK;
}

/* A tuple of non-negative integers: "()", "(3,)", "(2, 3)"; Python 2's "3L" too. */
static int parse_shape(struct header *h, int *ndim, int64_t *shape)
{
	if (h->s[h->pos] != '(')
		return header_fail(h, "expected '(' to open 'shape'");
	h->pos++;
	*ndim = 0;
	for (;;) {
		int64_t v = 0;

		skip_space(h);
		if (h->s[h->pos] == ')')
			break;
		if (h->s[h->pos] < '0' || h->s[h->pos] > '9')
			return header_fail(h, "expected a non-negative integer in 'shape'");
		if (*ndim == ATTN_NPY_MAX_DIMS)
			return attn_errf(h->err, h->errlen, ATTN_ERR_FORMAT,
			                 "%s: more than %d dimensions are not supported", h->path,
			                 ATTN_NPY_MAX_DIMS);
		for (; h->s[h->pos] >= '0' && h->s[h->pos] <= '9'; h->pos++) {
			int d = h->s[h->pos] - '0';
			if (v > (INT64_MAX - d) / 10)
				return header_fail(
				    h, "a dimension in 'shape' does not fit in 64 bits");
			v = 10 * v + d;
		}
		if (h->s[h->pos] == 'L')
			h->pos++;
		shape[(*ndim)++] = v;
		skip_space(h);
		if (h->s[h->pos] == ',') {
			h->pos++;
		} else if (h->s[h->pos] != ')') {
			return header_fail(h, "expected ',' or ')' in 'shape'");
		}
	}
	h->pos++;
	return ATTN_OK;
}

/*
 * Parse the dict and check what it says: little-endian float32 or float64,
 * C order. *elsize is 4 or 8.
 */
static int parse_header(struct header *h, int *ndim, int64_t *shape, size_t *elsize)
{
	int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0, rc;
	const char *descr = NULL;
	size_t descr_len = 0;

	skip_space(h);
	if (h->s[h->pos] != '{')
		return header_fail(h, "expected '{'");
	h->pos++;
	for (;;) {
		const char *key;
		size_t klen;

		skip_space(h);
		if (h->s[h->pos] == '}')
			break;
		if ((rc = parse_string(h, &key, &klen)))
			return rc;
		skip_space(h);
		if (h->s[h->pos] != ':')
			return header_fail(h, "expected ':' after a key");
		h->pos++;
		skip_space(h);
		if (klen == 5 && strncmp(key, "descr", 5) == 0 && !have_descr) {
			if (h->s[h->pos] != '\'' && h->s[h->pos] != '"')
				return attn_errf(
				    h->err, h->errlen, ATTN_ERR_FORMAT,
				    "%s: unsupported dtype (a structured type); expected "
				    "'<f4' or '<f8'",
				    h->path);
			rc = parse_string(h, &descr, &descr_len);
			have_descr = 1;
		} else if (klen == 13 && strncmp(key, "fortran_order", 13) == 0 && !have_fortran) {
			rc = parse_bool(h, &fortran);
			have_fortran = 1;
		} else if (klen == 5 && strncmp(key, "shape", 5) == 0 && !have_shape) {
			rc = parse_shape(h, ndim, shape);
			have_shape = 1;
		} else {
			return attn_errf(h->err, h->errlen, ATTN_ERR_FORMAT,
			                 "%s: malformed .npy header: unexpected or repeated key "
			                 "'%.*s'",
			                 h->path, (int)(klen > 40 ? 40 : klen), key);
		}
		if (rc)
			return rc;
		skip_space(h);
		if (h->s[h->pos] == ',')
			h->pos++;
		else if (h->s[h->pos] != '}')
			return header_fail(h, "expected ',' or '}' after a value");
	}
	h->pos++;
	skip_space(h);
	if (h->s[h->pos] != '\0')
		return header_fail(h, "unexpected text after the closing '}'");
	if (!have_descr || !have_fortran || !have_shape)
		return attn_errf(h->err, h->errlen, ATTN_ERR_FORMAT,
		                 "%s: malformed .npy header: no '%s' key", h->path,
		                 !have_descr     ? "descr"
		                 : !have_fortran ? "fortran_order"
		                                 : "shape");

	if (descr_len == 3 && strncmp(descr, "<f4", 3) == 0) {
		*elsize = 4;
	} else if (descr_len == 3 && strncmp(descr, "<f8", 3) == 0) {
		*elsize = 8;
	} else if (descr_len == 3 &&
	           (strncmp(descr, ">f4", 3) == 0 || strncmp(descr, ">f8", 3) == 0)) {
		return attn_errf(h->err, h->errlen, ATTN_ERR_FORMAT,
		                 "%s: big-endian data ('%.3s') is not supported; save it as "
		                 "'<f4'",
		                 h->path, descr);
	} else {
		return attn_errf(h->err, h->errlen, ATTN_ERR_FORMAT,
		                 "%s: unsupported dtype '%.*s'; expected '<f4' or '<f8'", h->path,
		                 (int)(descr_len > 40 ? 40 : descr_len), descr);
	}
	if (fortran)
		return attn_errf(h->err, h->errlen, ATTN_ERR_FORMAT,
		                 "%s: Fortran-order arrays are not supported; save a C-order "
		                 "(np.ascontiguousarray) array",
		                 h->path);
	return ATTN_OK;
}

/* --- reading -------------------------------------------------------------- */

/* fread exactly n bytes; ATTN_ERR_IO on a read error, ATTN_ERR_FORMAT on a short file. */
static int read_exact(FILE *f, void *buf, size_t n, const char *path, const char *what, char *err,
                      size_t errlen)
{
	size_t got = fread(buf, 1, n, f);

	if (got == n)
		return ATTN_OK;
	if (ferror(f))
		return attn_errf(err, errlen, ATTN_ERR_IO, "%s: read error in %s: %s", path, what,
		                 strerror(errno));
	return attn_errf(err, errlen, ATTN_ERR_FORMAT, "%s: truncated %s (%zu of %zu bytes)", path,
	                 what, got, n);
}

/* Product of the dimensions, or -1 if it (or its size in bytes) would overflow. */
static int64_t element_count(int ndim, const int64_t *shape)
{
	int64_t count = 1;

	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return -1;
		if (shape[i] != 0 && count > (int64_t)(SIZE_MAX / 8) / shape[i])
			return -1;
		count *= shape[i];
	}
	return count;
}

static int read_data(FILE *f, float *data, size_t count, size_t elsize, const char *path, char *err,
                     size_t errlen)
{
	int rc;

	if (elsize == 4) {
		rc = read_exact(f, data, count * 4, path, "data", err, errlen);
		if (rc == ATTN_OK && !host_is_little_endian())
			swap_bytes(data, count, 4);
		return rc;
	}
	/* float64: convert a chunk at a time; values beyond float range become inf. */
	double *chunk = malloc(NPY_CHUNK * sizeof(double));
	if (!chunk)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "%s: out of memory", path);
	rc = ATTN_OK;
	for (size_t done = 0; done < count && rc == ATTN_OK;) {
		size_t n = count - done < NPY_CHUNK ? count - done : NPY_CHUNK;
		rc = read_exact(f, chunk, n * 8, path, "data", err, errlen);
		if (rc)
			break;
		if (!host_is_little_endian())
			swap_bytes(chunk, n, 8);
		for (size_t i = 0; i < n; i++)
			data[done + i] = (float)chunk[i];
		done += n;
	}
	free(chunk);
	return rc;
}

int attn_npy_read(const char *path, struct attn_npy *out, char *err, size_t errlen)
{
	unsigned char pre[12];
	size_t prefix, hlen, got, elsize = 0;
	char *text = NULL;
	float *data = NULL;
	int64_t shape[ATTN_NPY_MAX_DIMS], count;
	int ndim = 0, rc;
	struct stat st;
	FILE *f;

	memset(out, 0, sizeof(*out));
	f = fopen(path, "rb");
	if (!f)
		return attn_errf(err, errlen, ATTN_ERR_IO, "%s: cannot open: %s", path,
		                 strerror(errno));

	/* A short file that does not even start like one is "not a .npy", not "truncated". */
	got = fread(pre, 1, 8, f);
	if (ferror(f)) {
		rc = attn_errf(err, errlen, ATTN_ERR_IO, "%s: read error: %s", path,
		               strerror(errno));
		goto out;
	}
	if (got == 0 || memcmp(pre, NPY_MAGIC, got < NPY_MAGIC_LEN ? got : NPY_MAGIC_LEN) != 0) {
		rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
		               "%s: not a .npy file (no \\x93NUMPY magic)", path);
		goto out;
	}
	if (got < 8) {
		rc = attn_errf(err, errlen, ATTN_ERR_FORMAT, "%s: truncated header (%zu bytes)",
		               path, got);
		goto out;
	}
	if (pre[6] == 1) {
		prefix = 10;
	} else if (pre[6] == 2 || pre[6] == 3) {
		prefix = 12; /* 3.0 only allows UTF-8 in the header; ours is ASCII anyway */
	} else {
		rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
		               "%s: unsupported .npy format version %d.%d", path, pre[6], pre[7]);
		goto out;
	}
	if ((rc = read_exact(f, pre + 8, prefix - 8, path, "header", err, errlen)))
		goto out;
	hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
	if (prefix == 12)
		hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
	if (hlen > NPY_MAX_HEADER) {
		rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
		               "%s: .npy header of %zu bytes is implausibly large", path, hlen);
		goto out;
	}
	text = malloc(hlen + 1);
	if (!text) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	if ((rc = read_exact(f, text, hlen, path, "header", err, errlen)))
		goto out;
	text[hlen] = '\0';
	if (strlen(text) != hlen) {
		rc = attn_errf(err, errlen, ATTN_ERR_FORMAT, "%s: NUL byte in the .npy header",
		               path);
		goto out;
	}

	struct header h = {text, 0, path, err, errlen};
	if ((rc = parse_header(&h, &ndim, shape, &elsize)))
		goto out;
	count = element_count(ndim, shape);
	if (count < 0) {
		rc = attn_errf(err, errlen, ATTN_ERR_FORMAT, "%s: shape's element count overflows",
		               path);
		goto out;
	}

	/*
	 * Check the size before allocating: a corrupt shape must not make us
	 * allocate what the file cannot hold. Extra bytes after the data are
	 * ignored, as numpy does.
	 */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
		size_t have =
		    (size_t)st.st_size > prefix + hlen ? (size_t)st.st_size - prefix - hlen : 0;
		if (have < (size_t)count * elsize) {
			rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
			               "%s: truncated data (%zu of %zu bytes)", path, have,
			               (size_t)count * elsize);
			goto out;
		}
	}
	if (count > 0) {
		data = malloc((size_t)count * sizeof(float));
		if (!data) {
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM,
			               "%s: out of memory for %lld floats", path, (long long)count);
			goto out;
		}
		if ((rc = read_data(f, data, (size_t)count, elsize, path, err, errlen)))
			goto out;
	}
	out->ndim = ndim;
	memcpy(out->shape, shape, (size_t)ndim * sizeof(shape[0]));
	out->data = data;
	out->elsize = elsize;
	data = NULL;
out:
	free(data);
	free(text);
	fclose(f);
	return rc;
}

void attn_npy_free(struct attn_npy *a)
{
	if (!a)
		return;
	free(a->data);
	memset(a, 0, sizeof(*a));
}

/* --- writing -------------------------------------------------------------- */

/*
 * The header after the magic and length: the dict padded with spaces and
 * ended by '\n' so that prefix + header is a multiple of NPY_ALIGN.
 */
static size_t format_header(char *buf, size_t len, size_t prefix, int ndim, const int64_t *shape)
{
	size_t n, total;

	n = (size_t)snprintf(buf, len, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
	for (int i = 0; i < ndim; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? ", " : "",
		                      (long long)shape[i]);
	/* A one-element Python tuple needs its trailing comma. */
	n += (size_t)snprintf(buf + n, len - n, "%s), }", ndim == 1 ? "," : "");
	total = (prefix + n + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
	memset(buf + n, ' ', total - prefix - n - 1);
	buf[total - prefix - 1] = '\n';
	return total - prefix;
}

static int write_all(FILE *f, const void *buf, size_t n)
{
	return fwrite(buf, 1, n, f) == n ? ATTN_OK : ATTN_ERR_IO;
}

static int write_data(FILE *f, const float *data, size_t count)
{
	float chunk[NPY_CHUNK];

	if (host_is_little_endian())
		return write_all(f, data, count * sizeof(float));
	for (size_t done = 0; done < count;) {
		size_t n = count - done < NPY_CHUNK ? count - done : NPY_CHUNK;
		memcpy(chunk, data + done, n * sizeof(float));
		swap_bytes(chunk, n, sizeof(float));
		if (write_all(f, chunk, n * sizeof(float)))
			return ATTN_ERR_IO;
		done += n;
	}
	return ATTN_OK;
}

/*
 * Create a new temporary file next to `path`. O_EXCL with our own name
 * (rather than mkstemp) so the file gets the usual umask-governed mode.
 */
static int open_temp(const char *path, char **tmp_out, FILE **f_out)
{
	static unsigned counter;
	size_t len = strlen(path) + 64;
	char *tmp = malloc(len);

	if (!tmp)
		return ATTN_ERR_NOMEM;
	for (int attempt = 0; attempt < 100; attempt++) {
		snprintf(tmp, len, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			break;
		FILE *f = fdopen(fd, "wb");
		if (!f) {
			int e = errno;
			close(fd);
			unlink(tmp);
			errno = e;
			break;
		}
		*tmp_out = tmp;
		*f_out = f;
		return ATTN_OK;
	}
	free(tmp);
	return ATTN_ERR_IO;
}

int attn_npy_write(const char *path, int ndim, const int64_t *shape, const float *data, char *err,
                   size_t errlen)
{
	char header[1024];
	unsigned char pre[12];
	size_t prefix = 10, hlen;
	int64_t count;
	char *tmp = NULL;
	FILE *f = NULL;
	int rc;

	if (ndim < 0 || ndim > ATTN_NPY_MAX_DIMS || (ndim > 0 && !shape))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "%s: cannot write %d dimensions (0 to %d)", path, ndim,
		                 ATTN_NPY_MAX_DIMS);
	count = element_count(ndim, shape);
	if (count < 0)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "%s: negative dimension or element count overflow", path);
	if (count > 0 && !data)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "%s: no data for %lld elements",
		                 path, (long long)count);

	/* Eight dimensions fit easily in version 1.0's 65535 bytes; 2.0 is for safety. */
	hlen = format_header(header, sizeof(header), prefix, ndim, shape);
	if (hlen > 65535) {
		prefix = 12;
		hlen = format_header(header, sizeof(header), prefix, ndim, shape);
	}
	memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
	pre[6] = prefix == 10 ? 1 : 2;
	pre[7] = 0;
	for (size_t i = 0; i < prefix - 8; i++)
		pre[8 + i] = (unsigned char)(hlen >> (8 * i));

	if (open_temp(path, &tmp, &f))
		return attn_errf(err, errlen, ATTN_ERR_IO,
		                 "%s: cannot create a temporary file next to it: %s", path,
		                 strerror(errno));
	rc = write_all(f, pre, prefix);
	if (rc == ATTN_OK)
		rc = write_all(f, header, hlen);
	if (rc == ATTN_OK && count > 0)
		rc = write_data(f, data, (size_t)count);
	/* fsync so a crash after the rename cannot leave the final name empty. */
	if (rc == ATTN_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		rc = ATTN_ERR_IO;
	if (rc) {
		rc = attn_errf(err, errlen, ATTN_ERR_IO, "%s: write failed: %s", path,
		               strerror(errno));
		fclose(f);
		goto fail;
	}
	if (fclose(f) != 0) {
		rc = attn_errf(err, errlen, ATTN_ERR_IO, "%s: write failed: %s", path,
		               strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		rc = attn_errf(err, errlen, ATTN_ERR_IO, "%s: cannot rename %s into place: %s",
		               path, tmp, strerror(errno));
		goto fail;
	}
	free(tmp);
	return ATTN_OK;
fail:
	unlink(tmp);
	free(tmp);
	return rc;
}
