/* ops.c — every elementwise op of compiler/ops.h, through the evaluator and
 * both backends, against its row.
 *
 * The row's expression x is compiled into this test (the reference); the
 * evaluator is compiled from the same row, the C backend writes the row's
 * text with the operands put in, and the LLVM backend translates the text.
 * For each op and element type (f64, f32), a model of one value over
 * inputs [N] (all of them in one shared library a backend builds) is run on
 * every combination of special values (NaN, infinities, signed zeros, a
 * subnormal, ordinary numbers); each result must have the reference's bits
 * (any NaN for a NaN): in f32 the row computed in float, with the float
 * functions of runtime/nnrt_vmath.h, which the evaluator's double matches
 * within 2 ulp. Prints a line per case and "N passed, N failed".
 *
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "nnc.h"
#include "nnrt.h"

static int passed, failed;

enum { K = 12 };
static const double X[K] = {NAN, -INFINITY, INFINITY, -0.0, 0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-310, 1e300};

/* the reference: each elementwise row's expression, compiled here */
static double row(Op op, double a, double b, double c) {
  (void)b, (void)c;
  switch (op) {
#define OP(id, name, arity, cls, attrs, fn, x, doc) \
  case OP_##id:                                     \
    return x;
#include "ops.h"
#undef OP
  default: return 0;
  }
}

/* An f32 value's meaning: the row computed in float, which gives the bits
 * of the row in double rounded to float, but for the functions of
 * runtime/nnrt_vmath.h (from which the evaluator's double differs by at
 * most 2 ulp). */
static bool vmath_op(Op op) {
  return op == OP_EXP || op == OP_LOG || op == OP_TANH || op == OP_SIGMOID || op == OP_ERF;
}

static double row_f32(Op op, float a, float b, float c) {
  switch (op) {
  case OP_EXP: return nnrt_expf(a);
  case OP_LOG: return nnrt_logf(a);
  case OP_TANH: return nnrt_tanhf(a);
  case OP_SIGMOID: return nnrt_sigmoidf(a);
  case OP_ERF: return nnrt_erff(a);
  default: return (float)row(op, a, b, c);
  }
}

/* within 2 units of the last place of a float */
static bool near_f32(double got, double want) {
  if (isnan(want) || isinf(want) || want == 0) return isnan(want) ? isnan(got) : got == want;
  int e;
  frexp(want, &e);
  return fabs(got - want) <= 2 * ldexp(1, (e - 1 < -126 ? -126 : e - 1) - 23);
}

static bool same(double got, double want) {
  return isnan(want) ? isnan(got) : memcmp(&got, &want, sizeof got) == 0;
}

/* The op as a model `name` of its inputs, in the IR's text form. */
static Graph *op_graph(const char *name, Op op, DType dt) {
  const char *t = dt == DT_F64 ? "f64" : "f32";
  int n = op_info[op].arity;
  char *text = arena_printf("graph %s (inference, %d values)\n", name, n + 1);
  for (int i = 0; i < n; i++) text = arena_printf("%s  %%%d = input {index: %d} : %s[N]\n", text, i, i, t);
  text = arena_printf("%s  %%%d = %s %s%s%s : %s[N]\n  output %%%d\n", text, n, op_info[op].name, "%0",
                      n > 1 ? ", %1" : "", n > 2 ? ", %2" : "", t, n);
  diag_reset(stderr);
  Graph *g = parse_ir(source_from_memory("op.ir", text, strlen(text)));
  if (!g || diag.errors) {
    fprintf(stderr, "the graph of %s does not read:\n%s", op_info[op].name, text);
    exit(1);
  }
  return g;
}

/* Every combination of special values for n operands, as columns. */
static int64_t inputs(int n, DType dt, void **cols) {
  int64_t count = 1;
  for (int i = 0; i < n; i++) count *= K;
  for (int i = 0; i < n; i++) {
    cols[i] = malloc((size_t)count * 8);
    for (int64_t s = 0, stride = i == 0 ? 1 : i == 1 ? K : K * K; s < count; s++) {
      double v = X[s / stride % K];
      if (dt == DT_F64) ((double *)cols[i])[s] = v;
      else ((float *)cols[i])[s] = (float)v;
    }
  }
  return count;
}

/* Runs model `name` of the library loaded as h on the inputs and compares
 * with the row. */
