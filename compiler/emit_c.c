/* emit_c.c — the plain-C backend: the plan rendered as C.
 *
 * Each kernel of the plan becomes a function `NAME_kK(n, nt, pointers...)`
 * with a comment naming its values, their type and their .nn origin: a
 * fused elementwise kernel is one loop (parallel with NNRT_PARFOR) whose
 * body is one expression per value (ops.h's x with the operands put in,
 * computed in float for an f32 value, with runtime/nnrt_vmath.h's float
 * functions, else in double rounded to the value's type); a product, reduction,
 * movement or window is its loop nest or a call of the runtime's GEMM,
 * convolution or pooling, with the elementwise values after it (its
 * epilogue) run on each finished block. Kernels of the same structure
 * (the plan's `same`) share one function. A run function calls the
 * kernels in order over buffers laid out in one workspace, then copies the
 * updates into the parameters and states. A model's API is the runtime's
 * nnrt_model_* functions (runtime/nnrt_api.h), driven by one constant
 * NnrtModelDef table per model and called by one-line wrappers.
 *
 * The arithmetic is the reference evaluator's, operation for operation,
 * but for the order of the sums inside the GEMM's tiles and the f32
 * functions (within 2 ulp of the evaluator's double ones): so a compiled
 * model agrees with the evaluator within rounding, and with the LLVM
 * backend, at every thread count and unfused, bit for bit (`nnc
 * --check-c`). Requires the plan (plan.c) and the runtime's source
 * (embedded by the build); writes nothing but to the FILE it is given.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "nnrt.h"

int nnrt_init_index(const char *name) {
  int i = nnrt_init_from_name(name);
  if (i < 0) bug("no initializer %s", name);
  return i;
}

typedef struct Em {
  FILE *o;
  Graph *g;
  Plan *p;
  const char *name;    /* kernel prefix: "SeedMLP_train" */
  bool ep;             /* the current kernel has an epilogue (ctx, epi) */
  const char *epi;     /* its argument for the products: "&epi" or "NULL" */
  const char *qname;   /* the quantized layers' blobs' prefix: "MnistCNN_infer" */
} Em;

static const char *cty(DType t) {
  return t == DT_F64 ? "double" : t == DT_I32 ? "int32_t" : "float";
}

static const char *dimx(int64_t d) {
  return d == DIM_BATCH ? "n" : arena_printf("%lld", (long long)d);
}

/* The product of dims [from, to) as a C expression. */
static char *prod_x(Shape s, int from, int to) {
  char *x = NULL;
  int64_t k = 1;
  for (int d = from; d < to; d++) {
    if (s.dim[d] == DIM_BATCH) x = x ? arena_printf("%s * n", x) : "n";
    else k *= s.dim[d];
  }
  if (!x) return arena_printf("%lld", (long long)k);
  return k == 1 ? x : arena_printf("%s * %lld", x, (long long)k);
}

static char *numel_x(Shape s) { return prod_x(s, 0, s.rank); }

/* The offset of index (i_{r-rank+j}) in a tensor of shape s broadcast to
 * rank r: axes of size 1 do not move. */
static char *offset_x(Shape s, int r, const char *var) {
  char *x = NULL;
  for (int j = 0; j < s.rank; j++) {
    if (s.dim[j] == 1) continue;
    char *term = arena_printf("%s%d * (%s)", var, r - s.rank + j, prod_x(s, j + 1, s.rank));
    x = x ? arena_printf("%s + %s", x, term) : term;
  }
  return x ? x : "0";
}

/* A kernel's parallel loop nest is written NNRT_PARFOR(nt, work, loops):
 * serial when the work is small or one thread runs (an OpenMP region
 * costs near half a microsecond even when it runs serially), else split
 * among threads (runtime/nnrt.h). par_open writes its head for a nest
 * over shape s (none for a scalar), par_close its end. */
static bool par_open(Em *e, Shape s) {
  if (s.rank > 0) fprintf(e->o, "  NNRT_PARFOR(nt, %s,\n", numel_x(s));
  return s.rank > 0;
}

static void par_close(Em *e, bool opened) {
  if (opened) fprintf(e->o, "  )\n");
}

static void open_loops(Em *e, Shape s, const char *var, int depth) {
  for (int d = 0; d < s.rank; d++)
    fprintf(e->o, "%*sfor (int64_t %s%d = 0; %s%d < %s; %s%d++)\n", 2 * (depth + d), "", var, d,
            var, d, dimx(s.dim[d]), var, d);
}

/* A double as a C literal that reads back to the same bits. */
static char *double_x(double d) {
  if (d != d) return "NAN";
  if (isinf(d)) return d > 0 ? "INFINITY" : "(-INFINITY)";
  char *x = arena_printf("%.17g", d);
  if (!strpbrk(x, ".e")) x = arena_printf("%s.0", x);
  return d < 0 || (d == 0 && signbit(d)) ? arena_printf("(%s)", x) : x;
}

/* The type an elementwise value is computed in: float for f32 (its
 * arithmetic gives the bits of double's rounded to float, and the
 * functions of runtime/nnrt_vmath.h take float), double for the others
 * and for a cast (whose operand may be of another type). */
static bool in_f32(const Value *v) { return v->dtype == DT_F32 && v->op != OP_CAST; }
static const char *calc_ty(const Value *v) { return in_f32(v) ? "float" : "double"; }

/* A float as a C float literal that reads back to the same bits. */
static char *float_x(float f) {
  if (f != f) return "NAN";
  if (isinf(f)) return f > 0 ? "INFINITY" : "(-INFINITY)";
  char *x = arena_printf("%.9g", (double)f);
  if (!strpbrk(x, ".e")) x = arena_printf("%s.0", x);
  return f < 0 || (f == 0 && signbit(f)) ? arena_printf("(%sf)", x) : arena_printf("%sf", x);
}

const char *vmath_f32(const char *fn) {
  static const char *const map[][2] = {{"exp", "nnrt_expf"},   {"log", "nnrt_logf"},         {"tanh", "nnrt_tanhf"}, {"erf", "nnrt_erff"},
                                       {"nnrt_sigmoid", "nnrt_sigmoidf"},
                                       {"sqrt", "sqrtf"},      {"fabs", "fabsf"},            {"floor", "floorf"}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (!strcmp(fn, map[i][0])) return map[i][1];
  return NULL;
}

/* Value v's elementwise op as one C expression: ops.h's x with a, b and c
 * replaced by its operands (`arg`, in v's calc_ty), stored in v's type. In
 * float, `double` is float and a function is its float version
 * (vmath_f32), or the double one with its result rounded. */
static char *scalar_x(const Value *v, char *const *arg) {
  const char *x = op_info[v->op].x;
  size_t n = strlen(x);
  bool f32 = in_f32(v);
  if (v->dtype == DT_F64 && x[0] == '(' && x[n - 1] == ')') x++, n -= 2; /* no cast: no parentheses */
  char *out = arena_strdup("");
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && (isalnum((unsigned char)x[j]) || x[j] == '_')) j++;
    if (j == i) j++;
    bool operand = j == i + 1 && x[i] >= 'a' && x[i] <= 'c';
    const char *w = operand ? arg[x[i] - 'a'] : arena_strndup(x + i, j - i);
    if (f32 && !strcmp(w, "double")) w = "float";
    else if (f32 && !operand && j < n && x[j] == '(' && isalpha((unsigned char)x[i]))
      w = vmath_f32(w) ? vmath_f32(w) : arena_printf("(float)%s", w);
    out = arena_printf("%s%s", out, w);
    i = j;
  }
  return v->dtype == DT_F64   ? out
         : v->dtype == DT_I32 ? arena_printf("nnrt_i32(%s)", out)
                              : arena_printf("(%s)%s", cty(v->dtype), out);
}

/* The scratch a kernel needs besides its result (plan_scratch), as a C
 * expression of elements of its type (a part of the workspace), or NULL:
 * float matrix products pack their panels there, convolutions keep their
 * columns (and a weight gradient its partial sums). */
