/* nnrt_program.c — the standalone training program (see nnrt.h).
 *
 * nnc writes a train block as one constant NnrtProgram and a main that
 * calls nnrt_train_main; everything a run does is here, as plain C over
 * the model API: the flags, the data and its checks, the held-out split,
 * shuffling and augmentation, the epochs with their progress line, log
 * and metrics, the stop rule, checkpoints (at the end, every N epochs, and
 * on SIGINT or SIGTERM at the next step boundary with the place in the
 * epoch, so that a resumed run goes on exactly as a straight one), and
 * the end of a diverging run before it saves anything. Only programs use
 * it: nnc copies it into a C file with a main, never into a library.
 */
#include "nnrt_program.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const nnrt_metric_names[NNRT_NMETRICS] = {
  "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
  "precision", "recall", "mse", "mae",
};

/* The running sums of an epoch (kept in a checkpoint's progress). */
enum { S_LOSS, S_SAMPLES, S_CORRECT, S_POSITIONS, S_TP, S_FP, S_FN, S_SQUARES, S_ABS, S_VALUES, NSUMS };

/* The run: the program's settings after the flags. */
typedef struct Run {
  const NnrtProgram *p;
  const NnModelDesc *desc;
  const char *data, *x, *y, *save, *save_weights, *save_sparse, *load, *log, *prompt;
  const char *plot, *confusion;      /* --plot FILE.svg, --confusion FILE.svg (nnrt_viz.c) */
  int64_t *counts;                   /* the confusion matrix tally() adds to, or NULL */
  int64_t epochs, batch, save_every, generate;
  uint64_t seed;
  bool seed_given, sparsity_given, quiet, check_finite;
  double validation, lr, temperature, sparsity; /* sparsity: the masks' final (--sparsity) */
  int threads;
  NnrtSource val, test;          /* the validation and test files after the flags */
  const char *predict, *output;  /* --predict FILE --output FILE */
  const char *training_flag;     /* the first flag given that only training reads */
  bool val_fraction_given, val_file_given;
  int64_t patience;                  /* --patience, or -1 */
  bool no_early, no_reduce;          /* --no-early-stop, --no-reduce-lr */
  const char *save_best;             /* --save-best */
  const char *w, *weight_name;       /* the training data's weights: --w FILE, --weight COLUMN */
  int weight_col;
  NnrtSource arrays;                 /* several inputs or outputs: the training arrays */
  unsigned listed;                   /* the lists of arrays the flags have replaced */
} Run;

/* A model with several inputs or outputs (read from npy arrays). */
static bool multi(const NnrtProgram *p) { return p->ninputs > 1 || p->noutputs > 1; }

static volatile sig_atomic_t nnrt_stop_signal;
static void nnrt_on_signal(int sig) { nnrt_stop_signal = sig; }

static const char *nnrt_patience_text(const NnrtProgram *p) {
  static char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)p->patience);
  return buf;
}

static void usage(const Run *r, FILE *f) {
  const NnrtProgram *p = r->p;
  fprintf(f, "usage: %s [options]\nTrains model %s as its train block says; the options override it.\n", "train",
          p->def->name);
  for (int64_t c = 0; c < p->def->nclass_weights; c++) /* the train block's class_weight */
    fprintf(f, "%s%g%s", c ? ", " : "Each step weighs a sample by its class (class_weight): ", p->def->class_weights[c],
            c + 1 < p->def->nclass_weights ? "" : "\n");
  if (multi(p)) {
    fprintf(f, "  --x FILE           NumPy .npy array of an input's samples, once for each input in order\n"
               "                     (%d:", p->ninputs);
    for (int i = 0; i < p->arrays.nxs; i++) fprintf(f, " %s", p->arrays.xs[i]);
    fprintf(f, ")\n  --y FILE           NumPy .npy array of an output's labels, once for each output\n"
               "                     (%d:", p->noutputs);
    for (int i = 0; i < p->arrays.nys; i++) fprintf(f, " %s", p->arrays.ys[i]);
    fprintf(f, ")\n");
  } else if (p->reader == NNRT_NPY)
    fprintf(f, "  --x FILE           NumPy .npy array of samples (%s)\n"
               "  --y FILE           NumPy .npy array of their labels (%s)\n", p->x, p->y);
  else if (p->reader == NNRT_IDX)
    fprintf(f, "  --images FILE      IDX file of samples, unsigned bytes (%s)\n"
               "  --labels FILE      IDX file of their labels (%s)\n", p->x, p->y);
  else if (p->reader == NNRT_CIFAR10)
    fprintf(f, "  --data PATH        CIFAR-10 binary batch, or the directory of data_batch_1..5.bin (%s)\n", p->data);
  else if (p->reader == NNRT_TEXT)
    fprintf(f, "  --data FILE        a text file, read as bytes (%s)\n"
               "  --generate N       then write N characters after --prompt (200)\n"
               "  --temperature T    of that sample: 0 the most likely, more is freer (0.7)\n"
               "  --prompt TEXT      the start of the sample (the held-out text's first line)\n", p->data);
  else
    fprintf(f, "  --data FILE        CSV table, one sample a row, the label in column %s%s (%s)\n",
            p->label_name ? p->label_name : p->label_col < 0 ? "last" : "", p->header ? " (after a header row)" : "",
            p->data);
  if (p->reader == NNRT_CSV && !p->label_name && p->label_col >= 0) fprintf(f, "                     (column %d)\n", p->label_col);
  if (p->sample_weights && p->reader == NNRT_NPY)
    fprintf(f, "  --w FILE           NumPy .npy array of their weights, one a sample (%s)\n"
               "  --validation-w FILE, --test-w FILE  the held-out files' weights (else 1 each)\n",
            p->w ? p->w : "none");
  else if (p->sample_weights) {
    char col[32];
    snprintf(col, sizeof col, p->weight_col < 0 ? "none" : "column %d", p->weight_col);
    fprintf(f, "  --weight COLUMN    the column of every file's sample weights, a number from 0\n"
               "                     or a header name (%s)\n", p->weight_name ? p->weight_name : col);
  }
  nnrt_usage_files(p, f);
  if (p->prune)
    fprintf(f, "  --sparsity S       the pruned weights' final fraction, in [0, 1) (%g, epochs %lld to %lld)\n",
            p->sparsity, (long long)p->prune_begin, (long long)p->prune_end);
  fprintf(f, "  --epochs N         epochs to have trained at the end, counted from the start,\n"
             "                     a checkpoint's included (%lld)\n"
             "  --batch N          samples a step (%lld)\n"
             "  --seed N           seed of initialization, shuffling and dropout (%llu)\n"
             "  --validation F     fraction of the rows, from the end, held out (%g)\n"
             "  --lr X             the optimizer's learning rate, finite and above 0 (%g)\n"
             "  --log FILE         write the loss and metrics of every epoch as CSV\n"
             "  --plot FILE        draw them as SVG after every epoch (training and held-out)\n"
             "  --confusion FILE   draw the held-out confusion matrix as SVG at the end (classes)\n"
             "  --threads N        threads for the loops (default: all); any count gives the same bits\n"
             "  --save FILE        write a checkpoint (weights, optimizer state, counters) at the end,\n"
             "                     and on SIGINT or SIGTERM with the place in the epoch\n"
             "  --save-every N     also every N epochs\n"
             "  --save-weights FILE  write the weights alone at the end (for inference, or to start\n"
             "                     a new training)\n"
             "  --save-sparse FILE   the same, each mostly-zero tensor as its nonzero values and a\n"
             "                     bitmap: compact for a pruned model\n"
             "  --load FILE        start from a checkpoint (training continues where it stopped)\n"
             "                     or from a weights-only file (a new training)\n"
             "  --patience N       epochs without improvement before early stopping (the train\n"
             "                     block's stop plateau(...)%s%s); with its restore_best,\n"
             "                     each checkpoint FILE keeps the best weights in FILE.best\n"
             "  --no-early-stop    train every epoch: no stop plateau(...) and no stop rule\n"
             "  --no-reduce-lr     keep the rate: no reduce_lr plateau(...)\n"
             "  --save-best FILE   write a checkpoint each time the monitored figure improves\n"
             "                     (save best(...)'s, else val_loss, or loss without validation)%s%s%s\n"
             "  --check-finite     after every step, stop at the first parameter or optimizer\n"
             "                     state (a gradient's trace) that is not finite, naming it\n"
             "  --quiet            no summary, no line per epoch\n"
             "  --help             this text\n",
          (long long)p->epochs, (long long)p->batch, (unsigned long long)p->seed, p->validation, p->def->base_lr,
          p->has_early ? ": " : ", none here", p->has_early ? nnrt_patience_text(p) : "",
          p->has_best ? " (" : "", p->has_best ? (p->best_path ? p->best_path : "best.ckpt") : "", p->has_best ? ")" : "");
}

