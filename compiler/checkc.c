/* checkc.c — `nnc --check-c`: the C backend against the reference evaluator.
 *
 * For every model: its graph (the training step when it has a train block)
 * is written as C with a small harness, built with the system's C compiler
 * ($CC, else cc), and run on the random data that --check-grad uses; every
 * ($CFLAGS added, so the suite can run it under sanitizers). Every
 * output, the loss, and every parameter and state after the update must
 * equal the evaluator's bit for bit (the backend does the evaluator's
 * arithmetic in the evaluator's order).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "nnc.h"

static const char *cty(DType t) {
  return t == DT_F64 ? "double" : t == DT_I32 ? "int32_t" : "float";
}

static int64_t concrete_numel(Shape s, int64_t n) {
  int64_t k = 1;
  for (int d = 0; d < s.rank; d++) k *= s.dim[d] == DIM_BATCH ? n : s.dim[d];
  return k;
}

/* The harness: read every tensor the graph takes, run, write what it gives. */
static void harness(FILE *o, Graph *g, const char *model, const char *suffix) {
  fprintf(o,
          "\nstatic void *read_tensor(FILE *f, int64_t count, int size, int is_int) {\n"
          "  void *p = nnrt_alloc((size_t)count * (size_t)size);\n"
          "  for (int64_t i = 0; i < count; i++) {\n"
          "    double v;\n"
          "    if (fread(&v, sizeof v, 1, f) != 1) { fprintf(stderr, \"short input\\n\"); exit(2); }\n"
          "    if (is_int) ((int32_t *)p)[i] = (int32_t)v;\n"
          "    else if (size == 8) ((double *)p)[i] = v;\n"
          "    else ((float *)p)[i] = (float)v;\n"
          "  }\n  return p;\n}\n"
          "\nstatic void write_tensor(FILE *f, const void *p, int64_t count, int size) {\n"
          "  for (int64_t i = 0; i < count; i++) {\n"
          "    double v = size == 8 ? ((const double *)p)[i] : ((const float *)p)[i];\n"
          "    fwrite(&v, sizeof v, 1, f);\n  }\n}\n"
          "\nint main(int argc, char **argv) {\n"
          "  if (argc != 4) return 2;\n"
          "  FILE *in = fopen(argv[1], \"rb\"), *out = fopen(argv[2], \"wb\");\n"
          "  if (!in || !out) return 2;\n"
          "  int64_t head[4];\n"
          "  if (fread(head, sizeof head, 1, in) != 1) return 2;\n"
          "  int64_t n = head[0];\n"
          "  %s_Model *m = %s_create(0);\n"
          "  m->step = head[1];\n  m->epoch = head[2];\n  m->seed = (uint64_t)head[3];\n"
          "  %s_set_threads(m, atoi(argv[3]));\n",
          model, model, model);
  fprintf(o, "  const void *inputs[%d];\n", g->ninputs ? g->ninputs : 1);
  for (int i = 0; i < g->ninputs; i++) {
    const Value *v = &g->v[g->inputs[i]];
    /* an input has the batch dimension once, first */
    fprintf(o, "  inputs[%d] = read_tensor(in, %lld * n, %d, %d);\n", i,
            (long long)concrete_numel(v->shape, 1), v->dtype == DT_F64 ? 8 : 4, v->dtype == DT_I32);
  }
  if (g->label >= 0) {
    const Value *v = &g->v[g->label];
    fprintf(o, "  const void *label = read_tensor(in, %lld * n, %d, %d);\n",
            (long long)concrete_numel(v->shape, 1), v->dtype == DT_F64 ? 8 : 4, v->dtype == DT_I32);
  } else {
    fprintf(o, "  const void *label = NULL;\n");
  }
  for (int i = 0; i < g->nparams; i++)
    fprintf(o, "  free(m->params[%d]);\n  m->params[%d] = read_tensor(in, %lld, %d, 0);\n", i, i,
            (long long)concrete_numel(g->params[i]->shape, 1), g->params[i]->dtype == DT_F64 ? 8 : 4);
  for (int i = 0; i < g->nstates; i++)
    fprintf(o, "  free(m->states[%d]);\n  m->states[%d] = read_tensor(in, %lld, %d, 0);\n", i, i,
            (long long)concrete_numel(g->states[i]->shape, 1), g->states[i]->dtype == DT_F64 ? 8 : 4);
  fprintf(o, "  %s_%s_run(m, n, inputs, label);\n", model, suffix);
  if (g->loss >= 0) fprintf(o, "  fwrite(&m->loss, sizeof m->loss, 1, out);\n");
  for (int i = 0; i < g->noutputs; i++) {
    const Value *v = &g->v[g->outputs[i]];
    bool batched = false;
    for (int d = 0; d < v->shape.rank; d++) batched |= v->shape.dim[d] == DIM_BATCH;
    fprintf(o, "  write_tensor(out, m->out[%d], %lld%s, %d);\n", i,
            (long long)concrete_numel(v->shape, 1), batched ? " * n" : "", v->dtype == DT_F64 ? 8 : 4);
  }
  for (int i = 0; i < g->nparams; i++)
    fprintf(o, "  write_tensor(out, m->params[%d], %lld, %d);\n", i,
            (long long)concrete_numel(g->params[i]->shape, 1), g->params[i]->dtype == DT_F64 ? 8 : 4);
  for (int i = 0; i < g->nstates; i++)
    fprintf(o, "  write_tensor(out, m->states[%d], %lld, %d);\n", i,
            (long long)concrete_numel(g->states[i]->shape, 1), g->states[i]->dtype == DT_F64 ? 8 : 4);
  for (int i = 0; i < g->ninputs; i++) fprintf(o, "  free((void *)inputs[%d]);\n", i);
  fprintf(o, "  free((void *)label);\n  fclose(in);\n  fclose(out);\n  %s_free(m);\n  return 0;\n}\n",
          model);
  (void)cty;
}

