/* checkc.c — `nnc --check-c`: both backends against the reference evaluator.
 *
 * For every model of the built set: its training step (when it has a train
 * block), the gradients of its parameters as outputs (a graph holds 16
 * outputs: every gradient, in as many graphs as that takes) and its
 * inference are each written as C with a small harness, built with the
 * system's C compiler (tools.c: $CC, else cc, and $CFLAGS, so the suite
 * can run it under sanitizers), and run on the random data that
 * --check-grad uses. Every output, the loss, and every parameter and
 * state after the update must agree with the evaluator's within a
 * tolerance (the GEMM sums in its own order; an update within what any
 * gradient the tolerance accepts would give), and 2 threads, and the same
 * graph compiled without fusion, must give the bits 1 thread gives (any
 * NaN meets any NaN: its payload is not part of the result).
 *
 * When nnc has LLVM (and not --backend=c), the same graph also goes
 * through the LLVM backend into a shared library with its run function
 * exported, which nnc loads and runs on the same input, fused at 1 and 2
 * threads and unfused: every number must have the C backend's bits (both
 * compute the same operations in the same order).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "nnc.h"
#include "nnrt.h"

static const char *cty(DType t) {
  return t == DT_F64 ? "double" : t == DT_I32 ? "int32_t" : "float";
}

/* The same number: the same bits, or both NaN. */
static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0 || (a != a && b != b); }

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
          "\nstatic void write_tensor(FILE *f, const void *p, int64_t count, int size, int is_int) {\n"
          "  for (int64_t i = 0; i < count; i++) {\n"
          "    double v = is_int ? ((const int32_t *)p)[i] : size == 8 ? ((const double *)p)[i] : ((const float *)p)[i];\n"
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
  fprintf(o, "  const void *labels[%d] = {0};\n", g->nlabels ? g->nlabels : 1);
  for (int i = 0; i < g->nlabels; i++) {
    const Value *v = &g->v[g->labels[i]];
    fprintf(o, "  labels[%d] = read_tensor(in, %lld * n, %d, %d);\n", i,
            (long long)concrete_numel(v->shape, 1), v->dtype == DT_F64 ? 8 : 4, v->dtype == DT_I32);
  }
  for (int i = 0; i < g->nparams; i++)
    fprintf(o, "  free(m->params[%d]);\n  m->params[%d] = read_tensor(in, %lld, %d, 0);\n", i, i,
            (long long)concrete_numel(g->params[i]->shape, 1), g->params[i]->dtype == DT_F64 ? 8 : 4);
  for (int i = 0; i < g->nstates; i++)
    fprintf(o, "  free(m->states[%d]);\n  m->states[%d] = read_tensor(in, %lld, %d, 0);\n", i, i,
            (long long)concrete_numel(g->states[i]->shape, 1), g->states[i]->dtype == DT_F64 ? 8 : 4);
  fprintf(o, "  if (nnrt_model_reserve(m, %s, n) != 0) { fprintf(stderr, \"%%s\\n\", m->error); return 2; }\n"
             "  %s_%s_run(m, n, inputs, labels);\n", g->training ? "NNRT_TRAIN" : "NNRT_INFER", model, suffix);
  if (g->loss >= 0) fprintf(o, "  fwrite(&m->loss, sizeof m->loss, 1, out);\n");
  for (int i = 0; i < g->noutputs; i++) {
    const Value *v = &g->v[g->outputs[i]];
    bool batched = false;
    for (int d = 0; d < v->shape.rank; d++) batched |= v->shape.dim[d] == DIM_BATCH;
    fprintf(o, "  write_tensor(out, m->out[%d], %lld%s, %d, %d);\n", i,
            (long long)concrete_numel(v->shape, 1), batched ? " * n" : "", v->dtype == DT_F64 ? 8 : 4,
            v->dtype == DT_I32);
  }
  for (int i = 0; i < g->nparams; i++)
    fprintf(o, "  write_tensor(out, m->params[%d], %lld, %d, 0);\n", i,
            (long long)concrete_numel(g->params[i]->shape, 1), g->params[i]->dtype == DT_F64 ? 8 : 4);
  for (int i = 0; i < g->nstates; i++)
    fprintf(o, "  write_tensor(out, m->states[%d], %lld, %d, 0);\n", i,
            (long long)concrete_numel(g->states[i]->shape, 1), g->states[i]->dtype == DT_F64 ? 8 : 4);
  for (int i = 0; i < g->ninputs; i++) fprintf(o, "  free((void *)inputs[%d]);\n", i);
  for (int i = 0; i < g->nlabels; i++) fprintf(o, "  free((void *)labels[%d]);\n", i);
  fprintf(o, "  fclose(in);\n  fclose(out);\n  %s_free(m);\n  return 0;\n}\n",
          model);
  (void)cty;
}

