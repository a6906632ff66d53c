/* emit_main.c — the `main` of the standalone training program.
 *
 * `nnc model.nn --emit=c -o train.c` writes one C file: the runtime, the
 * model (emit_c.c) and this main, which trains with the train block's
 * settings. Flags override them. The data is a CSV table (other sources
 * come with their readers); the last `validation` fraction of the rows is
 * held out, as Keras's validation_split does.
 *
 *   Epoch 3/150 - loss: 0.4521 - accuracy: 0.8123 - val_loss: 0.40 - val_accuracy: 0.85 - 0.01s
 */
#include <string.h>
#include "nnc.h"

static Val *arg(const Setting *st, const char *name) {
  for (int i = 0; i < st->b->nparams; i++)
    if (!strcmp(st->b->params[i].name, name)) return &st->args[i];
  bug("%s has no argument %s", st->b->name, name);
}

/* Whether the program can be written: any data source, a validation fraction. */
bool main_supported(TrainInfo *t, Loc *where, const char **why) {
  *where = t->decl->name_loc;
  if (t->validation_data.b) {
    *where = t->validation_data.node->loc;
    *why = "the training program holds out a fraction of the data so far; write validation 0.2";
    return false;
  }
  return true;
}

/* What the program needs to know about the model and its data. */
typedef struct Prog {
  FILE *o;
  const char *model;
  TrainInfo *t;
  Graph *train;
  int64_t features, width, classes;   /* per sample: input values, label values, classes */
  bool sparse, onehot, binary;        /* the labels the loss wants */
  const char *reader;                 /* the data source: csv, idx, npy, cifar10 or text */
  bool tokens;                        /* the input is i32 token ids (text) */
  int64_t per_label;                  /* labels a sample in the table (text: its length) */
  bool pair, header, normalize;       /* pair: samples and labels in two files */
  int64_t height, width_px, channels; /* an image input's shape, else 1, 1, features */
  const char *fa, *fb;                /* a pair's flags: images/labels or x/y */
  const char *path, *label_name, *delim, *images, *labels;
  int label_col;
  double scale;
  bool accuracy, precision, recall;   /* the metrics to print */
} Prog;

static Prog describe(FILE *o, const char *model, TrainInfo *t, Graph *train) {
  const Value *in = &train->v[train->inputs[0]];
  const Value *lab = &train->v[train->label];
  const Value *out = &train->v[train->outputs[0]];
  int64_t features = 1, width = 1, classes = out->shape.dim[out->shape.rank - 1];
  for (int d = 1; d < in->shape.rank; d++) features *= in->shape.dim[d];
  for (int d = 1; d < lab->shape.rank; d++) width *= lab->shape.dim[d];
  const char *loss = t->loss.b->name;
  bool sparse = !strcmp(loss, "sparse_categorical_crossentropy");
  bool onehot = !strcmp(loss, "categorical_crossentropy");
  bool binary = !sparse && !onehot && width == 1;

  const char *path = "", *label_name = NULL, *delim = ",", *images = "", *labels = "";
  const char *reader = t->data.b ? t->data.b->name : "csv";
  bool npy = !strcmp(reader, "npy"), pair = npy || !strcmp(reader, "idx");
  const char *fa = npy ? "x" : "images", *fb = npy ? "y" : "labels";
  int label_col = -1;
  bool header = false, normalize = false;
  double scale = 1;
  int64_t height = 1, width_px = 1, channels = features;
  if (in->shape.rank == 4)
    height = in->shape.dim[1], width_px = in->shape.dim[2], channels = in->shape.dim[3];
  else if (in->shape.rank > 1)
    channels = in->shape.dim[in->shape.rank - 1];
  if (pair) {
    images = arg(&t->data, fa)->s;
    labels = arg(&t->data, fb)->s;
    scale = arg(&t->data, "scale")->f;
    normalize = arg(&t->data, "normalize")->i;
  } else if (!strcmp(reader, "cifar10")) {
    path = arg(&t->data, "path")->s;
    scale = arg(&t->data, "scale")->f;
    normalize = arg(&t->data, "normalize")->i;
  } else if (!strcmp(reader, "text")) {
    path = arg(&t->data, "path")->s;
  } else if (t->data.b) {
    Val *l = arg(&t->data, "label");
    path = arg(&t->data, "path")->s;
    if (l->kind == VK_STRING) label_name = l->s;
    else if (l->kind == VK_INT) label_col = (int)l->i;
    else if (l->kind == VK_NAME && !strcmp(l->s, "first")) label_col = 0;
    header = arg(&t->data, "header")->i;
    delim = arg(&t->data, "delimiter")->s;
    scale = arg(&t->data, "scale")->f;
    normalize = arg(&t->data, "normalize")->i;
  }
  bool accuracy = false, precision = false, recall = false;
  for (int i = 0; i < t->nmetrics; i++) {
    precision |= binary && !strcmp(t->metrics[i]->name, "precision");
    recall |= binary && !strcmp(t->metrics[i]->name, "recall");
  }
  for (int i = 0; i < t->nmetrics; i++) accuracy |= strstr(t->metrics[i]->name, "accuracy") != NULL;

  return (Prog){.o = o, .model = model, .t = t, .train = train, .features = features,
                .tokens = in->dtype == DT_I32, .per_label = onehot ? 1 : width,
                .width = width, .classes = classes, .sparse = sparse, .onehot = onehot,
                .binary = binary, .reader = reader, .pair = pair, .fa = fa, .fb = fb,
                .header = header, .normalize = normalize, .height = height, .width_px = width_px,
                .channels = channels,
                .path = path, .label_name = label_name, .delim = delim, .images = images,
                .labels = labels, .label_col = label_col, .scale = scale, .accuracy = accuracy,
                .precision = precision, .recall = recall};
}

