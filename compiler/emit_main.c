/* emit_main.c — the `main` of the standalone training program.
 *
 * `nnc model.nn --emit=c -o train.c` writes one C file: the runtime, the
 * model (emit_c.c) and a main that trains with the train block's
 * settings. The program itself is the runtime's (runtime/nnrt_program.c:
 * flags, data, epochs, checkpoints); this file writes the train block as
 * the constant NnrtProgram it runs.
 *
 *   Epoch 3/150 - loss: 0.4521 - accuracy: 0.8123 - val_loss: 0.4012 - val_accuracy: 0.8500 - 0.01s
 *     - 41311 samples/s - total 0.03s - eta 2s
 *
 * The callbacks (`stop plateau`, `reduce_lr plateau`, `save best`) become
 * fields with their monitors as the runtime's metric numbers, and the
 * schedules are written again as data so that the epoch line can show the
 * rate (compiler/train.c computes the one the step uses).
 */
#include <string.h>
#include "nnc.h"


/* The runtime's constant for a built-in's name: NNRT_SPARSE_CATEGORICAL_ACCURACY,
 * NNRT_CIFAR10 (a name the runtime lacks fails to compile, loudly). */
static const char *runtime_enum(const char *name) {
  char *e = arena_printf("NNRT_%s", name);
  for (char *c = e; *c; c++)
    if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
  return e;
}

/* A callback's monitor as the runtime's: ".early_val = 1, .early_metric = NNRT_MAE" */
static void emit_monitor(FILE *o, const Setting *st, const char *prefix) {
  const char *m = st->args[0].s;
  bool val = !strncmp(m, "val_", 4);
  const char *base = val ? m + 4 : m;
  fprintf(o, "  .%s_val = %d, .%s_metric = %s,\n", prefix, val, prefix, !strcmp(base, "loss") ? "-1" : runtime_enum(base));
}

/* The callbacks and the schedules (the epoch line shows the rate). */
static void emit_callbacks(FILE *o, TrainInfo *t) {
  if (t->early.b) {
    fprintf(o, "  .has_early = 1, .patience = %lld, .min_delta = %.17g, .restore_best = %d,\n",
            (long long)setting_arg(&t->early, "patience")->i, setting_arg(&t->early, "min_delta")->f,
            (int)setting_arg(&t->early, "restore_best")->i);
    emit_monitor(o, &t->early, "early");
  }
  if (t->reduce_lr.b) {
    const Setting *r = &t->reduce_lr;
    fprintf(o, "  .has_reduce = 1, .factor = %.17g, .reduce_patience = %lld, .min_lr = %.17g,\n"
               "  .reduce_min_delta = %.17g, .cooldown = %lld,\n",
            setting_arg(r, "factor")->f, (long long)setting_arg(r, "patience")->i, setting_arg(r, "min_lr")->f, setting_arg(r, "min_delta")->f,
            (long long)setting_arg(r, "cooldown")->i);
    emit_monitor(o, r, "reduce");
  }
  if (t->save_best.b) {
    const Val *path = setting_arg(&t->save_best, "path");
    fprintf(o, "  .has_best = 1, .best_path = %s,\n", path->kind == VK_STRING ? quote_str(path->s) : "NULL");
    emit_monitor(o, &t->save_best, "best");
  }
  if (t->prune.b)
    fprintf(o, "  .prune = 1, .sparsity = %.17g, .prune_begin = %lld, .prune_end = %lld,\n", t->prune_sparsity,
            (long long)t->prune_begin, (long long)t->prune_end);
  if (t->nschedules) {
    fprintf(o, "  .nschedules = %d, .schedules = {", t->nschedules);
    for (int i = 0; i < t->nschedules; i++) {
      const Setting *st = &t->schedules[i];
      double a = st->args[0].kind == VK_INT ? (double)st->args[0].i : st->args[0].f, b = 0;
      if (st->b->nparams > 1) b = st->args[1].kind == VK_INT ? (double)st->args[1].i : st->args[1].f;
      fprintf(o, "%s{NNRT_SCHEDULE_%s, %.17g, %.17g}", i ? ", " : "", runtime_enum(st->b->name) + 5, a, b);
    }
    fprintf(o, "},\n");
  }
}