/* ------------------------------------------------------------- flags */

/* argv[i]'s value, or NULL after an error naming the flag. */
static const char *flag_value(int argc, char **argv, int *i) {
  const char *flag = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
  if (!v || !strncmp(v, "--", 2)) {
    fprintf(stderr, "error: %s needs a value%s%s%s\n", flag, v ? ", not the option '" : "", v ? v : "", v ? "'" : "");
    return NULL;
  }
  ++*i;
  return v;
}

static bool flag_int(int argc, char **argv, int *i, int64_t lo, int64_t *out) {
  const char *flag = argv[*i], *v = flag_value(argc, argv, i);
  char *end;
  errno = 0;
  long long x = v ? strtoll(v, &end, 10) : 0;
  if (!v || *end || !*v || errno == ERANGE || x < lo) {
    if (v) fprintf(stderr, "error: %s needs an integer of at least %lld, got '%s'\n", flag, (long long)lo, v);
    return false;
  }
  *out = x;
  return true;
}

/* A finite number above lo (or at least lo when `closed`). */
static bool flag_number(int argc, char **argv, int *i, double lo, bool closed, double below, double *out) {
  const char *flag = argv[*i], *v = flag_value(argc, argv, i);
  char *end;
  double x = v ? strtod(v, &end) : 0;
  if (!v || *end || !*v || !isfinite(x) || (closed ? x < lo : x <= lo) || x >= below) {
    if (v) {
      fprintf(stderr, "error: %s needs a finite number %s %g", flag, closed ? "of at least" : "above", lo);
      if (below < INFINITY) fprintf(stderr, " and below %g", below);
      fprintf(stderr, ", got '%s'\n", v);
    }
    return false;
  }
  *out = x;
  return true;
}

/* --weight COLUMN: digits for a number from 0, else a name, for every csv file. */
static void weight_flag(Run *r, const char *v) {
  bool digits = *v && strspn(v, "0123456789") == strlen(v) && strlen(v) < 9;
  NnrtSource *s[3] = {NULL, &r->val, &r->test};
  for (int k = 0; k < 3; k++) {
    const char **name = k ? &s[k]->weight_name : &r->weight_name;
    int *col = k ? &s[k]->weight_col : &r->weight_col;
    *name = digits ? NULL : v;
    *col = digits ? atoi(v) : -1;
  }
}

/* A flag of the validation and test files or of prediction: whether
 * argv[*i] is one, its value's success in *ok. */
static bool file_flag(Run *r, int argc, char **argv, int *i, bool *ok) {
  const NnrtProgram *p = r->p;
  const char *a = argv[*i];
  bool pair = p->reader == NNRT_NPY || p->reader == NNRT_IDX;
  const char *xf = p->reader == NNRT_NPY ? "x" : "images", *yf = p->reader == NNRT_NPY ? "y" : "labels";
  const char **to = NULL;
  for (int k = 0; k < 2 && !to; k++) {
    NnrtSource *s = k ? &r->test : &r->val;
    size_t n = strlen(k ? "--test-" : "--validation-");
    if (strncmp(a, k ? "--test-" : "--validation-", n) != 0) continue;
    if (!pair && !strcmp(a + n, "data")) to = &s->data;
    else if (pair && !strcmp(a + n, xf)) to = &s->x;
    else if (pair && !strcmp(a + n, yf)) to = &s->y;
    else if (p->reader == NNRT_NPY && p->sample_weights && !strcmp(a + n, "w")) to = &s->w;
    if (to && !k) r->val_file_given = true;
  }
  if (p->sample_weights && p->reader == NNRT_NPY && !strcmp(a, "--w")) to = &r->w;
  if (p->sample_weights && p->reader == NNRT_CSV && !strcmp(a, "--weight")) { /* a column's number or name */
    if ((*ok = flag_value(argc, argv, i) != NULL)) weight_flag(r, argv[*i]);
    return true;
  }
  if (!strcmp(a, "--predict")) to = &r->predict;
  else if (!strcmp(a, "--output")) to = &r->output;
  if (!to) return false;
  *ok = (*to = flag_value(argc, argv, i)) != NULL;
  return true;
}

/* The flags into r; 0 to go on, else the exit status (--help: 0 with *done). */
static int parse_flags(Run *r, int argc, char **argv, bool *done) {
  const NnrtProgram *p = r->p;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int64_t v = 0;
    bool ok = true;
    if (!strcmp(a, "--help")) {
      usage(r, stdout);
      *done = true;
      return 0;
    } else if (!strcmp(a, "--quiet")) {
      r->quiet = true;
    } else if (!strcmp(a, "--check-finite")) {
      r->check_finite = true;
    } else if (!strcmp(a, "--no-early-stop")) {
      r->no_early = true;
    } else if (!strcmp(a, "--no-reduce-lr")) {
      r->no_reduce = true;
    } else if (!strcmp(a, "--patience")) {
      ok = flag_int(argc, argv, &i, 0, &r->patience);
    } else if (!strcmp(a, "--save-best")) {
      ok = (r->save_best = flag_value(argc, argv, &i)) != NULL;
    } else if (multi(p) && nnrt_arrays_flag(a, NULL, NULL, NULL)) {
      const char *f = flag_value(argc, argv, &i);
      ok = f && nnrt_arrays_flag(a, f, (NnrtSource *const[3]){&r->arrays, &r->val, &r->test}, &r->listed) == 1;
      if (ok && strncmp(a, "--validation-", 13) == 0) r->val_file_given = true;
    } else if (!strcmp(a, "--data") && (p->reader == NNRT_CSV || p->reader == NNRT_CIFAR10 || p->reader == NNRT_TEXT)) {
      ok = (r->data = flag_value(argc, argv, &i)) != NULL;
    } else if (!strcmp(a, p->reader == NNRT_NPY ? "--x" : "--images") && (p->reader == NNRT_NPY || p->reader == NNRT_IDX)) {
      ok = (r->x = flag_value(argc, argv, &i)) != NULL;
    } else if (!strcmp(a, p->reader == NNRT_NPY ? "--y" : "--labels") && (p->reader == NNRT_NPY || p->reader == NNRT_IDX)) {
      ok = (r->y = flag_value(argc, argv, &i)) != NULL;
    } else if (file_flag(r, argc, argv, &i, &ok)) {
      /* a validation or test file, --predict, --output */
    } else if (!strcmp(a, "--save")) {
      ok = (r->save = flag_value(argc, argv, &i)) != NULL;
    } else if (!strcmp(a, "--save-weights") || !strcmp(a, "--save-sparse")) {
      ok = (*(a[7] == 'w' ? &r->save_weights : &r->save_sparse) = flag_value(argc, argv, &i)) != NULL;
    } else if (!strcmp(a, "--load")) {
      ok = (r->load = flag_value(argc, argv, &i)) != NULL;
    } else if (!strcmp(a, "--log")) {
      ok = (r->log = flag_value(argc, argv, &i)) != NULL;
    } else if (!strcmp(a, "--plot") || !strcmp(a, "--confusion")) {
      ok = (*(a[2] == 'p' ? &r->plot : &r->confusion) = flag_value(argc, argv, &i)) != NULL;
    } else if (!strcmp(a, "--threads")) {
      ok = flag_int(argc, argv, &i, 1, &v) && v <= NNRT_MAX_THREADS;
      if (ok) r->threads = (int)v;
      else if (v > NNRT_MAX_THREADS) fprintf(stderr, "error: --threads needs at most %d\n", NNRT_MAX_THREADS);
    } else if (!strcmp(a, "--epochs")) {
      ok = flag_int(argc, argv, &i, 0, &r->epochs);
    } else if (!strcmp(a, "--batch")) {
      ok = flag_int(argc, argv, &i, 1, &r->batch);
    } else if (!strcmp(a, "--save-every")) {
      ok = flag_int(argc, argv, &i, 1, &r->save_every);
    } else if (!strcmp(a, "--seed")) {
      ok = flag_int(argc, argv, &i, 0, &v);
      r->seed = (uint64_t)v;
      r->seed_given = true;
    } else if (!strcmp(a, "--validation")) {
      ok = flag_number(argc, argv, &i, 0, true, 1, &r->validation);
      r->val_fraction_given = true;
    } else if (!strcmp(a, "--lr")) {
      ok = flag_number(argc, argv, &i, 0, false, INFINITY, &r->lr);
    } else if (!strcmp(a, "--sparsity")) {
      if (!p->prune) return fprintf(stderr, "error: --sparsity sets the train block's 'prune magnitude(...)', "
                                            "and this one prunes nothing\n"), 1;
      ok = flag_number(argc, argv, &i, 0, true, 1, &r->sparsity);
      r->sparsity_given = true;
    } else if (p->reader == NNRT_TEXT && !strcmp(a, "--generate")) {
      ok = flag_int(argc, argv, &i, 0, &r->generate);
    } else if (p->reader == NNRT_TEXT && !strcmp(a, "--temperature")) {
      ok = flag_number(argc, argv, &i, 0, true, INFINITY, &r->temperature);
    } else if (p->reader == NNRT_TEXT && !strcmp(a, "--prompt")) {
      ok = (r->prompt = flag_value(argc, argv, &i)) != NULL;
    } else {
      fprintf(stderr, "error: unknown option '%s'\n", a);
      usage(r, stderr);
      return 1;
    }
    if (!ok) return 1;
    static const char *const training_only[] = {"--epochs", "--save", "--save-every", "--save-weights", "--save-sparse", "--log", "--plot",
                                                 "--confusion",
                                                 "--validation", "--lr", "--sparsity", "--patience", "--no-early-stop",
                                                 "--no-reduce-lr", "--save-best", "--check-finite"};
    for (size_t k = 0; k < sizeof training_only / sizeof *training_only && !r->training_flag; k++)
      if (!strcmp(a, training_only[k]) || !strncmp(a, "--validation-", 13) || !strncmp(a, "--test-", 7))
        r->training_flag = a;
  }
  if (r->save_every && !r->save) {
    fprintf(stderr, "error: --save-every needs --save FILE\n");
    return 1;
  }
  return 0;
}

