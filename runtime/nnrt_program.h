/* nnrt_program.h — the parts of the runtime only the standalone training
 * program uses (runtime/nnrt_data.c, runtime/nnrt_program.c): its data
 * readers, augmentation and shuffling, and the program itself. nnc copies
 * them into a C file that has a main, never into a library. */
#ifndef NNRT_PROGRAM_H
#define NNRT_PROGRAM_H

#include "nnrt.h"

/* ------------------------------------------------- data and training */

/* A table of numbers from a CSV file: `features` columns of inputs and one
 * label column, row by row. */
typedef struct NnrtTable {
  int64_t rows, features;
  int64_t width;   /* labels a row: 1, or a sequence's length for text */
  float *x;        /* rows * features */
  float *y;        /* rows * width */
  float *w;        /* rows per-sample weights, or NULL (nnrt_csv_load_weighted, nnrt_arrays.c) */
} NnrtTable;

/* Reads `path`. The label is the column named label_name in the header
 * row when label_name is set, else column label_col from 0 (-1: the last).
 * On error returns false with "path:line:column: message" in err; every
 * field must be a finite number. */
NNRT_API bool nnrt_csv_load(const char *path, const char *label_name, int label_col, bool header,
                   char delimiter, double scale, NnrtTable *t, char *err, size_t errlen);
/* The same with a column of per-sample weights, neither a feature nor the
 * label, into t->w: the column named weight_name in the header row, else
 * column weight_col from 0 (-1 and NULL: none). A weight must be a finite
 * number of at least 0 (an error names the line and column). */
NNRT_API bool nnrt_csv_load_weighted(const char *path, const char *label_name, int label_col, const char *weight_name,
                                     int weight_col, bool header, char delimiter, double scale, NnrtTable *t,
                                     char *err, size_t errlen);
/* Reads IDX files (the MNIST format): unsigned-byte samples of any shape
 * in `images`, one byte label each in `labels`; each pixel times scale.
 * Every size in the headers is checked against the file's length. With
 * labels NULL the samples alone (the labels are 0). */
NNRT_API bool nnrt_idx_load(const char *images, const char *labels, double scale, NnrtTable *t,
                            char *err, size_t errlen);
/* Reads NumPy .npy files (format 1.0 to 3.0, C order): samples x of any
 * shape, labels y with one or more a sample (width: a sequence's), each as
 * float32, float64, uint8, int32 or int64. Checked like the IDX reader;
 * y NULL: the samples alone (one label 0 a sample). */
NNRT_API bool nnrt_npy_load(const char *x, const char *y, double scale, NnrtTable *t, char *err,
                            size_t errlen);
/* Reads CIFAR-10 binary batches: `path` is one batch file, or the
 * directory of the official archive (its data_batch_1.bin ...
 * data_batch_5.bin). Records are a label byte and 3072 pixel bytes, plane
 * by plane (red, green, blue); samples come out as 32x32x3 images (HWC),
 * each pixel times scale. */
NNRT_API bool nnrt_cifar_load(const char *path, double scale, NnrtTable *t, char *err, size_t errlen);
/* Reads a text file as bytes for a character-level language model: row r
 * is bytes [r * stride, r * stride + steps) as token ids 0..255 (stride < 1:
 * steps, windows that do not overlap), and its labels are the bytes one
 * further on (the next character at every position). */
NNRT_API bool nnrt_text_load(const char *path, int64_t steps, int64_t stride, NnrtTable *t, char *err,
                             size_t errlen);
NNRT_API void nnrt_table_free(NnrtTable *t);
/* The mean and standard deviation (1 where it is 0) of each of `channels`
 * channels (the fastest-varying axis of a sample's features; channels ==
 * features: each feature) over rows [0, fit_rows): what a model's input
 * standardization (normalize.mean, normalize.std) is set to. */
NNRT_API void nnrt_standardize_stats(const NnrtTable *t, int64_t fit_rows, int64_t channels, double *mean,
                                     double *sd);
