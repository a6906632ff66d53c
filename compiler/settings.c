/* settings.c — checking `train` blocks: every setting, its range and its
 * fit with the model (outputs, inputs, labels), and the stop rule.
 *
 * Requires the models checked (sema.c). Guarantees on success: a TrainInfo
 * per train block with the loss, optimizer, schedules, data sources and
 * metrics bound to built-ins and their defaults filled in.
 */
#include <math.h>
#include <string.h>
#include "nnc.h"

static const char *setting_names[] = {
  "data", "loss", "optimizer", "epochs", "batch", "metrics", "schedule", "shuffle", "seed",
  "validation", "stop", "weight_decay", "augment", "test", "reduce_lr", "save", "loss_weights",
  "sample_weights", "class_weight", "freeze", "prune",
};

/* The settings a train block takes, one a line (nnc --help-builtins). */
void print_settings(FILE *out) {
  fprintf(out, "\nTraining settings:\n");
  for (size_t i = 0; i < sizeof setting_names / sizeof *setting_names; i++) fprintf(out, "  %s\n", setting_names[i]);
}

/* A setting naming a built-in of a kind: `loss mse`, `optimizer adam(lr: 1e-3)`. */
static bool bind_setting(Sema *s, Node *e, BuiltinKind kind, const char *what, Setting *out) {
  const Builtin *b = NULL;
  if (e->kind == ND_NAME || e->kind == ND_CALL) b = builtin_find_kind(e->name, kind);
  if (!b) {
    const Builtin *sg = e->kind == ND_NAME || e->kind == ND_CALL ? builtin_suggest(e->name, kind)
                                                                 : NULL;
    error_at(e->loc, "unknown %s '%s'; expected one of %s%s", what, expr_str(e),
             builtin_kind_names(kind), sg ? arena_printf(" (did you mean '%s'?)", sg->name) : "");
    return false;
  }
  out->node = e;
  out->b = b;
  out->args = arena_alloc(sizeof(Val) * (size_t)(b->nparams + 1));
  if (bind_args(s, b->name, b->params, b->nparams, e->kind == ND_CALL ? e->kids : NULL, NULL,
                e->loc, out->args))
    return true;
  out->b = NULL; /* a setting whose arguments were wrong is not used further */
  return false;
}

static bool one_value(Node *st) {
  if (node_count(st->kids) == 1 && !st->when) return true;
  error_at(st->loc, "'%s' takes one value", st->name);
  return false;
}

static bool setting_int(Sema *s, Node *st, int64_t lo, int64_t *out) {
  if (!one_value(st)) return false;
  Val *v = sema_eval(s, st->kids);
  if (v->kind == VK_ERROR) return false;
  if (v->kind != VK_INT) {
    wrong_value(s, v, "an integer", arena_printf("'%s'", st->name));
    return false;
  }
  if (v->i < lo) {
    error_at(v->loc, "'%s' must be at least %lld, got %lld", st->name, (long long)lo,
             (long long)v->i);
    return false;
  }
  *out = v->i;
  return true;
}

static bool setting_float(Sema *s, Node *st, double lo, double hi, double *out) {
  Val *v = sema_eval(s, st->kids);
  if (v->kind == VK_ERROR) return false;
  if (!val_is_num(v)) {
    wrong_value(s, v, "a number", arena_printf("'%s'", st->name));
    return false;
  }
  if (val_num(v) < lo || val_num(v) >= hi) {
    error_at(v->loc, "'%s' must be in [%g, %g), got %g", st->name, lo, hi, val_num(v));
    return false;
  }
  *out = val_num(v);
  return true;
}

/* `shuffle true`: one value, true or false. */
static void setting_bool(Sema *s, Node *st, bool *out) {
  if (!one_value(st)) return;
  Val *v = sema_eval(s, st->kids);
  if (v->kind != VK_BOOL) wrong_value(s, v, "true or false", arena_printf("'%s'", st->name));
  else *out = v->i;
}

static bool metric_listed(TrainInfo *t, const char *name) {
  if (!strcmp(name, "loss")) return true;
  for (int i = 0; i < t->nmetrics; i++)
    if (!strcmp(t->metrics[i]->name, name)) return true;
  return false;
}

static void check_stop(Sema *s, TrainInfo *t, Node *st) {
  Node *c = st->kids;
  if (!st->when || node_count(c) != 1 || c->kind != ND_COMPARE || c->lhs->kind != ND_NAME) {
    error_at(st->loc, "expected a stop rule like: stop when loss < 0.05, or early stopping like: "
                      "stop plateau(val_loss, patience: 5)");
    return;
  }
  const char *m = c->lhs->name;
  bool val = !strncmp(m, "val_", 4);
  const char *base = val ? m + 4 : m;
  if (!metric_listed(t, base)) {
    bool has_val = t->validation > 0 || t->validation_data.b;
    error_at(c->lhs->loc, "the stop rule watches '%s', which is not measured; use loss%s or add "
                          "it to 'metrics'", m, has_val ? ", val_loss" : "");
    return;
  }
  if (val && t->validation == 0 && !t->validation_data.b) {
    error_at(c->lhs->loc, "the stop rule watches '%s' but there is no 'validation' set", m);
    return;
  }
  Val *v = sema_eval(s, c->rhs);
  if (v->kind == VK_ERROR) return;
  if (!val_is_num(v)) {
    wrong_value(s, v, "a number", "the stop threshold");
    return;
  }
  t->has_stop = true;
  t->stop_metric = m;
  t->stop_op = c->op;
  t->stop_value = val_num(v);
}

