/* nnrt.h — the runtime that compiled nnc models use (C11).
 *
 * Small on purpose: counter-based random numbers, parameter initializers,
 * the scalar functions generated code calls, a CSV reader with positioned
 * errors, shuffling, and the training loop's progress line. The standalone
 * C file nnc writes includes this header and nnrt.c inline, so it builds
 * with `cc -O2 train.c -o train -lm` and nothing else. The compiler's
 * reference evaluator uses the same functions, so a seed gives the same
 * numbers in both.
 */
#ifndef NNRT_H
#define NNRT_H

/* Linkage of the runtime's functions: the standalone C files nnc writes
 * define NNRT_API as static, so several compiled models link into one
 * program without clashing. */
#ifndef NNRT_API
#define NNRT_API
#endif

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Philox4x32-10: 64 random bits for (seed, stream, counter). */
NNRT_API uint64_t nnrt_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter);
/* Uniform in [0, 1) with 53 random bits. */
NNRT_API double nnrt_uniform(uint64_t seed, uint64_t stream, uint64_t counter);
/* Standard normal, Box-Muller over two uniforms (counters 2i and 2i+1). */
NNRT_API double nnrt_normal(uint64_t seed, uint64_t stream, uint64_t i);

/* Initializers, by the names of the .nn language. */
typedef enum {
  NNRT_ZEROS, NNRT_ONES, NNRT_CONSTANT, NNRT_UNIFORM, NNRT_NORMAL,
  NNRT_GLOROT_UNIFORM, NNRT_GLOROT_NORMAL, NNRT_HE_UNIFORM, NNRT_HE_NORMAL,
  NNRT_LECUN_UNIFORM, NNRT_LECUN_NORMAL,
} NnrtInit;
NNRT_API int nnrt_init_from_name(const char *name);   /* -1 when unknown */
/* Element i of a tensor of shape dims[rank] filled by `init` (args: the
 * constant, uniform's low/high or normal's mean/stddev). */
NNRT_API double nnrt_init_value(NnrtInit init, const double *args, const int64_t *dims, int rank,
                       uint64_t seed, uint64_t stream, uint64_t i);

/* Parallel loops for generated code: NNRT_PARFOR(nt, work, loops) splits
 * the outer loop among nt threads (nt <= 0: OpenMP's default) when the
 * work is large enough to pay for waking them, and otherwise runs the
 * loops as they are, without entering an OpenMP region (which costs near
 * half a microsecond even when it runs on one thread). NNRT_PARFOR2 splits
 * two collapsed loops; NNRT_PARALLEL(parts, loop) one iteration a thread.
 * Every output element is computed by one thread in a fixed order, so
 * results do not depend on the thread count. Without OpenMP (no
 * -fopenmp) the loops run serially. */
#ifdef _OPENMP
#include <omp.h>
#define NNRT_PRAGMA(x) _Pragma(#x)
#define NNRT_SERIAL(nt, work) ((work) < 32768 || nnrt_threads(nt) == 1)
/* the loops as they are when `serial`, else under `omp parallel for clauses` */
#define NNRT_SPLIT(serial, clauses, ...)                       \
  {                                                            \
    if (serial) {                                              \
      __VA_ARGS__                                              \
    } else {                                                   \
      NNRT_PRAGMA(omp parallel for clauses)                    \
      __VA_ARGS__                                              \
    }                                                          \
  }
#define NNRT_PARFOR(nt, work, ...) \
  NNRT_SPLIT(NNRT_SERIAL(nt, work), num_threads(nnrt_threads(nt)) schedule(static), __VA_ARGS__)
#define NNRT_PARFOR2(nt, work, ...) \
  NNRT_SPLIT(NNRT_SERIAL(nt, work), collapse(2) num_threads(nnrt_threads(nt)) schedule(static), __VA_ARGS__)
#define NNRT_PARALLEL(parts, ...) \
  NNRT_SPLIT((parts) <= 1, num_threads((int)(parts)) schedule(static, 1), __VA_ARGS__)