/* Seeded augmentation of n HWC images in place: a mirror image with
 * probability 1/2 when `flip`, and a shift by up to `pad` pixels each way
 * with zeros coming in (random crop of the image padded by `pad`). Sample
 * i's choices depend on (seed, first + i) only; tmp holds one image. */
NNRT_API void nnrt_augment(float *x, int64_t n, int64_t h, int64_t w, int64_t c, bool flip, int64_t pad,
                           uint64_t seed, uint64_t first, float *tmp);
/* perm[0..n) in a seeded random order that depends on `epoch`. */
NNRT_API void nnrt_shuffle(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch);
NNRT_API double nnrt_seconds(void);   /* a monotonic clock */

/* ---------------------------------------- the training program (nnrt_program.c) */

/* The standalone training program: nnc writes one constant NnrtProgram
 * from the train block and a main that calls nnrt_train_main; the flags
 * (--epochs, --save, ...) override it. docs/language.md describes what
 * the program does, prints and logs. */
typedef enum { NNRT_CSV, NNRT_IDX, NNRT_NPY, NNRT_CIFAR10, NNRT_TEXT } NnrtReader;
/* How the data's labels become the step's: a number to compare with 0.5
 * (binary) or to fit (values), a class id made one-hot, a class id as is. */
typedef enum { NNRT_FORM_BINARY, NNRT_FORM_VALUES, NNRT_FORM_ONEHOT, NNRT_FORM_SPARSE } NnrtLabelForm;
/* The metrics a train block lists, by name as the language spells them. */
typedef enum {
  NNRT_ACCURACY, NNRT_BINARY_ACCURACY, NNRT_CATEGORICAL_ACCURACY, NNRT_SPARSE_CATEGORICAL_ACCURACY,
  NNRT_PRECISION, NNRT_RECALL, NNRT_MSE, NNRT_MAE, NNRT_NMETRICS
} NnrtMetric;

/* A separate file of samples the program evaluates (validation, test):
 * the file (csv, cifar10, text) or x and y (idx, npy), NULL or "" for
 * none, and the csv reader's settings for it. */
typedef struct NnrtSource {
  const char *data, *x, *y;
  const char *label_name;
  int label_col;
  bool header;
  char delimiter;
  double scale;
  const char *w;                   /* npy: a file of per-sample weights, or NULL */
  const char *weight_name;         /* csv: the weights' column by name, or NULL */
  int weight_col;                  /* csv: else by number from 0 (-1: none) */
  const char *xs[16], *ys[16];     /* npy, several inputs or outputs: an array an input, one an output */
  int nxs, nys;
} NnrtSource;