#ifdef NNC_HAVE_LLVM
#include <dlfcn.h>

/* The libraries loaded below leave their OpenMP threads asleep in this
 * process, and LeakSanitizer's check at exit, which stops every thread,
 * can crash on them (the sanitizer's limit, not a leak). Once one is
 * loaded the check is off for nnc itself (the sanitizers' documented
 * hook); the harnesses built with $CFLAGS keep theirs. */
static bool loaded_libraries;
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) { return loaded_libraries; }

/* The graph through the LLVM backend at -Oopt as a library whose run
 * function is exported. */
static bool llvm_build(const Built *b, const char *so, int opt, FILE *out) {
  LlvmOut *lo = llvm_begin(b->name, NULL, NULL, opt, true);
  if (!lo) return false;
  llvm_model(lo, b);
  char *obj = arena_printf("%s.o", so);
  bool ok = llvm_finish(lo, "obj", obj, so, NULL);
  unlink(obj);
  if (!ok) fprintf(out, "  building %s with the LLVM backend failed\n", so);
  return ok;
}

/* A tensor of the harness's input file (doubles), in type t. */
static void *read_in(FILE *f, int64_t count, DType t) {
  void *p = nnrt_alloc((size_t)count * (t == DT_F64 ? 8 : 4));
  for (int64_t i = 0; i < count; i++) {
    double v = 0;
    if (fread(&v, sizeof v, 1, f) != 1) v = 0;
    if (t == DT_I32) ((int32_t *)p)[i] = (int32_t)v;
    else if (t == DT_F64) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
  }
  return p;
}

static double *put_out(double *at, const void *p, int64_t count, DType t) {
  for (int64_t i = 0; i < count; i++)
    *at++ = t == DT_I32 ? ((const int32_t *)p)[i] : t == DT_F64 ? ((const double *)p)[i] : ((const float *)p)[i];
  return at;
}

/* The LLVM-built library loaded into nnc and run on the harness's input
 * at `threads` threads: what the harness writes, in its order, or NULL. */