/* The monitor of a callback (its first argument): the loss or a listed
 * metric, a val_ one only with validation; false after an error. */
static bool check_monitor(TrainInfo *t, Setting *st, const char *what) {
  if (!st->b) return false;
  const Val *v = &st->args[0];
  bool val = !strncmp(v->s, "val_", 4), has_val = t->validation > 0 || t->validation_data.b;
  const char *base = val ? v->s + 4 : v->s;
  if (!metric_listed(t, base)) {
    Suggest g = {.name = v->s, .best_d = 1000}; /* among what is measured */
    consider(&g, "loss");
    if (has_val) consider(&g, "val_loss");
    for (int i = 0; i < t->nmetrics; i++) {
      consider(&g, t->metrics[i]->name);
      if (has_val) consider(&g, arena_printf("val_%s", t->metrics[i]->name));
    }
    error_at(v->loc, "%s watches '%s', which is not measured; %s", what, v->s,
             g.best ? arena_printf("did you mean '%s'?", g.best)
                    : arena_printf("use loss%s or add it to 'metrics'", has_val ? ", val_loss" : ""));
    return false;
  }
  if (val && !has_val) {
    error_at(v->loc, "%s watches '%s' but there is no 'validation' set", what, v->s);
    return false;
  }
  return true;
}

/* `stop plateau(...)`, `reduce_lr plateau(...)`, `save best(...)`: the
 * ranges are the built-ins' (builtins.c); here what they watch and where
 * a best checkpoint goes. A callback with an error is dropped (b NULL). */
static void check_callbacks(TrainInfo *t) {
  if (t->early.b && !check_monitor(t, &t->early, "'stop plateau'")) t->early.b = NULL;
  if (t->reduce_lr.b && !check_monitor(t, &t->reduce_lr, "'reduce_lr plateau'")) t->reduce_lr.b = NULL;
  if (t->save_best.b && !check_monitor(t, &t->save_best, "'save best'")) t->save_best.b = NULL;
  const Val *min_lr = t->reduce_lr.b ? setting_arg(&t->reduce_lr, "min_lr") : NULL;
  const Val *lr = t->optimizer.b ? setting_arg(&t->optimizer, "lr") : NULL;
  if (min_lr && lr && val_is_num(min_lr) && val_is_num(lr) && val_num(min_lr) >= val_num(lr))
    warn_at(min_lr->loc, "'min_lr' %g is not below the optimizer's rate %g: 'reduce_lr' never lowers it",
            val_num(min_lr), val_num(lr));
  if (t->save_best.b) {
    const Val *path = &t->save_best.args[1];
    if (path->kind != VK_NONE && (path->kind != VK_STRING || !*path->s)) {
      error_at(path->loc, "'path' of 'best' must be a file name (a string), got %s", value_str(path));
      t->save_best.b = NULL;
    }
  }
}

static void check_loss_fits(TrainInfo *t, Node *out) {
  if (!out || !out->typed || !t->loss.b) return;
  const char *name = t->loss.b->name;
  Shape sh = out->shape;
  if (sh.rank == 0 || sh.dim[0] != DIM_BATCH) {
    error_at(t->loss.node->loc, "training needs an output with one row per sample, but the "
                                "model's output is %s", type_str(out->dtype, sh));
    note_at(out->loc, "the output is computed here");
    return;
  }
  bool categorical = !strcmp(name, "categorical_crossentropy") ||
                     !strcmp(name, "sparse_categorical_crossentropy");
  if (categorical && (sh.rank < 2 || sh.dim[sh.rank - 1] < 2)) {
    error_at(t->loss.node->loc, "'%s' needs a class axis of at least 2 in the model's output, "
                                "which is %s", name, type_str(out->dtype, sh));
    note_at(out->loc, "the output is computed here");
  }
  if (out->dtype == DT_I32)
    error_at(t->loss.node->loc, "'%s' needs a floating-point output, got %s", name,
             type_str(out->dtype, sh));
}

/* loss_weights: one number >= 0 per output (checked against the outputs
 * in check_losses). */
static void check_loss_weights(Sema *s, TrainInfo *t, Node *st) {
  int n = 0;
  for (Node *e = st->kids; e; e = e->next, n++) {
    Val *v = sema_eval(s, e);
    if (n < 16) t->loss_weights[n] = 1; /* a wrong weight: reported, not also "every weight is 0" */
    if (v->kind == VK_ERROR) continue;
    if (!val_is_num(v)) {
      wrong_value(s, v, "a number", "a loss weight");
    } else if (!(val_num(v) >= 0) || !isfinite(val_num(v))) {
      error_at(v->loc, "a loss weight must be a finite number of at least 0, got %g", val_num(v));
    } else if (n < 16) {
      t->loss_weights[n] = val_num(v);
    }
  }
}