/* Whether the program can be written: any data source, a validation
 * fraction or file, a test file. */
bool main_supported(TrainInfo *t, Loc *where, const char **why) {
  *where = t->decl->name_loc;
  *why = NULL;
  int nin = 0;
  for (const Node *st = t->model->decl->kids; st; st = st->next) nin += st->kind == ND_INPUT;
  bool npy = t->data.b && !strcmp(t->data.b->name, "npy");
  if ((t->model->noutputs > 1 || nin > 1) && !npy) {
    *why = arena_printf("the training program reads a model with several inputs or outputs from npy arrays, "
                        "npy(x: [...], y: [...]), one an input and one an output, but model '%s' has %d inputs and "
                        "%d outputs and %s; write that data source, or build a library (-o %s.so) and train it with "
                        "its train_step_outputs (docs/c-api.md)", t->model->decl->name, nin, t->model->noutputs,
                        t->data.b ? arena_printf("its data is '%s'", t->data.b->name) : "no data",
                        t->model->decl->name);
    return false;
  }
  const char *reader = t->data.b ? t->data.b->name : "csv";
  if (t->sample_weights && strcmp(reader, "csv") != 0 && strcmp(reader, "npy") != 0) {
    *where = t->data.node->loc;
    *why = arena_printf("'sample_weights true': the training program reads each sample's weight from the data, "
                        "csv(..., weight: COLUMN) or npy(..., w: FILE), and '%s' has none; build a library "
                        "(-o %s.so) and pass the weights to its train_step_outputs (docs/c-api.md)", reader,
                        t->model->decl->name);
    return false;
  }
  return true;
}

/* A source's weights: ".w = ..." (npy) or ".weight_name = ..., .weight_col = N" (csv), the data's when
 * `inherit` and the source does not write its own (csv). */
static void emit_weights(FILE *o, const Setting *st, const Setting *data, bool inherit) {
  const Setting *fmt = st->b ? st : data;
  bool csv = fmt->b && !strcmp(fmt->b->name, "csv");
  if (!csv && (!fmt->b || strcmp(fmt->b->name, "npy") != 0)) {
    fprintf(o, ", .weight_col = -1");
    return;
  }
  const char *name = csv ? "weight" : "w";
  const Setting *from = !inherit || !st->b || setting_arg_written(st, name) || !data->b ? fmt : data;
  Val *w = setting_arg(from, name);
  if (!csv && st->b && w->kind == VK_STRING) fprintf(o, ", .w = %s", quote_str(w->s));
  if (!csv) fprintf(o, ", .weight_col = -1");
  else
    fprintf(o, ", .weight_name = %s, .weight_col = %d", w->kind == VK_STRING ? quote_str(w->s) : "NULL",
            w->kind == VK_INT ? (int)w->i : -1);
}

/* npy's x and y of a model with several inputs or outputs: ".xs = {...}, .nxs = N, .ys = ..., .nys = M, " */
static void emit_arrays(FILE *o, const Setting *st) {
  for (int k = 0; k < 2; k++) {
    const Val *v = setting_arg(st, k ? "y" : "x");
    int n = v->kind == VK_LIST ? v->nitems : 1;
    fprintf(o, ".%ss = {", k ? "y" : "x");
    for (int i = 0; i < n; i++) fprintf(o, "%s%s", i ? ", " : "", quote_str(v->kind == VK_LIST ? v->items[i].s : v->s));
    fprintf(o, "}, .n%ss = %d, ", k ? "y" : "x", n);
  }
}


/* A validation or test file as the runtime's NnrtSource: its paths, and
 * the reader's settings (the data's when there is no such file, for a
 * file the flags name). */