static char *scratch_x(Graph *g, const Value *v) {
  PlanScratch ps = plan_scratch(g, v);
  if (!ps.any) return NULL;
  char *x = ps.fixed ? arena_printf("%lld", (long long)ps.fixed) : NULL;
  if (ps.cap) {
    char *t = arena_printf("(n < %lld ? n : %lld) * %lld", (long long)ps.cap, (long long)ps.cap, (long long)ps.per);
    x = x ? arena_printf("%s + %s", x, t) : t;
  }
  if (ps.packs) {
    char *t = arena_printf("%s(int64_t)nnrt_sgemm_scratch(%s)", ps.packs > 1 ? arena_printf("%d * ", ps.packs) : "",
                           ps.pack_alone ? "1" : "nt");
    x = x ? arena_printf("%s + %s", x, t) : t;
  }
  return x ? x : "0";
}

/* A call of the matrix product for the value's type, C = A B (+ C). */
static void gemm_call(Em *e, const Value *v, const char *indent, const char *threads, const char *dims,
                      const char *A, const char *B, const char *C, const char *add, const char *pack,
                      const char *epi) {
  if (v->dtype == DT_F32)
    fprintf(e->o, "%snnrt_sgemm(%s, %s, %s, %s, %s, %s, %s, %s);\n", indent, threads, dims, A, B, C, add, pack, epi);
  else
    fprintf(e->o, "%snnrt_dgemm(%s, %s, %s, %s, %s, %s, %s);\n", indent, threads, dims, A, B, C, add, epi);
}

/* How member_params lists a kernel's pointers. */
typedef enum ListAs { PARAMS, RUN_ARGS, CTX_ARGS, CTX_FIELDS, CTX_INIT } ListAs;
static void member_params(Em *e, int k, int skip, ListAs as);

static void signature(Em *e, int k, int id) {
  const Value *v = &e->g->v[id];
  fprintf(e->o, "\n/* k%d: %%%d = %s", k, id, op_info[v->op].name);
  for (int i = 0; i < v->nin; i++) fprintf(e->o, "%s%%%d", i ? ", " : " ", v->in[i]);
  fprintf(e->o, " : %s", type_str(v->dtype, v->shape));
  if (v->loc.file)
    fprintf(e->o, "  (%s:%d:%d)", v->loc.file->path, v->loc.first_line, v->loc.first_column);
  /* y without restrict where an epilogue runs: the runtime calls it through
   * its context, whose pointers reach y's memory too (as the LLVM backend's
   * noalias, emit_llvm.c) */
  fprintf(e->o, " */\nstatic void %s_k%d(int64_t n, int nt, %s *%sy", e->name, k, cty(v->dtype),
          e->ep ? "" : "restrict ");
  static const char names[] = "abc";
  for (int i = 0; i < v->nin; i++)
    fprintf(e->o, ", const %s *restrict %c", cty(e->g->v[v->in[i]].dtype), names[i]);
  if (scratch_x(e->g, v)) fprintf(e->o, ", %s *restrict s", cty(v->dtype));
  if (plan_takes_kept(e->g, v)) fprintf(e->o, ", void *kept");
  if (e->ep) member_params(e, k, plan_home(e->p, e->g, k), PARAMS);
  fprintf(e->o, ") {\n  (void)n;\n  (void)nt;\n");
}

/* sum / rmax: per output element, the reduced axes in row-major order. */
static void k_reduce(Em *e, const Value *v) {
  const Value *x = &e->g->v[v->in[0]];
  bool drop[NN_MAX_RANK] = {0};
  for (int i = 0; i < v->nattr; i++) drop[v->a[i]] = true;
  Shape kept = {0}, red = {0};
  int kmap[NN_MAX_RANK], rmap[NN_MAX_RANK];
  for (int d = 0; d < x->shape.rank; d++) {
    if (drop[d]) rmap[d] = red.rank, red.dim[red.rank++] = x->shape.dim[d];
    else kmap[d] = kept.rank, kept.dim[kept.rank++] = x->shape.dim[d];
  }
  /* the reduced axes lead (a bias's gradient): one pass over the input,
   * rows added onto the result in order, along the contiguous axis */
  int lead = 0;
  while (lead < x->shape.rank && drop[lead]) lead++;
  bool prefix = lead > 0;
  for (int d = lead; d < x->shape.rank; d++) prefix &= !drop[d];
  if (prefix) {
    fprintf(e->o,
            "  const int64_t J = %s, K = %s;\n"
            "  for (int64_t i = 0; i < K; i++) y[i] = %s;\n"
            "  for (int64_t j = 0; j < J; j++) {\n"
            "    const %s *row = a + j * K;\n"
            "    for (int64_t i = 0; i < K; i++) %s;\n"
            "  }\n",
            prod_x(x->shape, 0, lead), prod_x(x->shape, lead, x->shape.rank),
            v->op == OP_RMAX ? "-INFINITY" : "0", cty(x->dtype),
            v->op == OP_RMAX ? "y[i] = NNRT_MORE(row[i], y[i]) ? row[i] : y[i]" : "y[i] += row[i]");
    return;
  }
  bool par = par_open(e, kept);
  open_loops(e, kept, "i", 1);
  int depth = 1 + kept.rank;
  fprintf(e->o, "%*s{\n%*s  double acc = %s;\n", 2 * depth, "", 2 * depth, "",
          v->op == OP_RMAX ? "-INFINITY" : "0");
  open_loops(e, red, "j", depth + 1);
  char *off = NULL;
  for (int d = 0; d < x->shape.rank; d++) {
    char *term = arena_printf("%s%d * (%s)", drop[d] ? "j" : "i", drop[d] ? rmap[d] : kmap[d],
                              prod_x(x->shape, d + 1, x->shape.rank));
    off = off ? arena_printf("%s + %s", off, term) : term;
  }
  int inner = 2 * (depth + 1 + red.rank);
  if (v->op == OP_RMAX)
    fprintf(e->o, "%*sif (NNRT_MORE(a[%s], acc)) acc = a[%s];\n", inner, "", off ? off : "0", off ? off : "0");
  else
    fprintf(e->o, "%*sacc += a[%s];\n", inner, "", off ? off : "0");
  fprintf(e->o, "%*s  y[%s] = (%s)acc;\n%*s}\n", 2 * depth, "", offset_x(kept, kept.rank, "i"),
          cty(v->dtype), 2 * depth, "");
  par_close(e, par);
}