/* One loss for every output, or one per output in the order of the
 * `output` statements, each fitting its output; loss_weights one per
 * output. */
static void check_losses(TrainInfo *t, const Node *loss, const Node *weights) {
  ModelInfo *m = t->model;
  int nout = m->noutputs;
  if (loss && t->nlosses != 1 && t->nlosses != nout) {
    error_at(loss->loc, "'loss' lists %d losses, but model '%s' has %d output%s; give one loss for every output "
             "or one per output, in the order of its 'output' statements", t->nlosses, m->decl->name, nout,
             nout == 1 ? "" : "s");
    return;
  }
  int nw = weights ? node_count(weights->kids) : 0;
  if (weights && nw != nout)
    error_at(weights->loc, "'loss_weights' lists %d weight%s, but model '%s' has %d output%s; give one per output",
             nw, nw == 1 ? "" : "s", m->decl->name, nout, nout == 1 ? "" : "s");
  for (int i = nw; i < 16; i++) t->loss_weights[i] = 1;
  if (weights && nw == nout) {
    bool any = false;
    for (int i = 0; i < nw; i++) any |= t->loss_weights[i] > 0;
    if (!any) error_at(weights->loc, "every loss weight is 0: there is nothing to train");
  }
  Setting first = t->loss;
  for (int i = 0; i < nout && loss; i++) {
    t->loss = t->losses[t->nlosses > 1 ? i : 0];
    check_loss_fits(t, m->outputs[i]);
  }
  t->loss = first;
}

/* class_weight: one weight per class of the model's one output, for a
 * classification loss whose label is one class a sample: sparse ids [N]
 * or one-hot rows [N, C] of C classes, or binary_crossentropy's [N, 1]
 * (classes 0 and 1). */
static void check_class_weight(TrainInfo *t) {
  const Node *st = t->class_weight_node;
  ModelInfo *m = t->model;
  if (!st || !t->loss.b || m->noutputs < 1 || !m->outputs[0]->typed) return;
  const char *loss = t->loss.b->name;
  Shape sh = m->outputs[0]->shape;
  bool sparse = !strcmp(loss, "sparse_categorical_crossentropy"), binary = !strcmp(loss, "binary_crossentropy");
  if (m->noutputs > 1) {
    error_at(st->loc, "'class_weight' weighs the classes of one output, but model '%s' has %d; give the steps "
             "per-sample weights instead (sample_weights true)", m->decl->name, m->noutputs);
  } else if (!sparse && !binary && strcmp(loss, "categorical_crossentropy") != 0) {
    error_at(st->loc, "'class_weight' needs a classification loss (sparse_categorical_crossentropy, "
             "categorical_crossentropy or binary_crossentropy), not '%s'", loss);
  } else if (sh.rank != 2 || (binary && sh.dim[1] != 1)) {
    error_at(st->loc, "'class_weight' needs one class a sample, an output [N, %s], but the output of model '%s' "
             "is %s", binary ? "1" : "classes", m->decl->name, type_str(m->outputs[0]->dtype, sh));
  } else if (t->nclass_weight != (binary ? 2 : sh.dim[1])) {
    error_at(st->loc, "'class_weight' lists %lld weights, but the output of model '%s' has %lld classes%s; give "
             "one per class, in the order of the class ids", (long long)t->nclass_weight, m->decl->name,
             (long long)(binary ? 2 : sh.dim[1]), binary ? " (0 and 1)" : "");
  }
}

static int model_inputs(const ModelInfo *m) {
  int n = 0;
  for (const Node *st = m->decl->kids; st; st = st->next) n += st->kind == ND_INPUT;
  return n;
}

static const Node *model_input(const ModelInfo *m) {
  for (const Node *st = m->decl->kids; st; st = st->next)
    if (st->kind == ND_INPUT) return st;
  bug("model %s without an input", m->decl->name);
}

/* Augmentations work on images: the input is [N, H, W, C], and a crop's
 * padding is less than the image. */
static void check_augment(TrainInfo *t) {
  if (!t->augment_node || model_inputs(t->model) != 1) return;
  const Node *in = model_input(t->model);
  if (in->shape.rank != 4) {
    error_at(t->augment_node->loc, "augmentations need images [H, W, C] as the model's input, but "
             "the input of '%s' is %s", t->model->decl->name, type_str(in->dtype, in->shape));
    return;
  }
  if (t->crop && (t->crop >= in->shape.dim[1] || t->crop >= in->shape.dim[2]))
    error_at(t->crop_node->loc, "crop padding %lld is not smaller than the %lldx%lld image",
             (long long)t->crop, (long long)in->shape.dim[1], (long long)in->shape.dim[2]);
}

Val *setting_arg(const Setting *st, const char *name) {
  for (int i = 0; i < st->b->nparams; i++)
    if (!strcmp(st->b->params[i].name, name)) return &st->args[i];
  bug("%s has no argument %s", st->b->name, name);
}

Val *source_arg(const Setting *st, const Setting *data, const char *name) {
  return setting_arg_written(st, name) || !data->b ? setting_arg(st, name) : setting_arg(data, name);
}