static double *llvm_run(const char *so, Graph *g, const char *model, const char *inp, int64_t count, int threads) {
  /* kept loaded: its OpenMP library's threads outlive the run */
  void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  loaded_libraries = true;
  if (!h) return NULL;
  NnrtModel *(*create)(uint64_t) = (NnrtModel * (*)(uint64_t)) dlsym(h, arena_printf("%s_create", model));
  void (*destroy)(NnrtModel *) = (void (*)(NnrtModel *))dlsym(h, arena_printf("%s_free", model));
  NnrtRunFn *run = (NnrtRunFn *)dlsym(h, arena_printf("%s_%s_run", model, g->training ? "train" : "infer"));
  FILE *in = fopen(inp, "rb");
  int64_t head[4];
  if (!create || !destroy || !run || !in || fread(head, sizeof head, 1, in) != 1) {
    if (in) fclose(in);
    dlclose(h);
    return NULL;
  }
  int64_t n = head[0];
  NnrtModel *m = create(0);
  m->step = head[1], m->epoch = head[2], m->seed = (uint64_t)head[3], m->threads = threads;
  const void *inputs[64] = {0};
  for (int i = 0; i < g->ninputs && i < 64; i++) {
    const Value *v = &g->v[g->inputs[i]];
    inputs[i] = read_in(in, concrete_numel(v->shape, 1) * n, v->dtype);
  }
  const void *labels[16] = {0};
  for (int i = 0; i < g->nlabels; i++) {
    const Value *lv = &g->v[g->labels[i]];
    labels[i] = read_in(in, concrete_numel(lv->shape, 1) * n, lv->dtype);
  }
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < (k ? g->nstates : g->nparams); i++) {
      ParamInfo *p = k ? g->states[i] : g->params[i];
      int64_t count1 = concrete_numel(p->shape, 1);
      void *t = read_in(in, count1, p->dtype);
      memcpy(k ? m->states[i] : m->params[i], t, (size_t)count1 * (p->dtype == DT_F64 ? 8 : 4));
      free(t);
    }
  fclose(in);
  bool ran = nnrt_model_reserve(m, g->training ? NNRT_TRAIN : NNRT_INFER, n) == 0;
  if (ran) run(m, n, inputs, labels);
  double *res = ran ? malloc(sizeof(double) * (size_t)(count + 1)) : NULL, *at = res;
  if (res) {
    if (g->loss >= 0) *at++ = m->loss;
    for (int i = 0; i < g->noutputs; i++) {
      const Value *v = &g->v[g->outputs[i]];
      bool batched = false;
      for (int d = 0; d < v->shape.rank; d++) batched |= v->shape.dim[d] == DIM_BATCH;
      at = put_out(at, m->out[i], concrete_numel(v->shape, 1) * (batched ? n : 1), v->dtype);
    }
    for (int i = 0; i < g->nparams; i++)
      at = put_out(at, m->params[i], concrete_numel(g->params[i]->shape, 1), g->params[i]->dtype);
    for (int i = 0; i < g->nstates; i++)
      at = put_out(at, m->states[i], concrete_numel(g->states[i]->shape, 1), g->states[i]->dtype);
    if (at - res != count) free(res), res = NULL;
  }
  for (int i = 0; i < g->ninputs && i < 64; i++) free((void *)inputs[i]);
  for (int i = 0; i < g->nlabels; i++) free((void *)labels[i]);
  destroy(m);
  dlclose(h);
  return res;
}

/* The LLVM backend's library (fused at 1 and 2 threads, and unfused)
 * against the C backend's results `want`: the same bits. */
static bool check_llvm(const Built *fused, const Built *unfused, const char *dir, const char *inp,
                       const double *want, int64_t count, const char **name, const int64_t *len, int nt, FILE *out) {
  Graph *g = built_main_graph(fused);
  const char *model = fused->name;
  char *so = arena_printf("%s/%s_llvm.so", dir, model), *so2 = arena_printf("%s/%s_llvm_unfused.so", dir, model);
  /* fused as users get it (-O3, the runtime's bitcode in), unfused at -O0
   * (the IR as built, quick to compile) */
  bool ok = llvm_build(fused, so, 3, out) && llvm_build(unfused, so2, 0, out);
  for (int run = 0; ok && run < 3; run++) {
    const char *what = run == 0 ? "at 1 thread" : run == 1 ? "at 2 threads" : "unfused";
    double *got = llvm_run(run == 2 ? so2 : so, g, model, inp, count, run == 1 ? 2 : 1);
    if (!got) {
      fprintf(out, "  running the LLVM-built %s step %s failed (%s)\n", model, what, dlerror());
      ok = false;
      break;
    }
    for (int64_t i = 0, at = 0; ok && i < nt; at += len[i], i++)
      for (int64_t j = 0; j < len[i]; j++)
        if (!same_bits(got[at + j], want[at + j])) {
          fprintf(out, "  %s[%lld]: LLVM %s %.17g, C %.17g\n", name[i], (long long)j, what, got[at + j],
                  want[at + j]);
          ok = false;
          break;
        }
    free(got);
  }
  unlink(so), unlink(so2);
  return ok;
}
#endif

static void put(FILE *f, const Tensor *t) {
  fwrite(t->d, sizeof(double), (size_t)t->n, f);
}

/* The compiled step computes in the graph's type, summing in its own
 * fixed order, so it meets the evaluator (double, its own order) within a
 * tolerance: each element within TOL of the largest of its own magnitude,
 * a hundredth of the tensor's largest and 0.01. Updated parameters and
 * states are held to 5 TOL of the tensor's largest. */
static double tolerance(DType t, bool updated) { return (t == DT_F64 ? 1e-9 : 2e-4) * (updated ? 5 : 1); }