/* -------------------------------------------------------------- data */

/* A source's table, read as the data of p's reader. */
static bool read_source(const NnrtProgram *p, const NnrtSource *s, NnrtTable *t, char *err, size_t errlen) {
  switch (p->reader) {
  case NNRT_IDX: return nnrt_idx_load(s->x, s->y, s->scale, t, err, errlen);
  case NNRT_NPY:
    return nnrt_npy_load(s->x, s->y, s->scale, t, err, errlen) && (!s->w || !*s->w || nnrt_npy_weights(s->w, t, err, errlen));
  case NNRT_CIFAR10: return nnrt_cifar_load(s->data, s->scale, t, err, errlen);
  case NNRT_TEXT: return nnrt_text_load(s->data, p->features, p->stride, t, err, errlen);
  default:
    return nnrt_csv_load_weighted(s->data, s->label_name, s->label_col, s->weight_name, s->weight_col, s->header,
                                  s->delimiter, s->scale, t, err, errlen);
  }
}

static bool read_data(const Run *r, NnrtTable *t, char *err, size_t errlen) {
  const NnrtProgram *p = r->p;
  bool pair = p->reader == NNRT_IDX || p->reader == NNRT_NPY;
  if (multi(p)) {
    NnrtSource s = r->arrays;
    s.scale = p->scale, s.w = r->w;
    if (p->sample_weights && (!r->w || !*r->w))
      return nnrt_error(err, errlen, NULL, "no sample weights: the train block says sample_weights true; give --w FILE");
    return nnrt_arrays_load(p->def, &s, "training", t, err, errlen);
  }
  if (pair ? !*r->x || !*r->y : !*r->data) {
    snprintf(err, errlen, "no data: give %s", p->reader == NNRT_NPY ? "--x FILE --y FILE"
                                              : p->reader == NNRT_IDX ? "--images FILE --labels FILE" : "--data FILE");
    return false;
  }
  NnrtSource s = {.data = r->data, .x = r->x, .y = r->y, .label_name = p->label_name, .label_col = p->label_col,
                  .header = p->header, .delimiter = p->delimiter, .scale = p->scale, .w = r->w,
                  .weight_name = r->weight_name, .weight_col = r->weight_col};
  if (p->sample_weights && (p->reader == NNRT_NPY ? !r->w || !*r->w : !r->weight_name && r->weight_col < 0))
    return nnrt_error(err, errlen, NULL, "no sample weights: the train block says sample_weights true; give %s",
                      p->reader == NNRT_NPY ? "--w FILE (npy(..., w: FILE))" : "--weight COLUMN (csv(..., weight: COLUMN))");
  return read_source(p, &s, t, err, errlen);
}

/* The table against the model: its sizes, every label what the loss
 * takes, every token id in the vocabulary; the error names the file and
 * the sample. */
static bool check_table(const Run *r, const NnrtTable *t, const char *xs, const char *ys, char *err, size_t errlen) {
  const NnrtProgram *p = r->p;
  const NnrtModelDef *def = p->def;
  if (t->features != p->features)
    return nnrt_error(err, errlen, xs, "samples have %lld values; model %s takes %lld", (long long)t->features,
                      def->name, (long long)p->features);
  if (t->width != p->labels)
    return nnrt_error(err, errlen, ys, "%lld labels a sample; model %s needs %lld", (long long)t->width, def->name,
                      (long long)p->labels);
  for (int64_t i = 0; def->vocab[0] > 0 && i < t->rows * t->features; i++)
    if (t->x[i] < 0 || t->x[i] >= (float)def->vocab[0] || t->x[i] != (float)(int64_t)t->x[i])
      return nnrt_error(err, errlen, xs, "sample %lld, value %lld: the token id %g is outside the vocabulary [0, %lld) "
                        "of model %s", (long long)(i / t->features + 1), (long long)(i % t->features + 1),
                        (double)t->x[i], (long long)def->vocab[0], def->name);
  for (int64_t i = 0; i < t->rows * t->width; i++) {
    double y = t->y[i];
    bool ok = isfinite(y), classes = p->form == NNRT_FORM_ONEHOT || p->form == NNRT_FORM_SPARSE;
    if (classes)
      ok = (y == (double)(int64_t)y && y >= 0 && y < (double)p->classes) ||
           (p->form == NNRT_FORM_SPARSE && def->label_has_ignore[0] && y == (double)def->label_ignore[0]);
    else if (p->form == NNRT_FORM_BINARY)
      ok = y >= 0 && y <= 1;
    if (!ok) {
      char want[96];
      if (classes) snprintf(want, sizeof want, "a class from 0 to %lld", (long long)p->classes - 1);
      else snprintf(want, sizeof want, "%s", p->form == NNRT_FORM_BINARY ? "in [0, 1] as binary_crossentropy needs"
                                                                       : "a finite number");
      return nnrt_error(err, errlen, ys, "sample %lld: the label %g is not %s", (long long)(i / t->width + 1), y, want);
    }
  }
  return true;
}

static bool check_data(const Run *r, const NnrtTable *t, char *err, size_t errlen) {
  if (multi(r->p)) return true; /* nnrt_arrays_load checked each array */
  bool pair = r->p->reader == NNRT_IDX || r->p->reader == NNRT_NPY;
  return check_table(r, t, pair ? r->x : r->data, pair ? r->y : r->data, err, errlen);
}

/* Whether a source names a file: data, or x and y. */
static bool has_source(const NnrtProgram *p, const NnrtSource *s) {
  if (multi(p)) return s->nxs > 0 || s->nys > 0;
  return p->reader == NNRT_IDX || p->reader == NNRT_NPY ? (s->x && *s->x) || (s->y && *s->y) : s->data && *s->data;
}

/* A validation or test file, read and checked as the training data. */
static bool read_other(const Run *r, const NnrtSource *s, const char *what, NnrtTable *t, char *err, size_t errlen) {
  const NnrtProgram *p = r->p;
  bool pair = p->reader == NNRT_IDX || p->reader == NNRT_NPY;
  if (multi(p)) return nnrt_arrays_load(p->def, s, what, t, err, errlen);
  if (pair && (!s->x || !*s->x || !s->y || !*s->y)) {
    const char *xf = p->reader == NNRT_NPY ? "x" : "images", *yf = p->reader == NNRT_NPY ? "y" : "labels";
    return nnrt_error(err, errlen, NULL, "the %s data needs both files: --%s-%s FILE --%s-%s FILE", what, what, xf,
                      what, yf);
  }
  return read_source(p, s, t, err, errlen) &&
         check_table(r, t, pair ? s->x : s->data, pair ? s->y : s->data, err, errlen);
}