typedef struct NnrtProgram {
  const NnrtModelDef *def;
  int reader;                      /* NnrtReader */
  const char *data, *x, *y;        /* the train block's files: data (csv, cifar10, text), or x and y (idx, npy) */
  const char *label_name;          /* csv: the label column's name in the header row, or NULL */
  int label_col;                   /* csv: else its number from 0 (-1: the last) */
  bool header;                     /* csv: the first row holds names */
  char delimiter;
  double scale;                    /* every input value times this */
  bool normalize;                  /* set the model's normalize.mean and .std from the training rows */
  int64_t features;                /* input values a sample */
  int64_t height, width, channels; /* an image input's shape, else 1, 1 and its last axis */
  int64_t labels;                  /* label values a sample in the data (a sequence's length, or 1) */
  int64_t classes;                 /* the output's last axis */
  int form;                        /* NnrtLabelForm */
  int64_t epochs, batch;
  uint64_t seed;
  double validation;               /* the fraction held out, from the end */
  bool shuffle, flip;
  int64_t crop;                    /* augmentation: shift by up to crop pixels; 0: none */
  int nmetrics;
  int metrics[8];                  /* NnrtMetric, in the order listed */
  bool has_stop, stop_val;         /* stop when [val_]METRIC OP VALUE */
  int stop_metric;                 /* -1: the loss, else NnrtMetric */
  int stop_op;                     /* '<', '>', 'l' (<=), 'g' (>=) */
  double stop_value;
  int64_t stride;                  /* text: row r starts at byte r * stride (0: the sequence's length) */
  NnrtSource val, test;            /* a validation file (instead of a fraction) and a test file */
  const char *summary;             /* the model's summary, printed at the start (NULL: none) */
  /* callbacks (nnrt_callbacks.c); a monitor is -1 for the loss, else an
   * NnrtMetric, of the held-out rows when its _val is set */
  bool has_early, early_val, restore_best;   /* stop plateau(...) */
  int early_metric;
  int64_t patience;
  double min_delta;
  bool has_reduce, reduce_val;               /* reduce_lr plateau(...) */
  int reduce_metric;
  int64_t reduce_patience, cooldown;
  double factor, min_lr, reduce_min_delta;
  bool has_best, best_val;                   /* save best(...) */
  int best_metric;
  const char *best_path;                     /* or NULL: --save-best's */
  bool prune;                                /* prune magnitude(...): the masks' final */
  double sparsity;                           /* sparsity, reached on a polynomial schedule */
  int64_t prune_begin, prune_end;            /* from epoch begin to end (from 1) */
  int nschedules;                            /* the rate's schedules, to show it */
  struct { int kind; double a, b; } schedules[4]; /* NnrtSchedule; its arguments in the order written */
  /* sample_weights true: each step takes the data's per-sample weights,
   * from the csv column weight_name or weight_col (-1: none) or the npy file w */
  bool sample_weights;
  const char *w, *weight_name;
  int weight_col;
  /* several inputs or outputs (npy): the arrays (xs, ys) of the training data */
  int ninputs, noutputs;
  NnrtSource arrays;
} NnrtProgram;

/* The schedules of the train block (compiler/train.c computes the rate the
 * step uses; nnrt_callbacks.c the same for the epoch line). */
typedef enum { NNRT_SCHEDULE_STEP, NNRT_SCHEDULE_EXPONENTIAL, NNRT_SCHEDULE_COSINE, NNRT_SCHEDULE_WARMUP } NnrtSchedule;

/* ------------------------------------------- callbacks (nnrt_callbacks.c) */

/* Their state after an epoch: what a checkpoint keeps (as the
 * NNRT_CALLBACK_STATE numbers after the program's sums) so that a resumed
 * run decides as a straight one. An epoch of -1: none yet. */
typedef struct NnrtCallbacks {
  double early_best;            /* stop plateau: the best value, its epoch, epochs since */
  int64_t early_epoch, early_wait;
  double reduce_best;           /* reduce_lr plateau: the best value (when reduce_has) */
  bool reduce_has;
  int64_t reduce_wait, cooldown_left;
  double scale;                 /* the rate the schedules start from: the optimizer's times this */
  double best;                  /* save best: the best value, its epoch */
  int64_t best_epoch;
} NnrtCallbacks;
enum { NNRT_CALLBACK_STATE = 10 };
/* What an epoch's end decided. */
typedef struct NnrtEvents {
  bool early_improved, stop, reduced, best_improved;
  double old_lr, new_lr;
} NnrtEvents;
NNRT_API void nnrt_callbacks_init(NnrtCallbacks *c);
NNRT_API void nnrt_callbacks_store(const NnrtCallbacks *c, double *out);
NNRT_API bool nnrt_callbacks_restore(NnrtCallbacks *c, const double *in); /* false: not a state */
/* Whether the monitor (-1: the loss, else an NnrtMetric) improves upwards. */
NNRT_API bool nnrt_monitor_higher(int metric);
/* The callbacks after epoch `epoch` (from 0), given the values of the
 * early stop's, the reduction's and the best checkpoint's monitors, and
 * the rate before any reduction. */
NNRT_API void nnrt_callbacks_epoch(const NnrtProgram *p, NnrtCallbacks *c, int64_t epoch, const double *values,
                                   double base_lr, NnrtEvents *ev);
/* restore_best's weights: "PATH.best" next to a checkpoint PATH (NULL
 * when out of memory, said); a copy of from's tensors into to, the
 * optimizer's slots too when `slots` (not the counters); and a model
 * to keep them in, with those of c's best epoch from LOAD.best when a
 * checkpoint `load` has one (NULL after an error, said). */
