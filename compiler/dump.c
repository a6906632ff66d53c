/* dump.c — the checked program as text (--emit=ast, -d S).
 *
 * One line per model statement with its result type, the layers nested in
 * it, the parameter list with full names, and each train block with every
 * setting resolved (defaults included). Tests compare this text exactly, so
 * its format changes only on purpose.
 */
#include <string.h>
#include "nnc.h"

static void row(FILE *out, int indent, const char *text, const char *type) {
  int w = fprintf(out, "%*s%s", indent, "", text);
  fprintf(out, "%*s%s\n", w < 56 ? 56 - w : 1, "", type);
}

const char *group(int64_t v) {
  char digits[32];
  snprintf(digits, sizeof digits, "%lld", (long long)v);
  char *out = "";
  int n = (int)strlen(digits);
  for (int i = 0; i < n; i++)
    out = arena_printf("%s%c%s", out, digits[i], (n - 1 - i) % 3 == 0 && i < n - 1 ? "," : "");
  return out;
}

/* "27.9 GiB", "512 B" */
const char *size_str(int64_t b) {
  static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double x = (double)b;
  int u = 0;
  while (x >= 1024 && u < 6) x /= 1024, u++;
  return u ? arena_printf("%.1f %s", x, unit[u]) : arena_printf("%lld B", (long long)b);
}

/* The layer calls inside a statement other than its top expression. */
static void nested_calls(FILE *out, const Node *e, const Node *top) {
  if (!e) return;
  switch (e->kind) {
  case ND_CALL:
    for (const Node *a = e->kids; a; a = a->next) nested_calls(out, a->lhs, top);
    break;
  case ND_BINARY:
  case ND_PIPE:
    nested_calls(out, e->lhs, top);
    nested_calls(out, e->rhs, top);
    break;
  case ND_NEG:
    nested_calls(out, e->lhs, top);
    break;
  case ND_NAME: /* x |> relu: a name called through a pipe */
    break;
  default:
    return;
  }
  if (e != top && (e->kind == ND_CALL || e->kind == ND_NAME) && e->typed) {
    const char *name = e->inst ? arena_printf("%s: ", e->inst) : "";
    row(out, 6, arena_printf("%s%s", name, expr_str(e)), type_str(e->dtype, e->shape));
  }
}

static void print_model(FILE *out, ModelInfo *m) {
  Node *d = m->decl;
  fprintf(out, "model %s (%s)\n", d->name, m->sequential ? "sequential" : "functional");
  for (Node *st = d->kids; st; st = st->next) {
    const char *type = st->typed ? type_str(st->dtype, st->shape) : "?";
    const Node *top = st->rhs;
    while (top && top->kind == ND_PIPE) top = top->rhs;
    const char *inst = top && top->inst ? arena_printf("%s = ", top->inst) : "";
    switch (st->kind) {
    case ND_INPUT:
      row(out, 2, arena_printf("input %s", st->name), type);
      break;
    case ND_ASSIGN:
      row(out, 2, arena_printf("%s = %s", st->name, expr_str(st->rhs)), type);
      break;
    case ND_OUTPUT:
      row(out, 2, arena_printf("output %s%s%s", st->name ? st->name : "", st->name ? " = " : "",
                               expr_str(st->rhs)), type);
      break;
    case ND_LAYERSTMT:
      row(out, 2, arena_printf("%s%s", inst, expr_str(st->rhs)), type);
      break;
    default:
      continue;
    }
    /* the top call's line shows its instance name only in sequential form */
    bool show_top = st->kind != ND_LAYERSTMT && top && top->kind == ND_CALL && top->inst;
    nested_calls(out, st->rhs, show_top ? NULL : st->rhs);
  }
  for (int i = 0; i < m->noutputs; i++) {
    const Node *o = m->outputs[i];
    row(out, 2, o->kind == ND_OUTPUT && o->name ? arena_printf("=> output %s", o->name)
                                                : "=> output",
        o->typed ? type_str(o->dtype, o->shape) : "?");
  }
  fprintf(out, "  parameters: %d tensor%s, %s value%s\n", m->nparams, m->nparams == 1 ? "" : "s",
          group(m->nvalues), m->nvalues == 1 ? "" : "s");
  for (ParamInfo *p = m->params; p; p = p->next) {
    const char *init = p->value ? "built in" : p->init ? expr_str(p->init) : p->init_name;
    row(out, 4, arena_printf("%-20s %s", p->name, type_str(p->dtype, p->shape)),
        p->trainable ? init : arena_printf("%s (state)", init));
  }
}