/* usage(), flag parsing, accuracy counting, batch gathering, held-out figures */
static void emit_helpers(Prog *p) {
  fprintf(p->o, "\n/* ---- the training program ---- */\n\n"
             "static void usage(FILE *f) {\n"
             "  fprintf(f, \"usage: %%s [options]\\n"
             "Trains model %s as its train block says; the options override it.\\n"
             "%s"
             "  --epochs N         passes over the training rows (%lld)\\n"
             "  --batch N          samples a step (%lld)\\n"
             "  --seed N           seed of initialization, shuffling and dropout (%lld)\\n"
             "  --validation F     fraction of the rows, from the end, held out (%g)\\n"
             "  --lr X             the optimizer's learning rate (%g)\\n"
             "  --log FILE         write loss and metrics of every epoch as CSV\\n"
             "  --threads N        threads for the loops (default: all); any count gives the same bits\\n"
             "  --save FILE        write weights, optimizer state and counters at the end\\n"
             "  --load FILE        start from such a checkpoint: training continues\\n"
             "  --quiet            no line per epoch\\n"
             "  --help             this text\\n\", \"train\");\n}\n",
          p->model,
          !strcmp(p->reader, "npy") ? "  --x FILE           NumPy .npy array of samples\\n"
                                    "  --y FILE           NumPy .npy array of their labels\\n"
          : p->pair ? "  --images FILE      IDX file of samples (unsigned bytes)\\n"
                "  --labels FILE      IDX file of their labels\\n"
          : !strcmp(p->reader, "cifar10") ? "  --data PATH        CIFAR-10 binary batch, or the directory of data_batch_1..5.bin\\n"
          : !strcmp(p->reader, "text") ? "  --data FILE        a text file, read as bytes\\n"
                                         "  --generate N       then write N characters after --prompt (200)\\n"
                                         "  --temperature T    of that sample: 0 the most likely, more is freer (0.7)\\n"
                                         "  --prompt TEXT      the start of the sample (the held-out text's first line)\\n"
              : arena_printf("  --data FILE        CSV table, one sample a row, the label in column %s%s\\n",
                             p->label_name ? p->label_name : p->label_col < 0 ? "last" : arena_printf("%d", p->label_col),
                             p->header ? " (after a header row)" : ""),
          (long long)p->t->epochs, (long long)p->t->batch,
          (long long)p->t->seed, p->t->validation, p->train->base_lr);
  fprintf(p->o,
          "\nstatic int64_t flag_int(const char *flag, const char *v, int64_t lo) {\n"
          "  char *end;\n  long long x = strtoll(v ? v : \"\", &end, 10);\n"
          "  if (!v || *end || x < lo) { fprintf(stderr, \"error: %%s needs an integer of at least %%lld\\n\", flag, (long long)lo); exit(1); }\n"
          "  return x;\n}\n"
          "\n/* Correct predictions in a batch (at every position of a sequence):\n"
          " * threshold 0.5, or argmax against the class. */\n"
          "enum { LABELS = %lld };  /* labels a sample */\n"
          "static int64_t correct(const float *pred, const float *y, int64_t n) {\n"
          "  int64_t ok = 0;\n"
          "  for (int64_t i = 0; i < n * LABELS; i++) {\n",
          (long long)p->per_label);
  if (p->binary)
    fprintf(p->o, "    ok += (pred[i] > 0.5f) == (y[i] > 0.5f);\n");
  else
    fprintf(p->o, "    int64_t best = 0, want = 0;\n"
               "    for (int64_t c = 1; c < %lld; c++) if (pred[i * %lld + c] > pred[i * %lld + best]) best = c;\n"
               "    %s\n    ok += best == want;\n",
            (long long)p->classes, (long long)p->classes, (long long)p->classes,
            p->onehot ? arena_printf("for (int64_t c = 1; c < %lld; c++) if (y[i * %lld + c] > y[i * %lld + want]) want = c;",
                                  (long long)p->classes, (long long)p->classes, (long long)p->classes)
                   : "want = (int64_t)((const int32_t *)(const void *)y)[i];");
  fprintf(p->o, "  }\n  return ok;\n}\n");

  /* the batch's label tensor from the table's label column */
  fprintf(p->o,
          "\n/* Rows perm[start..start+n) of t into x and y. */\n"
          "static void gather(const NnrtTable *t, const int64_t *perm, int64_t start, int64_t n, float *x, void *y) {\n"
          "  for (int64_t i = 0; i < n; i++) {\n"
          "    int64_t r = perm[start + i];\n");
  if (p->tokens) /* token ids: the table's numbers as i32 */
    fprintf(p->o, "    for (int64_t j = 0; j < %lld; j++) ((int32_t *)(void *)x)[i * %lld + j] = (int32_t)t->x[r * %lld + j];\n",
            (long long)p->features, (long long)p->features, (long long)p->features);
  else
    fprintf(p->o, "    memcpy(x + i * %lld, t->x + r * %lld, sizeof(float) * %lld);\n", (long long)p->features,
            (long long)p->features, (long long)p->features);
  if (p->sparse)
    fprintf(p->o, "    for (int64_t j = 0; j < LABELS; j++) ((int32_t *)y)[i * LABELS + j] = (int32_t)t->y[r * LABELS + j];\n");
  else if (p->onehot)
    fprintf(p->o, "    for (int64_t c = 0; c < %lld; c++) ((float *)y)[i * %lld + c] = (float)(c == (int64_t)t->y[r]);\n",
            (long long)p->width, (long long)p->width);
  else fprintf(p->o, "    for (int64_t j = 0; j < LABELS; j++) ((float *)y)[i * LABELS + j] = t->y[r * LABELS + j];\n");
  fprintf(p->o, "  }\n}\n");

  fprintf(p->o,
          "\n/* Loss and accuracy over rows [from, rows) in inference mode. */\n"
          "static void held_out(%s_Model *m, const NnrtTable *t, const int64_t *order, int64_t from,\n"
          "                     int64_t batch, float *x, void *y, double *loss, double *acc) {\n"
          "  double vs = 0;\n  int64_t vok = 0;\n"
          "  for (int64_t s = from; s < t->rows; s += batch) {\n"
          "    int64_t n = t->rows - s < batch ? t->rows - s : batch;\n"
          "    gather(t, order, s, n, x, y);\n"
          "    const void *inputs[1] = {x};\n"
          "    vs += %s_evaluate(m, inputs, y, n) * (double)n;\n    vok += correct(m->out[0], y, n);\n"
          "  }\n"
          "  *loss = vs / (double)(t->rows - from);\n  *acc = (double)vok / (double)((t->rows - from) * LABELS);\n}\n",
          p->model, p->model);
}