/* softmax, logsoftmax, argmax: rows of `len` elements `inner` apart. */
static void k_axis(Em *e, const Value *v) {
  const Value *x = &e->g->v[v->in[0]];
  int ax = (int)v->a[0];
  bool f32 = v->op != OP_ARGMAX && v->dtype == DT_F32 && x->dtype == DT_F32;
  fprintf(e->o, "  int64_t outer = %s, len = %s, inner = %s;\n", prod_x(x->shape, 0, ax),
          dimx(x->shape.dim[ax]), prod_x(x->shape, ax + 1, x->shape.rank));
  fprintf(e->o,
          "  NNRT_PARFOR2(nt, outer * len * inner,\n"
          "  for (int64_t o = 0; o < outer; o++)\n"
          "    for (int64_t in = 0; in < inner; in++) {\n"
          "      const %s *row = a + o * len * inner + in;\n",
          cty(x->dtype));
  if (f32) { /* docs/numerics.md: the maximum and the sum in 8 lanes, then exponentials in float */
    fprintf(e->o,
            "      float *yr = y + o * len * inner + in, mv[8];\n"
            "      double sv[8];\n"
            "      for (int l = 0; l < 8; l++) mv[l] = -INFINITY, sv[l] = 0;\n"
            "      int64_t j = 0;\n"
            "      for (; j + 8 <= len; j += 8)\n"
            "        for (int l = 0; l < 8; l++) mv[l] = row[(j + l) * inner] > mv[l] ? row[(j + l) * inner] : mv[l];\n"
            "      for (int l = 0; l < len - j; l++) mv[l] = row[(j + l) * inner] > mv[l] ? row[(j + l) * inner] : mv[l];\n"
            "      float mf = mv[0];\n"
            "      for (int l = 1; l < 8; l++) mf = mv[l] > mf ? mv[l] : mf;\n"
            "      const double m = mf;\n"
            "      for (j = 0; j < len; j++) yr[j * inner] = nnrt_expf((float)(row[j * inner] - m));\n"
            "      for (j = 0; j + 8 <= len; j += 8)\n"
            "        for (int l = 0; l < 8; l++) sv[l] += yr[(j + l) * inner];\n"
            "      for (int l = 0; l < len - j; l++) sv[l] += yr[(j + l) * inner];\n"
            "      const double sum = ((sv[0] + sv[1]) + (sv[2] + sv[3])) + ((sv[4] + sv[5]) + (sv[6] + sv[7]));\n"
            "      const double ls = %s;\n"
            "      (void)ls;\n"
            "      for (j = 0; j < len; j++) yr[j * inner] = (float)(%s);\n    }\n  )\n",
            v->op == OP_SOFTMAX ? "0" : "log(sum)",
            v->op == OP_SOFTMAX ? "yr[j * inner] / sum" : "(row[j * inner] - m) - ls");
    return;
  }
  fprintf(e->o,
          "      double m = -INFINITY, sum = 0;\n"
          "      int64_t arg = 0;\n"
          "      for (int64_t j = 0; j < len; j++)\n"
          "        if (NNRT_MORE(row[j * inner], m)) m = row[j * inner], arg = j;\n");
  if (v->op == OP_ARGMAX) {
    fprintf(e->o, "      (void)sum;\n      y[o * inner + in] = (int32_t)arg;\n    }\n  )\n");
    return;
  }
  fprintf(e->o,
          "      (void)arg;\n"
          "      for (int64_t j = 0; j < len; j++) sum += exp(row[j * inner] - m);\n"
          "      for (int64_t j = 0; j < len; j++) {\n"
          "        double z = row[j * inner] - m;\n"
          "        y[o * len * inner + in + j * inner] = (%s)(%s);\n"
          "      }\n    }\n  )\n",
          cty(v->dtype), v->op == OP_SOFTMAX ? "exp(z) / sum" : "z - log(sum)");
}

/* matmul_sum: one product over the rows of all (plan_rows_product), or
 * one a leading index added up, in order, the epilogue after the last. */
static void k_matmul_sum(Em *e, const Value *v) {
  const Value *A = &e->g->v[v->in[0]], *B = &e->g->v[v->in[1]];
  Shape la = A->shape, lb = B->shape, lead;
  la.rank -= 2;
  lb.rank -= 2;
  if (!broadcast_shapes(la, lb, &lead)) bug("matmul_sum %%%d", (int)(v - e->g->v));
  fprintf(e->o, "  const int64_t M = %s, N2 = %s, K = %s;\n", dimx(v->shape.dim[0]), dimx(v->shape.dim[1]),
          dimx(A->shape.dim[A->shape.rank - 1]));
  if (plan_rows_product(e->p, e->g, v)) { /* A's operand X [L K, M], B [L K, N2] */
    fprintf(e->o, "  const int64_t rows = %s * K;\n", numel_x(lead));
    gemm_call(e, v, "  ", "nt", "M, N2, rows", "a, 1, M", "b, N2, 1", "y, N2", "false", "s", e->epi);
    return;
  }
  bool ta = e->p->folded[v->in[0]], tb = e->p->folded[v->in[1]];
  fprintf(e->o, "  const int64_t total = %s;\n", numel_x(lead));
  open_loops(e, lead, "l", 1);
  int depth = 1 + lead.rank;
  fprintf(e->o, "%*s{\n%*s  const int64_t at = %s;\n", 2 * depth, "", 2 * depth, "", offset_x(lead, lead.rank, "l"));
  fprintf(e->o, "%*s  const %s *A = a + (%s) * M * K, *B = b + (%s) * K * N2;\n", 2 * depth, "", cty(v->dtype),
          offset_x(la, lead.rank, "l"), offset_x(lb, lead.rank, "l"));
  gemm_call(e, v, arena_printf("%*s  ", 2 * depth, ""), "nt", "M, N2, K", ta ? "A, 1, M" : "A, K, 1",
            tb ? "B, 1, K" : "B, N2, 1", "y, N2", "at > 0", "s", arena_printf("at == total - 1 ? %s : NULL", e->epi));
  fprintf(e->o, "%*s}\n", 2 * depth, "");
}

static void k_matmul(Em *e, const Value *v) {
  if (v->op == OP_MATMULSUM) {
    k_matmul_sum(e, v);
    return;
  }
  const Value *A = &e->g->v[v->in[0]], *B = &e->g->v[v->in[1]];
  int r = v->shape.rank;
  Shape lead = v->shape, la = A->shape, lb = B->shape;
  lead.rank -= 2;
  la.rank -= 2;
  lb.rank -= 2;
  bool one = plan_one_product(e->g, v); /* the rows of all of A at once */
  Shape rows = v->shape;
  rows.rank--;
  fprintf(e->o, "  const int64_t M = %s, N2 = %s, K = %s;\n", one ? numel_x(rows) : dimx(v->shape.dim[r - 2]),
          dimx(v->shape.dim[r - 1]), dimx(A->shape.dim[A->shape.rank - 1]));
  /* a folded transpose: its operand, read with the strides swapped */
  bool ta = e->p->folded[v->in[0]], tb = e->p->folded[v->in[1]];
  if (one && plan_takes_kept(e->g, v)) { /* one float product: B's kept panels where it packs */
    const char *args = arena_printf("nt, M, N2, K, %s, %s, y, N2, false, s, %s", ta ? "a, 1, M" : "a, K, 1",
                                    tb ? "b, 1, K" : "b, N2, 1", e->epi);
    fprintf(e->o, "  if (!nnrt_sgemm_packed(%s, kept)) nnrt_sgemm(%s);\n", args, args);
    return;
  }
  if (one) {
    gemm_call(e, v, "  ", "nt", "M, N2, K", ta ? "a, 1, M" : "a, K, 1", tb ? "b, 1, K" : "b, N2, 1", "y, N2",
              "false", "s", e->epi);
    return;
  }
  bool par = par_open(e, lead); /* a batch of products, each at (l0, l1, ...) */
  open_loops(e, lead, "l", 1);
  int depth = 1 + lead.rank;
  fprintf(e->o, "%*s{\n", 2 * depth, "");
  const char *panel[3] = {offset_x(la, lead.rank, "l"), offset_x(lb, lead.rank, "l"), offset_x(lead, lead.rank, "l")};
  static const char *const size[3] = {"M * K", "K * N2", "M * N2"};
  for (int i = 0; i < 3; i++) { /* this product's matrices; one broadcast is the same for all */
    fprintf(e->o, "%*s  %s%s *%c = %c", 2 * depth, "", i < 2 ? "const " : "",
            cty(i == 0 ? A->dtype : i == 1 ? B->dtype : v->dtype), "ABC"[i], "aby"[i]);
    if (strcmp(panel[i], "0") != 0) fprintf(e->o, " + (%s) * %s", panel[i], size[i]);
    fprintf(e->o, ";\n");
  }
  gemm_call(e, v, arena_printf("%*s  ", 2 * depth, ""), "nt", "M, N2, K", ta ? "A, 1, M" : "A, K, 1",
            tb ? "B, 1, K" : "B, N2, 1", "C, N2", "false", "s", e->epi);
  fprintf(e->o, "%*s}\n", 2 * depth, "");
  par_close(e, par);
}