/* The scale an element's difference is measured against: the tensor's
 * largest finite magnitude (a hundredth of it unless updated). */
static double scale_of(const double *x, int64_t count, bool updated) {
  double scale = 0;
  for (int64_t i = 0; i < count; i++)
    if (isfinite(x[i])) scale = fmax(scale, fabs(x[i]));
  return updated ? scale : scale / 100;
}

static double room(double want, double scale) { return fmax(fmax(fabs(want), scale), 1e-2); }

/* got against want; an updated element may lie anywhere in [lo, hi]
 * (update_range; NULL: nowhere else) within the tolerance. NaN and the
 * infinities must be met exactly, any NaN by any NaN. */
static bool within(FILE *out, const double *got, const double *want, const double *lo, const double *hi,
                   int64_t count, DType t, bool updated, const char *what, double *worst) {
  double tol = tolerance(t, updated), scale = scale_of(want, count, updated);
  for (int64_t i = 0; i < count; i++) {
    double a = lo ? fmin(lo[i], want[i]) : want[i], b = hi ? fmax(hi[i], want[i]) : want[i];
    double err = (got[i] < a ? a - got[i] : got[i] > b ? got[i] - b : 0) / room(want[i], scale);
    bool ok = isfinite(want[i]) ? !isnan(got[i]) && err <= tol : isnan(want[i]) ? isnan(got[i]) : got[i] == want[i];
    if (!ok) {
      fprintf(out, "  %s[%lld]: compiled %.17g, evaluator %.17g\n", what, (long long)i, got[i], want[i]);
      return false;
    }
    if (isfinite(want[i])) *worst = fmax(*worst, err);
  }
  return true;
}

/* Each parameter's gradient moved to the low (side 0) or the high edge of
 * the tolerance the gradients are held to, or NULL where there is none to
 * move: no gradient, or a constant one (exact in every backend). */
static double **gradient_edges(Eval *e, int side) {
  Graph *g = e->g;
  double **edge = arena_alloc(sizeof(double *) * (size_t)(g->nparams + 1));
  for (int i = 0; i < g->nparams && g->param_grads; i++) {
    int id = g->param_grads[i];
    if (id < 0 || op_info[g->v[id].op].cls == CL_LEAF) continue;
    const Tensor *gr = &e->vals[id];
    double tol = tolerance(g->v[id].dtype, false), scale = scale_of(gr->d, gr->n, false);
    edge[i] = arena_alloc(sizeof(double) * (size_t)(gr->n + 1));
    for (int64_t j = 0; j < gr->n; j++) edge[i][j] = gr->d[j] + (side ? 1 : -1) * tol * room(gr->d[j], scale);
  }
  return edge;
}

/* lo and hi (slots: the parameters, then the states) widened to what the
 * step stores after eval_run, or set to it when `first`. */
static void widen(const Eval *e, double **lo, double **hi, bool first) {
  const Graph *g = e->g;
  for (int k = 0; k < g->nupdates; k++) {
    int slot = g->updates[k].state ? g->nparams + g->updates[k].index : g->updates[k].index;
    int64_t n = e->vals[g->updates[k].value].n;
    if (first) {
      lo[slot] = arena_alloc(sizeof(double) * (size_t)(n + 1));
      hi[slot] = arena_alloc(sizeof(double) * (size_t)(n + 1));
    }
    for (int64_t j = 0; j < n; j++) {
      double x = eval_updated(e, k, j);
      lo[slot][j] = first ? x : fmin(lo[slot][j], x), hi[slot][j] = first ? x : fmax(hi[slot][j], x);
    }
  }
}

/* What a step may store when its gradients are anywhere the tolerance
 * accepts them. Adam divides a gradient by its own magnitude, so where
 * the gradient is rounding noise (attention's key bias: softmax ignores a
 * constant added to a row, and the bias's gradient is exactly zero) either
 * sign is right and moves the weight by nearly the learning rate, one way
 * in the evaluator and the other in the compiled step. The evaluator runs
 * the step again with every gradient pinned to the low and then the high
 * edge of its tolerance: lo and hi hold the least and greatest of what
 * the three runs store (slots as widen's; NULL where nothing is updated).
 * The gradients themselves are outputs of the graphs check_c_backend
 * checks, held to that tolerance. Leaves e as eval_run does. */
