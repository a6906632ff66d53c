/* nnrt.h — the runtime that compiled nnc models use (C11).
 *
 * Small on purpose: counter-based random numbers, parameter initializers,
 * the scalar functions generated code calls, a CSV reader with positioned
 * errors, shuffling, the training loop's progress line, and a compiled
 * model's API (create, checkpoints, steps, generation) as generic
 * functions over a per-model table (NnrtModelDef). The standalone
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

/* Whether x replaces m as a running maximum (max over axes, argmax, max
 * pooling, in the evaluator, generated C and the runtime): a greater
 * number, or the first NaN, which then stays, so that a NaN anywhere gives
 * NaN; among equal numbers the first stays. */
#define NNRT_MORE(x, m) ((x) > (m) || ((x) != (x) && (m) == (m)))

/* The same for code that cannot use the pragmas (the LLVM backend):
 * body(ctx, lo, hi) over [0, count) in parts, one a thread, or over all
 * of it at once when the work is small or one thread runs. */
NNRT_API void nnrt_parallel_for(int nt, int64_t work, int64_t count,
                                void (*body)(const void *ctx, int64_t lo, int64_t hi), const void *ctx);

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
 * optimizer update) runs without another pass over memory.
 *
 * The GEMM passes coordinates within its own C. The epilogues nnc
 * generates expect ABSOLUTE coordinates in the whole result of their
 * kernel, seen as a matrix whose columns are its last axis and whose rows
 * are all other axes flattened (element (r, c) at r * cols + c; a scalar
 * is one row of one column): whoever runs a product on a part of a larger
 * result shifts the coordinates first, as the convolutions below do. Their
 * context keeps `cols`, the length of the last axis, itself. */
typedef struct NnrtEpilogue {
  void (*fn)(const void *ctx, int64_t r0, int64_t r1, int64_t c0, int64_t c1);
  const void *ctx;
} NnrtEpilogue;
/* An epilogue over a whole result of rows x cols, rows split among threads. */
NNRT_API void nnrt_epilogue_rows(int nt, int64_t rows, int64_t cols, const NnrtEpilogue *epi);
NNRT_API size_t nnrt_sgemm_scratch(int nt);
NNRT_API void nnrt_sgemm(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars,
                         int64_t acs, const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc,
                         bool add, float *scratch, const NnrtEpilogue *epi);
NNRT_API void nnrt_dgemm(int nt, int64_t M, int64_t N, int64_t K, const double *A, int64_t ars,
                         int64_t acs, const double *B, int64_t brs, int64_t bcs, double *C, int64_t ldc,
                         bool add, const NnrtEpilogue *epi);

/* Convolution and pooling over NHWC images for generated code. A window's
 * geometry is constant in a compiled model, so generated code keeps it in
 * a static const NnrtWindow and passes the batch n apart: images
 * x[n, h, w, c], results y[n, oh, ow, f] (f = c for pooling), windows of
 * kh x kw taps with strides sh, sw, padding ph, pw (zeros for a
 * convolution, left out for pooling) and dilation dh, dw (1 for pooling);
 * a convolution's weights are w[kh, kw, c / groups, f], its groups split
 * c and f alike. Every field is a plain int64_t, so that a backend that
 * builds the constant as data needs no layout rules but C's. */
typedef struct NnrtWindow {
  int64_t h, w, c, oh, ow, f;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t groups;
  int64_t chunk;   /* convolution: samples whose columns the scratch holds at once */
} NnrtWindow;

/* Convolutions run as products over a column matrix (im2col): for each
 * group and each `chunk` samples, P = samples * oh * ow rows of
 * R = kh * kw * (c / groups) taps. The scratch holds, in elements of the
 * type:
 *   conv2d, conv2d_bx: min(n, chunk) * oh * ow * R columns, then for f32
 *                      nnrt_sgemm_scratch(nt) for the product;
 *   conv2d_bw:         the same columns, then NNRT_CONV_SLICES * R * f
 *                      partial gradients, then for f32
 *                      NNRT_CONV_SLICES * nnrt_sgemm_scratch(1).
 * conv2d:    y = conv(x, w); the epilogue (or NULL) runs on each block of
 *            y as it is final, in absolute coordinates of y[n*oh*ow, f].
 * conv2d_bx: dx[n, h, w, c] from dy[n, oh, ow, f] and w; the epilogue on
 *            each row of dx[n*h*w, c] once its sample is final.
 * conv2d_bw: dw[kh, kw, c / groups, f] from x and dy, the sum over pixels
 *            in NNRT_CONV_SLICES fixed slices (one thread each) added in
 *            order; the epilogue on each row of dw[R, f].
 * The order of every sum is fixed by the geometry, so the bits do not
 * depend on the thread count. */