static void k_move(Em *e, const Value *v) {
  Graph *g = e->g;
  const Value *x = &g->v[v->in[0]];
  int r = v->shape.rank;
  bool par;
  switch (v->op) {
  case OP_RESHAPE:
    fprintf(e->o, "  memcpy(y, a, sizeof *y * (size_t)(%s));\n", numel_x(v->shape));
    return;
  case OP_EXPAND:
    par = par_open(e, v->shape);
    open_loops(e, v->shape, "i", 1);
    fprintf(e->o, "%*sy[%s] = a[%s];\n", 2 * (1 + r), "", offset_x(v->shape, r, "i"),
            offset_x(x->shape, r, "i"));
    par_close(e, par);
    return;
  case OP_TRANSPOSE: {
    char *off = NULL;
    for (int i = 0; i < r; i++) {
      char *term = arena_printf("i%d * (%s)", i, prod_x(x->shape, (int)v->a[i] + 1, x->shape.rank));
      off = off ? arena_printf("%s + %s", off, term) : term;
    }
    par = par_open(e, v->shape);
    open_loops(e, v->shape, "i", 1);
    fprintf(e->o, "%*sy[%s] = a[%s];\n", 2 * (1 + r), "", offset_x(v->shape, r, "i"), off ? off : "0");
    par_close(e, par);
    return;
  }
  case OP_SLICE:
  case OP_PAD: { /* a slice reads x from `start`; a pad writes x after `before` and zeros around it
                    (in loops of their own: gcc 12's -O3 vectorizes a loop choosing between x and
                    0 wrongly on AVX2 and AVX-512, as it does concat's) */
    int ax = (int)v->a[0];
    bool pad = v->op == OP_PAD;
    for (int part = pad ? 0 : 2; part < 3; part++) { /* the zeros before, after, then x */
      Shape sh = pad ? x->shape : v->shape;
      if (part < 2) {
        sh = v->shape;
        sh.dim[ax] = v->a[1 + part];
        if (!sh.dim[ax]) continue;
      }
      char *oy = NULL, *ox = NULL;
      for (int d = 0; d < r; d++) {
        char *iy = d != ax || !pad || part == 0 ? arena_printf("i%d", d)
                   : part == 1              ? arena_printf("(i%d + %s - %lld)", d, dimx(v->shape.dim[ax]), (long long)v->a[2])
                                            : arena_printf("(i%d + %lld)", d, (long long)v->a[1]);
        char *ix = d == ax && !pad ? arena_printf("(i%d + %lld)", d, (long long)v->a[1]) : arena_printf("i%d", d);
        oy = arena_printf("%s%s%s * (%s)", oy ? oy : "", oy ? " + " : "", iy, prod_x(v->shape, d + 1, r));
        ox = arena_printf("%s%s%s * (%s)", ox ? ox : "", ox ? " + " : "", ix, prod_x(x->shape, d + 1, r));
      }
      par = par_open(e, sh);
      open_loops(e, sh, "i", 1);
      if (part < 2) fprintf(e->o, "%*sy[%s] = 0;\n", 2 * (1 + r), "", oy);
      else fprintf(e->o, "%*sy[%s] = a[%s];\n", 2 * (1 + r), "", oy, ox);
      par_close(e, par);
    }
    return;
  }
  case OP_CONCAT: { /* a copy of each part, not one loop choosing between them: gcc 12's -O3
                       vectorizes that choice wrongly on AVX2 and AVX-512 (reads before a
                       part's start) */
    int ax = (int)v->a[0];
    for (int part = 0; part < 2; part++) {
      const Value *p = &g->v[v->in[part]];
      char *oy = NULL, *op = NULL;
      for (int d = 0; d < r; d++) {
        char *ty = arena_printf("%s * (%s)", d == ax && part ? arena_printf("(i%d + %s)", d, dimx(x->shape.dim[ax]))
                                                             : arena_printf("i%d", d),
                                prod_x(v->shape, d + 1, r));
        char *tp = arena_printf("i%d * (%s)", d, prod_x(p->shape, d + 1, r));
        oy = oy ? arena_printf("%s + %s", oy, ty) : ty;
        op = op ? arena_printf("%s + %s", op, tp) : tp;
      }
      par = par_open(e, p->shape);
      open_loops(e, p->shape, "i", 1);
      fprintf(e->o, "%*sy[%s] = %c[%s];\n", 2 * (1 + r), "", oy, "ab"[part], op);
      par_close(e, par);
    }
    return;
  }
  case OP_GATHER: { /* a: table [V, D], b: ids */
    const Value *ids = &g->v[v->in[1]];
    fprintf(e->o,
            "  const int64_t V = %s, D = %s, count = %s;\n"
            "  for (int64_t i = 0; i < count; i++) {\n"
            "    int64_t row = b[i];\n"
            "    for (int64_t d = 0; d < D; d++) y[i * D + d] = row >= 0 && row < V ? a[row * D + d] : 0;\n"
            "  }\n",
            dimx(x->shape.dim[0]), dimx(x->shape.dim[1]), numel_x(ids->shape));
    return;
  }
  case OP_SCATTERADD: { /* a: ids, b: updates */
    fprintf(e->o,
            "  const int64_t V = %s, D = %s, count = %s;\n"
            "  double *acc = (double *)(void *)s; /* the workspace's scratch, 64-byte aligned */\n"
            "  for (int64_t i = 0; i < V * D; i++) acc[i] = 0;\n"
            "  for (int64_t i = 0; i < count; i++) {\n"
            "    int64_t row = a[i];\n"
            "    if (row < 0 || row >= V) continue;\n"
            "    for (int64_t d = 0; d < D; d++) acc[row * D + d] += b[i * D + d];\n"
            "  }\n"
            "  for (int64_t i = 0; i < V * D; i++) y[i] = (%s)acc[i];\n",
            dimx(v->shape.dim[0]), dimx(v->shape.dim[1]), numel_x(x->shape), cty(v->dtype));
    return;
  }
  case OP_ONEHOT:
    fprintf(e->o,
            "  const int64_t depth = %lld, count = %s;\n"
            "  memset(y, 0, sizeof *y * (size_t)(count * depth));\n"
            "  for (int64_t i = 0; i < count; i++)\n"
            "    if (a[i] >= 0 && a[i] < depth) y[i * depth + a[i]] = 1;\n",
            (long long)v->a[0], numel_x(x->shape));
    return;
  default:
    bug("no C for %s", op_info[v->op].name);
  }
}

/* A window's geometry as the kernel's constant (runtime/nnrt.h). */
static void window_const(Em *e, const char *name, NnrtWindow w) {
  fprintf(e->o,
          "  static const NnrtWindow %s = {.h = %lld, .w = %lld, .c = %lld, .oh = %lld, .ow = %lld, .f = %lld,\n"
          "                                 .kh = %lld, .kw = %lld, .sh = %lld, .sw = %lld, .ph = %lld, .pw = %lld,\n"
          "                                 .dh = %lld, .dw = %lld, .groups = %lld, .chunk = %lld};\n",
          name, (long long)w.h, (long long)w.w, (long long)w.c, (long long)w.oh, (long long)w.ow, (long long)w.f,
          (long long)w.kh, (long long)w.kw, (long long)w.sh, (long long)w.sw, (long long)w.ph, (long long)w.pw,
          (long long)w.dh, (long long)w.dw, (long long)w.groups, (long long)w.chunk);
}

/* A pooling pv fused after a convolution (plan_pools): its window as the
 * constant pwin, and the call's arguments for it: "&pwin, op, band". */
static const char *fused_pool(Em *e, int pv) {
  const Value *p = &e->g->v[pv];
  window_const(e, "pwin", plan_window(e->g, p));
  return arena_printf("&pwin, %s, %lld", p->op == OP_MAXPOOL ? "NNRT_MAXPOOL" : "NNRT_AVGPOOL",
                      (long long)plan_pool_band(e->g, p->in[0]));
}