static void emit_source(FILE *o, const char *field, const Setting *st, const Setting *data) {
  const Setting *fmt = st->b ? st : data;
  const char *reader = fmt->b ? fmt->b->name : "csv";
  bool npy = !strcmp(reader, "npy"), pair = npy || !strcmp(reader, "idx");
  fprintf(o, "  .%s = {", field);
  if (st->b && npy) emit_arrays(o, st); /* what a model with several inputs or outputs reads */
  if (st->b && npy && (setting_arg(st, "x")->kind != VK_STRING || setting_arg(st, "y")->kind != VK_STRING))
    ; /* lists: only those */
  else if (st->b && pair)
    fprintf(o, ".x = %s, .y = %s, ", quote_str(setting_arg(st, npy ? "x" : "images")->s), quote_str(setting_arg(st, npy ? "y" : "labels")->s));
  else if (st->b)
    fprintf(o, ".data = %s, ", quote_str(setting_arg(st, "path")->s));
  if (!strcmp(reader, "csv") && fmt->b) {
    Val *l = source_arg(fmt, data, "label");
    fprintf(o, ".label_name = %s, .label_col = %d, .header = %d, .delimiter = %d",
            l->kind == VK_STRING ? quote_str(l->s) : "NULL",
            l->kind == VK_INT ? (int)l->i : l->kind == VK_NAME && !strcmp(l->s, "first") ? 0 : -1,
            (int)source_arg(fmt, data, "header")->i, source_arg(fmt, data, "delimiter")->s[0]);
  } else {
    fprintf(o, ".label_col = -1, .delimiter = ','");
  }
  emit_weights(o, st, data, true);
  fprintf(o, ", .scale = %.17g},\n", fmt->b && strcmp(reader, "text") != 0 ? source_arg(fmt, data, "scale")->f : 1.0);
}

/* The program: the train block as the runtime's NnrtProgram
 * (runtime/nnrt.h), which nnrt_train_main runs. */