/* main(): flags, the data, its checks */
static void emit_setup(Prog *p) {
  fprintf(p->o, "\nint main(int argc, char **argv) {\n"
             "  const char *data = %s, *images = %s, *labels = %s;\n"
             "  int64_t epochs = %lld, batch = %lld;\n  uint64_t seed = %lld;\n"
             "  double validation = %.17g;\n  int quiet = 0;\n"
             "  const char *save = NULL, *load = NULL, *logpath = NULL;\n  int threads = 0;\n"
             "  double lr = -1;\n  FILE *log = NULL;\n%s",
          quote_str(p->path), quote_str(p->images), quote_str(p->labels), (long long)p->t->epochs,
          (long long)p->t->batch, (long long)p->t->seed, p->t->validation,
          !strcmp(p->reader, "text") ? "  int64_t generate = 200;\n  double temperature = 0.7;\n  const char *prompt = NULL;\n"
                                     : "");
  fprintf(p->o,
          "  for (int i = 1; i < argc; i++) {\n"
          "    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;\n"
          "    if (!strcmp(a, \"--help\")) { usage(stdout); return 0; }\n"
          "    else if (!strcmp(a, \"--quiet\")) quiet = 1;\n"
          "    else if (!strcmp(a, \"--data\") && v) data = argv[++i];\n"
          "    else if (!strcmp(a, \"--%s\") && v) images = argv[++i];\n"
          "    else if (!strcmp(a, \"--%s\") && v) labels = argv[++i];\n"
          "    else if (!strcmp(a, \"--save\") && v) save = argv[++i];\n"
          "    else if (!strcmp(a, \"--threads\")) threads = (int)flag_int(a, v, 1), i++;\n"
          "    else if (!strcmp(a, \"--log\") && v) logpath = argv[++i];\n"
          "    else if (!strcmp(a, \"--lr\") && v) {\n"
          "      char *end;\n      lr = strtod(argv[++i], &end);\n"
          "      if (*end || !(lr > 0)) { fprintf(stderr, \"error: --lr needs a positive number\\n\"); return 1; }\n"
          "    }\n"
          "    else if (!strcmp(a, \"--load\") && v) load = argv[++i];\n"
          "    else if (!strcmp(a, \"--epochs\")) epochs = flag_int(a, v, 0), i++;\n"
          "    else if (!strcmp(a, \"--batch\")) batch = flag_int(a, v, 1), i++;\n"
          "    else if (!strcmp(a, \"--seed\")) seed = (uint64_t)flag_int(a, v, 0), i++;\n"
          "%s"
          "    else if (!strcmp(a, \"--validation\") && v) {\n"
          "      char *end;\n      validation = strtod(argv[++i], &end);\n"
          "      if (*end || !(validation >= 0 && validation < 1)) { fprintf(stderr, \"error: --validation needs a number in [0, 1)\\n\"); return 1; }\n"
          "    } else { fprintf(stderr, \"error: unknown option '%%s'\\n\", a); usage(stderr); return 1; }\n"
          "  }\n"
          "  (void)data; (void)images; (void)labels;\n"
          "  NnrtTable t;\n  char err[1024];\n"
          "  if (%s) {\n"
          "    fprintf(stderr, \"error: no data: give %s\\n\");\n    return 1;\n  }\n"
          "  if (!%s) {\n"
          "    fprintf(stderr, \"error: %%s\\n\", err);\n    return 1;\n  }\n"
          "  if (t.features != %lld) {\n"
          "    fprintf(stderr, \"error: %%s: samples have %%lld values; model %s takes %lld\\n\", %s, (long long)t.features);\n"
          "    return 1;\n  }\n",
          p->fa, p->fb,
          !strcmp(p->reader, "text")
              ? "    else if (!strcmp(a, \"--generate\")) generate = flag_int(a, v, 0), i++;\n"
                "    else if (!strcmp(a, \"--prompt\") && v) prompt = argv[++i];\n"
                "    else if (!strcmp(a, \"--temperature\") && v) {\n"
                "      char *end;\n      temperature = strtod(argv[++i], &end);\n"
                "      if (*end || !(temperature >= 0)) { fprintf(stderr, \"error: --temperature needs a number of at least 0\\n\"); return 1; }\n"
                "    }\n"
              : "",
          p->pair ? "!*images || !*labels" : "!*data",
          p->pair ? arena_printf("--%s FILE --%s FILE", p->fa, p->fb) : "--data FILE",
          p->pair ? arena_printf("nnrt_%s_load(images, labels, %.17g, &t, err, sizeof err)",
                                p->reader, p->scale)
          : !strcmp(p->reader, "cifar10") ? arena_printf("nnrt_cifar_load(data, %.17g, &t, err, sizeof err)", p->scale)
          : !strcmp(p->reader, "text") ? arena_printf("nnrt_text_load(data, %lld, &t, err, sizeof err)", (long long)p->features)
              : arena_printf("nnrt_csv_load(data, %s, %d, %d, (char)%d, %.17g, &t, err, sizeof err)",
                             p->label_name ? quote_str(p->label_name) : "NULL", p->label_col, p->header,
                             (int)p->delim[0], p->scale),
          (long long)p->features, p->model, (long long)p->features, p->pair ? "images" : "data");
  if (!p->onehot)
    fprintf(p->o, "  if (t.width != LABELS) {\n"
                  "    fprintf(stderr, \"error: %%s: %%lld labels a sample; model %s needs %lld\\n\", %s, (long long)t.width);\n"
                  "    return 1;\n  }\n",
            p->model, (long long)p->per_label, p->pair ? "labels" : "data");
  if (p->onehot || p->sparse)
    fprintf(p->o, "  for (int64_t r = 0; r < t.rows * t.width; r++)\n"
               "    if (t.y[r] != (float)(int64_t)t.y[r] || t.y[r] < 0 || t.y[r] >= %lld) {\n"
               "      fprintf(stderr, \"error: %%s: sample %%lld: the label %%g is not a class from 0 to %lld\\n\", %s, (long long)(r / t.width) + 1, (double)t.y[r]);\n"
               "      return 1;\n    }\n",
            (long long)p->classes, (long long)p->classes - 1, p->pair ? "labels" : "data");
  fprintf(p->o,
          "  int64_t nval = (int64_t)((double)t.rows * validation), ntrain = t.rows - nval;\n"
          "  if (ntrain < 1) { fprintf(stderr, \"error: no samples left to train on\\n\"); return 1; }\n");
  if (p->normalize) fprintf(p->o, "  nnrt_standardize(&t, ntrain, %lld);\n", (long long)p->channels);
}