/* Convolution and its two gradients: a call of the runtime's (matrix
 * products over the column matrix, `chunk` samples at a time in the
 * scratch; runtime/nnrt.h), with the kernel's epilogue. */
static void k_conv(Em *e, const Value *v) {
  Shape xs = v->op == OP_CONV2DBX ? v->shape : e->g->v[v->in[0]].shape;
  window_const(e, "win", plan_window(e->g, v));
  const char *fn = v->op == OP_CONV2D ? "conv2d" : v->op == OP_CONV2DBX ? "conv2d_bx" : "conv2d_bw";
  bool kept = plan_takes_kept(e->g, v); /* its kept slot: the kernel's parameter `kept` */
  int pv = e->p->pool[e->p->kernel[v - e->g->v]];
  if (pv >= 0) { /* pooling fused (plan_pools): y is a band, the pooling's result y<pv> */
    fprintf(e->o, "  nnrt_conv2d_pool_%s(nt, %s, &win, %s, a, b, y, y%d, s, %s, %s);\n",
            v->dtype == DT_F64 ? "f64" : "f32", dimx(xs.dim[0]), fused_pool(e, pv), pv, e->epi, kept ? "kept" : "NULL");
    return;
  }
  fprintf(e->o, "  nnrt_%s_%s(nt, %s, &win, a, b, y, s, %s%s);\n", kept ? "conv2d_kept" : fn,
          v->dtype == DT_F64 ? "f64" : "f32", dimx(xs.dim[0]), e->epi, kept ? ", kept" : "");
}

/* A quantized layer: a call of the runtime's with the layer's blob
 * (quant_blobs) and the activations' scale's inverse. */
static void k_quant(Em *e, const Value *v) {
  const Value *x = &e->g->v[v->in[0]];
  bool conv = v->op == OP_QCONV2D;
  const QLayer *q = &e->g->qlayers[v->a[conv ? 12 : 0]];
  const char *blob = arena_printf("%s_q%lld", e->qname, (long long)v->a[conv ? 12 : 0]);
  int pv = conv ? e->p->pool[e->p->kernel[v - e->g->v]] : -1;
  if (conv) window_const(e, "win", plan_window(e->g, v));
  if (pv >= 0) { /* pooling fused (plan_pools): y is a band, the pooling's result y<pv> */
    fprintf(e->o, "  nnrt_qconv2d_pool_f32(nt, %s, &win, %s, a, (float)%a, %s, y, y%d, s, %s);\n",
            dimx(x->shape.dim[0]), fused_pool(e, pv), v->f, blob, pv, e->epi);
  } else if (conv) {
    fprintf(e->o, "  nnrt_qconv2d_f32(nt, %s, &win, a, (float)%a, %s, y, s, %s);\n", dimx(x->shape.dim[0]), v->f, blob,
            e->epi);
  } else {
    fprintf(e->o, "  nnrt_qdense_f32(nt, %s, %lld, %lld, a, (float)%a, %s, y, %s);\n",
            prod_x(x->shape, 0, x->shape.rank - 1), (long long)q->k, (long long)q->n, v->f, blob, e->epi);
  }
}

/* The quantized layers' blobs, once a graph, as 32-bit words. */
static void quant_blobs(FILE *o, const Graph *g, const char *name) {
  for (int i = 0; i < g->nqlayers; i++) {
    const QLayer *q = &g->qlayers[i];
    fprintf(o, "\n/* quantized layer %d: int8 weights [%lld, %lld] packed, offsets, scales */\n"
               "static const uint32_t %s_q%d[%zu] = {", i, (long long)q->k, (long long)q->n, name, i, q->bytes / 4);
    for (size_t w = 0; w < q->bytes / 4; w++) {
      uint32_t u;
      memcpy(&u, q->blob + 4 * w, 4);
      fprintf(o, "%s0x%x", w % 12 ? ", " : w ? ",\n  " : "\n  ", u);
    }
    fprintf(o, "};\n");
  }
}

/* Pooling and its gradients: a call of the runtime's. */
static void k_pool(Em *e, const Value *v) {
  Shape xs = v->op == OP_AVGPOOLB ? v->shape : e->g->v[v->in[0]].shape;
  window_const(e, "win", plan_window(e->g, v));
  const char *op = v->op == OP_MAXPOOL ? "NNRT_MAXPOOL" : v->op == OP_AVGPOOL ? "NNRT_AVGPOOL"
                   : v->op == OP_MAXPOOLB ? "NNRT_MAXPOOL_B" : "NNRT_AVGPOOL_B";
  fprintf(e->o, "  nnrt_pool_%s(nt, %s, %s, &win, a, %s, y);\n", v->dtype == DT_F64 ? "f64" : "f32",
          dimx(xs.dim[0]), op, v->nin > 1 ? "b" : "NULL");
}

/* One element of kernel k's elementwise members, at depth: the outside
 * operands loaded as floats (f32) or doubles (operand j at index idx[j]),
 * every member one expression in its calc_ty (float: the evaluator's
 * double rounded, but for the float functions; double: rounded to its
 * type), the stored ones written at `at`. The head
 * of an epilogue is t<head>, loaded by the caller. Operands are loaded
 * before anything is stored; one that a member is written over (in
 * place) is read through that member's pointer, so no two pointers alias
 * and all are restrict. */
static void member_body(Em *e, int k, int depth, int next, const int *ext, char **idx, const char *at) {
  Graph *g = e->g;
  Plan *p = e->p;
  for (int j = 0; j < next; j++) {
    int y = plan_in_place(p, g, k, ext[j]);
    fprintf(e->o, "%*sconst %s x%d_ = %s[%s];\n", 2 * depth, "", g->v[ext[j]].dtype == DT_F32 ? "float" : "double", ext[j],
            y >= 0 ? arena_printf("y%d", y) : arena_printf("x%d", ext[j]), idx[j]);
  }
  for (int id = p->first[k]; id >= 0; id = p->next[id]) {
    const Value *v = &g->v[id];
    if (!op_elementwise(v->op)) continue;
    char *arg[3] = {"", "", ""};
    for (int i = 0; i < v->nin; i++) {
      int x = plan_read(p, g, v->in[i]);
      const Value *xv = &g->v[x];
      arg[i] = p->kernel[x] == k ? arena_printf("t%d", x)
               : xv->op != OP_CONST   ? arena_printf("x%d_", x)
               : xv->dtype == DT_F32  ? float_x((float)xv->f)
                                      : double_x(xv->dtype == DT_I32 ? ir_i32(xv->f) : xv->f);
    }
    fprintf(e->o, "%*sconst %s t%d = %s;\n", 2 * depth, "", calc_ty(v), id, scalar_x(v, arg));
  }
  for (int id = p->first[k]; id >= 0; id = p->next[id])
    if (p->stored[id] && op_elementwise(g->v[id].op))
      fprintf(e->o, "%*sy%d[%s] = %st%d;\n", 2 * depth, "", id, at,
              g->v[id].dtype == DT_F64 || in_f32(&g->v[id]) ? "" : arena_printf("(%s)", cty(g->v[id].dtype)), id);
}

/* One pointer of member_params: y<id> (written) or x<id> (read). */
static void member_pointer(Em *e, ListAs as, char yx, int id) {
  const char *t = cty(e->g->v[id].dtype), *c = yx == 'x' ? "const " : "";
  switch (as) {
  case PARAMS: fprintf(e->o, ", %s%s *restrict %c%d", c, t, yx, id); break;
  case RUN_ARGS: fprintf(e->o, ", v%d", id); break;
  case CTX_ARGS: fprintf(e->o, ", ctx->%c%d", yx, id); break;
  case CTX_FIELDS: fprintf(e->o, "  %s%s *%c%d;\n", c, t, yx, id); break;
  case CTX_INIT: fprintf(e->o, ", .%c%d = %c%d", yx, id, yx, id); break;
  }
}