bool setting_arg_written(const Setting *st, const char *name) {
  int i = 0;
  for (const Node *a = st->node && st->node->kind == ND_CALL ? st->node->kids : NULL; a; a = a->next, i++)
    if (a->name ? !strcmp(a->name, name) : i < st->b->nparams && !strcmp(st->b->params[i].name, name)) return true;
  return false;
}

/* npy's x and y: a file each (a string), or for a model with several
 * inputs or outputs a list of files, one an input and one an output.
 * Returns whether the checks of a source of one input and one label go on. */
static bool check_npy_arrays(TrainInfo *t, const Setting *d) {
  ModelInfo *m = t->model;
  int nin = model_inputs(m), nout = m->noutputs;
  bool several = nin > 1 || nout > 1;
  for (int k = 0; k < 2; k++) {
    Val *v = &d->args[k];
    int want = k ? nout : nin;
    bool strings = v->kind == VK_LIST && v->nitems > 0;
    for (int i = 0; strings && i < v->nitems; i++) strings = v->items[i].kind == VK_STRING;
    if (v->kind == VK_ERROR) return false;
    if (v->kind == VK_STRING && want == 1) continue;
    if (!several && v->kind != VK_STRING) {
      error_at(v->loc, "'%s' of 'npy' must be the path of a .npy file (a string), got %s", k ? "y" : "x", value_str(v));
      return false;
    }
    if (!strings || v->nitems != want) {
      error_at(v->loc, "'%s' of 'npy' must list %d .npy file%s, one for each %s of model '%s' in order, got %s",
               k ? "y" : "x", want, want == 1 ? "" : "s", k ? "output's label" : "input", m->decl->name, value_str(v));
      return false;
    }
  }
  if (!several) return true;
  for (int i = 2; i < d->b->nparams; i++)
    if ((!strcmp(d->b->params[i].name, "one_hot") || !strcmp(d->b->params[i].name, "normalize")) && d->args[i].i)
      error_at(d->args[i].loc, "'%s' applies to a model with one input and one output; model '%s' has %d input%s "
               "and %d outputs: %s", d->b->params[i].name, m->decl->name, nin, nin == 1 ? "" : "s", nout,
               d->b->params[i].name[0] == 'o' ? "give each label as its loss takes it (one-hot rows for "
               "categorical_crossentropy)" : "standardize the arrays before");
  return false;
}

/* A data source must fit the model and the loss: one input tensor, labels
 * as the loss wants them, a label column that can exist. */
static void check_data(TrainInfo *t, const Setting *d) {
  if (!d->b) return;
  Loc at = d->node->loc;
  if (!strcmp(d->b->name, "npy") && !check_npy_arrays(t, d)) return;
  if (model_inputs(t->model) != 1) {
    error_at(at, "'%s' provides one input tensor, but model '%s' has %d inputs; npy(x: [...], y: [...]) reads an "
             "array for each", d->b->name, t->model->decl->name, model_inputs(t->model));
    return;
  }
  if (t->model->noutputs > 1) {
    error_at(at, "'%s' provides one label tensor, but model '%s' has %d outputs; npy(x: [...], y: [...]) reads an "
             "array for each", d->b->name, t->model->decl->name, t->model->noutputs);
    return;
  }
  bool one_hot = false, normalize = false;
  for (int i = 0; i < d->b->nparams; i++) {
    if (!strcmp(d->b->params[i].name, "one_hot")) one_hot = d->args[i].i;
    if (!strcmp(d->b->params[i].name, "normalize")) normalize = d->args[i].i;
  }
  if (d == &t->data) t->model->normalize = normalize;
  if (normalize && model_input(t->model)->dtype == DT_I32)
    error_at(at, "'normalize: true' standardizes numbers, but the input of model '%s' is token ids (%s)",
             t->model->decl->name, type_str(DT_I32, model_input(t->model)->shape));
  const char *loss = t->loss.b ? t->loss.b->name : "";
  /* a validation or test file that leaves one_hot out has the data's */
  bool own = d == &t->data || setting_arg_written(d, "one_hot");
  if (own && one_hot && !strcmp(loss, "sparse_categorical_crossentropy"))
    error_at(at, "'sparse_categorical_crossentropy' takes integer labels; remove one_hot: true "
                 "or use categorical_crossentropy");
  if (own && !one_hot && !strcmp(loss, "categorical_crossentropy"))
    error_at(at, "'categorical_crossentropy' needs one-hot labels; add one_hot: true or use "
                 "sparse_categorical_crossentropy");
  Shape in = model_input(t->model)->shape;
  if (!strcmp(d->b->name, "cifar10") &&
      (in.rank != 4 || in.dim[1] != 32 || in.dim[2] != 32 || in.dim[3] != 3))
    error_at(at, "'cifar10' gives 32x32x3 images (HWC), but the input of model '%s' is %s",
             t->model->decl->name, type_str(model_input(t->model)->dtype, in));
  if (!strcmp(d->b->name, "text")) {
    const Node *input = model_input(t->model), *out = t->model->noutputs ? t->model->outputs[0] : NULL;
    int64_t steps = d->args[1].i;
    if (input->dtype != DT_I32 || in.rank != 2 || in.dim[1] != steps)
      error_at(d->args[1].loc, "'text' gives sequences of %lld byte ids, i32[N, %lld], but the input of model "
               "'%s' is %s", (long long)steps, (long long)steps, t->model->decl->name, type_str(input->dtype, in));
    else if (strcmp(loss, "sparse_categorical_crossentropy") != 0)
      error_at(at, "'text' labels each position with the next character's id; the loss must be "
                   "sparse_categorical_crossentropy");
    else if (out && out->typed &&
             (out->shape.rank != 3 || out->shape.dim[1] != steps || out->shape.dim[2] != 256))
      error_at(at, "'text' has a vocabulary of the 256 byte values: the output of model '%s' must be "
               "[N, %lld, 256], got %s", t->model->decl->name, (long long)steps, type_str(out->dtype, out->shape));
    return;
  }
  if (strcmp(d->b->name, "csv") != 0) return;
  Val *label = &d->args[1], *delim = &d->args[3];
  bool ok = (label->kind == VK_NAME && (!strcmp(label->s, "last") || !strcmp(label->s, "first"))) ||
            (label->kind == VK_INT && label->i >= 0) || (label->kind == VK_STRING && *label->s);
  if (!ok)
    error_at(label->loc, "'label' of 'csv' must be last, first, a column number (from 0) or a "
                         "column name, got %s", value_str(label));
  if (strlen(delim->s) != 1)
    error_at(delim->loc, "'delimiter' of 'csv' must be one character, got %s",
             value_str(delim));
}