/* A text model's sample after training: --generate characters after the
 * prompt (by default the held-out text's first line, or the training
 * text's), printed with non-printing bytes escaped. */
static const char *sample_lines(Prog *p) {
  return arena_printf(
      "  if (generate > 0) {\n"
      "    int32_t *ids = nnrt_alloc(sizeof(int32_t) * (size_t)(generate + %lld));\n"
      "    int32_t *gen = nnrt_alloc(sizeof(int32_t) * (size_t)generate);\n"
      "    int64_t len = 0, from = (nval ? ntrain : 0) * t.features;\n"
      "    if (prompt) for (; prompt[len] && len < %lld; len++) ids[len] = (unsigned char)prompt[len];\n"
      "    else for (; from + len < t.rows * t.features && len < %lld; len++) {\n"
      "      ids[len] = (int32_t)t.x[from + len];\n"
      "      if (ids[len] == '\\n' && len) { len++; break; }\n"
      "    }\n"
      "    if (len < 1) ids[len++] = ' ';\n"
      "    if (%s_generate(m, ids, len, generate, temperature, seed, gen) != 0) { fprintf(stderr, \"error: cannot generate\\n\"); return 1; }\n"
      "    printf(\"sample (temperature %%g):\\n\", temperature);\n"
      "    for (int64_t i = 0; i < len + generate; i++) {\n"
      "      int c = i < len ? ids[i] : gen[i - len];\n"
      "      if (c == '\\n' || c == '\\t' || (c >= 32 && c < 127)) putchar(c); else printf(\"\\\\x%%02x\", c);\n"
      "    }\n"
      "    printf(\"\\n\");\n"
      "    free(ids);\n    free(gen);\n"
      "  }\n",
      (long long)p->features, (long long)p->features, (long long)p->features, p->model);
}