/* The pointers of kernel k's stored members other than `skip`, then of
 * its outside operands: as the kernel's parameters, the run function's
 * arguments (v<id>), or an epilogue context's arguments, fields or
 * initializers. */
static void member_params(Em *e, int k, int skip, ListAs as) {
  Graph *g = e->g;
  Plan *p = e->p;
  for (int id = p->first[k]; id >= 0; id = p->next[id])
    if (p->stored[id] && id != skip) member_pointer(e, as, 'y', id);
  int *ext, next = plan_operands(p, g, k, &ext);
  for (int j = 0; j < next; j++)
    if (plan_in_place(p, g, k, ext[j]) < 0) member_pointer(e, as, 'x', ext[j]);
}

/* A fused kernel: one loop over the members' shape. */
static void fused_kernel(Em *e, int k) {
  Graph *g = e->g;
  Plan *p = e->p;
  int lo = p->first[k], hi = p->last[k];
  Shape s = g->v[hi].shape;
  int *ext;
  int next = plan_operands(p, g, k, &ext);
  bool flat = true; /* every operand from outside has the run's shape, or one element */
  for (int j = 0; j < next; j++)
    if (!shape_one(g->v[ext[j]].shape) && !shape_eq(g->v[ext[j]].shape, s)) flat = false;
  fprintf(e->o, "\n/* k%d: %%%d", k, lo);
  if (hi > lo) fprintf(e->o, "..%%%d fused", hi);
  fprintf(e->o, " : %s */\nstatic void %s_k%d(int64_t n, int nt", type_str(g->v[hi].dtype, s), e->name, k);
  member_params(e, k, -1, PARAMS);
  fprintf(e->o, ") {\n  (void)n;\n  (void)nt;\n");
  int depth;
  const char *at;
  if (flat) {
    fprintf(e->o, "  NNRT_PARFOR(nt, %s,\n  for (int64_t i = 0; i < %s; i++) {\n", numel_x(s), numel_x(s));
    depth = 2;
    at = "i";
  } else {
    par_open(e, s);
    open_loops(e, s, "i", 1);
    depth = 1 + s.rank;
    fprintf(e->o, "%*s{\n", 2 * depth, "");
    depth++;
    at = offset_x(s, s.rank, "i");
  }
  char **idx = arena_alloc(sizeof(char *) * (size_t)(next + 1));
  for (int j = 0; j < next; j++) {
    Shape xs = g->v[ext[j]].shape;
    idx[j] = flat ? (shape_eq(xs, s) ? "i" : "0") : offset_x(xs, s.rank, "i");
  }
  member_body(e, k, depth, next, ext, idx, at);
  fprintf(e->o, "%*s}\n  )\n}\n", 2 * (depth - 1), "");
}

/* An epilogue: kernel k's elementwise members over a block of its head's
 * result seen as rows of its last axis, the block given in absolute
 * coordinates of the whole result (runtime/nnrt.h: a product on a part of
 * it shifts them). The context holds the members' and operands' pointers
 * and the row length. */
static void epilogue_function(Em *e, int k) {
  Graph *g = e->g;
  Plan *p = e->p;
  int h = p->first[k], home = plan_home(p, g, k);
  const Value *hv = &g->v[h];
  fprintf(e->o, "\ntypedef struct %s_e%d {\n  %s *y%d;\n", e->name, k, cty(hv->dtype), home);
  member_params(e, k, home, CTX_FIELDS);
  int *ext, next = plan_operands(p, g, k, &ext);
  /* the loops take the pointers as restrict parameters (which compilers
   * trust, as they do not restrict locals), the wrapper unpacks them */
  fprintf(e->o, "  int64_t cols;\n} %s_e%d;\n\n"
                "/* the epilogue of k%d: %%%d..%%%d after %s %%%d */\n"
                "static void %s_epi%d_loops(int64_t r0, int64_t r1, int64_t c0, int64_t c1, int64_t cols,\n"
                "                           %s *restrict y%d",
          e->name, k, k, h + 1, p->last[k], op_info[hv->op].name, h, e->name, k, cty(hv->dtype), home);
  member_params(e, k, home, PARAMS);
  fprintf(e->o, ") {\n");
  if (p->pool[k] >= 0) fprintf(e->o, "  (void)y%d;  /* the pooling's result, the runtime's to write */\n", p->pool[k]);
  fprintf(e->o, "  for (int64_t r = r0; r < r1; r++) {\n"
                "    const int64_t row = r * cols;\n"
                "    for (int64_t c = c0; c < c1; c++) {\n"
                "      const int64_t i = row + c;\n"
                "      const %s t%d = y%d[i];\n"
                "      (void)t%d; /* a chain the planner placed here may not read it */\n",
          hv->dtype == DT_F32 ? "float" : "double", h, home, h);
  char **idx = arena_alloc(sizeof(char *) * (size_t)(next + 1));
  for (int j = 0; j < next; j++) {
    Shape xs = g->v[ext[j]].shape;
    idx[j] = shape_eq(xs, hv->shape) ? "i" : shape_one(xs) ? "0" : "c"; /* all, a scalar, a row */
  }
  member_body(e, k, 3, next, ext, idx, "i");
  fprintf(e->o, "    }\n  }\n}\n\n"
                "static void %s_epi%d(const void *ctx_, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {\n"
                "  const %s_e%d *ctx = ctx_;\n"
                "  %s_epi%d_loops(r0, r1, c0, c1, ctx->cols, ctx->y%d",
          e->name, k, e->name, k, e->name, k, home);
  member_params(e, k, home, CTX_ARGS);
  fprintf(e->o, ");\n}\n");
}

/* A kernel that is not elementwise: its head's work, then the epilogue
 * (inside the products as each block is final, or after the rest). */
static void kernel(Em *e, int k) {
  Graph *g = e->g;
  int id = e->p->first[k];
  const Value *v = &g->v[id];
  e->ep = e->p->last[k] > id;
  e->epi = e->ep ? "&epi" : "NULL";
  if (e->ep) epilogue_function(e, k);
  signature(e, k, id);
  if (e->ep) {
    int home = plan_home(e->p, e->g, k);
    fprintf(e->o, "  %s_e%d ctx = {.y%d = y, .cols = %s", e->name, k, home,
            v->shape.rank ? dimx(v->shape.dim[v->shape.rank - 1]) : "1");
    member_params(e, k, home, CTX_INIT);
    fprintf(e->o, "};\n  NnrtEpilogue epi = {%s_epi%d, &ctx};\n  (void)epi;\n", e->name, k);
  }
  switch (op_info[v->op].cls) {
  case CL_REDUCE:
    if (v->op == OP_SUM || v->op == OP_RMAX) k_reduce(e, v);
    else k_axis(e, v);
    break;
  case CL_CONTRACT:
    k_matmul(e, v);
    break;
  case CL_MOVE:
    k_move(e, v);
    break;
  case CL_WINDOW:
    if (v->op == OP_CONV2D || v->op == OP_CONV2DBX || v->op == OP_CONV2DBW) k_conv(e, v);
    else if (v->op == OP_QMATMUL || v->op == OP_QCONV2D) k_quant(e, v);
    else k_pool(e, v);
    break;
  default:
    bug("%%%d is no kernel's head", id);
  }
  if (e->ep && v->op == OP_SUM) /* after a sum, over its (small) result */
    fprintf(e->o, "  NNRT_PARFOR(nt, %s,\n  for (int64_t r = 0; r < %s; r++) epi.fn(&ctx, r, r + 1, 0, ctx.cols);)\n",
            numel_x(v->shape), v->shape.rank ? prod_x(v->shape, 0, v->shape.rank - 1) : "1");
  fprintf(e->o, "}\n");
}

/* The arena for n samples at nt threads: the planned fixed and
 * per-sample regions, buffers of their own, then the largest scratch any
 * kernel needs (offsets d<id> and sc). */
