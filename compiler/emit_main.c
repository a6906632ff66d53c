/* emit_main.c — the `main` of the standalone training program.
 *
 * `nnc model.nn --emit=c -o train.c` writes one C file: the runtime, the
 * model (emit_c.c) and a main that trains with the train block's
 * settings. The program itself is the runtime's (runtime/nnrt_program.c:
 * flags, data, epochs, checkpoints); this file writes the train block as
 * the constant NnrtProgram it runs.
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

/* The runtime's constant for a built-in's name: NNRT_SPARSE_CATEGORICAL_ACCURACY,
 * NNRT_CIFAR10 (a name the runtime lacks fails to compile, loudly). */
static const char *runtime_enum(const char *name) {
  char *e = arena_printf("NNRT_%s", name);
  for (char *c = e; *c; c++)
    if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
  return e;
}

/* Whether the program can be written: any data source, a validation fraction. */
bool main_supported(TrainInfo *t, Loc *where, const char **why) {
  *where = t->decl->name_loc;
  if (t->validation_data.b) {
    *where = t->validation_data.node->loc;
    *why = "the training program holds out a fraction of the data so far; write validation 0.2";
    return false;
  }
  int nin = 0;
  for (const Node *st = t->model->decl->kids; st; st = st->next) nin += st->kind == ND_INPUT;
  if (t->model->noutputs > 1 || nin > 1) {
    *why = arena_printf("the training program reads one input and one label a sample, but model '%s' has %d "
                        "inputs and %d outputs; build a library (-o %s.so) and train it with its "
                        "train_step_outputs (docs/c-api.md)", t->model->decl->name, nin, t->model->noutputs,
                        t->model->decl->name);
    return false;
  }
  return true;
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
  if (pair)
    fprintf(o, "  .data = \"\", .x = %s, .y = %s,\n", quote_str(arg(&t->data, !strcmp(reader, "npy") ? "x" : "images")->s),
            quote_str(arg(&t->data, !strcmp(reader, "npy") ? "y" : "labels")->s));
  else
    fprintf(o, "  .data = %s, .x = \"\", .y = \"\",\n", t->data.b ? quote_str(arg(&t->data, "path")->s) : "\"\"");
  if (!strcmp(reader, "csv") && t->data.b) {
    Val *l = arg(&t->data, "label");
    fprintf(o, "  .label_name = %s, .label_col = %d, .header = %d, .delimiter = %s,\n",
            l->kind == VK_STRING ? quote_str(l->s) : "NULL",
            l->kind == VK_INT ? (int)l->i : l->kind == VK_NAME && !strcmp(l->s, "first") ? 0 : -1,
            (int)arg(&t->data, "header")->i, arena_printf("%d", arg(&t->data, "delimiter")->s[0]));
  } else {
    fprintf(o, "  .label_col = -1, .delimiter = ',',\n");
  }
  bool scaled = t->data.b && strcmp(reader, "text") != 0;
  fprintf(o, "  .scale = %.17g, .normalize = %d,\n", scaled ? arg(&t->data, "scale")->f : 1.0,
          scaled && (int)arg(&t->data, "normalize")->i);
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
  fprintf(o, "};\n\nint main(int argc, char **argv) { return nnrt_train_main(&%s_program, argc, argv); }\n", model);
}