static void update_range(Eval *e, double **lo, double **hi) {
  Graph *g = e->g;
  if (!g->nupdates) return;
  widen(e, lo, hi, true);
  double **edge[2] = {gradient_edges(e, 0), gradient_edges(e, 1)};
  bool any = false;
  for (int i = 0; i < g->nparams; i++) any |= edge[0][i] != NULL;
  for (int side = 0; any && side < 3; side++) {
    for (int i = 0; i < g->nparams; i++)
      if (edge[0][i]) eval_pin(e, g->param_grads[i], side < 2 ? edge[side][i] : NULL);
    eval_run(e);
    if (side < 2) widen(e, lo, hi, false);
  }
}

/* The doubles the compiled program wrote, `count` of them, or NULL. */
static double *results(const char *path, int64_t count) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  double *d = malloc(sizeof *d * (size_t)(count + 1));
  if (!d) {
    fclose(f);
    return NULL;
  }
  size_t got = fread(d, sizeof *d, (size_t)count + 1, f);
  fclose(f);
  if (got != (size_t)count) {
    free(d);
    return NULL;
  }
  return d;
}

/* g as a model of one graph (its training step, or inference) with plan p. */
static Built one_graph(Graph *g, Plan *p, const char *model) {
  Built b = {.name = model, .only_level = isa_level_here()};
  b.g[g->training ? GRAPH_TRAIN : GRAPH_INFER] = g;
  b.plan[g->training ? GRAPH_TRAIN : GRAPH_INFER] = p;
  return b;
}

/* ref: the graph the evaluator runs, when not g itself (inference with its
 * scans, which g has unrolled): the same interface. */