static void arena_lines(Em *e) {
  Graph *g = e->g;
  Plan *p = e->p;
  FILE *o = e->o;
  fprintf(o, "  const int nt = m_threads;\n  (void)nt;\n"
             "  size_t need = %lld + %lld * (size_t)n, scratch = 0;\n",
          (long long)p->fixed_bytes, (long long)p->sample_bytes);
  Map *seen = map_new(); /* a kernel's scratch as C: each size once */
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    if (p->stored[id] && p->region[id] == 2)
      fprintf(o, "  size_t d%d = need; need += nnrt_align(sizeof(%s) * (size_t)(%s));\n", id,
              cty(v->dtype), numel_x(v->shape));
    char *bytes = v->op == OP_SCAN ? arena_printf("nnrt_scan_scratch(%s_s%d, n) + %s_b%lld_arena(n, nt)", e->name, id,
                                                  e->name, (long long)v->a[0])
                  : p->kernel[id] >= 0 && scratch_x(g, v)
                      ? arena_printf("sizeof(%s) * (size_t)(%s)", cty(v->dtype), scratch_x(g, v)) : NULL;
    if (bytes && !map_get(seen, bytes)) {
      map_put(seen, bytes, bytes);
      fprintf(o, "  if (%s > scratch) scratch = %s;\n", bytes, bytes);
    }
  }
  fprintf(o, "  size_t sc = need;\n  need += nnrt_align(scratch);\n");
}

/* NAME_arena(n, threads): the bytes a run over n samples uses. */
static void arena_function(Em *e) {
  fprintf(e->o, "\n/* The arena of graph %s for n samples at m_threads threads (%lld bytes\n"
                " * + %lld a sample + the largest kernel scratch). */\n"
                "static size_t %s_arena(int64_t n, int m_threads) {\n",
          e->g->name, (long long)e->p->fixed_bytes, (long long)e->p->sample_bytes, e->name);
  arena_lines(e);
  fprintf(e->o, "  (void)sc;\n  return need;\n}\n");
}

/* A scan's call of the runtime's loop (nnrt_scan): its results (NULL
 * where unread) and operands, its scratch, the body's run function. */
static void scan_call(Em *e, int id) {
  const Value *v = &e->g->v[id];
  int nres = ir_scan_results(e->g, v);
  char **res = arena_alloc(sizeof(char *) * (size_t)nres);
  for (int i = 0; i < nres; i++) res[i] = "NULL";
  for (int r = id + 1; r < e->g->n && e->g->v[r].op == OP_SCANOUT && e->g->v[r].in[0] == id; r++)
    res[e->g->v[r].a[0]] = arena_printf("v%d", r);
  fprintf(e->o, "  {\n    void *const r[] = {");
  for (int i = 0; i < nres; i++) fprintf(e->o, "%s%s", i ? ", " : "", res[i]);
  fprintf(e->o, "};\n    const void *const a[] = {");
  for (int i = 0; i < v->nin; i++) fprintf(e->o, "%sv%d", i ? ", " : "", plan_read(e->p, e->g, v->in[i]));
  fprintf(e->o, "};\n    nnrt_scan(%s_s%d, m, n, r, a, ws + sc, %s_b%lld_run);\n  }\n", e->name, id, e->name,
          (long long)v->a[0]);
}

/* The run function: buffers in the workspace, leaves, kernels in order,
 * then the updates. */
static void run_function(Em *e, const char *fn) {
  Graph *g = e->g;
  FILE *o = e->o;
  fprintf(o, "\n/* One pass of graph %s (%s) over a batch of n samples. */\n"
             "static void %s(NnrtModel *m, int64_t n, const void *const *inputs, const void *const *labels) {\n"
             "  const int m_threads = m->threads;\n",
          g->name, g->training ? "the training step" : "inference", fn);
  Plan *p = e->p;
  arena_lines(e);
  fprintf(o, "  char *ws = m->ws;  /* grown to `need` by the model API */\n"
             "  (void)ws; (void)sc; (void)labels; (void)inputs;\n");
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    const char *t = cty(v->dtype);
    switch (v->op) {
    case OP_INPUT:
      fprintf(o, "  const %s *v%d = inputs[%lld];\n  (void)v%d;\n", t, id, (long long)v->a[0], id);
      continue;
    case OP_LABEL:
      fprintf(o, "  const %s *v%d = labels[%lld];\n", t, id, (long long)v->a[0]);
      continue;
    case OP_PARAM:
      fprintf(o, "  const %s *v%d = m->params[%lld];  /* %s */\n", t, id, (long long)v->a[0],
              g->params[v->a[0]]->name);
      continue;
    case OP_STATE:
      fprintf(o, "  const %s *v%d = m->states[%lld];  /* %s */\n", t, id, (long long)v->a[0],
              g->states[v->a[0]]->name);
      continue;
    default:
      break;
    }
    if (p->alias[id]) { /* a reshape: its operand's memory */
      int x = plan_root(p, g, id);
      OpClass c = op_info[g->v[x].op].cls;
      if (p->stored[x] || (c == CL_LEAF && g->v[x].op != OP_CONST))
        fprintf(o, "  %s *v%d = (%s *)v%d;\n  (void)v%d;\n", t, id, t, g->v[id].in[0], id);
      continue;
    }
    if (p->stored[id]) {
      const char *off = p->region[id] == 0 ? arena_printf("%lld", (long long)p->off[id])
                        : p->region[id] == 1 ? arena_printf("%lld + %lld * (size_t)n", (long long)p->fixed_bytes,
                                                            (long long)p->off[id])
                                             : arena_printf("d%d", id);
      fprintf(o, "  %s *v%d = (%s *)(ws + %s);\n", t, id, t, off);
    }
    if (v->op == OP_SCALAR) {
      /* the seed through double, as the evaluator's scalars are */
      static const char *src[] = {"n", "m->step", "m->epoch", "m->seed", "m->lr"};
      bool twice = v->a[0] == SC_SEED && v->dtype != DT_F64;
      fprintf(o, "  v%d[0] = %s%s%s;\n", id, v->a[0] == SC_LR && v->dtype == DT_F64 ? "" : arena_printf("(%s)", t),
              twice ? "(double)" : "", src[v->a[0]]);
    } else if (v->op == OP_IOTA) {
      fprintf(o, "  for (int64_t i = 0; i < %s; i++) v%d[i] = (%s)(i / %s %% %lld);\n", numel_x(v->shape), id, t,
              prod_x(v->shape, (int)v->a[0] + 1, v->shape.rank), (long long)v->shape.dim[v->a[0]]);
    } else if (v->op == OP_CONST) {
      if (p->stored[id])
        fprintf(o, "  for (int64_t i = 0; i < %s; i++) v%d[i] = (%s)%.17g;\n", numel_x(v->shape), id, t, v->f);
    } else if (v->op == OP_DROPMASK) {
      fprintf(o, "  for (int64_t i = 0; i < %s; i++)\n"
                 "    v%d[i] = nnrt_uniform((uint64_t)v%d[0], ((uint64_t)%lld << 44) ^ (uint64_t)v%d[0], (uint64_t)i) >= %.17g\n"
                 "             ? (%s)(1 / (1 - %.17g)) : 0;\n",
              numel_x(v->shape), id, v->in[0], (long long)v->a[0], v->in[1], v->f, t, v->f);
    } else if (p->kernel[id] >= 0 && p->last[p->kernel[id]] == id && g->v[p->first[p->kernel[id]]].op == OP_SCAN) {
      scan_call(e, p->first[p->kernel[id]]);
    } else if (p->kernel[id] >= 0 && p->last[p->kernel[id]] == id) {
      int k = p->kernel[id], h = p->first[k];
      const Value *hv = &g->v[h];
      fprintf(o, "  %s_k%d(n, nt", e->name, p->same[k]);
      if (op_elementwise(hv->op)) {
        member_params(e, k, -1, RUN_ARGS);
      } else {
        fprintf(o, ", v%d", plan_home(p, g, k));
        for (int i = 0; i < hv->nin; i++) fprintf(o, ", v%d", plan_read(p, g, hv->in[i]));
        if (scratch_x(g, hv)) fprintf(o, ", (%s *)(ws + sc)", cty(hv->dtype));
        if (plan_takes_kept(g, hv)) {
          int64_t at = plan_kept_slot(p, g, hv);
          if (at < 0) fprintf(o, ", NULL");
          else fprintf(o, ", m->kept + %lld", (long long)at);
        }
        if (id > h) member_params(e, k, plan_home(p, g, k), RUN_ARGS);
      }
      fprintf(o, ");\n");
    }
  }
  for (int i = 0; i < g->nupdates; i++) {
    Update u = g->updates[i];
    ParamInfo *p = u.state ? g->states[u.index] : g->params[u.index];
    if (p->dtype == DT_F32) /* subnormals flushed, so that none persists */
      fprintf(o, "  nnrt_store_f32(m->%s[%d], v%d, %s);  /* %s */\n", u.state ? "states" : "params", u.index,
              u.value, numel_x(p->shape), p->name);
    else
      fprintf(o, "  memcpy(m->%s[%d], v%d, sizeof(%s) * (size_t)(%s));  /* %s */\n",
              u.state ? "states" : "params", u.index, u.value, cty(p->dtype), numel_x(p->shape), p->name);
  }
  if (g->loss >= 0) fprintf(o, "  m->loss = (double)v%d[0];\n", g->loss);
  for (int i = 0; i < g->noutputs; i++)
    fprintf(o, "  m->out[%d] = v%d;\n", i, g->outputs[i]);
  fprintf(o, "}\n");
}