enum { NNRT_CONV_SLICES = 4 };
/* Their linkage, NNRT_API unless the includer says otherwise: the
 * standalone C files nnc writes make them static inline and always
 * inlined, so that each call, whose geometry is a constant, compiles to
 * code specialized for it (loops over a few channels unrolled, the
 * products' sizes constants the GEMM is specialized for). */
#ifndef NNRT_WINDOW_API
#define NNRT_WINDOW_API NNRT_API
#endif
NNRT_WINDOW_API void nnrt_conv2d_f32(int nt, int64_t n, const NnrtWindow *g, const float *x,
                                     const float *w, float *y, float *scratch, const NnrtEpilogue *epi);
NNRT_WINDOW_API void nnrt_conv2d_f64(int nt, int64_t n, const NnrtWindow *g, const double *x,
                                     const double *w, double *y, double *scratch, const NnrtEpilogue *epi);
NNRT_WINDOW_API void nnrt_conv2d_bx_f32(int nt, int64_t n, const NnrtWindow *g, const float *dy,
                                        const float *w, float *dx, float *scratch,
                                        const NnrtEpilogue *epi);
NNRT_WINDOW_API void nnrt_conv2d_bx_f64(int nt, int64_t n, const NnrtWindow *g, const double *dy,
                                        const double *w, double *dx, double *scratch,
                                        const NnrtEpilogue *epi);
NNRT_WINDOW_API void nnrt_conv2d_bw_f32(int nt, int64_t n, const NnrtWindow *g, const float *x,
                                        const float *dy, float *dw, float *scratch,
                                        const NnrtEpilogue *epi);
NNRT_WINDOW_API void nnrt_conv2d_bw_f64(int nt, int64_t n, const NnrtWindow *g, const double *x,
                                        const double *dy, double *dw, double *scratch,
                                        const NnrtEpilogue *epi);

/* Pooling and its gradients, `op` one of NnrtPool:
 *   NNRT_MAXPOOL:   y = the first maximum of each window of a (window order),
 *                   NaN when the window holds one (NNRT_MORE);
 *   NNRT_AVGPOOL:   y = the mean of each window's taps inside a;
 *   NNRT_MAXPOOL_B: y[n, h, w, c] = dy (b) sent to the first maximum (or NaN) of a;
 *   NNRT_AVGPOOL_B: y[n, h, w, c] = dy (a) spread evenly over each window.
 * b is unused (may be NULL) except by NNRT_MAXPOOL_B. */
typedef enum { NNRT_MAXPOOL, NNRT_AVGPOOL, NNRT_MAXPOOL_B, NNRT_AVGPOOL_B } NnrtPool;
NNRT_WINDOW_API void nnrt_pool_f32(int nt, int64_t n, int op, const NnrtWindow *g, const float *a,
                                   const float *b, float *y);
NNRT_WINDOW_API void nnrt_pool_f64(int nt, int64_t n, int op, const NnrtWindow *g, const double *a,
                                   const double *b, double *y);

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

/* --------------------------------------------------- compiled models */

/* A backend writes for each model M only what depends on its graphs: the
 * table of its tensors, its descriptor, the run and arena functions of its
 * graphs, one constant NnrtModelDef, and exported one-line wrappers
 * (M_create calls nnrt_model_create(&M_def, seed), M_save calls
 * nnrt_model_save, and so on). Everything else, the same for every model,
 * is here, so that every backend builds the same library.
 *
 * The layout is plain on purpose, for backends that lay the table out
 * themselves: pointers, int32, int64, double and function pointers, in the
 * order written, with natural alignment. */

/* An instance. Its tensors are one array of pointers, the parameters
 * (params[0..nparams)) then the states (states == params + nparams), each
 * tensor zeroed and 64-byte aligned. A run function reads params, states,
 * step, epoch, seed, lr and threads, keeps its buffers in ws (grown with
 * nnrt_workspace), and leaves the loss (training and evaluation) and
 * pointers to its outputs (into ws, valid until the next run). */