static bool check_graph(Graph *g, Graph *ref, Plan *p, const char *model, const TrainInfo *t, bool llvm,
                        FILE *out) {
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
  Built fused = one_graph(g, p, model), unfused = one_graph(g, plan_graph(g, false), model);
  emit_c_prelude(f, "check", &fused);
  emit_c_model(f, &fused);
  harness(f, g, model, suffix);
  fclose(f);
  /* the same without fusion, which must give the same bits */
  char *csrc2 = arena_printf("%s/%s_unfused.c", dir, model), *exe2 = arena_printf("%s/%s_unfused", dir, model);
  f = fopen(csrc2, "w");
  if (!f) {
    error_plain("cannot write '%s': %s", csrc2, strerror(errno));
    return false;
  }
  emit_c_prelude(f, "check", &unfused);
  emit_c_model(f, &unfused);
  harness(f, g, model, suffix);
  fclose(f);

  /* the evaluator's step: outputs and loss, then the updated tensors */
  Eval *e = eval_new(ref ? ref : g, BATCH);
  eval_randomize(e, t, 7);
  e->scalars[SC_STEP] = 1;
  f = fopen(inp, "wb");
  int64_t head[4] = {BATCH, 1, 0, 0};
  fwrite(head, sizeof head, 1, f);
  for (int i = 0; i < g->ninputs; i++) put(f, &e->inputs[i]);
  for (int i = 0; i < g->nlabels; i++) put(f, &e->labels[i]);
  for (int i = 0; i < g->nparams; i++) put(f, &e->params[i]);
  for (int i = 0; i < g->nstates; i++) put(f, &e->states[i]);
  fclose(f);
  eval_run(e);
  double **lo = arena_alloc(sizeof(double *) * (size_t)(g->nparams + g->nstates + 1));
  double **hi = arena_alloc(sizeof(double *) * (size_t)(g->nparams + g->nstates + 1));
  update_range(e, lo, hi);
  eval_apply_updates(e);

  /* $CC -std=c11 -ffp-contract=off -O1 -fopenmp -Wall -Wextra -Werror $CFLAGS -o EXE SRC -lm, fused and unfused */
  bool ok = true;
  for (int unfused = 0; ok && unfused <= 1; unfused++) {
    Argv cc = cc_command();
    const char *flags[] = {"-O1", "-fopenmp", "-Wall", "-Wextra", "-Werror"};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) argv_add(&cc, flags[i]);
    cc_add_cflags(&cc);
    argv_add(&cc, "-o"), argv_add(&cc, unfused ? exe2 : exe), argv_add(&cc, unfused ? csrc2 : csrc);
    argv_add(&cc, "-lm");
    int status = run_tool(&cc, NULL, NULL);
    if (status != 0) {
      fprintf(out, "  building the %s %s step failed (%s: %s)\n", unfused ? "unfused" : "compiled", model,
              tool_outcome(status), argv_string(&cc));
      ok = false;
    }
  }
  /* everything the program writes, in order, with its type */
  int64_t count = 0;
  int nt = 0;
  int most = 1 + g->noutputs + g->nparams + g->nstates;
  const double **want = arena_alloc(sizeof *want * (size_t)most);
  int64_t *len = arena_alloc(sizeof *len * (size_t)most);
  DType *type = arena_alloc(sizeof *type * (size_t)most);
  const char **name = arena_alloc(sizeof *name * (size_t)most);
  if (g->loss >= 0)
    want[nt] = e->vals[e->g->loss].d, len[nt] = 1, type[nt] = g->v[g->loss].dtype, name[nt++] = "loss";
  for (int i = 0; i < g->noutputs; i++)
    want[nt] = e->vals[e->g->outputs[i]].d, len[nt] = e->vals[e->g->outputs[i]].n,
    type[nt] = g->v[g->outputs[i]].dtype, name[nt++] = arena_printf("output %d", i);
  int first_updated = nt;
  for (int i = 0; i < g->nparams; i++)
    want[nt] = e->params[i].d, len[nt] = e->params[i].n, type[nt] = g->params[i]->dtype,
    name[nt++] = g->params[i]->name;
  for (int i = 0; i < g->nstates; i++)
    want[nt] = e->states[i].d, len[nt] = e->states[i].n, type[nt] = g->states[i]->dtype,
    name[nt++] = g->states[i]->name;
  bool f32 = false; /* an f64 value made from f32 ones carries f32's rounding: held to f32's tolerance */
  for (int id = 0; id < g->n; id++) f32 |= g->v[id].dtype == DT_F32;
  for (int i = 0; i < nt; i++) type[i] = f32 && type[i] == DT_F64 ? DT_F32 : type[i];
  for (int i = 0; i < nt; i++) count += len[i];
  /* at 1 thread within the tolerance; at 2 threads, and unfused, the same bits */
  double *one = NULL, worst = 0;
  for (int threads = 1; ok && threads <= 3; threads++) {
    Argv run = {0};
    argv_add(&run, threads == 3 ? exe2 : exe), argv_add(&run, inp), argv_add(&run, outp);
    argv_add(&run, arena_printf("%d", threads == 3 ? 1 : threads));
    int status = run_tool(&run, NULL, NULL);
    double *got = status == 0 ? results(outp, count) : NULL;
    if (!got) {
      fprintf(out, "  running the compiled %s step failed or wrote too little (%s: %s)\n", model,
              tool_outcome(status), argv_string(&run));
      ok = false;
      break;
    }
    if (threads == 1) {
      for (int64_t i = 0, at = 0; ok && i < nt; at += len[i], i++) {
        bool updated = i >= first_updated;
        ok &= within(out, got + at, want[i], updated ? lo[i - first_updated] : NULL,
                     updated ? hi[i - first_updated] : NULL, len[i], type[i], updated, name[i], &worst);
      }
      one = got;
      continue;
    }
    int64_t same = 0;
    while (same < count && same_bits(one[same], got[same])) same++;
    if (same < count) {
      fprintf(out, "  %s: %s give other bits than 1 thread\n", model, threads == 3 ? "unfused kernels" : "2 threads");
      ok = false;
    }
    free(got);
  }
#ifdef NNC_HAVE_LLVM
  bool llvm_ok = !llvm || !ok || check_llvm(&fused, &unfused, dir, inp, one, count, name, len, nt, out);
#else
  bool llvm_ok = true;
  (void)llvm;