#else
#define NNRT_PARFOR(nt, work, ...) { __VA_ARGS__ }
#define NNRT_PARFOR2(nt, work, ...) { __VA_ARGS__ }
#define NNRT_PARALLEL(parts, ...) { __VA_ARGS__ }
#endif
NNRT_API int nnrt_threads(int nt);   /* nt, or the default for nt <= 0 */
/* How many parts to split `work` into for NNRT_PARALLEL: one per thread
 * when the work pays for waking them, never more than `most`. */
NNRT_API int64_t nnrt_parts(int nt, int64_t work, int64_t most);

/* Matrix products for generated code: C[M x N] = A[M x K] B[K x N], plus
 * C when `add`; A(i, p) is A[i * ars + p * acs], B(p, j) is
 * B[p * brs + j * bcs], C is row-major with row stride ldc. Each element
 * sums its products in an order fixed by K alone, whatever the thread
 * count. The float version is blocked and vectorized (AVX2+FMA where the
 * code is compiled for it) and needs nnrt_sgemm_scratch(nt) floats of
 * scratch. An epilogue (or NULL) is called on each block of C, rows
 * [r0, r1) and columns [c0, c1), as soon as the block is final, by the
 * thread that computed it, while the block is still in cache: the
 * elementwise work that follows a product (a bias, an activation, an
 * optimizer update) runs without another pass over memory. */
typedef struct NnrtEpilogue {
  void (*fn)(const void *ctx, int64_t r0, int64_t r1, int64_t c0, int64_t c1);
  const void *ctx;
} NnrtEpilogue;
NNRT_API size_t nnrt_sgemm_scratch(int nt);
NNRT_API void nnrt_sgemm(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars,
                         int64_t acs, const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc,
                         bool add, float *scratch, const NnrtEpilogue *epi);
NNRT_API void nnrt_dgemm(int nt, int64_t M, int64_t N, int64_t K, const double *A, int64_t ars,
                         int64_t acs, const double *B, int64_t brs, int64_t bcs, double *C, int64_t ldc,
                         bool add, const NnrtEpilogue *epi);

/* A training step's new f32 parameters and states, stored: values below
 * the smallest normal float (2^-126) become zero, so that what persists
 * from step to step is never subnormal. Subnormal floats cost about a
 * hundred cycles an operation on x86, and Adam's moments of a unit that
 * has stopped learning decay into them and stay there for thousands of
 * steps; flushing them never changes what a model learns. The reference
 * evaluator stores its updates the same way. */
NNRT_API void nnrt_store_f32(float *dst, const float *src, int64_t n);
static inline float nnrt_flush_f32(float x) { return x * (float)(fabsf(x) >= 0x1p-126f); }

/* Scalar functions as the reference evaluator computes them. */
NNRT_API double nnrt_sigmoid(double x);

/* Memory for generated code: buffers aligned to 64 bytes in one workspace
 * that grows to the largest batch seen. Running out of memory ends the
 * program with a message (exit status 1). */
NNRT_API size_t nnrt_align(size_t bytes);
NNRT_API char *nnrt_workspace(char **ws, size_t *size, size_t need);
NNRT_API void *nnrt_alloc(size_t bytes);   /* zeroed, 64-byte aligned; free with free() */
NNRT_API void nnrt_out_of_memory(void);


/* ------------------------------------------------------- checkpoints */

/* A parameter or state tensor of a compiled model, as its code lists it. */
typedef struct NnrtTensorInfo {
  const char *name;       /* "dense1.W", "adam.m.dense1.W" */
  int elem_size, rank;    /* 4 (f32) or 8 (f64) */
  int64_t dims[8];
  int init;               /* NnrtInit */
  double init_args[2];
} NnrtTensorInfo;

/* Writes tensors[i] (data[i]) and the step and epoch counters as a
 * safetensors file: to PATH.tmp, flushed to disk, then renamed over PATH,
 * so an interrupted save never destroys the previous checkpoint. */