static void check(void *h, const char *name, const char *what, Op op, DType dt, void **cols, int64_t count) {
  void *(*create)(uint64_t) = (void *(*)(uint64_t))dlsym(h, arena_printf("%s_create", name));
  const void *(*predict)(void *, const void *const *, int64_t) =
      (const void *(*)(void *, const void *const *, int64_t))dlsym(h, arena_printf("%s_predict", name));
  void (*destroy)(void *) = (void (*)(void *))dlsym(h, arena_printf("%s_free", name));
  void *m = create ? create(1) : NULL;
  const void *out = m && predict ? predict(m, (const void *const *)cols, count) : NULL;
  bool ok = out != NULL;
  int n = op_info[op].arity;
  for (int64_t s = 0; ok && s < count; s++) {
    double x[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) x[i] = dt == DT_F64 ? ((double *)cols[i])[s] : ((float *)cols[i])[s];
    double want = dt == DT_F64 ? row(op, x[0], x[1], x[2]) : row_f32(op, (float)x[0], (float)x[1], (float)x[2]);
    double got = dt == DT_F64 ? ((const double *)out)[s] : ((const float *)out)[s];
    double ev = eval_scalar_op(op, x[0], x[1], x[2]);
    if (dt == DT_F32) ev = (float)ev;
    if (!same(got, want) || !(dt == DT_F32 && vmath_op(op) ? near_f32(ev, want) : same(ev, want))) {
      printf("  %s(%g, %g, %g): got %.17g, the evaluator %.17g, the row %.17g\n", op_info[op].name, x[0], x[1],
             x[2], got, ev, want);
      ok = false;
    }
  }
  if (m && destroy) destroy(m);
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  ok ? passed++ : failed++;
}

/* Every case: a model per op and type, in one list. */
typedef struct Case {
  Op op;
  DType dt;
  const char *name, *what;
} Case;

/* Each case's model in library so, against the row. */
static void check_all(const char *so, const Case *c, int ncases, const char *backend) {
  void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    printf("FAIL %s: %s\n", backend, dlerror());
    failed++;
    return;
  }
  for (int i = 0; i < ncases; i++) {
    void *cols[3];
    int64_t count = inputs(op_info[c[i].op].arity, c[i].dt, cols);
    check(h, c[i].name, arena_printf("%s, %s", c[i].what, backend), c[i].op, c[i].dt, cols, count);
    for (int j = 0; j < op_info[c[i].op].arity; j++) free(cols[j]);
  }
  dlclose(h);
}

int main(void) {
  char dir[] = "/tmp/nnc-ops-XXXXXX";
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
  Case cases[2 * NUM_OPS];
  int ncases = 0;
  Built *models = NULL, **tail = &models;
  for (int o = 0; o < NUM_OPS; o++) {
    Op op = (Op)o;
    if (!op_elementwise(op) || op == OP_CAST) continue;
    for (int d = 0; d < 2; d++) {
      DType dt = d ? DT_F32 : DT_F64;
      const char *name = arena_printf("Op%d_%s", o, d ? "f32" : "f64");
      Graph *g = op_graph(name, op, dt);
      Built *b = arena_alloc(sizeof *b);
      *b = (Built){.name = name, .only_level = isa_level_here()}; /* the code that runs here */
      b->g[GRAPH_INFER] = g, b->plan[GRAPH_INFER] = plan_graph(g, true);
      *tail = b, tail = &b->next;
      cases[ncases++] = (Case){op, dt, name, arena_printf("%s %s", op_info[op].name, d ? "f32" : "f64")};
    }
  }
  char *src = arena_printf("%s/ops.c", dir), *so = arena_printf("%s/ops_c.so", dir);
  FILE *f = fopen(src, "w");
  if (!f) return perror(src), 1;
  emit_c_prelude(f, "ops", models);
  for (Built *b = models; b; b = b->next) emit_c_model(f, b);
  fclose(f);
  char *cmd = arena_printf("%s -std=c11 -O2 -fPIC -shared -fno-math-errno -o '%s' '%s' -lm", cc, so, src);
  if (system(cmd) != 0) {
    printf("FAIL the C backend: %s\n", cmd);
    failed++;
  } else {
    check_all(so, cases, ncases, "C backend");
  }
  remove(src), remove(so);
#ifdef NNC_HAVE_LLVM
  for (int opt = 0; opt <= 3; opt += 3) {
    char *obj = arena_printf("%s/ops.o", dir), *lso = arena_printf("%s/ops_llvm%d.so", dir, opt);
    LlvmOut *lo = llvm_begin("ops", NULL, NULL, opt, false);
    if (!lo) return 1;
    for (Built *b = models; b; b = b->next) llvm_model(lo, b);
    if (!llvm_finish(lo, "obj", obj, lso, NULL)) {
      printf("FAIL the LLVM backend at -O%d\n", opt);
      failed++;
      continue;
    }
    check_all(lso, cases, ncases, arena_printf("LLVM backend -O%d", opt));
    remove(obj), remove(lso);
  }
#endif
  rmdir(dir);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
