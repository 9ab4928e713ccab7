/*
 * Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0),
 * so `attnbench run` can take inputs from and hand outputs to numpy or
 * PyTorch. Arrays are float32 in C order; a float64 file is read and
 * converted, anything else ('>f4', Fortran order, other dtypes, truncated
 * data, a header that does not parse) is an ATTN_ERR_FORMAT with a message
 * naming the file and the problem.
 */
#ifndef ATTNBENCH_NPY_H
#define ATTNBENCH_NPY_H

#include <stddef.h>
#include <stdint.h>

#define ATTN_NPY_MAX_DIMS 8

struct attn_npy {
	int ndim;
	int64_t shape[ATTN_NPY_MAX_DIMS];
	float *data;   /* malloc'd, product(shape) floats */
	size_t elsize; /* bytes per element in the file: 4 (float32) or 8 (float64, converted) */
};

int attn_npy_read(const char *path, struct attn_npy *out, char *err, size_t errlen);
int attn_npy_write(const char *path, int ndim, const int64_t *shape, const float *data, char *err,
                   size_t errlen);
void attn_npy_free(struct attn_npy *a);

#endif /* ATTNBENCH_NPY_H */