NNRT_API char *nnrt_best_path(const char *path);
NNRT_API void nnrt_copy_weights(NnrtModel *to, const NnrtModel *from, bool slots);
NNRT_API NnrtModel *nnrt_best_weights(const NnrtProgram *p, const NnrtCallbacks *c, const char *load, uint64_t seed);
/* The rate of epoch `epoch` the schedules give from `lr`. */
NNRT_API double nnrt_schedule_lr(const NnrtProgram *p, double lr, int64_t epoch);
/* Draws "12/47 [=====>....] - ETA 3.1s - loss: 0.4321" over the line. */
NNRT_API void nnrt_progress_bar(int64_t done, int64_t total, double eta_seconds, double loss);

/* A text model's sample after training (nnrt_predict.c): `generate`
 * characters after the prompt (NULL: the first line of t's text from row
 * `from`), T the model's sequence length, printed with non-printing bytes
 * escaped. False after an error, said. */
NNRT_API bool nnrt_sample_text(NnrtModel *m, const NnrtTable *t, int64_t from, int64_t T, const char *prompt,
                               int64_t generate, double temperature, uint64_t seed);

/* ----------------------------------------------- pruning (nnrt_prune.c) */

/* The sparsity the masks have during epoch `epoch` (from 0): none before
 * begin, `sparsity` from end on, and between them Zhu and Gupta's
 * polynomial s (1 - (1 - t)^3), t the fraction of the schedule's epochs
 * begun. */
NNRT_API double nnrt_prune_target(const NnrtProgram *p, double sparsity, int64_t epoch);
/* Each mask (the slot prune.mask.W) to zero the smallest `sparsity` of its
 * weight W by absolute value (ties: the first), one elsewhere, and W times
 * its mask. False, said in m->error, when out of memory. */
NNRT_API bool nnrt_prune(NnrtModel *m, double sparsity);
/* The fraction of the masked weights that are zero, and how many there are. */
NNRT_API double nnrt_pruned(const NnrtModel *m, int64_t *weights);
/* The masks of from into to (the weights of the epoch restored with them). */
NNRT_API void nnrt_copy_masks(NnrtModel *to, const NnrtModel *from);
/* Before training: the target (*sparsity, --sparsity's when `given`, else
 * a checkpoint `load`'s, else the program's), kept in m for its
 * checkpoints and said when it is not the train block's; a loaded model's
 * masks checked (0 or 1, the weight 0 where the mask is). False after an
 * error, said. */
NNRT_API bool nnrt_prune_start(const NnrtProgram *p, NnrtModel *m, const char *load, double *sparsity, bool given,
                               bool quiet);
/* After training `epochs`: the fraction pruned, and a warning when the
 * run ended before the schedule did. */
NNRT_API void nnrt_prune_end(const NnrtProgram *p, const NnrtModel *m, double sparsity, int64_t epochs, bool quiet);

/* Trains p->def's model as the program says, with argv's flags; returns
 * main's exit status (0; 1 for an error; 128 + the signal when SIGINT or
 * SIGTERM stopped it, after saving where it was). */
NNRT_API int nnrt_train_main(const NnrtProgram *p, int argc, char **argv);

/* ------------------------------------------- weights (nnrt_arrays.c) */

/* The per-sample weights of an npy file `path` into t->w: one value a
 * sample (shape (n,) or (n, 1)) for each of t's rows, finite and >= 0. */
NNRT_API bool nnrt_npy_weights(const char *path, NnrtTable *t, char *err, size_t errlen);

/* A model with several inputs or outputs reads an npy array for each
 * (s->xs, s->ys, in the descriptor's order), each checked against its
 * input's size (token ids against the vocabulary) or its label's size and
 * kind, all with the same number of samples; they are packed into one
 * table (a row: every input's values, then every label's), with s->w's
 * weights. `what`: "training", "validation" or "test", for errors. */
NNRT_API bool nnrt_arrays_load(const NnrtModelDef *def, const NnrtSource *s, const char *what, NnrtTable *t, char *err,
                               size_t errlen);