static void print_setting(FILE *out, const char *key, const Setting *st) {
  if (!st->b) return;
  char *args = "";
  for (int i = 0; i < st->b->nparams; i++)
    args = arena_printf("%s%s%s: %s", args, i ? ", " : "", st->b->params[i].name,
                        value_str(&st->args[i]));
  fprintf(out, "  %-12s %s(%s)\n", key, st->b->name, args);
}

static void print_train(FILE *out, TrainInfo *t) {
  fprintf(out, "train %s\n", t->decl->name);
  print_setting(out, "data", &t->data);
  print_setting(out, "loss", &t->loss);
  for (int i = 1; i < t->nlosses; i++) print_setting(out, "loss", &t->losses[i]); /* one per output */
  for (int i = 0; t->model && t->model->noutputs > 1 && i < t->model->noutputs; i++)
    fprintf(out, "%s%g%s", i ? ", " : "  loss_weights ", t->loss_weights[i], i + 1 < t->model->noutputs ? "" : "\n");
  if (t->sample_weights) fprintf(out, "  %-12s true\n", "sample_weights");
  for (int64_t i = 0; i < t->nclass_weight; i++)
    fprintf(out, "%s%g%s", i ? ", " : "  class_weight ", t->class_weight[i], i + 1 < t->nclass_weight ? "" : "\n");
  print_setting(out, "optimizer", &t->optimizer);
  for (int i = 0; i < t->nschedules; i++) print_setting(out, "schedule", &t->schedules[i]);
  fprintf(out, "  %-12s %lld\n  %-12s %lld\n  %-12s %s\n  %-12s %lld\n", "epochs",
          (long long)t->epochs, "batch", (long long)t->batch, "shuffle",
          t->shuffle ? "true" : "false", "seed", (long long)t->seed);
  if (t->validation_data.b) print_setting(out, "validation", &t->validation_data);
  else fprintf(out, "  %-12s %g\n", "validation", t->validation);
  if (t->test_data.b) print_setting(out, "test", &t->test_data);
  if (t->weight_decay > 0) fprintf(out, "  %-12s %g\n", "weight_decay", t->weight_decay);
  if (t->nmetrics) {
    fprintf(out, "  %-12s", "metrics");
    for (int i = 0; i < t->nmetrics; i++) fprintf(out, "%s%s", i ? ", " : " ", t->metrics[i]->name);
    fprintf(out, "\n");
  }
  if (t->flip || t->crop)
    fprintf(out, "  %-12s %s%s%s\n", "augment", t->flip ? "flip" : "", t->flip && t->crop ? ", " : "",
            t->crop ? arena_printf("crop(padding: %lld)", (long long)t->crop) : "");
  if (t->has_stop) {
    const char *op = t->stop_op == 'l' ? "<=" : t->stop_op == 'g' ? ">=" : t->stop_op == '<' ? "<" : ">";
    fprintf(out, "  %-12s when %s %s %g\n", "stop", t->stop_metric, op, t->stop_value);
  }
}

static void print_layer(FILE *out, const Node *d) {
  char *h = "", *in = "";
  for (const Node *p = d->lhs; p; p = p->next)
    h = arena_printf("%s%s%s%s%s", h, *h ? ", " : "", p->name, p->rhs ? " = " : "",
                     p->rhs ? expr_str(p->rhs) : "");
  for (const Node *p = d->inputs; p; p = p->next)
    in = arena_printf("%s%s%s%s%s", in, *in ? ", " : "", p->name, p->lhs ? ": " : "",
                      p->lhs ? expr_str(p->lhs) : "");
  fprintf(out, "layer %s%s%s%s(%s)%s%s\n", d->name, d->lhs ? "(" : "", h, d->lhs ? ") " : "", in,
          d->ret ? " -> " : "", d->ret ? expr_str(d->ret) : "");
}

void print_checked(FILE *out, Sema *s) {
  ModelInfo *m = s->models;
  TrainInfo *t = s->trains;
  bool first = true;
  for (Node *d = s->prog->decls; d; d = d->next) {
    if (d->kind == ND_IMPORT) continue;
    if (!first) fprintf(out, "\n");
    first = false;
    if (d->kind == ND_LAYER) print_layer(out, d);
    else if (d->kind == ND_MODEL && m && m->decl == d) print_model(out, m), m = m->next;
    else if (d->kind == ND_TRAIN && t && t->decl == d) print_train(out, t), t = t->next;
  }
}