/* A data source's per-sample weights (csv's weight, npy's w): a column
 * name or number, a file; only with sample_weights true. */
static void check_weights(TrainInfo *t, const Setting *d) {
  if (!d->b || (strcmp(d->b->name, "csv") != 0 && strcmp(d->b->name, "npy") != 0)) return;
  bool csv = !strcmp(d->b->name, "csv");
  const char *name = csv ? "weight" : "w";
  Val *w = NULL;
  for (int i = 0; i < d->b->nparams; i++)
    if (!strcmp(d->b->params[i].name, name)) w = &d->args[i];
  if (!w || w->kind == VK_NONE || w->kind == VK_ERROR) return;
  if (csv ? !((w->kind == VK_STRING && *w->s) || (w->kind == VK_INT && !w->batch && w->i >= 0))
          : w->kind != VK_STRING || !*w->s)
    error_at(w->loc, "'%s' of '%s' must be %s, got %s", name, d->b->name,
             csv ? "a column name (a string) or a column number from 0" : "the path of a .npy file (a string)",
             value_str(w));
  else if (!t->sample_weights)
    error_at(w->loc, "'%s' gives each sample a weight, but the train block does not take them; add "
             "'sample_weights true'", name);
}

/* " (did you mean 'accuracy'?)" after "unknown metric 'acc'", or "". */
static const char *metric_hint(const Node *m) {
  const Builtin *sg = m->kind == ND_NAME ? builtin_suggest(m->name, BK_METRIC) : NULL;
  return sg ? arena_printf(" (did you mean '%s'?)", sg->name) : "";
}

/* What follows "unknown setting 'key'": the learning rate, which Keras and
 * PyTorch users look for here, is the optimizer's argument. */
static const char *unknown_setting_hint(const char *key, const char *best) {
  if (!strcmp(key, "callbacks"))
    return "; Keras's callbacks are settings here: 'stop plateau(...)' (EarlyStopping), 'reduce_lr plateau(...)' "
           "(ReduceLROnPlateau), 'save best(...)' (ModelCheckpoint)";
  if (!strcmp(key, "learning_rate") || !strcmp(key, "lr"))
    return "; the learning rate is the optimizer's argument 'lr', as in "
           "'optimizer adam(lr: 0.001)'";
  return best ? arena_printf("; did you mean '%s'?", best) : "";
}

/* A validation or test file is read as the training data: the same kind
 * of source (csv when there is no `data`), and for text the same steps. */
static void check_other_source(TrainInfo *t, const Setting *o, const char *what) {
  if (!o->b) return;
  const char *kind = t->data.b ? t->data.b->name : "csv";
  if (strcmp(o->b->name, kind) != 0) {
    error_at(o->node->loc, "the '%s' data is read as the training data, which is %s'%s'; write %s(...)", what,
             t->data.b ? "" : "by default ", kind, kind);
    if (t->data.b) note_at(t->data.node->loc, "the training data is here");
  }
}

/* `class_weight 1, 5`: one finite weight >= 0 a class (checked against the
 * output by check_class_weight). */
static void class_weights(Sema *s, TrainInfo *t, Node *st) {
  int n = node_count(st->kids), i = 0;
  t->class_weight = arena_alloc(sizeof(double) * (size_t)n);
  t->nclass_weight = n;
  t->class_weight_node = st;
  for (Node *e = st->kids; e; e = e->next, i++) {
    Val *v = sema_eval(s, e);
    t->class_weight[i] = 1;
    if (v->kind == VK_ERROR) continue;
    if (!val_is_num(v)) wrong_value(s, v, "a number", "a class weight");
    else if (!(val_num(v) >= 0) || !isfinite(val_num(v)))
      error_at(v->loc, "a class weight must be a finite number of at least 0, got %g", val_num(v));
    else t->class_weight[i] = val_num(v);
  }
}