/* Label values a sample of every output together. */
NNRT_API int64_t nnrt_arrays_width(const NnrtModelDef *def);
/* Rows perm[start..start+n) of such a table into x and y (8 * n * the
 * row's values bytes each), each input and label in its type, and where
 * each starts (nnrt_arrays_views). */
NNRT_API void nnrt_arrays_gather(const NnrtModelDef *def, const NnrtTable *t, const int64_t *perm, int64_t start,
                                 int64_t n, void *x, void *y);
NNRT_API void nnrt_arrays_views(const NnrtModelDef *def, void *x, void *y, int64_t n, const void **inputs,
                                const void **labels);
/* --x, --y, --validation-x ... of such a model: each adds a file to its
 * list in s (training, validation, test), the first of each flag
 * replacing the train block's. 1: done (value NULL: it is such a flag);
 * 0: not such a flag; -1: an error (said). */
NNRT_API int nnrt_arrays_flag(const char *flag, const char *value, NnrtSource *const s[3], unsigned *listed);

/* ------------------------------------------ prediction (nnrt_predict.c) */

/* Reads the samples of `path` for prediction with p's preprocessing
 * (scale): csv with or without the label column (decided by the column
 * count), an idx or npy file of samples, or a CIFAR-10 batch. */
NNRT_API bool nnrt_predict_load(const NnrtProgram *p, const char *path, NnrtTable *t, char *err, size_t errlen);
/* Writes m's first output for every row of t to `out`, in batches of
 * `batch`: NumPy .npy (the output's type, shape [rows, ...]) when its
 * name ends in .npy, else CSV (one row a sample, %.9g). */
NNRT_API bool nnrt_predict_write(const NnrtProgram *p, NnrtModel *m, const NnrtTable *t, int64_t batch,
                                 const char *out, char *err, size_t errlen);
/* The program's --predict: the model of checkpoint or weights file `load`
 * on the samples of `in`, written to `out`; main's exit status. */
NNRT_API int nnrt_predict_main(const NnrtProgram *p, const char *load, const char *in, const char *out, int64_t batch,
                               int threads, uint64_t seed, bool quiet);
/* The lines of the program's --help about the validation and test files
 * and --predict. */
NNRT_API void nnrt_usage_files(const NnrtProgram *p, FILE *f);

/* ------------------------------------------------ pictures (nnrt_viz.c) */

/* Training curves as SVG: `rows` epochs of `ncols` series (values[r *
 * ncols + c], NaN where none), named as the log's columns ("loss",
 * "accuracy", "val_loss", ...): a panel per series but the val_ ones, each
 * drawn dashed in its twin's panel. False with "path: why" in err. */
NNRT_API bool nnrt_svg_curves(const char *path, const char *title, int rows, int ncols, const char *const *names,
                              const double *values, char *err, size_t errlen);
/* A confusion matrix as SVG: counts[t * k + p] samples of true class t
 * predicted p, each cell shaded by its share of the true class's row. */
NNRT_API bool nnrt_svg_confusion(const char *path, const char *title, int k, const int64_t *counts, char *err,
                                 size_t errlen);
/* The classes of the program's --confusion: the output's, 2 for one
 * binary label, 0 where there are none (regression, several binary labels). */
NNRT_API int64_t nnrt_confusion_classes(const NnrtProgram *p);
/* The training curves so far: rows of ncols values (the program's --plot). */
typedef struct NnrtCurves {
  double *v;
  int rows, cap;
} NnrtCurves;
/* Appends an epoch's row (ncols values named `names`) to c and draws every
 * row so far with nnrt_svg_curves. */
NNRT_API bool nnrt_curves_add(NnrtCurves *c, const char *path, const char *title, int ncols, const char *const *names,
                              const double *row, char *err, size_t errlen);
/* An 8-bit PNG, gray (channels 1) or RGB (3), rows top down. */
NNRT_API bool nnrt_png(const char *path, int width, int height, int channels, const unsigned char *pixels, char *err,
                       size_t errlen);

#endif