/* Each kernel's C, once for kernels of the same structure (the plan's
 * `same`: an unrolled recurrent layer's steps, a deep model's layers). */
static void kernels(Em *e) {
  for (int i = 0; i < e->g->nbodies; i++) { /* each body a graph of its own */
    Em b = {.o = e->o, .g = e->p->bodies[i], .p = e->p->body[i], .name = arena_printf("%s_b%d", e->name, i)};
    kernels(&b);
    arena_function(&b);
    run_function(&b, arena_printf("%s_run", b.name));
  }
  for (int id = 0; id < e->g->n; id++) { /* each scan's descriptor */
    if (e->g->v[id].op != OP_SCAN) continue;
    int64_t d[PLAN_SCAN_WORDS];
    int w = plan_scan_desc(e->p, e->g, &e->g->v[id], d);
    fprintf(e->o, "\n/* %%%d = scan: {steps, reverse, carries, sequences, invariants, results, kept bytes,\n"
                  " * accumulating carries of f32, of f64}, then\n"
                  " * each carry's, sequence's and result's rows (nnrt_scan) */\nstatic const int64_t %s_s%d[] = {",
            id, e->name, id);
    for (int i = 0; i < w; i++) fprintf(e->o, "%s%lld", i ? ", " : "", (long long)d[i]);
    fprintf(e->o, "};\n");
  }
  for (int k = 0; k < e->p->nkernels; k++) {
    if (e->g->v[e->p->first[k]].op == OP_SCAN) continue; /* the runtime's loop (scan_call) */
    if (e->p->same[k] != k) fprintf(e->o, "\n/* k%d: the code of k%d */\n", k, e->p->same[k]);
    else if (op_elementwise(e->g->v[e->p->first[k]].op)) fused_kernel(e, k);
    else kernel(e, k);
  }
}

/* CMakeLists.txt compiles the runtime's convolutions and pooling for each
 * of these levels too (the LLVM backend's copies call them): a level
 * changed here changes there. */
const IsaLevel isa_levels[NISA_LEVELS] = {
    {"avx512", "NNRT_ISA_AVX512", NNRT_ISA_AVX512, "avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,fma"},
    {"avx2", "NNRT_ISA_AVX2", NNRT_ISA_AVX2, "avx2,fma"}};

/* The code this processor runs, alone (Built.only_level): the level
 * nnrt_isa() picks (NNRT_ISA narrows it). The copies of the other levels
 * are the same code for other features (their bits: cli_checksums,
 * cli_conv_pool, cli_portable). */
int isa_level_here(void) {
  for (int i = 0; i < NISA_LEVELS; i++)
    if (isa_levels[i].isa == nnrt_isa()) return i + 1;
  return NISA_LEVELS + 1;
}

int graph_levels(const Built *b, int k) {
  return b->only_level || k < GRAPH_STEP ? b->only_level : NISA_LEVELS + 1; /* the rarely run: generic code */
}

/* The graph's kernels (each written once: a kernel identical to an earlier
 * one runs the earlier one's code), its arena function and its run
 * function. Where the file is built for an x86-64 without AVX (the
 * default, NNRT_CLONES in the prelude) the kernels and the run function
 * are written once more for each of isa_levels, every function
 * in that copy compiled for its features (runtime functions inlined into
 * them with them); NAME_run runs the copy of the widest level the
 * processor has (nnrt_isa), or the file's own. No copy contracts a * b + c
 * (the prelude's pragma holds in every one), so all give the same bits.
 * With only_level (Built) the file's own code alone is written, compiled
 * for that level's features where clones would be: the code of that
 * level's copy, which only a processor of that level runs. */
static void target_push(FILE *out, const char *f) {
  fprintf(out, "#ifdef __clang__\n#pragma clang attribute push(__attribute__((target(\"%s\"))), apply_to = function)\n"
               "#else\n#pragma GCC push_options\n#pragma GCC target(\"%s\")\n#endif\n", f, f);
}
static void target_pop(FILE *out) {
  fprintf(out, "#ifdef __clang__\n#pragma clang attribute pop\n#else\n#pragma GCC pop_options\n#endif\n");
}

void emit_c_graph(FILE *out, Graph *g, Plan *p, const char *model, const char *suffix, int only_level) {
  const char *name = arena_printf("%s_%s", model, suffix);
  const char *one = only_level >= 1 && only_level <= NISA_LEVELS ? isa_levels[only_level - 1].features : NULL;
  quant_blobs(out, g, name);
  if (!only_level) {
    fprintf(out, "\n#if NNRT_CLONES /* graph %s for each level of nnrt_isa() */\n", g->name);
    for (size_t i = 0; i < NISA_LEVELS; i++) {
      target_push(out, isa_levels[i].features);
      Em e = {.o = out, .g = g, .p = p, .name = arena_printf("%s_%s", name, isa_levels[i].name), .qname = name};
      kernels(&e);
      run_function(&e, arena_printf("%s_run", e.name));
      target_pop(out);
    }
    fprintf(out, "#endif\n");
  }
  if (one) {
    fprintf(out, "\n#if NNRT_CLONES /* graph %s for this level alone */\n", g->name);
    target_push(out, one);
    fprintf(out, "#endif\n");
  }
  Em e = {.o = out, .g = g, .p = p, .name = name, .qname = name};
  kernels(&e);
  arena_function(&e);
  run_function(&e, arena_printf("%s_run_generic", name));
  if (one) {
    fprintf(out, "#if NNRT_CLONES\n");
    target_pop(out);
    fprintf(out, "#endif\n");
  }
  fprintf(out, "\n/* One pass of graph %s: the code for this processor's level. */\n"
               "static void %s_run(NnrtModel *m, int64_t n, const void *const *inputs, const void *const *labels) {\n",
          g->name, name);
  if (!only_level) {
    fprintf(out, "#if NNRT_CLONES\n  switch (nnrt_isa()) {\n");
    for (size_t i = 0; i < NISA_LEVELS; i++)
      fprintf(out, "  case %s:\n    %s_%s_run(m, n, inputs, labels);\n    return;\n", isa_levels[i].enum_name, name,
              isa_levels[i].name);
    fprintf(out, "  }\n#endif\n");
  }
  fprintf(out, "  %s_run_generic(m, n, inputs, labels);\n}\n", name);
}