/* Rows perm[start..start+n) of t as the step's input x and label y, in
 * the model's types. */
static void gather(const Run *r, const NnrtTable *t, const int64_t *perm, int64_t start, int64_t n, void *x, void *y) {
  const NnrtProgram *p = r->p;
  if (multi(p)) {
    nnrt_arrays_gather(p->def, t, perm, start, n, x, y);
    return;
  }
  int xt = r->desc->inputs[0].dtype, yt = p->def->label_dtype[0];
  int64_t f = p->features, w = p->form == NNRT_FORM_ONEHOT ? p->classes : p->labels;
  for (int64_t i = 0; i < n; i++) {
    const float *tx = t->x + perm[start + i] * f, *ty = t->y + perm[start + i] * t->width;
    for (int64_t j = 0; j < f; j++) {
      if (xt == 2) ((int32_t *)x)[i * f + j] = (int32_t)tx[j];
      else if (xt == 1) ((double *)x)[i * f + j] = tx[j];
      else ((float *)x)[i * f + j] = tx[j];
    }
    for (int64_t j = 0; j < w; j++) {
      double v = p->form == NNRT_FORM_ONEHOT ? (double)(j == (int64_t)ty[0]) : ty[j];
      if (yt == 2) ((int32_t *)y)[i * w + j] = (int32_t)v;
      else if (yt == 1) ((double *)y)[i * w + j] = v;
      else ((float *)y)[i * w + j] = (float)v;
    }
  }
}

/* A training step or an evaluation of the gathered batch x, y: rows
 * perm[at..at+n) of t, with their weights when the train block says
 * sample_weights true (each 1 when t has none). */
static double run_batch(const Run *r, NnrtModel *m, const NnrtTable *t, const int64_t *perm, int64_t at, int64_t n,
                        void *x, void *y, bool train) {
  const void *inputs[16] = {x}, *labels[16] = {y};
  if (multi(r->p)) nnrt_arrays_views(r->p->def, x, y, n, inputs, labels);
  else if (!r->p->sample_weights) return train ? nnrt_model_train_step(m, inputs, y, n) : nnrt_model_evaluate(m, inputs, y, n);
  float *w = t->w ? malloc(sizeof(float) * (size_t)n) : NULL;
  if (t->w && !w) return snprintf(m->error, sizeof m->error, "out of memory for %lld sample weights", (long long)n), NAN;
  for (int64_t i = 0; w && i < n; i++) w[i] = t->w[perm[at + i]];
  double loss = (train ? nnrt_model_train_step_outputs : nnrt_model_evaluate_outputs)(m, inputs, labels, w, n);
  free(w);
  return loss;
}

/* ----------------------------------------------------------- metrics */

static double number(const void *a, int dtype, int64_t i) {
  return dtype == 2 ? ((const int32_t *)a)[i] : dtype == 1 ? ((const double *)a)[i] : ((const float *)a)[i];
}

/* The sums of a batch's predictions `out` against its labels y. */
static void tally(const Run *r, const void *out, const void *y, int64_t n, double *s) {
  const NnrtProgram *p = r->p;
  int ot = r->desc->outputs[0].dtype, yt = p->def->label_dtype[0];
  if (p->form == NNRT_FORM_BINARY || p->form == NNRT_FORM_VALUES) {
    for (int64_t i = 0; i < n * p->labels; i++) {
      double o = number(out, ot, i), l = number(y, yt, i);
      bool pos = o > 0.5, truth = l > 0.5;
      s[S_CORRECT] += pos == truth;
      if (r->counts) r->counts[truth * 2 + pos]++;
      s[S_TP] += pos && truth, s[S_FP] += pos && !truth, s[S_FN] += !pos && truth;
      s[S_SQUARES] += (o - l) * (o - l), s[S_ABS] += fabs(o - l), s[S_VALUES]++;
    }
    s[S_POSITIONS] += (double)(n * p->labels);
    return;
  }
  int64_t c = p->classes, at = p->form == NNRT_FORM_ONEHOT ? n : n * p->labels;
  for (int64_t i = 0; i < at; i++) {
    int64_t want = 0, best = 0;
    if (p->form == NNRT_FORM_ONEHOT) {
      for (int64_t k = 1; k < c; k++)
        if (number(y, yt, i * c + k) > number(y, yt, i * c + want)) want = k;
    } else {
      want = (int64_t)number(y, yt, i);
      if (p->def->label_has_ignore[0] && want == p->def->label_ignore[0]) continue;
    }
    for (int64_t k = 1; k < c; k++)
      if (number(out, ot, i * c + k) > number(out, ot, i * c + best)) best = k;
    if (r->counts && want >= 0 && want < c) r->counts[want * c + best]++;
    s[S_CORRECT] += best == want;
    s[S_POSITIONS]++;
    for (int64_t k = 0; k < c; k++) {
      double d = number(out, ot, i * c + k) - (double)(k == want);
      s[S_SQUARES] += d * d, s[S_ABS] += fabs(d), s[S_VALUES]++;
    }
  }
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0; }

static double metric(int m, const double *s) {
  switch (m) {
  case NNRT_PRECISION: return ratio(s[S_TP], s[S_TP] + s[S_FP]);
  case NNRT_RECALL: return ratio(s[S_TP], s[S_TP] + s[S_FN]);
  case NNRT_MSE: return ratio(s[S_SQUARES], s[S_VALUES]);
  case NNRT_MAE: return ratio(s[S_ABS], s[S_VALUES]);
  default: return ratio(s[S_CORRECT], s[S_POSITIONS]);
  }
}

/* Loss and metric sums over rows order[from..rows) in inference mode;
 * false after an error of the model. */
static bool held_out(const Run *r, NnrtModel *m, const NnrtTable *t, const int64_t *order, int64_t from, int64_t chunk,
                     void *x, void *y, double *s) {
  memset(s, 0, sizeof(double) * NSUMS);
  for (int64_t at = from; at < t->rows; at += chunk) {
    int64_t n = t->rows - at < chunk ? t->rows - at : chunk;
    gather(r, t, order, at, n, x, y);
    double loss = run_batch(r, m, t, order, at, n, x, y, false);
    if (m->error[0]) return fprintf(stderr, "error: %s\n", m->error), false;
    s[S_LOSS] += loss * (double)n;
    s[S_SAMPLES] += (double)n;
    tally(r, m->out[0], y, n, s);
  }
  return true;
}

/* ------------------------------------------------- finite parameters */

/* The first tensor of m that holds a value that is not finite, described
 * ("dense1.W[3, 4] is nan"), or NULL. The optimizer's slots come first:
 * a gradient that is not finite shows there (Adam's m, SGD's momentum)
 * before it spreads to its parameter. */