/* main() continued: the model, the epochs, the progress line, the end */
static void emit_loop(Prog *p) {
  fprintf(p->o,
          "  %s_Model *m = %s_create(seed);\n"
          "  float *x = nnrt_alloc(sizeof(float) * (size_t)(batch * %lld));\n"
          "  void *y = nnrt_alloc(sizeof(float) * (size_t)(batch * %lld));\n"
          "  int64_t *perm = nnrt_alloc(sizeof(int64_t) * (size_t)t.rows), *order = nnrt_alloc(sizeof(int64_t) * (size_t)t.rows);\n"
          "  for (int64_t i = 0; i < t.rows; i++) order[i] = i;\n"
          "  float *aug = nnrt_alloc(sizeof(float) * %lld);  /* one image, for augmentation */\n"
          "  (void)aug;\n"
          "  double start = nnrt_seconds(), val_loss = 0, val_acc = 0;\n"
          "  %s_set_threads(m, threads);\n"
          "  if (lr > 0) %s_set_lr(m, lr);\n"
          "  if (logpath) {\n"
          "    log = fopen(logpath, \"w\");\n"
          "    if (!log) { fprintf(stderr, \"error: %%s: cannot write: %%s\\n\", logpath, strerror(errno)); return 1; }\n"
          "    fprintf(log, \"epoch,loss,accuracy,val_loss,val_accuracy,seconds\\n\");\n"
          "  }\n"
          "  if (load && %s_load(m, load, err, sizeof err) != 0) {\n"
          "    fprintf(stderr, \"error: %%s\\n\", err);\n    return 1;\n  }\n"
          "  int64_t epoch = m->epoch, first = m->epoch;\n"
          "  for (; epoch < epochs; epoch++) {\n"
          "    m->epoch = epoch;\n"
          "    %s\n"
          "    double sum = 0;\n    int64_t ok = 0, tp = 0, fp = 0, fn = 0;\n"
          "    for (int64_t s = 0; s < ntrain; s += batch) {\n"
          "      int64_t n = ntrain - s < batch ? ntrain - s : batch;\n"
          "      gather(&t, perm, s, n, x, y);\n"
          "%s"
          "      const void *inputs[1] = {x};\n"
          "      sum += %s_train_step(m, inputs, y, n) * (double)n;\n"
          "      ok += correct(m->out[0], y, n);\n"
          "      %s\n"
          "    }\n"
          "    double loss = sum / (double)ntrain, acc = (double)ok / (double)(ntrain * LABELS);\n"
          "    (void)acc;\n"
          "    if (nval) held_out(m, &t, order, ntrain, batch, x, y, &val_loss, &val_acc);\n"
          "    if (!quiet) {\n"
          "      printf(\"Epoch %%lld/%%lld - loss: %%.4f\", (long long)epoch + 1, (long long)epochs, loss);\n",
          p->model, p->model, (long long)p->features, (long long)(p->width > 1 ? p->width : 1), (long long)p->features, p->model, p->model, p->model,
          p->t->shuffle ? "nnrt_shuffle(perm, ntrain, seed, epoch);"
                     : "for (int64_t i = 0; i < ntrain; i++) perm[i] = i;",
          p->t->flip || p->t->crop
              ? arena_printf("      nnrt_augment(x, n, %lld, %lld, %lld, %d, %lld, seed, (uint64_t)(epoch * ntrain + s), aug);\n",
                             (long long)p->height, (long long)p->width_px, (long long)p->channels, p->t->flip,
                             (long long)p->t->crop)
              : "",
          p->model,
          p->binary ? "for (int64_t i = 0; i < n; i++) { /* the positive class is 1 */\n"
                   "        int p = ((const float *)m->out[0])[i] > 0.5f, l = ((const float *)y)[i] > 0.5f;\n"
                   "        tp += p && l, fp += p && !l, fn += !p && l;\n      }"
                 : "(void)tp; (void)fp; (void)fn;");
  if (p->accuracy) fprintf(p->o, "      printf(\" - accuracy: %%.4f\", acc);\n");
  if (p->precision) fprintf(p->o, "      printf(\" - precision: %%.4f\", tp + fp ? (double)tp / (double)(tp + fp) : 0.0);\n");
  if (p->recall) fprintf(p->o, "      printf(\" - recall: %%.4f\", tp + fn ? (double)tp / (double)(tp + fn) : 0.0);\n");
  fprintf(p->o, "      if (nval) printf(\" - val_loss: %%.4f\", val_loss);\n");
  if (p->accuracy) fprintf(p->o, "      if (nval) printf(\" - val_accuracy: %%.4f\", val_acc);\n");
  fprintf(p->o, "      double spent = nnrt_seconds() - start;\n"
             "      printf(\" - %%.2fs\", spent);\n"
             "      if (epoch + 1 < epochs) printf(\" - eta %%.0fs\", spent / (double)(epoch + 1 - first) * (double)(epochs - epoch - 1));\n"
             "      printf(\"\\n\");\n      fflush(stdout);\n    }\n"
             "    if (log) {\n"
             "      fprintf(log, \"%%lld,%%.6f,%%.6f,%%.6f,%%.6f,%%.3f\\n\", (long long)epoch + 1, loss, acc,\n"
             "              nval ? val_loss : NAN, nval ? val_acc : NAN, nnrt_seconds() - start);\n"
             "      fflush(log);\n    }\n");
  if (p->t->has_stop) {
    const char *mname = p->t->stop_metric, *var = "loss";
    if (!strcmp(mname, "val_loss")) var = "val_loss";
    else if (!strncmp(mname, "val_", 4)) var = "val_acc";
    else if (strcmp(mname, "loss") != 0) var = "acc";
    const char *op = p->t->stop_op == 'l' ? "<=" : p->t->stop_op == 'g' ? ">=" : p->t->stop_op == '<' ? "<" : ">";
    fprintf(p->o, "    if (%s %s %.17g) {\n"
               "      if (!quiet) printf(\"stopping: %s %s %g\\n\");\n"
               "      epoch++;\n      break;\n    }\n",
            var, op, p->t->stop_value, mname, op, p->t->stop_value);
  }
  fprintf(p->o, "  }\n"
             "  m->epoch = epoch; /* epochs done, where a --load continues */\n"
             "  if (nval) held_out(m, &t, order, ntrain, batch, x, y, &val_loss, &val_acc);\n"
             "  if (save && %s_save(m, save, err, sizeof err) != 0) {\n"
             "    fprintf(stderr, \"error: %%s\\n\", err);\n    return 1;\n  }\n"
             "  if (nval) printf(\"held-out: %%lld samples, loss %%.4f%s%s\\n\", (long long)nval, val_loss%s%s);\n"
             "%s"
             "  if (log && fclose(log) != 0) { fprintf(stderr, \"error: %%s: cannot write\\n\", logpath); return 1; }\n"
             "  free(x);\n  free(y);\n  free(perm);\n  free(order);\n  free(aug);\n  nnrt_table_free(&t);\n"
             "  %s_free(m);\n  return 0;\n}\n",
          p->model, p->accuracy ? ", accuracy %.4f" : "", !strcmp(p->reader, "text") ? ", %.3f bits per character" : "",
          p->accuracy ? ", val_acc" : "", !strcmp(p->reader, "text") ? ", val_loss / 0.69314718055994530942" : "",
          !strcmp(p->reader, "text") ? sample_lines(p) : "", p->model);
}

void emit_c_main(FILE *o, const char *model, TrainInfo *t, Graph *train, Graph *eval) {
  (void)eval;
  Prog p = describe(o, model, t, train);
  emit_helpers(&p);
  emit_setup(&p);
  emit_loop(&p);
}