void emit_c_main(FILE *o, const Built *b) {
  const char *model = b->name;
  TrainInfo *t = b->train;
  Graph *train = b->g[GRAPH_TRAIN];
  const Value *in = &train->v[train->inputs[0]];
  const Value *lab = &train->v[train->labels[0]];
  const Value *out = &train->v[train->outputs[0]];
  int64_t features = 1, labels = 1, classes = out->shape.dim[out->shape.rank - 1];
  for (int d = 1; d < in->shape.rank; d++) features *= in->shape.dim[d];
  for (int i = 1; i < train->ninputs; i++) { /* several: every input's values, side by side */
    const Value *v = &train->v[train->inputs[i]];
    int64_t f = 1;
    for (int d = 1; d < v->shape.rank; d++) f *= v->shape.dim[d];
    features += f;
  }
  for (int d = 1; d < lab->shape.rank; d++) labels *= lab->shape.dim[d];
  const char *loss = t->loss.b->name;
  bool sparse = !strcmp(loss, "sparse_categorical_crossentropy"), onehot = !strcmp(loss, "categorical_crossentropy");
  const char *form = sparse ? "NNRT_FORM_SPARSE" : onehot ? "NNRT_FORM_ONEHOT"
                     : !strcmp(loss, "binary_crossentropy") ? "NNRT_FORM_BINARY" : "NNRT_FORM_VALUES";
  const char *reader = t->data.b ? t->data.b->name : "csv";
  bool pair = !strcmp(reader, "npy") || !strcmp(reader, "idx");
  int64_t height = 1, width = 1, channels = in->shape.rank > 1 ? in->shape.dim[in->shape.rank - 1] : features;
  if (in->shape.rank == 4) height = in->shape.dim[1], width = in->shape.dim[2];

  emit_c_program_runtime(o);
  fprintf(o, "\n/* ---- the training program ---- */\n\n"
             "static const NnrtProgram %s_program = {\n  .def = &%s_def,\n", model, model);
  fprintf(o, "  .reader = %s,\n", runtime_enum(reader));
  if (!strcmp(reader, "npy") && (setting_arg(&t->data, "x")->kind != VK_STRING || setting_arg(&t->data, "y")->kind != VK_STRING))
    fprintf(o, "  .data = \"\", .x = \"\", .y = \"\",\n");
  else if (pair)
    fprintf(o, "  .data = \"\", .x = %s, .y = %s,\n", quote_str(setting_arg(&t->data, !strcmp(reader, "npy") ? "x" : "images")->s),
            quote_str(setting_arg(&t->data, !strcmp(reader, "npy") ? "y" : "labels")->s));
  else
    fprintf(o, "  .data = %s, .x = \"\", .y = \"\",\n", t->data.b ? quote_str(setting_arg(&t->data, "path")->s) : "\"\"");
  if (!strcmp(reader, "csv") && t->data.b) {
    Val *l = setting_arg(&t->data, "label");
    fprintf(o, "  .label_name = %s, .label_col = %d, .header = %d, .delimiter = %s,\n",
            l->kind == VK_STRING ? quote_str(l->s) : "NULL",
            l->kind == VK_INT ? (int)l->i : l->kind == VK_NAME && !strcmp(l->s, "first") ? 0 : -1,
            (int)setting_arg(&t->data, "header")->i, arena_printf("%d", setting_arg(&t->data, "delimiter")->s[0]));
  } else {
    fprintf(o, "  .label_col = -1, .delimiter = ',',\n");
  }
  bool scaled = t->data.b && strcmp(reader, "text") != 0;
  fprintf(o, "  .scale = %.17g, .normalize = %d,\n", scaled ? setting_arg(&t->data, "scale")->f : 1.0,
          scaled && (int)setting_arg(&t->data, "normalize")->i);
  fprintf(o, "  .features = %lld, .height = %lld, .width = %lld, .channels = %lld,\n"
             "  .labels = %lld, .classes = %lld, .form = %s,\n",
          (long long)features, (long long)height, (long long)width, (long long)channels,
          (long long)(onehot ? 1 : labels), (long long)classes, form);
  fprintf(o, "  .epochs = %lld, .batch = %lld, .seed = %lld, .validation = %.17g,\n"
             "  .shuffle = %d, .flip = %d, .crop = %lld,\n",
          (long long)t->epochs, (long long)t->batch, (long long)t->seed, t->validation, t->shuffle, t->flip,
          (long long)t->crop);
  fprintf(o, "  .nmetrics = %d, .metrics = {", t->nmetrics);
  for (int i = 0; i < t->nmetrics; i++) fprintf(o, "%s%s", i ? ", " : "", runtime_enum(t->metrics[i]->name));
  fprintf(o, "},\n");
  if (t->has_stop) {
    const char *m = t->stop_metric;
    bool val = !strncmp(m, "val_", 4);
    const char *base = val ? m + 4 : m;
    fprintf(o, "  .has_stop = 1, .stop_val = %d, .stop_metric = %s, .stop_op = '%c', .stop_value = %.17g,\n", val,
            !strcmp(base, "loss") ? "-1" : runtime_enum(base), t->stop_op == 'l' ? 'l' : t->stop_op == 'g' ? 'g' : t->stop_op,
            t->stop_value);
  }
  Val *stride = !strcmp(reader, "text") ? setting_arg(&t->data, "stride") : NULL;
  fprintf(o, "  .stride = %lld,\n", stride && stride->kind == VK_INT ? (long long)stride->i : 0LL);
  emit_source(o, "val", &t->validation_data, &t->data);
  emit_source(o, "test", &t->test_data, &t->data);
  fprintf(o, "  .summary = %s,\n", quote_str(model_summary(b)));
  emit_callbacks(o, t);
  if (!strcmp(reader, "npy")) {
    fprintf(o, "  .arrays = {");
    emit_arrays(o, &t->data);
    fprintf(o, ".label_col = -1, .weight_col = -1, .scale = 1},\n");
  }
  fprintf(o, "  .ninputs = %d, .noutputs = %d,\n", train->ninputs, train->noutputs);
  fprintf(o, "  .sample_weights = %d", t->sample_weights);
  emit_weights(o, &t->data, &t->data, false);
  fprintf(o, ",\n");
  fprintf(o, "};\n\nint main(int argc, char **argv) { return nnrt_train_main(&%s_program, argc, argv); }\n", model);
}