/* `freeze conv2d1, "dense1.b"`: the parameters of those layer instances
 * (or those parameters) are not trained: they become states, which keep
 * their values (initial, loaded or built in) and take no update. */
static void freeze(TrainInfo *t, Node *st) {
  int frozen = 0, left = 0;
  for (Node *e = st->kids; e; e = e->next) {
    if (e->kind != ND_NAME && e->kind != ND_STRING) {
      error_at(e->loc, "'freeze' takes layer instances by name (dense1) or parameters as strings (\"dense1.W\"), "
                       "not %s", expr_str(e));
      continue;
    }
    const char *name = e->kind == ND_STRING ? e->sval : e->name;
    size_t len = strlen(name);
    Suggest sg = {.name = name, .best_d = 1000};
    int hit = 0;
    for (ParamInfo *p = t->model ? t->model->params : NULL; p; p = p->next) {
      if (!strcmp(p->name, name) || (!strncmp(p->name, name, len) && p->name[len] == '.')) {
        hit++;
        if (p->trainable) frozen++;
        p->trainable = false;
      }
      consider(&sg, p->name);
      const char *dot = strrchr(p->name, '.');
      if (dot) consider(&sg, arena_printf("%.*s", (int)(dot - p->name), p->name));
    }
    if (!hit && t->model)
      error_at(e->loc, "model '%s' has no layer or parameter '%s' to freeze%s", t->model->decl->name, name,
               sg.best ? arena_printf(" (did you mean '%s'?)", sg.best) : "");
  }
  for (ParamInfo *p = t->model ? t->model->params : NULL; p; p = p->next) left += p->trainable;
  if (frozen && !left) error_at(st->loc, "'freeze' leaves no parameter of model '%s' to train", t->model->decl->name);
}

/* `metrics accuracy, mae`: each a metric, once, at most 8. */
static void add_metrics(TrainInfo *t, Node *st) {
  for (Node *m = st->kids; m; m = m->next) {
    const Builtin *b = m->kind == ND_NAME ? builtin_find_kind(m->name, BK_METRIC) : NULL;
    if (!b) {
      error_at(m->loc, "unknown metric '%s'; expected one of %s%s", expr_str(m),
               builtin_kind_names(BK_METRIC), metric_hint(m));
    } else if (metric_listed(t, b->name)) {
      error_at(m->loc, "metric '%s' is listed twice", b->name);
    } else if (t->nmetrics == 8) {
      error_at(m->loc, "too many metrics (at most 8)");
    } else {
      t->metric_loc[t->nmetrics] = m->loc;
      t->metrics[t->nmetrics++] = b;
    }
  }
}

/* One setting of a train block, its name known and set once: into t;
 * a stop setting to check after the others goes to *stop. */
static void setting(Sema *s, TrainInfo *t, Node *st, const char *key, Node **stop) {
  if (!strcmp(key, "data")) {
    if (one_value(st)) bind_setting(s, st->kids, BK_DATA, "data source", &t->data);
  } else if (!strcmp(key, "loss")) {
    for (Node *e = st->kids; e; e = e->next) {
      if (t->nlosses == 16) {
        error_at(e->loc, "too many losses (at most one per output, 16)");
        break;
      }
      bind_setting(s, e, BK_LOSS, "loss", &t->losses[t->nlosses++]);
    }
    t->loss = t->losses[0];
  } else if (!strcmp(key, "loss_weights")) {
    check_loss_weights(s, t, st);
  } else if (!strcmp(key, "sample_weights")) {
    setting_bool(s, st, &t->sample_weights);
  } else if (!strcmp(key, "class_weight")) {
    class_weights(s, t, st);
  } else if (!strcmp(key, "freeze")) {
    freeze(t, st);
  } else if (!strcmp(key, "optimizer")) {
    if (one_value(st)) bind_setting(s, st->kids, BK_OPTIMIZER, "optimizer", &t->optimizer);
  } else if (!strcmp(key, "epochs")) {
    setting_int(s, st, 0, &t->epochs);
  } else if (!strcmp(key, "batch")) {
    setting_int(s, st, 1, &t->batch);
  } else if (!strcmp(key, "seed")) {
    setting_int(s, st, 0, &t->seed);
  } else if (!strcmp(key, "metrics")) {
    add_metrics(t, st);
  } else if (!strcmp(key, "augment")) {
    for (Node *e = st->kids; e; e = e->next) {
      Setting a = {0};
      if (!bind_setting(s, e, BK_AUGMENT, "augmentation", &a)) continue;
      if ((!strcmp(a.b->name, "flip") && t->flip) || (!strcmp(a.b->name, "crop") && t->crop))
        error_at(e->loc, "augmentation '%s' is listed twice", a.b->name);
      else if (!strcmp(a.b->name, "flip")) t->flip = true;
      else t->crop = a.args[0].i, t->crop_node = e;
      if (!t->augment_node) t->augment_node = e;
    }
  } else if (!strcmp(key, "schedule")) {
    for (Node *e = st->kids; e; e = e->next) {
      if (t->nschedules == 4) {
        error_at(e->loc, "too many schedules (at most 4)");
        break;
      }
      bind_setting(s, e, BK_SCHEDULE, "schedule", &t->schedules[t->nschedules++]);
    }
  } else if (!strcmp(key, "shuffle")) {
    setting_bool(s, st, &t->shuffle);
  } else if (!strcmp(key, "validation")) {
    if (!one_value(st)) return;
    if (st->kids->kind == ND_CALL)
      bind_setting(s, st->kids, BK_DATA, "data source", &t->validation_data);
    else
      setting_float(s, st, 0, 1, &t->validation);
  } else if (!strcmp(key, "test")) {
    if (!one_value(st)) return;
    if (st->kids->kind == ND_CALL)
      bind_setting(s, st->kids, BK_DATA, "data source", &t->test_data);
    else
      error_at(st->kids->loc, "'test' takes a data source written as a call, such as csv(\"test.csv\"), got %s",
               expr_str(st->kids));
  } else if (!strcmp(key, "weight_decay")) {
    if (one_value(st)) setting_float(s, st, 0, 1, &t->weight_decay);
  } else if (!strcmp(key, "stop")) {
    *stop = st;
  } else if (!strcmp(key, "stop plateau")) {
    if (st->kids && st->kids->kind == ND_CALL && one_value(st))
      bind_setting(s, st->kids, BK_STOPPER, "early stopping", &t->early);
    else
      *stop = st; /* check_stop says what a stop setting looks like */
  } else if (!strcmp(key, "reduce_lr")) {
    if (one_value(st)) bind_setting(s, st->kids, BK_REDUCER, "learning-rate reduction", &t->reduce_lr);
  } else if (!strcmp(key, "save")) {
    if (one_value(st)) bind_setting(s, st->kids, BK_SAVER, "checkpoint rule", &t->save_best);
  } else if (!strcmp(key, "prune")) {
    if (one_value(st)) bind_setting(s, st->kids, BK_PRUNER, "pruning rule", &t->prune);
  }
}