#endif
  free(one);
  /* "MnistCNN", or a graph named MODEL_WHAT: "CharLSTM (generation step)", "MnistCNN (attribution)" */
  size_t mlen = strlen(model);
  const char *what = !strncmp(g->name, model, mlen) && g->name[mlen] == '_' ? g->name + mlen + 1 : NULL;
  const char *label = !what ? model : arena_printf("%s (%s)", model, strcmp(what, "step") ? what : "generation step");
  if (ok)
    fprintf(out, "%s %s: %d values, %d parameters, %d states compiled to C agree with the evaluator "
                 "(largest relative difference %.1e), the same bits at 1 and 2 threads and unfused%s\n",
            g->training ? "train" : "model", label, g->n, g->nparams, g->nstates, worst,
            !llvm ? "" : llvm_ok ? "; the LLVM backend's the same bits" : "; the LLVM backend's DIFFER");
  else
    fprintf(out, "%s %s: %d values, %d parameters, %d states compiled to C DIFFER\n", g->training ? "train" : "model",
            label, g->n, g->nparams, g->nstates);
  ok &= llvm_ok;
  eval_free(e);
  if (ok) {
    unlink(csrc), unlink(exe), unlink(csrc2), unlink(exe2), unlink(inp), unlink(outp);
    rmdir(dir);
  }
  return ok;
}

bool check_c_backend(Sema *s, const Built *models, const Options *o, FILE *out) {
  bool ok = true, llvm = o->check_llvm;
  for (const Built *b = models; b; b = b->next) {
    TrainInfo *t = b->train;
    for (int k = 0; o->check_explain && k < 2; k++) { /* what a library adds to look inside (explain.c) */
      Graph *g = k ? lower_layers(s, b->model) : lower_attribution(s, b->model);
      if (!g) continue; /* no attribution without a float input or feature map */
      g = simplify(g);
      verify(g, "simplify");
      g->name = arena_printf("%s_%s", b->name, k ? "layers" : "attribution");
      ok &= check_graph(g, NULL, plan_graph(g, !o->no_fuse), b->name, NULL, llvm, out);
    }
    /* a quantized library has its inference graph alone (quantize.c):
     * that, against the evaluator running it as it is */
    if (o->check_explain) continue;
    if (o->quantize) {
      ok &= check_graph(b->g[GRAPH_INFER], NULL, b->plan[GRAPH_INFER], b->name, NULL, llvm, out);
      continue;
    }
    /* the training step as it is compiled (its own plan: nothing but the
     * updates and the loss stored at the end); then the step, or without
     * a train block the gradients of <c, output> (every backward kernel),
     * with the gradients of the parameters as outputs (a graph holds up to
     * 16 outputs: every gradient, in as many graphs as that takes; a step's
     * updates are held only as closely as its gradients are); then
     * inference */
    if (t) ok &= check_graph(b->g[GRAPH_TRAIN], NULL, b->plan[GRAPH_TRAIN], b->name, t, llvm, out);
    for (int next = 0, more = 1; more;) {
      Graph *g = t ? lower_training(s, t) : lower_projection(s, b->model);
      if (!g) return false;
      int from = next;
      for (; next < g->nparams && g->noutputs < 16; next++)
        if (g->param_grads[next] >= 0) g->outputs[g->noutputs++] = g->param_grads[next];
      more = next > from && next < g->nparams;
      g = simplify(g);
      verify(g, "simplify");
      ok &= check_graph(g, NULL, plan_graph(g, !o->no_fuse), b->name, t, llvm, out);
    }
    /* the evaluator runs inference as lowered, recurrences as scans; the
     * backends the graph as built (main.c: loops too, unless --unroll) */
    Graph *scans = simplify(lower_inference(s, b->model));
    verify(scans, "simplify");
    ok &= check_graph(b->g[GRAPH_INFER], scans->nbodies ? scans : NULL, b->plan[GRAPH_INFER], b->name, NULL, llvm,
                      out);
    if (b->g[GRAPH_STEP]) /* generation's step, from random states */
      ok &= check_graph(b->g[GRAPH_STEP], NULL, b->plan[GRAPH_STEP], b->name, NULL, llvm, out);
  }
  fprintf(out, "%s\n", ok ? "backend check passed" : "backend check FAILED");
  return ok;
}