static void put(FILE *f, const Tensor *t) {
  fwrite(t->d, sizeof(double), (size_t)t->n, f);
}

/* Compares `count` doubles from f with t; reports the first difference. */
static bool same(FILE *out, FILE *f, const double *want, int64_t count, const char *what) {
  for (int64_t i = 0; i < count; i++) {
    double got;
    if (fread(&got, sizeof got, 1, f) != 1) {
      fprintf(out, "  %s: the compiled program wrote too little\n", what);
      return false;
    }
    if (got != want[i] && !(got != got && want[i] != want[i])) {
      fprintf(out, "  %s[%lld]: compiled %.17g, evaluator %.17g\n", what, (long long)i, got, want[i]);
      return false;
    }
  }
  return true;
}

static bool check_graph(Graph *g, const char *model, const char *loss, FILE *out) {
  enum { BATCH = 3 };
  char dir[] = "/tmp/nnc-check-XXXXXX";
  if (!mkdtemp(dir)) {
    error_plain("cannot make a temporary directory: %s", strerror(errno));
    return false;
  }
  const char *suffix = g->training ? "train" : "infer";
  char *csrc = arena_printf("%s/%s.c", dir, model), *exe = arena_printf("%s/%s", dir, model);
  char *inp = arena_printf("%s/in.bin", dir), *outp = arena_printf("%s/out.bin", dir);
  FILE *f = fopen(csrc, "w");
  if (!f) {
    error_plain("cannot write '%s': %s", csrc, strerror(errno));
    return false;
  }
  emit_c_prelude(f, "check");
  emit_c_model(f, model, g->training ? g : NULL, NULL, g->training ? NULL : g);
  harness(f, g, model, suffix);
  fclose(f);

  /* the evaluator's step: outputs and loss, then the updated tensors */
  Eval *e = eval_new(g, BATCH);
  eval_randomize(e, loss, 7);
  e->scalars[SC_STEP] = 1;
  f = fopen(inp, "wb");
  int64_t head[4] = {BATCH, 1, 0, 0};
  fwrite(head, sizeof head, 1, f);
  for (int i = 0; i < g->ninputs; i++) put(f, &e->inputs[i]);
  if (g->label >= 0) put(f, &e->label);
  for (int i = 0; i < g->nparams; i++) put(f, &e->params[i]);
  for (int i = 0; i < g->nstates; i++) put(f, &e->states[i]);
  fclose(f);
  eval_run(e);
  eval_apply_updates(e);

  const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
  const char *flags = getenv("CFLAGS") ? getenv("CFLAGS") : "";
  char *cmd = arena_printf("%s -std=c11 -O1 -fopenmp -Wall -Wextra -Werror %s -o '%s' '%s' -lm",
                           cc, flags, exe, csrc);
  bool ok = system(cmd) == 0;
  if (!ok) fprintf(out, "  building the compiled %s step failed (%s)\n", model, cmd);
  /* at 1 and at 2 threads the compiled step must give the evaluator's bits */
  for (int threads = 1; ok && threads <= 2; threads++) {
    char *run = arena_printf("'%s' '%s' '%s' %d", exe, inp, outp, threads);
    f = system(run) == 0 ? fopen(outp, "rb") : NULL;
    if (!f) {
      fprintf(out, "  running the compiled %s step failed (%s)\n", model, run);
      ok = false;
      break;
    }
    if (g->loss >= 0) ok &= same(out, f, e->vals[g->loss].d, 1, "loss");
    for (int i = 0; ok && i < g->noutputs; i++)
      ok &= same(out, f, e->vals[g->outputs[i]].d, e->vals[g->outputs[i]].n, arena_printf("output %d", i));
    for (int i = 0; ok && i < g->nparams; i++)
      ok &= same(out, f, e->params[i].d, e->params[i].n, g->params[i]->name);
    for (int i = 0; ok && i < g->nstates; i++)
      ok &= same(out, f, e->states[i].d, e->states[i].n, g->states[i]->name);
    fclose(f);
  }
  fprintf(out, "%s %s: %d values, %d parameters, %d states compiled to C %s\n", g->training ? "train" : "model",
          model, g->n, g->nparams, g->nstates,
          ok ? "agree with the evaluator bit for bit, at 1 and 2 threads" : "DIFFER");
  eval_free(e);
  if (ok) {
    unlink(csrc), unlink(exe), unlink(inp), unlink(outp);
    rmdir(dir);
  }
  return ok;
}

bool check_c_backend(Sema *s, FILE *out) {
  bool ok = true;
  for (ModelInfo *m = s->models; m; m = m->next) {
    TrainInfo *t = NULL;
    for (TrainInfo *ti = s->trains; ti; ti = ti->next)
      if (ti->model == m) t = ti;
    /* the training step, or without a train block the gradients of
     * <c, output> (every backward kernel), then the inference graph */
    Graph *g = t ? lower_training(s, t) : lower_projection(s, m);
    if (!g) return false;
    for (int i = 0; !t && i < g->nparams && g->noutputs < 16; i++)
      if (g->param_grads[i] >= 0) g->outputs[g->noutputs++] = g->param_grads[i];
    g = simplify(g);
    verify(g, "simplify");
    ok &= check_graph(g, m->decl->name, t ? t->loss.b->name : "", out);
    Graph *h = simplify(lower_inference(s, m));
    verify(h, "simplify");
    ok &= check_graph(h, m->decl->name, "", out);
  }
  fprintf(out, "%s\n", ok ? "C backend check passed" : "C backend check FAILED");
  return ok;
}