/* `prune magnitude(...)`: its epochs (end's default: half the train
 * block's, at least begin) and weights to prune. */
static void check_prune(TrainInfo *t) {
  if (!t->prune.b) return;
  const Val *begin = setting_arg(&t->prune, "begin"), *end = setting_arg(&t->prune, "end");
  t->prune_sparsity = setting_arg(&t->prune, "sparsity")->f;
  t->prune_begin = begin->i;
  t->prune_end = end->kind == VK_INT ? end->i : (t->epochs + 1) / 2;
  if (t->prune_end < t->prune_begin && end->kind != VK_INT) t->prune_end = t->prune_begin;
  if (t->prune_end < t->prune_begin) {
    error_at(end->loc, "pruning ends at epoch %lld, before it begins (epoch %lld)", (long long)t->prune_end,
             (long long)t->prune_begin);
    t->prune.b = NULL;
    return;
  }
  if (t->prune_end > t->epochs)
    warn_at(t->prune_end == t->prune_begin ? begin->loc : end->loc,
            "pruning reaches its sparsity at epoch %lld, after the last of the %lld epochs: the weights end less "
            "sparse (--epochs can train longer)", (long long)t->prune_end, (long long)t->epochs);
  bool any = false;
  for (ParamInfo *p = t->model ? t->model->params : NULL; p; p = p->next) any |= prunable(t, p);
  if (t->model && !any) {
    error_at(t->prune.node->loc, "model '%s' has no weights to prune: pruning takes trainable kernels of rank 2 "
             "and more (dense, conv2d, embedding, ...), not biases or states", t->model->decl->name);
    t->prune.b = NULL;
  }
}

/* A train block against its model: losses and their weights, data sources
 * and sample weights, augmentation, metrics that need a binary classifier. */
static void check_fit(TrainInfo *t, Map *seen) {
  const Node *decl = t->decl;
  check_losses(t, map_get(seen, "loss"), map_get(seen, "loss_weights"));
  check_class_weight(t);
  t->weighted = t->sample_weights || t->class_weight;
  if (t->weighted && t->model->noutputs >= 16)
    error_at(decl->name_loc, "sample weights take a label of their own, after the outputs': a model trained with "
             "them has at most 15 outputs, and '%s' has 16", decl->name);
  check_data(t, &t->data);
  check_data(t, &t->validation_data);
  check_data(t, &t->test_data);
  check_other_source(t, &t->validation_data, "validation");
  check_other_source(t, &t->test_data, "test");
  check_weights(t, &t->data);
  check_weights(t, &t->validation_data);
  check_weights(t, &t->test_data);
  check_augment(t);
  for (int i = 0; i < t->nmetrics && t->loss.b; i++) /* counts of a positive class need one */
    if ((!strcmp(t->metrics[i]->name, "precision") || !strcmp(t->metrics[i]->name, "recall")) &&
        strcmp(t->loss.b->name, "binary_crossentropy") != 0)
      error_at(t->metric_loc[i], "'%s' counts the positive class of a binary classifier; the loss here is '%s', "
               "not binary_crossentropy", t->metrics[i]->name, t->loss.b->name);
}