NNRT_API bool nnrt_save(const char *path, const NnrtTensorInfo *tensors, void *const *data, int n,
               int64_t step, int64_t epoch, char *err, size_t errlen);
/* Reads a safetensors file into data[i], checking before anything is
 * written that every tensor is there with its dtype and shape, that the
 * header and offsets fit the file, and that nothing is left over. On error
 * returns false with "path: message" (a byte offset where it helps). */
NNRT_API bool nnrt_load(const char *path, const NnrtTensorInfo *tensors, void *const *data, int n,
               int64_t *step, int64_t *epoch, char *err, size_t errlen);

/* ------------------------------------------------- data and training */

/* A table of numbers from a CSV file: `features` columns of inputs and one
 * label column, row by row. */
typedef struct NnrtTable {
  int64_t rows, features;
  int64_t width;   /* labels a row: 1, or a sequence's length for text */
  float *x;        /* rows * features */
  float *y;        /* rows * width */
} NnrtTable;

/* Reads `path`. The label is the column named label_name in the header
 * row when label_name is set, else column label_col from 0 (-1: the last).
 * On error returns false with "path:line:column: message" in err; every
 * field must be a finite number. */
NNRT_API bool nnrt_csv_load(const char *path, const char *label_name, int label_col, bool header,
                   char delimiter, double scale, NnrtTable *t, char *err, size_t errlen);
/* Reads IDX files (the MNIST format): unsigned-byte samples of any shape
 * in `images`, one byte label each in `labels`; each pixel times scale.
 * Every size in the headers is checked against the file's length. */
NNRT_API bool nnrt_idx_load(const char *images, const char *labels, double scale, NnrtTable *t,
                            char *err, size_t errlen);
/* Reads NumPy .npy files (format 1.0 to 3.0, C order): samples x of any
 * shape, labels y with one or more a sample (width: a sequence's), each as
 * float32, float64, uint8, int32 or int64. Checked like the IDX reader. */
NNRT_API bool nnrt_npy_load(const char *x, const char *y, double scale, NnrtTable *t, char *err,
                            size_t errlen);
/* Reads CIFAR-10 binary batches: `path` is one batch file, or the
 * directory of the official archive (its data_batch_1.bin ...
 * data_batch_5.bin). Records are a label byte and 3072 pixel bytes, plane
 * by plane (red, green, blue); samples come out as 32x32x3 images (HWC),
 * each pixel times scale. */
NNRT_API bool nnrt_cifar_load(const char *path, double scale, NnrtTable *t, char *err, size_t errlen);
/* Reads a text file as bytes for a character-level language model: row r
 * is bytes [r * steps, (r + 1) * steps) as token ids 0..255, and its labels
 * are the bytes one further on (the next character at every position). */
NNRT_API bool nnrt_text_load(const char *path, int64_t steps, NnrtTable *t, char *err, size_t errlen);
NNRT_API void nnrt_table_free(NnrtTable *t);
/* Standardizes each of `channels` channels (the fastest-varying axis of a
 * sample's features; channels == features: each feature) over rows
 * [0, fit_rows) to mean 0 and standard deviation 1, and applies the same
 * transform to every row. */
NNRT_API void nnrt_standardize(NnrtTable *t, int64_t fit_rows, int64_t channels);
/* Seeded augmentation of n HWC images in place: a mirror image with
 * probability 1/2 when `flip`, and a shift by up to `pad` pixels each way
 * with zeros coming in (random crop of the image padded by `pad`). Sample
 * i's choices depend on (seed, first + i) only; tmp holds one image. */
NNRT_API void nnrt_augment(float *x, int64_t n, int64_t h, int64_t w, int64_t c, bool flip, int64_t pad,
                           uint64_t seed, uint64_t first, float *tmp);
/* perm[0..n) in a seeded random order that depends on `epoch`. */
NNRT_API void nnrt_shuffle(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch);
NNRT_API double nnrt_seconds(void);   /* a monotonic clock */

#endif