static const char *first_not_finite(NnrtModel *m, char *buf, size_t cap) {
  const NnrtModelDef *def = m->def;
  int n = def->nparams + def->nstates;
  for (int k = 0; k < n; k++) {
    int i = (k + n - def->nslots) % n; /* the slots, then the parameters and the model's states */
    const NnrtTensorInfo *t = &def->tensors[i];
    int64_t count = 1;
    for (int d = 0; d < t->rank; d++) count *= t->dims[d];
    for (int64_t j = 0; j < count; j++) {
      double v = t->elem_size == 8 ? ((const double *)m->params[i])[j] : ((const float *)m->params[i])[j];
      if (isfinite(v)) continue;
      size_t k = (size_t)snprintf(buf, cap, "%s[", t->name);
      for (int d = 0; d < t->rank && k < cap; d++) {
        int64_t below = 1;
        for (int e = d + 1; e < t->rank; e++) below *= t->dims[e];
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", d ? ", " : "", (long long)(j / below % t->dims[d]));
      }
      if (k < cap) {
        const char *of = strchr(t->name, '.');
        of = of && i >= n - def->nslots ? strchr(of + 1, '.') : NULL; /* an optimizer's slot: OPT.SLOT.PARAM */
        v = isnan(v) ? (double)NAN : v; /* "nan", whatever its sign bit */
        if (of) snprintf(buf + k, cap - k, "] is %g: the gradient of %s (or its update) was not finite", v, of + 1);
        else snprintf(buf + k, cap - k, "] is %g", v);
      }
      return buf;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ the run */

/* What report() shows beside the sums: the epoch's time and samples, the
 * rate it trained with, the callbacks' events. */
typedef struct EpochInfo {
  double seconds, total, lr, sparsity; /* sparsity: of the pruned weights */
  double train_seconds;     /* the steps' part of seconds */
  int64_t samples;
  const char *events;   /* "" or " - saved best ... - reduced lr ..." */
} EpochInfo;

/* The progress line and the log row of an epoch. */
static void report(const Run *r, FILE *log, int64_t epoch, int64_t first, const double *s, bool val,
                   const double *vs, const EpochInfo *e) {
  const NnrtProgram *p = r->p;
  double loss = ratio(s[S_LOSS], s[S_SAMPLES]), spent = e->total;
  if (!r->quiet) {
    printf("Epoch %lld/%lld - loss: %.4f", (long long)epoch + 1, (long long)r->epochs, loss);
    for (int i = 0; i < p->nmetrics; i++) printf(" - %s: %.4f", nnrt_metric_names[p->metrics[i]], metric(p->metrics[i], s));
    if (val) {
      printf(" - val_loss: %.4f", ratio(vs[S_LOSS], vs[S_SAMPLES]));
      for (int i = 0; i < p->nmetrics; i++)
        printf(" - val_%s: %.4f", nnrt_metric_names[p->metrics[i]], metric(p->metrics[i], vs));
    }
    if (p->nschedules || p->has_reduce) printf(" - lr: %.4g", e->lr);
    if (p->prune) printf(" - sparsity: %.4f", e->sparsity);
    printf(" - %.2fs - %.0f samples/s - total %.2fs", e->seconds, ratio((double)e->samples, e->train_seconds), spent);
    if (epoch + 1 < r->epochs)
      printf(" - eta %.0fs", spent / (double)(epoch + 1 - first) * (double)(r->epochs - epoch - 1));
    printf("%s\n", e->events);
    fflush(stdout);
  }
  if (log) {
    fprintf(log, "%lld,%.6f", (long long)epoch + 1, loss);
    for (int i = 0; i < p->nmetrics; i++) fprintf(log, ",%.6f", metric(p->metrics[i], s));
    if (val) {
      fprintf(log, ",%.6f", ratio(vs[S_LOSS], vs[S_SAMPLES]));
      for (int i = 0; i < p->nmetrics; i++) fprintf(log, ",%.6f", metric(p->metrics[i], vs));
    }
    fprintf(log, ",%.3f,%.6g,", spent, e->lr);
    if (*e->events) { /* " - a - b" as "a; b", quoted */
      fputc('"', log);
      for (const char *c = e->events + 3; *c; c++) {
        if (!strncmp(c, " - ", 3)) fputs("; ", log), c += 2;
        else if (*c == '"') fputs("\"\"", log);
        else fputc(*c, log);
      }
      fputc('"', log);
    }
    fprintf(log, "\n");
    fflush(log);
  }
}

static FILE *open_log(const Run *r, bool val) {
  FILE *log = fopen(r->log, "w");
  if (!log) {
    fprintf(stderr, "error: %s: cannot write: %s\n", r->log, strerror(errno));
    return NULL;
  }
  fprintf(log, "epoch,loss");
  for (int i = 0; i < r->p->nmetrics; i++) fprintf(log, ",%s", nnrt_metric_names[r->p->metrics[i]]);
  if (val) {
    fprintf(log, ",val_loss");
    for (int i = 0; i < r->p->nmetrics; i++) fprintf(log, ",val_%s", nnrt_metric_names[r->p->metrics[i]]);
  }
  fprintf(log, ",seconds,lr,events\n");
  return log;
}

/* Whether the stop rule holds after an epoch. */
static bool stop_now(const NnrtProgram *p, const double *s, const double *vs) {
  if (!p->has_stop) return false;
  const double *from = p->stop_val ? vs : s;
  double v = p->stop_metric < 0 ? ratio(from[S_LOSS], from[S_SAMPLES]) : metric(p->stop_metric, from);
  switch (p->stop_op) {
  case '<': return v < p->stop_value;
  case '>': return v > p->stop_value;
  case 'l': return v <= p->stop_value;
  default: return v >= p->stop_value;
  }
}

/* A checkpoint (or the weights alone) to `path`, never of a model that
 * is no longer finite. */
static bool save(NnrtModel *m, const char *path, int weights) { /* 1: weights-only, 2: sparse */
  char err[1024];
  const char *bad = first_not_finite(m, err, sizeof err);
  if (bad) {
    fprintf(stderr, "error: not saving %s: %s\n", path, bad);
    return false;
  }
  if ((weights == 2 ? nnrt_model_save_sparse : weights ? nnrt_model_save_weights : nnrt_model_save)(m, path, err, sizeof err) == 0)
    return true;
  fprintf(stderr, "error: %s\n", err);
  return false;
}

/* Sets the model's input standardization from the training rows. */
static bool set_standardization(const Run *r, NnrtModel *m, const NnrtTable *t, int64_t ntrain) {
  int64_t c = r->p->channels;
  double *mean = calloc((size_t)c * 2, sizeof(double));
  float *f = calloc((size_t)c * 2, sizeof(float));
  bool ok = mean && f, f64 = r->desc->inputs[0].dtype == 1;
  if (ok) {
    nnrt_standardize_stats(t, ntrain, c, mean, mean + c);
    for (int64_t i = 0; i < 2 * c; i++) f[i] = (float)mean[i];
    size_t bytes = (size_t)c * (f64 ? 8 : 4);
    ok = nnrt_model_set_param(m, "normalize.mean", f64 ? (void *)mean : (void *)f, bytes) == 0 &&
         nnrt_model_set_param(m, "normalize.std", f64 ? (void *)(mean + c) : (void *)(f + c), bytes) == 0;
  }
  if (!ok) fprintf(stderr, "error: cannot set the input's standardization: %s\n", mean && f ? m->error : "out of memory");
  free(mean);
  free(f);
  return ok;
}

/* The figures of evaluated rows after training: "held-out: 113 samples,
 * loss 0.0788, accuracy 0.9823". */
static void print_figures(const NnrtProgram *p, const char *what, int64_t n, const double *vs) {
  printf("%s: %lld samples, loss %.4f", what, (long long)n, ratio(vs[S_LOSS], vs[S_SAMPLES]));
  for (int i = 0; i < p->nmetrics; i++) printf(", %s %.4f", nnrt_metric_names[p->metrics[i]], metric(p->metrics[i], vs));
  if (p->reader == NNRT_TEXT) printf(", %.3f bits per character", ratio(vs[S_LOSS], vs[S_SAMPLES]) / log(2.0));
  printf("\n");
}

/* What the loop needs beside the run. */
typedef struct Loop {
  NnrtTable t;
  NnrtTable v, test;   /* the validation and test files' (rows 0 when none) */
  NnrtTable *vt;       /* the validation rows: vt's from vfrom on (t's held out, or v's) */
  int64_t vfrom;
  int64_t ntrain, nval, chunk;
  int64_t *perm, *order;
  void *x, *y;
  float *aug;
  FILE *log;
  NnrtCurves curves;       /* --plot: the epochs' figures so far */
  NnrtCallbacks cb;        /* the callbacks' state */
  NnrtModel *best;         /* restore_best: the weights of the early stop's best epoch */
  bool bar;                /* a progress bar within an epoch (standard output is a terminal) */
  int64_t trained;         /* samples trained on in this epoch by this process */
  double epoch_start, train_seconds;   /* when it began; the time of its steps */
} Loop;

/* --plot: the epoch's loss and metrics (and held-out ones) added to the
 * curves, which are drawn anew. */
static bool plot_epoch(const Run *r, Loop *L, const double *s, bool val, const double *vs) {
  const NnrtProgram *p = r->p;
  const char *names[18];
  char vname[9][40], err[512];
  double row[18];
  int n = 0;
  for (int set = 0; set <= (int)val; set++) {
    const double *x = set ? vs : s;
    for (int i = -1; i < p->nmetrics; i++) {
      const char *name = i < 0 ? "loss" : nnrt_metric_names[p->metrics[i]];
      snprintf(vname[i + 1], sizeof vname[0], "val_%s", name);
      names[n] = set ? vname[i + 1] : name;
      row[n++] = i < 0 ? ratio(x[S_LOSS], x[S_SAMPLES]) : metric(p->metrics[i], x);
    }
  }
  if (nnrt_curves_add(&L->curves, r->plot, p->def->name, n, names, row, err, sizeof err)) return true;
  fprintf(stderr, "error: %s\n", err);
  return false;
}

static bool callbacks_on(const NnrtProgram *p) { return p->has_early || p->has_reduce || p->has_best; }

/* A checkpoint of the run to `path`: the model with its place in the
 * epoch (the sums s when m->position > 0) and the callbacks' state after
 * them; with restore_best, the best weights to PATH.best first. */
static bool save_run(const Run *r, NnrtModel *m, Loop *L, const char *path, const double *s) {
  bool cb = callbacks_on(r->p);
  m->nprogress = m->position > 0 || cb ? NSUMS : 0;
  if (m->position > 0) memcpy(m->progress, s, sizeof(double) * NSUMS);
  else memset(m->progress, 0, sizeof(double) * NSUMS);
  if (cb) {
    nnrt_callbacks_store(&L->cb, m->progress + NSUMS);
    m->nprogress += NNRT_CALLBACK_STATE;
  }
  if (L->best && L->cb.early_epoch >= 0) {
    char *b = nnrt_best_path(path);
    bool ok = b && save(L->best, b, 0);
    free(b);
    if (!ok) return false;
  }
  return save(m, path, 0);
}

/* One epoch from m->position on; 0, or the exit status that ends the run. */
static int epoch_steps(const Run *r, NnrtModel *m, Loop *L, int64_t epoch, double *s) {
  const NnrtProgram *p = r->p;
  char what[512];
  double last = 0;
  L->trained = 0, L->epoch_start = nnrt_seconds();
  if (p->shuffle) nnrt_shuffle(L->perm, L->ntrain, r->seed, epoch);
  else
    for (int64_t i = 0; i < L->ntrain; i++) L->perm[i] = i;
  for (int64_t at = m->position; at < L->ntrain; at += r->batch) {
    if (nnrt_stop_signal) { /* stopped between steps: where we are, then the exit */
      int sig = nnrt_stop_signal;
      if (L->bar) printf("\r\033[K");
      m->epoch = epoch, m->position = at;
      if (r->save && !save_run(r, m, L, r->save, s)) return 1;
      fprintf(stderr, "interrupted by %s at epoch %lld, sample %lld of %lld (step %lld): %s%s\n",
              sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)epoch + 1, (long long)at, (long long)L->ntrain,
              (long long)m->step, r->save ? "saved to " : "nothing saved (no --save)", r->save ? r->save : "");
      return 128 + sig;
    }
    int64_t n = L->ntrain - at < r->batch ? L->ntrain - at : r->batch;
    gather(r, &L->t, L->perm, at, n, L->x, L->y);
    if (p->flip || p->crop)
      nnrt_augment(L->x, n, p->height, p->width, p->channels, p->flip, p->crop, r->seed,
                   (uint64_t)(epoch * L->ntrain + at), L->aug);
    double loss = run_batch(r, m, &L->t, L->perm, at, n, L->x, L->y, true);
    if (L->bar && (m->error[0] || !isfinite(loss))) printf("\n"); /* the error below the bar */
    if (m->error[0]) return fprintf(stderr, "error: %s\n", m->error), 1;
    const char *bad = r->check_finite ? first_not_finite(m, what, sizeof what) : NULL;
    if (!isfinite(loss) || bad) {
      fprintf(stderr, "error: step %lld (epoch %lld, samples %lld to %lld): ", (long long)m->step, (long long)epoch + 1,
              (long long)at + 1, (long long)(at + n));
      if (bad) fprintf(stderr, "after it %s (the loss was %g)", bad, isnan(loss) ? (double)NAN : loss);
      else fprintf(stderr, "the loss is %g", isnan(loss) ? (double)NAN : loss);
      fprintf(stderr, "; training stops, and nothing is saved%s\n",
              bad || r->check_finite ? "" : " (--check-finite names the first tensor that stops being finite)");
      return 1;
    }
    s[S_LOSS] += loss * (double)n;
    s[S_SAMPLES] += (double)n;
    tally(r, m->out[0], L->y, n, s);
    L->trained += n;
    double now = nnrt_seconds();
    if (L->bar && (now - last >= 0.1 || at + n >= L->ntrain)) { /* at most 10 a second */
      double left = (now - L->epoch_start) / (double)L->trained * (double)(L->ntrain - at - n);
      nnrt_progress_bar((at + n + r->batch - 1) / r->batch, (L->ntrain + r->batch - 1) / r->batch, left,
                        ratio(s[S_LOSS], s[S_SAMPLES]));
      last = now;
    }
  }
  L->train_seconds = nnrt_seconds() - L->epoch_start;
  return 0;
}

/* ---------------------------------------------------------- callbacks */

/* The rate the schedules and a plateau start from: --lr's or the optimizer's. */
static double base_lr(const Run *r) { return r->lr > 0 ? r->lr : r->p->def->base_lr; }

/* The callbacks' state from a loaded checkpoint, and the best weights
 * restore_best keeps; false after an error. */
static bool start_callbacks(const Run *r, NnrtModel *m, Loop *L) {
  const NnrtProgram *p = r->p;
  nnrt_callbacks_init(&L->cb);
  if (r->load && callbacks_on(p) && m->nprogress == NSUMS + NNRT_CALLBACK_STATE &&
      !nnrt_callbacks_restore(&L->cb, m->progress + NSUMS)) {
    fprintf(stderr, "error: %s: its callbacks' state is not one this program wrote\n", r->load);
    return false;
  }
  if (!p->has_reduce) L->cb.scale = 1;
  return !p->has_early || !p->restore_best || (L->best = nnrt_best_weights(p, &L->cb, r->load, m->seed)) != NULL;
}

/* A monitor's value after an epoch. */
static double monitor(int metric_id, bool val, const double *s, const double *vs) {
  const double *from = val ? vs : s;
  return metric_id < 0 ? ratio(from[S_LOSS], from[S_SAMPLES]) : metric(metric_id, from);
}

static const char *monitor_name(char *buf, size_t cap, int metric_id, bool val) {
  snprintf(buf, cap, "%s%s", val ? "val_" : "", metric_id < 0 ? "loss" : nnrt_metric_names[metric_id]);
  return buf;
}

/* The callbacks after an epoch: a copy of the best weights, a lower rate,
 * the best checkpoint, an early stop with the best weights back. events
 * gets " - ..." for the epoch line, then after its '\0' the early stop's
 * line (*early). False after an error. */
static bool end_callbacks(const Run *r, NnrtModel *m, Loop *L, int64_t epoch, const double *s, const double *vs,
                          bool *early, char *events, size_t cap) {
  const NnrtProgram *p = r->p;
  char name[64];
  size_t k = 0;
  events[0] = events[1] = '\0';
  if (!callbacks_on(p)) return true;
  double values[3] = {monitor(p->early_metric, p->early_val, s, vs), monitor(p->reduce_metric, p->reduce_val, s, vs),
                      monitor(p->best_metric, p->best_val, s, vs)};
  NnrtEvents ev;
  nnrt_callbacks_epoch(p, &L->cb, epoch, values, base_lr(r), &ev);
  if (ev.early_improved && L->best) {
    nnrt_copy_weights(L->best, m, true);
    L->best->epoch = epoch + 1, L->best->step = m->step;
  }
  if (ev.reduced)
    k += (size_t)snprintf(events + k, cap - k, " - reduced lr to %.4g (%s: no improvement for %lld epoch%s)",
                          nnrt_schedule_lr(p, ev.new_lr, epoch + 1), /* the next epoch's, scheduled */
                          monitor_name(name, sizeof name, p->reduce_metric, p->reduce_val),
                          (long long)(p->reduce_patience > 1 ? p->reduce_patience : 1), p->reduce_patience > 1 ? "s" : "");
  if (ev.best_improved && k < cap) {
    const char *path = p->best_path ? p->best_path : "best.ckpt";
    m->epoch = epoch + 1, m->position = 0;
    if (!save_run(r, m, L, path, s)) return false;
    k += (size_t)snprintf(events + k, cap - k, " - saved best (%s %.4f) to %s",
                          monitor_name(name, sizeof name, p->best_metric, p->best_val), values[2], path);
  }
  if (ev.stop && k < cap) k += (size_t)snprintf(events + k, cap - k, " - early stop");
  if (k >= cap - 1) k = cap - 2;
  events[k + 1] = '\0';
  if (!ev.stop) return true;
  *early = true;
  char *line = events + k + 1;
  size_t lc = cap - k - 1, j = (size_t)snprintf(line, lc, "early stop: %s has not improved",
                                                monitor_name(name, sizeof name, p->early_metric, p->early_val));
  if (p->min_delta > 0 && j < lc) j += (size_t)snprintf(line + j, lc - j, " by more than %g", p->min_delta);
  if (j < lc)
    j += (size_t)snprintf(line + j, lc - j, " for %lld epoch%s (best %.4f at epoch %lld)", (long long)L->cb.early_wait,
                          L->cb.early_wait == 1 ? "" : "s", L->cb.early_best, (long long)L->cb.early_epoch + 1);
  if (L->best) {
    nnrt_copy_weights(m, L->best, false); /* the weights and states; the optimizer's slots stay */
    nnrt_copy_masks(m, L->best);          /* but for pruning's, which go with the weights */
    if (j < lc) snprintf(line + j, lc - j, "; restoring the weights of epoch %lld", (long long)L->cb.early_epoch + 1);
  }
  return true;
}

/* The data, the model, the epochs; main's exit status. */
static int train(const Run *r, Loop *L) {
  const NnrtProgram *p = r->p;
  char err[1024];
  NnrtModel *m = nnrt_model_create(p->def, r->seed);
  if (m) m->samples_first = true; /* the data sources give samples */
  if (!m) return fprintf(stderr, "error: %s\n", nnrt_model_last_error(NULL)), 1;
  int status = 1;
  double s[NSUMS] = {0}, vs[NSUMS] = {0}, start = nnrt_seconds();
  if (nnrt_model_set_threads(m, r->threads) != 0 || (r->lr > 0 && nnrt_model_set_lr(m, r->lr) != 0)) {
    fprintf(stderr, "error: %s\n", m->error);
    goto done;
  }
  if (r->load && nnrt_model_load(m, r->load, err, sizeof err) != 0) {
    fprintf(stderr, "error: %s\n", err);
    goto done;
  }
  if (r->load && m->nprogress != 0 && m->nprogress != NSUMS && m->nprogress != NSUMS + NNRT_CALLBACK_STATE) {
    fprintf(stderr, "error: %s: its progress has %d sums; this program keeps %d (and %d for its callbacks)\n", r->load,
            m->nprogress, NSUMS, NNRT_CALLBACK_STATE);
    goto done;
  }
  if (!start_callbacks(r, m, L)) goto done;
  if (!r->load && p->normalize && !set_standardization(r, m, &L->t, L->ntrain)) goto done;
  Run run = *r;
  if (r->load && !r->seed_given) run.seed = m->seed; /* the checkpoint's run goes on */
  m->seed = run.seed;
  if (p->prune && !nnrt_prune_start(p, m, r->load, &run.sparsity, r->sparsity_given, r->quiet)) goto done;
  r = &run;
  if (m->position > 0 && m->nprogress >= NSUMS) memcpy(s, m->progress, sizeof s);
  int64_t epoch = m->epoch, first = m->epoch;
  char name[64];
  if (r->load && p->has_early && L->cb.early_wait >= 1 && L->cb.early_wait >= p->patience && m->position == 0 &&
      epoch < r->epochs) { /* the run stopped early: as one that has trained its epochs */
    fprintf(stderr, "warning: %s stopped early after epoch %lld (%s had not improved for %lld epochs, patience %lld): "
            "there is nothing to train (--patience or --no-early-stop goes on)\n", r->load, (long long)epoch,
            monitor_name(name, sizeof name, p->early_metric, p->early_val), (long long)L->cb.early_wait,
            (long long)p->patience);
    run.epochs = epoch;
  } else if (epoch >= r->epochs && r->epochs > 0)
    fprintf(stderr, "warning: %s has trained %lld epochs and --epochs is %lld: there is nothing to train "
            "(--epochs counts from the start)\n", r->load, (long long)epoch, (long long)r->epochs);
  for (; epoch < r->epochs; epoch++) {
    m->epoch = epoch;
    if (p->prune && m->position == 0 && epoch + 1 >= p->prune_begin && epoch < p->prune_end &&
        !nnrt_prune(m, nnrt_prune_target(p, r->sparsity, epoch))) {
      fprintf(stderr, "error: %s\n", m->error);
      goto done;
    }
    if (p->has_reduce && nnrt_model_set_lr(m, base_lr(r) * L->cb.scale) != 0) {
      fprintf(stderr, "error: %s\n", m->error);
      goto done;
    }
    int stopped = epoch_steps(r, m, L, epoch, s);
    if (stopped) {
      status = stopped;
      goto done;
    }
    m->position = 0, m->nprogress = 0;
    if (L->nval && !held_out(r, m, L->vt, L->order, L->vfrom, L->chunk, L->x, L->y, vs)) goto done;
    char events[1024];
    EpochInfo info = {.seconds = nnrt_seconds() - L->epoch_start, .samples = L->trained, .events = events, .train_seconds = L->train_seconds,
                      .lr = nnrt_schedule_lr(p, base_lr(r) * L->cb.scale, epoch), .sparsity = p->prune ? nnrt_pruned(m, &(int64_t){0}) : 0};
    bool early = false;
    if (!end_callbacks(r, m, L, epoch, s, vs, &early, events, sizeof events)) goto done;
    if (L->bar) printf("\r\033[K");
    info.total = nnrt_seconds() - start;
    report(r, L->log, epoch, first, s, L->nval > 0, vs, &info);
    if (r->plot && !plot_epoch(r, L, s, L->nval > 0, vs)) goto done;
    bool rule = stop_now(p, s, vs), stop = rule || early;
    memset(s, 0, sizeof s);
    if (early && !rule && !r->quiet) printf("%s\n", events + strlen(events) + 1);
    if (r->save_every && (epoch + 1) % r->save_every == 0 && epoch + 1 < r->epochs && !stop) {
      m->epoch = epoch + 1;
      if (!save_run(r, m, L, r->save, s)) goto done;
      if (!r->quiet) printf("saved %s after epoch %lld\n", r->save, (long long)epoch + 1);
    }
    if (stop) {
      if (rule && !r->quiet)
        printf("stopping: %s%s %s %g\n", p->stop_val ? "val_" : "",
               p->stop_metric < 0 ? "loss" : nnrt_metric_names[p->stop_metric],
               p->stop_op == 'l' ? "<=" : p->stop_op == 'g' ? ">=" : p->stop_op == '<' ? "<" : ">", p->stop_value);
      epoch++;
      break;
    }
  }
  if (epoch > m->epoch) m->epoch = epoch; /* epochs done, where a --load continues */
  if (r->counts) memset(r->counts, 0, sizeof(int64_t) * (size_t)(nnrt_confusion_classes(p) * nnrt_confusion_classes(p)));
  if (L->nval && !held_out(r, m, L->vt, L->order, L->vfrom, L->chunk, L->x, L->y, vs)) goto done;
  if (r->counts && L->nval) {
    char err[512];
    if (!nnrt_svg_confusion(r->confusion, L->vt == &L->t ? "held-out" : "validation", (int)nnrt_confusion_classes(p),
                            r->counts, err, sizeof err)) {
      fprintf(stderr, "error: %s\n", err);
      goto done;
    }
  }
  if ((r->save && !save_run(r, m, L, r->save, s)) || (r->save_weights && !save(m, r->save_weights, 1)) ||
      (r->save_sparse && !save(m, r->save_sparse, 2)))
    goto done;
  if (p->prune) nnrt_prune_end(p, m, r->sparsity, epoch, r->quiet);
  if (L->nval) print_figures(p, L->vt == &L->t ? "held-out" : "validation", L->nval, vs);
  if (L->test.rows) {
    if (!held_out(r, m, &L->test, L->order, 0, L->chunk, L->x, L->y, vs)) goto done;
    print_figures(p, "test", L->test.rows, vs);
  }
  if (p->reader == NNRT_TEXT && r->generate > 0 &&
      !nnrt_sample_text(m, L->vt, L->nval ? L->vfrom : 0, p->features, r->prompt, r->generate, r->temperature,
                        r->seed))
    goto done;
  status = 0;
done:
  free(L->curves.v);
  nnrt_model_free(m);
  nnrt_model_free(L->best);
  L->best = NULL;
  return status;
}

/* The flags of the data files against each other; false after an error. */
static bool files_settled(Run *r) {
  if (r->val_fraction_given && r->val_file_given) {
    fprintf(stderr, "error: --validation F holds out a fraction of the data and --validation-%s names a file: "
            "give one of them\n", r->p->reader == NNRT_NPY ? "x" : r->p->reader == NNRT_IDX ? "images" : "data");
    return false;
  }
  if (r->val_fraction_given) r->val.data = r->val.x = r->val.y = NULL, r->val.nxs = r->val.nys = 0; /* the fraction replaces the file */
  if (r->val_file_given) r->validation = 0;
  if (r->output && !r->predict)
    return fprintf(stderr, "error: --output is where --predict FILE writes its predictions; give --predict\n"), false;
  if (r->predict && !r->output)
    return fprintf(stderr, "error: --predict needs --output FILE (CSV, or NumPy when it ends in .npy)\n"), false;
  if (r->predict && r->training_flag)
    return fprintf(stderr, "error: %s is for training, and --predict trains nothing; drop one of them\n",
                   r->training_flag), false;
  if (r->predict && !r->load)
    return fprintf(stderr, "error: --predict needs --load FILE, the checkpoint or weights file to predict with\n"),
           false;
  return true;
}

/* Text with overlapping windows (stride < steps): the training rows that
 * share bytes with the first held-out row are left out, so that nothing
 * held out was seen in training. */
static void text_gap(const Run *r, Loop *L) {
  const NnrtProgram *p = r->p;
  int64_t stride = p->stride > 0 ? p->stride : p->features;
  if (p->reader != NNRT_TEXT || !L->nval || stride >= p->features) return;
  int64_t gap = (p->features + stride - 1) / stride - 1, f = L->t.features;
  if (gap > L->ntrain) gap = L->ntrain;
  L->ntrain -= gap;
  memmove(L->t.x + L->ntrain * f, L->t.x + (L->ntrain + gap) * f, sizeof(float) * (size_t)(L->nval * f));
  memmove(L->t.y + L->ntrain * f, L->t.y + (L->ntrain + gap) * f, sizeof(float) * (size_t)(L->nval * f));
  L->t.rows -= gap;
  if (!r->quiet)
    printf("text: %lld windows of %lld bytes, one every %lld: %lld to train, %lld held out, %lld left out between "
           "them (they overlap the held-out text)\n", (long long)(L->t.rows + gap), (long long)p->features,
           (long long)stride, (long long)L->ntrain, (long long)L->nval, (long long)gap);
}

/* --patience, --no-early-stop, --no-reduce-lr, --save-best into q (a copy
 * of r->p), with what they watch checked against --validation. */
static bool callback_flags(Run *r, NnrtProgram *q) {
  if (r->patience >= 0 && !q->has_early) {
    fprintf(stderr, "error: --patience: the train block has no early stopping (stop plateau(...))\n");
    return false;
  }
  if (r->patience >= 0) q->patience = r->patience;
  if (r->no_early) q->has_early = q->has_stop = false;
  if (r->no_reduce) q->has_reduce = false;
  if (r->save_best) {
    if (!q->has_best) q->best_val = r->validation > 0 || has_source(r->p, &r->val), q->best_metric = -1;
    q->has_best = true, q->best_path = r->save_best;
  }
  struct { bool on, val; const char *what; } w[] = {
    {q->has_early, q->early_val, "early stopping"}, {q->has_reduce, q->reduce_val, "reduce_lr"},
    {q->has_best, q->best_val, "save best"}, {q->has_stop, q->stop_val, "the stop rule"},
  };
  for (size_t i = 0; i < sizeof w / sizeof *w; i++)
    if (w[i].on && w[i].val && !(r->validation > 0) && !has_source(r->p, &r->val)) {
      fprintf(stderr, "error: %s watches a val_ figure, but --validation 0 holds out no rows\n", w[i].what);
      return false;
    }
  return true;
}

NNRT_API int nnrt_train_main(const NnrtProgram *p, int argc, char **argv) {
  Run r = {.p = p, .desc = p->def->desc, .data = p->data, .x = p->x, .y = p->y, .epochs = p->epochs, .patience = -1,
           .w = p->w, .weight_name = p->weight_name, .weight_col = p->weight_col, .arrays = p->arrays,
           .batch = p->batch, .seed = p->seed, .validation = p->validation, .generate = 200, .temperature = 0.7,
           .val = p->val, .test = p->test, .sparsity = p->sparsity};
  bool done = false;
  int status = parse_flags(&r, argc, argv, &done);
  if (status || done) return status;
  if (!files_settled(&r)) return 1;
  if (r.predict && multi(p))
    return fprintf(stderr, "error: --predict reads one array of samples, and model %s has %d inputs and %d outputs; "
                   "predict through its library (M_predict_outputs, docs/c-api.md)\n", p->def->name, p->ninputs,
                   p->noutputs), 1;
  if (r.predict) return nnrt_predict_main(p, r.load, r.predict, r.output, r.batch, r.threads, r.seed, r.quiet);
  NnrtProgram prog = *p; /* the callbacks as the flags leave them */
  if (!callback_flags(&r, &prog)) return 1;
  r.p = p = &prog;
  if (!r.quiet && p->summary) fputs(p->summary, stdout);
  /* from here on a signal stops the run at its next step (or its first) */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = nnrt_on_signal;
  sa.sa_flags = SA_RESETHAND; /* a second one ends the program at once */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  char err[1024];
  Loop L = {0};
  if (!read_data(&r, &L.t, err, sizeof err) || !check_data(&r, &L.t, err, sizeof err) ||
      (has_source(p, &r.val) && !read_other(&r, &r.val, "validation", &L.v, err, sizeof err)) ||
      (has_source(p, &r.test) && !read_other(&r, &r.test, "test", &L.test, err, sizeof err))) {
    fprintf(stderr, "error: %s\n", err);
    nnrt_table_free(&L.t);
    nnrt_table_free(&L.v);
    nnrt_table_free(&L.test);
    return 1;
  }
  if (L.v.rows) { /* a validation file */
    L.nval = L.v.rows, L.ntrain = L.t.rows, L.vt = &L.v, L.vfrom = 0;
  } else {
    L.nval = (int64_t)((double)L.t.rows * r.validation);
    L.ntrain = L.t.rows - L.nval;
    text_gap(&r, &L);
    L.vt = &L.t, L.vfrom = L.ntrain;
  }
  status = 1;
  if (L.ntrain < 1) {
    fprintf(stderr, "error: no samples left to train on\n");
    goto done;
  }
  /* a batch is at most the data: the buffers hold L.chunk samples */
  int64_t most = L.t.rows > L.v.rows ? L.t.rows : L.v.rows;
  most = most > L.test.rows ? most : L.test.rows;
  L.chunk = r.batch < most ? r.batch : most;
  int64_t w = multi(p) ? nnrt_arrays_width(p->def) : p->form == NNRT_FORM_ONEHOT ? p->classes : p->labels;
  L.x = nnrt_alloc(8 * (size_t)(L.chunk * p->features));
  L.y = nnrt_alloc(8 * (size_t)(L.chunk * w));
  L.perm = nnrt_alloc(sizeof(int64_t) * (size_t)L.t.rows);
  L.order = nnrt_alloc(sizeof(int64_t) * (size_t)most);
  L.aug = nnrt_alloc(sizeof(float) * (size_t)p->features);
  if (!L.x || !L.y || !L.perm || !L.order || !L.aug) {
    fprintf(stderr, "error: out of memory for batches of %lld samples\n", (long long)L.chunk);
    goto done;
  }
  for (int64_t i = 0; i < most; i++) L.order[i] = i;
  if (r.save) { /* a save that was killed left its temporary file */
    size_t len = strlen(r.save) + 5;
    char *tmp = malloc(len);
    struct stat st;
    if (tmp && (snprintf(tmp, len, "%s.tmp", r.save), lstat(tmp, &st) == 0) && S_ISREG(st.st_mode) && remove(tmp) == 0)
      fprintf(stderr, "note: removed %s, left by a save that was interrupted\n", tmp);
    free(tmp);
  }
  if (r.log && !(L.log = open_log(&r, L.nval > 0))) goto done;
  if (r.confusion) { /* a classifier's held-out samples */
    int64_t k = nnrt_confusion_classes(p);
    if (k < 1 || L.nval < 1) {
      fprintf(stderr, "error: --confusion draws the held-out samples' classes: %s\n",
              k < 1 ? "this model's output holds no classes" : "nothing is held out (--validation F, or its files)");
      goto done;
    }
    if (!(r.counts = calloc((size_t)(k * k), sizeof(int64_t)))) goto done;
  }
  L.bar = !r.quiet && isatty(1);
  status = train(&r, &L);
  if (L.log && fclose(L.log) != 0 && !status) {
    fprintf(stderr, "error: %s: cannot write\n", r.log);
    status = 1;
  }
  L.log = NULL;
done:
  if (L.log) fclose(L.log);
  free(r.counts);
  free(L.x);
  free(L.y);
  free(L.perm);
  free(L.order);
  free(L.aug);
  nnrt_table_free(&L.t);
  nnrt_table_free(&L.v);
  nnrt_table_free(&L.test);
  return status;
}