typedef struct NnrtModel {
  const struct NnrtModelDef *def;
  void **params, **states;
  int64_t step, epoch;   /* steps taken; epochs done (kept by a checkpoint) */
  uint64_t seed;
  int threads;           /* 0: OpenMP's default */
  double lr, loss;
  const void *out[16];
  char *ws;
  size_t ws_size;
} NnrtModel;

/* One pass of a graph over a batch of n samples (label NULL for inference). */
typedef void NnrtRunFn(NnrtModel *m, int64_t n, const void *const *inputs, const void *label);
/* The workspace bytes that pass needs at `threads` threads. */
typedef size_t NnrtArenaFn(int64_t n, int threads);

enum { NNRT_TRAIN, NNRT_EVAL, NNRT_INFER };   /* index of run[] and arena[] */

typedef struct NnrtModelDef {
  const char *name;
  int32_t nparams, nstates;
  const NnrtTensorInfo *tensors;   /* the parameters, then the states */
  double base_lr;                  /* the optimizer's rate; the schedules start from it */
  NnrtRunFn *run[3];               /* training step, evaluation, inference; NULL when absent */
  NnrtArenaFn *arena[3];
  const void *desc;                /* the model's NnModelDesc */
  /* For generation, a language model (one input of token ids [T], a first
   * output of scores [T, classes], position t's for the token after t):
   * gen_steps T (0 for any other model), gen_classes, gen_probabilities 1
   * when the scores are probabilities (from a softmax) and 0 for logits,
   * gen_dtype 0 for f32 scores, 1 for f64. */
  int64_t gen_steps, gen_classes;
  int32_t gen_probabilities, gen_dtype;
} NnrtModelDef;

/* A new instance: every tensor from its initializer, parameter i drawing
 * from (seed, stream i), state i from (seed, stream 2^20 + i). */
NNRT_API NnrtModel *nnrt_model_create(const NnrtModelDef *def, uint64_t seed);
NNRT_API void nnrt_model_free(NnrtModel *m);
/* Checkpoints (nnrt_save, nnrt_load): every tensor, the step and the epoch.
 * 0, or -1 with the reason in err; a failed load changes nothing. */
NNRT_API int nnrt_model_save(NnrtModel *m, const char *path, char *err, size_t errlen);
NNRT_API int nnrt_model_load(NnrtModel *m, const char *path, char *err, size_t errlen);
/* Copies parameter or state `name` out or in; bytes must be its exact
 * size. 0, or -1 for no such tensor. */
NNRT_API int nnrt_model_get_param(NnrtModel *m, const char *name, void *out, size_t bytes);
NNRT_API int nnrt_model_set_param(NnrtModel *m, const char *name, const void *in, size_t bytes);
/* A training step (the step counter first counts it) or an evaluation:
 * the batch's loss. Inference: the first output. */
NNRT_API double nnrt_model_train_step(NnrtModel *m, const void *const *inputs, const void *label, int64_t n);
NNRT_API double nnrt_model_evaluate(NnrtModel *m, const void *const *inputs, const void *label, int64_t n);
NNRT_API const void *nnrt_model_predict(NnrtModel *m, const void *const *inputs, int64_t n);
/* The largest arena of the model's graphs for n samples; what m holds. */
NNRT_API size_t nnrt_model_arena_bytes(const NnrtModelDef *def, int64_t n, int threads);
NNRT_API size_t nnrt_model_workspace_bytes(const NnrtModel *m);
NNRT_API void nnrt_model_set_threads(NnrtModel *m, int threads);
NNRT_API void nnrt_model_set_lr(NnrtModel *m, double lr);
/* Continues prompt[0..len) by count tokens into out, each predicted from
 * the last T tokens so far (fewer at the start: the rest of the window is
 * 0, which a causal model does not see) at position L - 1: the largest
 * score at temperature 0, else a draw from softmax(s / temperature), s =
 * log p for probabilities, from nnrt_uniform(seed, 0x67656e, i). 0, or -1
 * for another kind of model or bad arguments. */
NNRT_API int nnrt_model_generate(NnrtModel *m, const int32_t *prompt, int64_t len, int64_t count,
                                 double temperature, uint64_t seed, int32_t *out);

#endif