void check_train(Sema *s, Node *decl) {
  Node *target = map_get(s->decls, decl->name);
  if (!target || target->kind != ND_MODEL) {
    const char *sg = "";
    if (!target) {
      Suggest g = {.name = decl->name, .best_d = 1000};
      for (Node *d = s->prog->decls; d; d = d->next)
        if (d->kind == ND_MODEL) consider(&g, d->name);
      if (g.best) sg = arena_printf("; did you mean '%s'?", g.best);
    }
    error_at(decl->name_loc, "'train' names %s '%s'%s", target ? "a layer, not a model:" : "no model",
             decl->name, sg);
    return;
  }
  TrainInfo *t = arena_alloc(sizeof *t);
  t->decl = decl;
  t->epochs = 1;
  t->batch = 32;
  t->shuffle = true;
  for (ModelInfo *m = s->models; m; m = m->next)
    if (m->decl == target) t->model = m;
  for (TrainInfo *o = s->trains; o; o = o->next)
    if (o->model == t->model) {
      error_at(decl->name_loc, "model '%s' has a second 'train' block", decl->name);
      note_at(o->decl->name_loc, "the first one is here");
      return;
    }
  TrainInfo **tail = &s->trains;
  while (*tail) tail = &(*tail)->next;
  *tail = t;
  s->scope = NULL;
  scope_push(s, "", NULL, DT_F32);

  Map *seen = map_new();
  Node *stop = NULL;
  for (Node *st = decl->kids; st; st = st->next) {
    const char *key = st->name;
    bool known = false;
    for (size_t i = 0; i < sizeof setting_names / sizeof *setting_names; i++)
      if (!strcmp(key, setting_names[i])) known = true;
    if (!known) {
      Suggest g = {.name = key, .best_d = 1000};
      for (size_t i = 0; i < sizeof setting_names / sizeof *setting_names; i++)
        consider(&g, setting_names[i]);
      error_at(st->name_loc, "unknown setting '%s'%s", key, unknown_setting_hint(key, g.best));
      continue;
    }
    if (!strcmp(key, "stop") && !st->when) key = "stop plateau"; /* a rule and a plateau may both be set */
    Node *old = map_get(seen, key);
    if (old) {
      error_at(st->name_loc, "'%s' is set twice", key);
      note_at(old->name_loc, "first set here");
      continue;
    }
    map_put(seen, key, st);
    if (st->when && strcmp(key, "stop") != 0) {
      error_at(st->loc, "only 'stop' takes a 'when' rule");
      continue;
    }
    setting(s, t, st, key, &stop);
  }
  if (stop) check_stop(s, t, stop);
  check_callbacks(t);
  check_prune(t);
  if (!map_get(seen, "loss")) error_at(decl->name_loc, "'train' block has no 'loss'");
  if (!map_get(seen, "optimizer")) error_at(decl->name_loc, "'train' block has no 'optimizer'");
  if (t->model) check_fit(t, seen);
  scope_pop(s);
}


/* ----------------------------------------------------- memory to train */

static int64_t sum_bytes(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

/* A model whose parameters, with the slots its optimizer keeps for each
 * (Adam's m and v) and its states (running statistics), take more than
 * NN_WARN_BYTES: a program or library would need that much memory before
 * its first sample, which is worth a word at compile time. */
void check_memory(Sema *s) {
  for (ModelInfo *m = s->models; m; m = m->next) {
    TrainInfo *t = NULL;
    for (TrainInfo *ti = s->trains; ti; ti = ti->next)
      if (ti->model == m) t = ti;
    int64_t params = 0, states = 0, slots = 0;
    for (ParamInfo *p = m->params; p; p = p->next) {
      int64_t n = 0;
      shape_product(p->shape, &n);
      int64_t bytes = n * (p->dtype == DT_F64 ? 8 : 4); /* n < 2^31 */
      if (p->trainable) params = sum_bytes(params, bytes);
      else states = sum_bytes(states, bytes);
    }
    int per = t && t->optimizer.b ? optimizer_slots(&t->optimizer) : 0;
    for (int i = 0; i < per; i++) slots = sum_bytes(slots, params);
    for (ParamInfo *p = m->params; p && t; p = p->next) { /* pruning's masks */
      int64_t n = 0;
      shape_product(p->shape, &n);
      if (prunable(t, p)) slots = sum_bytes(slots, n * (p->dtype == DT_F64 ? 8 : 4));
    }
    int64_t total = sum_bytes(sum_bytes(params, slots), states);
    if (total <= NN_WARN_BYTES) continue;
    if (t)
      warn_at(t->decl->name_loc,
              "training '%s' needs %s bytes (%s) for its parameters (%s), optimizer slots (%s: %s keeps %d "
              "a parameter) and states (%s), more than %s",
              m->decl->name, group(total), size_str(total), size_str(params), size_str(slots),
              t->optimizer.b->name, per, size_str(states), size_str(NN_WARN_BYTES));
    else
      warn_at(m->decl->name_loc, "model '%s' needs %s bytes (%s) for its parameters (%s) and states (%s), more than %s",
              m->decl->name, group(total), size_str(total), size_str(params), size_str(states),
              size_str(NN_WARN_BYTES));
  }
}
