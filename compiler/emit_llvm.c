/* emit_llvm.c — the LLVM backend's kernels: the plan's kernels and each
 * graph's run and arena functions as LLVM IR, through the LLVM-C API (the
 * module, passes, output and linking: emit_llvm_model.c; an elementwise
 * op's meaning: emit_llvm_op.c). It builds what the C backend writes,
 * kernel for kernel, with the same arithmetic (elementwise ops in double,
 * stored in the value's type; reductions in double in the evaluator's
 * order; the runtime's GEMM, convolutions and pooling), so the two give
 * the same bits (`nnc --check-c` checks it).
 *
 * A kernel is a function NAME_kK(n, nt, lo, hi, pointers...) whose
 * outermost loop runs over [lo, hi); its pointers are noalias, as the C
 * backend's are restrict (an operand written over in place is read
 * through the member's pointer). The run function packs n, nt and the
 * pointers into words and calls nnrt_parallel_for(nt, work, count,
 * NAME_kK_par, words), which runs the range in parts on the runtime's
 * OpenMP threads or at once when the work is small; NAME_kK_par unpacks
 * the words. Elementwise loops are left to LLVM's loop vectorizer.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <llvm-c/Core.h>
#include "nnc.h"
#include "nnrt.h"

/* ------------------------------------------------------------ helpers */

LLVMTypeRef ty(Lv *L, DType t) { return t == DT_F64 ? L->f64 : t == DT_I32 ? L->i32 : L->f32; }
LLVMTypeRef ptr_to(LLVMTypeRef t) { return LLVMPointerType(t, 0); }
LLVMValueRef ci(Lv *L, int64_t v) { return LLVMConstInt(L->i64, (unsigned long long)v, 1); }
LLVMValueRef ci32(Lv *L, int64_t v) { return LLVMConstInt(L->i32, (unsigned long long)v, 1); }
LLVMValueRef cf(Lv *L, double v) { return LLVMConstReal(L->f64, v); }
static LLVMValueRef add(Lv *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWAdd(L->b, a, b, ""); }
static LLVMValueRef sub(Lv *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWSub(L->b, a, b, ""); }
static LLVMValueRef mul(Lv *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWMul(L->b, a, b, ""); }
static LLVMValueRef lt(Lv *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(L->b, LLVMIntSLT, a, b, ""); }
static LLVMValueRef ge(Lv *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(L->b, LLVMIntSGE, a, b, ""); }
static LLVMValueRef and (Lv * L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAnd(L->b, a, b, ""); }
static LLVMValueRef sel(Lv *L, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(L->b, c, a, b, "");
}
static LLVMValueRef fcmp(Lv *L, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFCmp(L->b, p, a, b, "");
}
/* NNRT_MORE (runtime/nnrt.h): x > m, or x NaN and m not yet */
static LLVMValueRef replaces_max(Lv *L, LLVMValueRef x, LLVMValueRef m) {
  return and(L, fcmp(L, LLVMRealUGT, x, m), fcmp(L, LLVMRealORD, m, m));
}

LLVMValueRef dim_v(Lv *L, int64_t d) { return d == DIM_BATCH ? L->n : ci(L, d); }

/* The product of dims [from, to). */
static LLVMValueRef prod_v(Lv *L, Shape s, int from, int to) {
  int64_t k = 1;
  bool batch = false;
  for (int d = from; d < to; d++) {
    if (s.dim[d] == DIM_BATCH)
      batch = true;
    else
      k *= s.dim[d];
  }
  return batch ? (k == 1 ? L->n : mul(L, L->n, ci(L, k))) : ci(L, k);
}

static LLVMValueRef numel_v(Lv *L, Shape s) { return prod_v(L, s, 0, s.rank); }

/* The offset of index (i_{r-rank+j}) in a tensor of shape s broadcast to
 * rank r: axes of size 1 do not move. */
static LLVMValueRef offset_v(Lv *L, Shape s, int r, LLVMValueRef *idx) {
  LLVMValueRef x = ci(L, 0);
  for (int j = 0; j < s.rank; j++)
    if (s.dim[j] != 1) x = add(L, x, mul(L, idx[r - s.rank + j], prod_v(L, s, j + 1, s.rank)));
  return x;
}

static LLVMValueRef at(Lv *L, LLVMTypeRef t, LLVMValueRef base, LLVMValueRef i) {
  return LLVMBuildInBoundsGEP2(L->b, t, base, &i, 1, "");
}
static LLVMValueRef load(Lv *L, LLVMTypeRef t, LLVMValueRef base, LLVMValueRef i) {
  return LLVMBuildLoad2(L->b, t, at(L, t, base, i), "");
}
static void store(Lv *L, LLVMTypeRef t, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i) {
  LLVMBuildStore(L->b, v, at(L, t, base, i));
}
static LLVMValueRef cast_ptr(Lv *L, LLVMValueRef p, LLVMTypeRef elem) {
  return LLVMBuildBitCast(L->b, p, ptr_to(elem), "");
}

/* A value of type t in double, and back (as C converts). */
static LLVMValueRef to_double(Lv *L, LLVMValueRef x, DType t) {
  return t == DT_F64 ? x : t == DT_I32 ? LLVMBuildSIToFP(L->b, x, L->f64, "") : LLVMBuildFPExt(L->b, x, L->f64, "");
}
static LLVMValueRef from_double(Lv *L, LLVMValueRef x, DType t) {
  if (t == DT_I32) { /* as ir_i32: NaN as 0, saturated at the bounds, else toward zero */
    LLVMValueRef hi = cf(L, 2147483647.0), lo = cf(L, -2147483648.0);
    x = LLVMBuildSelect(L->b, LLVMBuildFCmp(L->b, LLVMRealUNO, x, x, ""), cf(L, 0), x, "");
    x = LLVMBuildSelect(L->b, LLVMBuildFCmp(L->b, LLVMRealOGE, x, hi, ""), hi, x, "");
    x = LLVMBuildSelect(L->b, LLVMBuildFCmp(L->b, LLVMRealOLE, x, lo, ""), lo, x, "");
    return LLVMBuildFPToSI(L->b, x, L->i32, "");
  }
  return t == DT_F64 ? x : LLVMBuildFPTrunc(L->b, x, L->f32, "");
}

/* An attribute by name; none where this LLVM has no such attribute (newer
 * ones say readnone as memory(none)). */
static void add_attr(Lv *L, LLVMValueRef fn, unsigned index, const char *name) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  if (kind) LLVMAddAttributeAtIndex(fn, index, LLVMCreateEnumAttribute(L->cx, kind, 0));
}

/* A function declared (or found) in the module. */
LLVMValueRef declare(Lv *L, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, unsigned n) {
  LLVMValueRef f = LLVMGetNamedFunction(L->mod, name);
  if (f) return f;
  return LLVMAddFunction(L->mod, name, LLVMFunctionType(ret, params, n, 0));
}

LLVMValueRef call(Lv *L, LLVMValueRef fn, LLVMValueRef *args, unsigned n) {
  return LLVMBuildCall2(L->b, LLVMGlobalGetValueType(fn), fn, args, n, "");
}

/* A function of libm (or the runtime) of a (and b unless NULL), doubles
 * or floats: no side effects, as the C backend's are under
 * -fno-math-errno. */
LLVMValueRef math(Lv *L, const char *name, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef f = LLVMGetNamedFunction(L->mod, name), args[2] = {a, b};
  LLVMTypeRef t = LLVMTypeOf(a), p[2] = {t, t};
  if (!f) {
    f = declare(L, name, t, p, b ? 2 : 1);
    add_attr(L, f, LLVMAttributeFunctionIndex, "readnone");
    add_attr(L, f, LLVMAttributeFunctionIndex, "nounwind");
    add_attr(L, f, LLVMAttributeFunctionIndex, "willreturn");
  }
  return call(L, f, args, b ? 2 : 1);
}

/* A new function; the builder at its entry. */
LLVMValueRef function(Lv *L, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, unsigned n,
                      bool internal) {
  LLVMValueRef f = LLVMAddFunction(L->mod, name, LLVMFunctionType(ret, params, n, 0));
  if (internal) LLVMSetLinkage(f, LLVMInternalLinkage);
  add_attr(L, f, LLVMAttributeFunctionIndex, "nounwind");
  if (L->cold) { /* a graph run rarely (explain.c): optimized for size, which compiles faster */
    add_attr(L, f, LLVMAttributeFunctionIndex, "minsize");
    add_attr(L, f, LLVMAttributeFunctionIndex, "optsize");
  }
  LLVMPositionBuilderAtEnd(L->b, LLVMAppendBasicBlockInContext(L->cx, f, "entry"));
  L->fn = f;
  return f;
}

/* ------------------------------------------------------- elementwise */

/* A constant operand as the C backend writes it: (double)(T)f. */
static double literal(const Value *v) {
  return v->dtype == DT_F32 ? (double)(float)v->f : v->dtype == DT_I32 ? ir_i32(v->f) : v->f;
}

/* One element of kernel k's elementwise members (member_body in the C
 * backend): the outside operands loaded (operand j at idx[j]) before
 * anything is stored, every member computed in float when it is an f32
 * value (but a cast), else in double, and kept in its type, the stored
 * ones written at `where`. */
static void member_body(Lv *L, int k, int next, const int *ext, LLVMValueRef *idx, LLVMValueRef where) {
  Graph *g = L->g;
  Plan *p = L->p;
  for (int j = 0; j < next; j++) {
    int y = plan_in_place(p, g, k, ext[j]);
    LLVMTypeRef t = ty(L, g->v[ext[j]].dtype);
    L->xl[ext[j]] = load(L, t, y >= 0 ? L->yp[y] : L->xp[ext[j]], idx[j]);
  }
  for (int id = p->first[k]; id >= 0; id = p->next[id]) {
    const Value *v = &g->v[id];
    if (!op_elementwise(v->op)) continue;
    LLVMValueRef in[IR_MAX_IN] = {0};
    bool f32 = v->dtype == DT_F32 && v->op != OP_CAST; /* its operands are f32 too */
    for (int i = 0; i < v->nin; i++) {
      int x = plan_read(p, g, v->in[i]);
      if (g->v[x].op == OP_CONST && p->kernel[x] != k)
        in[i] = f32 ? LLVMConstReal(L->f32, literal(&g->v[x])) : cf(L, literal(&g->v[x]));
      else {
        LLVMValueRef xv = p->kernel[x] == k ? L->t[x] : L->xl[x];
        in[i] = f32 ? xv : to_double(L, xv, g->v[x].dtype);
      }
    }
    LLVMValueRef r = llvm_scalar_op(L, v->op, v->dtype, in[0], in[1], in[2]);
    L->t[id] = f32 ? r : from_double(L, r, v->dtype);
  }
  for (int id = p->first[k]; id >= 0; id = p->next[id])
    if (p->stored[id] && op_elementwise(g->v[id].op))
      store(L, ty(L, g->v[id].dtype), L->t[id], L->yp[id], where);
}

/* ------------------------------------------------------------ kernels */

/* A kernel's pointers are noalias (restrict in the C) when they are at
 * most this many (LLVM compares a loop's pointers pairwise; a loop over
 * hundreds of arrays gains little from being vectorized), all but the
 * result of a kernel with an epilogue: the epilogue, which LLVM may inline
 * into the product, reads and writes it through pointers of its own. */
enum { NOALIAS_MAX = 64 };

/* A kernel's pointer parameters, in order: each is a value written (y)
 * or read (x). A fused kernel may have thousands (a deep model's
 * optimizer updates of one shape). */
typedef struct Ptrs {
  int n, cap;
  int *id;
  char *yx;
  bool *scratch; /* the workspace's scratch */
} Ptrs;

static void ptr_add(Ptrs *ps, char yx, int id, bool scratch) {
  if (ps->n == ps->cap) {
    int cap = ps->cap ? 2 * ps->cap : 16;
    int *nid = arena_alloc(sizeof(int) * (size_t)cap);
    char *nyx = arena_alloc((size_t)cap);
    bool *nsc = arena_alloc(sizeof(bool) * (size_t)cap);
    if (ps->n) {
      memcpy(nid, ps->id, sizeof(int) * (size_t)ps->n);
      memcpy(nyx, ps->yx, (size_t)ps->n);
      memcpy(nsc, ps->scratch, sizeof(bool) * (size_t)ps->n);
    }
    ps->id = nid, ps->yx = nyx, ps->scratch = nsc, ps->cap = cap;
  }
  ps->yx[ps->n] = yx, ps->id[ps->n] = id, ps->scratch[ps->n++] = scratch;
}

/* The stored members of kernel k other than skip, then its outside
 * operands (member_params in the C backend). */
static void member_ptrs(Lv *L, int k, int skip, Ptrs *ps) {
  Graph *g = L->g;
  Plan *p = L->p;
  for (int id = p->first[k]; id >= 0; id = p->next[id])
    if (p->stored[id] && id != skip) ptr_add(ps, 'y', id, false);
  int *ext, next = plan_operands(p, g, k, &ext);
  for (int j = 0; j < next; j++)
    if (plan_in_place(p, g, k, ext[j]) < 0) ptr_add(ps, 'x', ext[j], false);
}

static LLVMTypeRef ptr_type(Lv *L, const Ptrs *ps, int i, const Value *head) {
  if (ps->scratch[i]) return ptr_to(ty(L, head->dtype));
  if (ps->yx[i] == 'k') return L->p8;
  return ptr_to(ty(L, L->g->v[ps->id[i]].dtype));
}

/* The epilogue of kernel k: NAME_epiK(ctx, r0, r1, c0, c1) over rows of
 * the head's last axis, in the result's own coordinates. ctx is words:
 * the row length, the head's buffer, then the members' pointers. */
static LLVMValueRef epilogue_function(Lv *L, int k, const Ptrs *ps) {
  Graph *g = L->g;
  Plan *p = L->p;
  int h = p->first[k], home = plan_home(p, g, k);
  const Value *hv = &g->v[h];
  /* the loops, with noalias pointers */
  LLVMTypeRef *pt = arena_alloc(sizeof(LLVMTypeRef) * (size_t)(ps->n + 6));
  for (int i = 0; i < 5; i++) pt[i] = L->i64;
  pt[5] = ptr_to(ty(L, hv->dtype));
  for (int i = 0; i < ps->n; i++) pt[6 + i] = ptr_type(L, ps, i, hv);
  LLVMValueRef loops = function(L, arena_printf("%s_epi%d_loops", L->name, k), L->v, pt, (unsigned)ps->n + 6, true);
  for (int i = 5; ps->n <= NOALIAS_MAX && i < ps->n + 6; i++) add_attr(L, loops, (unsigned)i + 1, "noalias");
  LLVMValueRef r0 = LLVMGetParam(loops, 0), r1 = LLVMGetParam(loops, 1), c0 = LLVMGetParam(loops, 2),
               c1 = LLVMGetParam(loops, 3), cols = LLVMGetParam(loops, 4);
  L->yp[home] = LLVMGetParam(loops, 5);
  for (int i = 0; i < ps->n; i++)
    (ps->yx[i] == 'y' ? L->yp : L->xp)[ps->id[i]] = LLVMGetParam(loops, (unsigned)i + 6);
  Loop lr, lc;
  LLVMValueRef r = loop_open(L, &lr, r0, r1);
  LLVMValueRef row = mul(L, r, cols);
  LLVMValueRef c = loop_open(L, &lc, c0, c1);
  LLVMValueRef i = add(L, row, c);
  L->t[h] = load(L, ty(L, hv->dtype), L->yp[home], i);
  int *ext, next = plan_operands(p, g, k, &ext);
  LLVMValueRef *idx = arena_alloc(sizeof(LLVMValueRef) * (size_t)(next + 1));
  for (int j = 0; j < next; j++) {
    Shape xs = g->v[ext[j]].shape;
    idx[j] = shape_eq(xs, hv->shape) ? i : shape_one(xs) ? ci(L, 0) : c;
  }
  member_body(L, k, next, ext, idx, i);
  loop_close(L, &lc);
  int64_t width = hv->shape.rank ? hv->shape.dim[hv->shape.rank - 1] : 1;
  if (width == 1) lr.loops = L->loops; /* rows of one: the rows' loop is the contiguous one */
  loop_close(L, &lr);
  LLVMBuildRetVoid(L->b);
  /* the entry the runtime calls */
  LLVMTypeRef et[5] = {L->p8, L->i64, L->i64, L->i64, L->i64};
  LLVMValueRef f = function(L, arena_printf("%s_epi%d", L->name, k), L->v, et, 5, true);
  LLVMValueRef words = cast_ptr(L, LLVMGetParam(f, 0), L->i64);
  LLVMValueRef *args = arena_alloc(sizeof(LLVMValueRef) * (size_t)(ps->n + 6));
  for (int j = 0; j < 4; j++) args[j] = LLVMGetParam(f, (unsigned)j + 1);
  args[4] = load(L, L->i64, words, ci(L, 0));
  for (int j = 5; j < ps->n + 6; j++)
    args[j] = LLVMBuildIntToPtr(L->b, load(L, L->i64, words, ci(L, j - 4)), pt[j], "");
  llvm_call_rows(L, loops, args, (unsigned)ps->n + 6, width);
  LLVMBuildRetVoid(L->b);
  return f;
}

/* A fused elementwise kernel: one loop over the members' shape, flat
 * when every outside operand has that shape or one element. */
static bool fused_flat(Lv *L, int k) {
  Graph *g = L->g;
  Shape s = g->v[L->p->last[k]].shape;
  int *ext, next = plan_operands(L->p, g, k, &ext);
  for (int j = 0; j < next; j++)
    if (!shape_one(g->v[ext[j]].shape) && !shape_eq(g->v[ext[j]].shape, s)) return false;
  return true;
}

static void k_fused(Lv *L, int k, LLVMValueRef lo, LLVMValueRef hi) {
  Graph *g = L->g;
  Shape s = g->v[L->p->last[k]].shape;
  int *ext, next = plan_operands(L->p, g, k, &ext);
  LLVMValueRef *idx = arena_alloc(sizeof(LLVMValueRef) * (size_t)(next + 1)), where;
  Loop lp[NN_MAX_RANK];
  LLVMValueRef iv[NN_MAX_RANK];
  if (fused_flat(L, k)) {
    where = loop_open(L, &lp[0], lo, hi);
    for (int j = 0; j < next; j++) idx[j] = shape_eq(g->v[ext[j]].shape, s) ? where : ci(L, 0);
    member_body(L, k, next, ext, idx, where);
    loop_close(L, &lp[0]);
    return;
  }
  loops_open(L, lp, s, iv, lo, hi);
  where = offset_v(L, s, s.rank, iv);
  for (int j = 0; j < next; j++) idx[j] = offset_v(L, g->v[ext[j]].shape, s.rank, iv);
  member_body(L, k, next, ext, idx, where);
  loops_close(L, lp, s.rank);
}

/* sum / rmax: per output element, the reduced axes in row-major order;
 * when the reduced axes lead (a bias's gradient), rows added in order. */
static void k_reduce(Lv *L, const Value *v, LLVMValueRef y, LLVMValueRef a, LLVMValueRef lo, LLVMValueRef hi) {
  const Value *x = &L->g->v[v->in[0]];
  LLVMTypeRef tx = ty(L, x->dtype), tv = ty(L, v->dtype);
  bool drop[NN_MAX_RANK] = {0};
  for (int i = 0; i < v->nattr; i++) drop[v->a[i]] = true;
  int lead = 0;
  while (lead < x->shape.rank && drop[lead]) lead++;
  bool prefix = lead > 0;
  for (int d = lead; d < x->shape.rank; d++) prefix &= !drop[d];
  bool max = v->op == OP_RMAX;
  if (prefix) {
    LLVMValueRef J = prod_v(L, x->shape, 0, lead), K = prod_v(L, x->shape, lead, x->shape.rank);
    Loop li, lj;
    LLVMValueRef i = loop_open(L, &li, ci(L, 0), K);
    store(L, tv, LLVMConstReal(tv, max ? -INFINITY : 0), y, i);
    loop_close(L, &li);
    LLVMValueRef j = loop_open(L, &lj, ci(L, 0), J);
    LLVMValueRef row = at(L, tx, a, mul(L, j, K));
    i = loop_open(L, &li, ci(L, 0), K);
    LLVMValueRef r = load(L, tx, row, i), cur = load(L, tv, y, i);
    store(L, tv,
          max ? sel(L, replaces_max(L, r, cur), r, cur) : LLVMBuildFAdd(L->b, cur, r, ""), y,
          i);
    loop_close(L, &li);
    loop_close(L, &lj);
    return;
  }
  Shape kept = {0}, red = {0};
  int kmap[NN_MAX_RANK], rmap[NN_MAX_RANK];
  for (int d = 0; d < x->shape.rank; d++) {
    if (drop[d])
      rmap[d] = red.rank, red.dim[red.rank++] = x->shape.dim[d];
    else
      kmap[d] = kept.rank, kept.dim[kept.rank++] = x->shape.dim[d];
  }
  Loop lk[NN_MAX_RANK], lr[NN_MAX_RANK];
  LLVMValueRef ki[NN_MAX_RANK], ri[NN_MAX_RANK];
  LLVMValueRef acc = local(L, L->f64, "acc");
  loops_open(L, lk, kept, ki, lo, hi);
  LLVMBuildStore(L->b, cf(L, max ? -INFINITY : 0), acc);
  loops_open(L, lr, red, ri, NULL, NULL);
  LLVMValueRef off = ci(L, 0);
  for (int d = 0; d < x->shape.rank; d++)
    off = add(L, off, mul(L, drop[d] ? ri[rmap[d]] : ki[kmap[d]], prod_v(L, x->shape, d + 1, x->shape.rank)));
  LLVMValueRef e = to_double(L, load(L, tx, a, off), x->dtype), cur = LLVMBuildLoad2(L->b, L->f64, acc, "");
  LLVMBuildStore(
      L->b, max ? sel(L, replaces_max(L, e, cur), e, cur) : LLVMBuildFAdd(L->b, cur, e, ""),
      acc);
  loops_close(L, lr, red.rank);
  store(L, tv, from_double(L, LLVMBuildLoad2(L->b, L->f64, acc, ""), v->dtype), y,
        offset_v(L, kept, kept.rank, ki));
  loops_close(L, lk, kept.rank);
}

/* softmax, logsoftmax, argmax: rows of `len` elements `inner` apart;
 * the split runs over outer * inner rows. */
static void k_axis(Lv *L, const Value *v, LLVMValueRef y, LLVMValueRef a, LLVMValueRef lo, LLVMValueRef hi) {
  const Value *x = &L->g->v[v->in[0]];
  int ax = (int)v->a[0];
  LLVMTypeRef tx = ty(L, x->dtype), tv = ty(L, v->dtype);
  LLVMValueRef len = dim_v(L, x->shape.dim[ax]), inner = prod_v(L, x->shape, ax + 1, x->shape.rank);
  LLVMValueRef m = local(L, L->f64, "m"), sum = local(L, L->f64, "sum"), arg = local(L, L->i64, "arg");
  Loop lq, lj;
  LLVMValueRef q = loop_open(L, &lq, lo, hi);
  LLVMValueRef o = LLVMBuildSDiv(L->b, q, inner, ""), in = LLVMBuildSRem(L->b, q, inner, "");
  LLVMValueRef row = at(L, tx, a, add(L, mul(L, mul(L, o, len), inner), in));
  if (v->op != OP_ARGMAX && v->dtype == DT_F32 && x->dtype == DT_F32) {
    llvm_softmax_f32(L, v, row, at(L, tv, y, add(L, mul(L, mul(L, o, len), inner), in)), len, inner);
    loop_close(L, &lq);
    return;
  }
  LLVMBuildStore(L->b, cf(L, -INFINITY), m);
  LLVMBuildStore(L->b, cf(L, 0), sum);
  LLVMBuildStore(L->b, ci(L, 0), arg);
  LLVMValueRef j = loop_open(L, &lj, ci(L, 0), len);
  LLVMValueRef e = to_double(L, load(L, tx, row, mul(L, j, inner)), x->dtype),
               cur = LLVMBuildLoad2(L->b, L->f64, m, "");
  LLVMValueRef more = replaces_max(L, e, cur);
  LLVMBuildStore(L->b, sel(L, more, e, cur), m);
  LLVMBuildStore(L->b, sel(L, more, j, LLVMBuildLoad2(L->b, L->i64, arg, "")), arg);
  loop_close(L, &lj);
  if (v->op == OP_ARGMAX) {
    store(L, tv, LLVMBuildTrunc(L->b, LLVMBuildLoad2(L->b, L->i64, arg, ""), L->i32, ""), y,
          add(L, mul(L, o, inner), in));
    loop_close(L, &lq);
    return;
  }
  LLVMValueRef mx = LLVMBuildLoad2(L->b, L->f64, m, "");
  LLVMValueRef base = add(L, mul(L, mul(L, o, len), inner), in);
  j = loop_open(L, &lj, ci(L, 0), len);
  LLVMValueRef z = LLVMBuildFSub(L->b, to_double(L, load(L, tx, row, mul(L, j, inner)), x->dtype), mx, "");
  LLVMBuildStore(L->b, LLVMBuildFAdd(L->b, LLVMBuildLoad2(L->b, L->f64, sum, ""), math(L, "exp", z, NULL), ""), sum);
  loop_close(L, &lj);
  LLVMValueRef total = LLVMBuildLoad2(L->b, L->f64, sum, "");
  j = loop_open(L, &lj, ci(L, 0), len);
  z = LLVMBuildFSub(L->b, to_double(L, load(L, tx, row, mul(L, j, inner)), x->dtype), mx, "");
  LLVMValueRef r = v->op == OP_SOFTMAX ? LLVMBuildFDiv(L->b, math(L, "exp", z, NULL), total, "")
                                       : LLVMBuildFSub(L->b, z, math(L, "log", total, NULL), "");
  store(L, tv, from_double(L, r, v->dtype), y, add(L, base, mul(L, j, inner)));
  loop_close(L, &lj);
  loop_close(L, &lq);
}

/* The runtime's GEMM for the value's type: C = A B (+ C), with an
 * epilogue or none. */
static void gemm(Lv *L, DType t, LLVMValueRef nt, LLVMValueRef M, LLVMValueRef N, LLVMValueRef K, LLVMValueRef A,
                 LLVMValueRef ars, LLVMValueRef acs, LLVMValueRef B, LLVMValueRef brs, LLVMValueRef bcs,
                 LLVMValueRef C, LLVMValueRef ldc, LLVMValueRef addc, LLVMValueRef pack, LLVMValueRef epi,
                 LLVMValueRef kept) {
  LLVMTypeRef p = ptr_to(ty(L, t));
  LLVMTypeRef pt[16] = {L->i32, L->i64, L->i64, L->i64, p,     L->i64, L->i64, p,
                        L->i64, L->i64, p,      L->i64, L->i1, p,      L->p8,  L->p8};
  LLVMValueRef args[16] = {nt, M, N, K, A, ars, acs, B, brs, bcs, C, ldc, addc, pack, epi, kept};
  if (t == DT_F32) { /* with B's kept panels (or null) where the kernel takes them */
    LLVMValueRef f = declare(L, kept ? "nnrt_sgemm_kept" : "nnrt_sgemm", L->v, pt, 15 + !!kept);
    call(L, f, args, 15 + !!kept);
  } else {
    pt[13] = L->p8;
    args[13] = epi;
    LLVMValueRef f = declare(L, "nnrt_dgemm", L->v, pt, 14);
    call(L, f, args, 14);
  }
}

/* matmul_sum, as the C backend's k_matmul_sum: one product over the rows
 * of all, or one a leading index added up, the epilogue after the last. */
static void k_matmul_sum(Lv *L, const Value *v, LLVMValueRef *arg, LLVMValueRef s) {
  Graph *g = L->g;
  const Value *A = &g->v[v->in[0]], *B = &g->v[v->in[1]];
  Shape la = A->shape, lb = B->shape, lead;
  la.rank -= 2, lb.rank -= 2;
  if (!broadcast_shapes(la, lb, &lead)) bug("matmul_sum %%%d", (int)(v - g->v));
  LLVMTypeRef t = ty(L, v->dtype);
  LLVMValueRef M = dim_v(L, v->shape.dim[0]), N = dim_v(L, v->shape.dim[1]),
               K = dim_v(L, A->shape.dim[A->shape.rank - 1]), one = ci(L, 1);
  LLVMValueRef pack = s ? s : LLVMConstNull(ptr_to(t)), epi = L->epi ? L->epi : LLVMConstNull(L->p8);
  if (plan_rows_product(L->p, g, v)) { /* A's operand X [L K, M], B [L K, N] */
    gemm(L, v->dtype, L->nt, M, N, mul(L, numel_v(L, lead), K), arg[1], one, M, arg[2], N, one, arg[0], N,
         LLVMConstInt(L->i1, 0, 0), pack, epi, NULL);
    return;
  }
  bool ta = L->p->folded[v->in[0]], tb = L->p->folded[v->in[1]];
  Loop lp[NN_MAX_RANK];
  LLVMValueRef li[NN_MAX_RANK], total = numel_v(L, lead);
  loops_open(L, lp, lead, li, NULL, NULL);
  LLVMValueRef l = offset_v(L, lead, lead.rank, li);
  LLVMValueRef pa = at(L, t, arg[1], mul(L, offset_v(L, la, lead.rank, li), mul(L, M, K)));
  LLVMValueRef pb = at(L, t, arg[2], mul(L, offset_v(L, lb, lead.rank, li), mul(L, K, N)));
  LLVMValueRef last = LLVMBuildICmp(L->b, LLVMIntEQ, l, sub(L, total, one), "");
  gemm(L, v->dtype, L->nt, M, N, K, pa, ta ? one : K, ta ? M : one, pb, tb ? one : N, tb ? K : one, arg[0], N,
       LLVMBuildICmp(L->b, LLVMIntSGT, l, ci(L, 0), ""), pack, sel(L, last, epi, LLVMConstNull(L->p8)), NULL);
  loops_close(L, lp, lead.rank);
}

static void k_matmul(Lv *L, const Value *v, LLVMValueRef *arg, LLVMValueRef s, LLVMValueRef lo, LLVMValueRef hi) {
  if (v->op == OP_MATMULSUM) {
    k_matmul_sum(L, v, arg, s);
    return;
  }
  LLVMValueRef y = arg[0], a = arg[1], b = arg[2], kept = plan_takes_kept(L->g, v) ? arg[3] : NULL;
  Graph *g = L->g;
  const Value *A = &g->v[v->in[0]], *B = &g->v[v->in[1]];
  int r = v->shape.rank;
  Shape lead = v->shape, la = A->shape, lb = B->shape;
  lead.rank -= 2, la.rank -= 2, lb.rank -= 2;
  LLVMValueRef M = dim_v(L, v->shape.dim[r - 2]), N = dim_v(L, v->shape.dim[r - 1]),
               K = dim_v(L, A->shape.dim[A->shape.rank - 1]);
  if (plan_one_product(g, v)) /* the rows of all of A at once */
    M = prod_v(L, v->shape, 0, r - 1), lead.rank = la.rank = lb.rank = 0;
  Loop lp[NN_MAX_RANK];
  LLVMValueRef li[NN_MAX_RANK];
  loops_open(L, lp, lead, li, lo, hi);
  LLVMTypeRef t = ty(L, v->dtype);
  LLVMValueRef pa = at(L, t, a, mul(L, offset_v(L, la, lead.rank, li), mul(L, M, K)));
  LLVMValueRef pb = at(L, t, b, mul(L, offset_v(L, lb, lead.rank, li), mul(L, K, N)));
  LLVMValueRef pc = at(L, t, y, mul(L, offset_v(L, lead, lead.rank, li), mul(L, M, N)));
  bool ta = L->p->folded[v->in[0]], tb = L->p->folded[v->in[1]];
  gemm(L, v->dtype, L->nt, M, N, K, pa, ta ? ci(L, 1) : K, ta ? M : ci(L, 1), pb, tb ? ci(L, 1) : N,
       tb ? K : ci(L, 1), pc, N, LLVMConstInt(L->i1, 0, 0), s ? s : LLVMConstNull(ptr_to(t)),
       L->epi ? L->epi : LLVMConstNull(L->p8), kept);
  loops_close(L, lp, lead.rank);
}

/* Data movement; the loops over the result split its first axis. */
static void k_move(Lv *L, const Value *v, LLVMValueRef y, LLVMValueRef a, LLVMValueRef b, LLVMValueRef s,
                   LLVMValueRef lo, LLVMValueRef hi) {
  Graph *g = L->g;
  const Value *x = &g->v[v->in[0]];
  int r = v->shape.rank;
  LLVMTypeRef tv = ty(L, v->dtype), tx = ty(L, x->dtype);
  Loop lp[NN_MAX_RANK], li, ld;
  LLVMValueRef iv[NN_MAX_RANK];
  switch (v->op) {
  case OP_RESHAPE:
    LLVMBuildMemCpy(L->b, y, 4, a, 4,
                    mul(L, numel_v(L, v->shape), ci(L, LLVMABISizeOfType(LLVMGetModuleDataLayout(L->mod), tv))));
    return;
  case OP_EXPAND:
  case OP_TRANSPOSE: {
    loops_open(L, lp, v->shape, iv, lo, hi);
    LLVMValueRef off = ci(L, 0);
    if (v->op == OP_EXPAND)
      off = offset_v(L, x->shape, r, iv);
    else
      for (int i = 0; i < r; i++)
        off = add(L, off, mul(L, iv[i], prod_v(L, x->shape, (int)v->a[i] + 1, x->shape.rank)));
    store(L, tv, load(L, tx, a, off), y, offset_v(L, v->shape, r, iv));
    loops_close(L, lp, r);
    return;
  }
  case OP_SLICE:
  case OP_PAD: {
    int ax = (int)v->a[0];
    loops_open(L, lp, v->shape, iv, lo, hi);
    LLVMValueRef j = v->op == OP_SLICE ? add(L, iv[ax], ci(L, v->a[1])) : sub(L, iv[ax], ci(L, v->a[1]));
    LLVMValueRef in = and(L, ge(L, j, ci(L, 0)), lt(L, j, dim_v(L, x->shape.dim[ax])));
    LLVMValueRef xi[NN_MAX_RANK];
    for (int d = 0; d < r; d++) xi[d] = d == ax ? sel(L, in, j, ci(L, 0)) : iv[d];
    LLVMValueRef off = ci(L, 0);
    for (int d = 0; d < r; d++) off = add(L, off, mul(L, xi[d], prod_v(L, x->shape, d + 1, r)));
    store(L, tv, sel(L, in, load(L, tx, a, off), LLVMConstNull(tv)), y, offset_v(L, v->shape, r, iv));
    loops_close(L, lp, r);
    return;
  }
  case OP_CONCAT: {
    const Value *bv = &g->v[v->in[1]];
    int ax = (int)v->a[0];
    if (ax >= 1) { /* each index before the axis: a's block, then b's, two copies */
      LLVMValueRef ea = prod_v(L, x->shape, ax, r), eb = prod_v(L, bv->shape, ax, r), P = prod_v(L, v->shape, 1, ax);
      LLVMValueRef size = ci(L, (int64_t)LLVMABISizeOfType(LLVMGetModuleDataLayout(L->mod), tv));
      LLVMValueRef o = loop_open(L, &li, mul(L, lo, P), mul(L, hi, P)), yo = at(L, tv, y, mul(L, o, add(L, ea, eb)));
      LLVMBuildMemCpy(L->b, yo, 4, at(L, tv, a, mul(L, o, ea)), 4, mul(L, ea, size));
      LLVMBuildMemCpy(L->b, at(L, tv, yo, ea), 4, at(L, tv, b, mul(L, o, eb)), 4, mul(L, eb, size));
      loop_close(L, &li);
      return;
    }
    loops_open(L, lp, v->shape, iv, lo, hi);
    LLVMValueRef dx = dim_v(L, x->shape.dim[ax]), first = lt(L, iv[ax], dx);
    LLVMValueRef oa = ci(L, 0), ob = ci(L, 0);
    for (int d = 0; d < r; d++) {
      LLVMValueRef ia = d == ax ? sel(L, first, iv[d], ci(L, 0)) : iv[d];
      LLVMValueRef ib = d == ax ? sel(L, first, ci(L, 0), sub(L, iv[d], dx)) : iv[d];
      oa = add(L, oa, mul(L, ia, prod_v(L, x->shape, d + 1, r)));
      ob = add(L, ob, mul(L, ib, prod_v(L, bv->shape, d + 1, r)));
    }
    store(L, tv, sel(L, first, load(L, tx, a, oa), load(L, ty(L, bv->dtype), b, ob)), y,
          offset_v(L, v->shape, r, iv));
    loops_close(L, lp, r);
    return;
  }
  case OP_GATHER: { /* a: table [V, D], b: ids */
    LLVMValueRef V = dim_v(L, x->shape.dim[0]), D = dim_v(L, x->shape.dim[1]);
    LLVMValueRef i = loop_open(L, &li, ci(L, 0), numel_v(L, g->v[v->in[1]].shape));
    LLVMValueRef row = LLVMBuildSExt(L->b, load(L, L->i32, b, i), L->i64, "");
    LLVMValueRef in = and(L, ge(L, row, ci(L, 0)), lt(L, row, V));
    row = sel(L, in, row, ci(L, 0));
    LLVMValueRef d = loop_open(L, &ld, ci(L, 0), D);
    store(L, tv, sel(L, in, load(L, tx, a, add(L, mul(L, row, D), d)), LLVMConstNull(tv)), y,
          add(L, mul(L, i, D), d));
    loop_close(L, &ld);
    loop_close(L, &li);
    return;
  }
  case OP_SCATTERADD: { /* a: ids, b: updates; sums in double in the scratch */
    LLVMValueRef V = dim_v(L, v->shape.dim[0]), D = dim_v(L, v->shape.dim[1]), VD = mul(L, V, D);
    LLVMValueRef acc = cast_ptr(L, s, L->f64);
    LLVMValueRef i = loop_open(L, &li, ci(L, 0), VD);
    store(L, L->f64, cf(L, 0), acc, i);
    loop_close(L, &li);
    i = loop_open(L, &li, ci(L, 0), numel_v(L, x->shape));
    LLVMValueRef row = LLVMBuildSExt(L->b, load(L, L->i32, a, i), L->i64, "");
    LLVMBasicBlockRef merge = if_open(L, and(L, ge(L, row, ci(L, 0)), lt(L, row, V)));
    const Value *u = &g->v[v->in[1]];
    LLVMValueRef d = loop_open(L, &ld, ci(L, 0), D);
    LLVMValueRef to = add(L, mul(L, row, D), d);
    store(L, L->f64,
          LLVMBuildFAdd(L->b, load(L, L->f64, acc, to),
                        to_double(L, load(L, ty(L, u->dtype), b, add(L, mul(L, i, D), d)), u->dtype), ""),
          acc, to);
    loop_close(L, &ld);
    if_close(L, merge);
    loop_close(L, &li);
    i = loop_open(L, &li, ci(L, 0), VD);
    store(L, tv, from_double(L, load(L, L->f64, acc, i), v->dtype), y, i);
    loop_close(L, &li);
    return;
  }
  case OP_ONEHOT: {
    LLVMValueRef depth = ci(L, v->a[0]), count = numel_v(L, x->shape);
    LLVMValueRef i = loop_open(L, &li, ci(L, 0), mul(L, count, depth));
    store(L, tv, LLVMConstNull(tv), y, i);
    loop_close(L, &li);
    i = loop_open(L, &li, ci(L, 0), count);
    LLVMValueRef id = LLVMBuildSExt(L->b, load(L, L->i32, a, i), L->i64, "");
    LLVMBasicBlockRef merge = if_open(L, and(L, ge(L, id, ci(L, 0)), lt(L, id, depth)));
    store(L, tv, v->dtype == DT_I32 ? ci32(L, 1) : LLVMConstReal(tv, 1), y, add(L, mul(L, i, depth), id));
    if_close(L, merge);
    loop_close(L, &li);
    return;
  }
  default: bug("no LLVM IR for %s", op_info[v->op].name);
  }
}

/* ------------------------------------------------ kernels and the run */

/* A kernel's parameters after (n, nt, lo, hi): the pointers (ps), and
 * for a head, its scratch and epilogue. */
typedef struct Kernel {
  Ptrs ps;
  bool scratch, epi;
  LLVMValueRef par;   /* NAME_kK_par(words, lo, hi) */
  LLVMValueRef epifn; /* NAME_epiK, or null */
  Ptrs eps;           /* the epilogue's pointers after the head's buffer */
} Kernel;

static bool has_scratch(const Graph *g, const Value *v) { return plan_scratch(g, v).any; }

/* Kernel k's pointers: its parameters, and its epilogue's. */
static void kernel_ptrs(Lv *L, int k, Kernel *kn) {
  Graph *g = L->g;
  Plan *p = L->p;
  int h = p->first[k];
  const Value *hv = &g->v[h];
  memset(kn, 0, sizeof *kn);
  if (op_elementwise(hv->op)) {
    member_ptrs(L, k, -1, &kn->ps);
    return;
  }
  int home = plan_home(p, g, k);
  ptr_add(&kn->ps, 'y', home, false);
  for (int i = 0; i < hv->nin; i++) ptr_add(&kn->ps, 'x', plan_read(p, g, hv->in[i]), false);
  if (p->pool[k] >= 0) ptr_add(&kn->ps, 'y', p->pool[k], false); /* after a band, the pooling's result */
  if (plan_takes_kept(g, hv)) ptr_add(&kn->ps, 'k', h, false); /* its kept slot, or null */
  if ((kn->scratch = has_scratch(g, hv))) ptr_add(&kn->ps, 's', h, true);
  if ((kn->epi = p->last[k] > h)) member_ptrs(L, k, home, &kn->eps);
}

/* Kernel k: its epilogue, NAME_kK and NAME_kK_par. */
static void kernel_function(Lv *L, int k, Kernel *kn) {
  Graph *g = L->g;
  Plan *p = L->p;
  int h = p->first[k];
  const Value *hv = &g->v[h];
  bool fused = op_elementwise(hv->op);
  kernel_ptrs(L, k, kn);
  if (kn->epi) kn->epifn = epilogue_function(L, k, &kn->eps);
  int np = kn->ps.n + 4 + kn->epi;
  LLVMTypeRef *pt = arena_alloc(sizeof(LLVMTypeRef) * (size_t)np);
  pt[0] = L->i64, pt[1] = L->i32, pt[2] = L->i64, pt[3] = L->i64;
  for (int i = 0; i < kn->ps.n; i++) pt[4 + i] = ptr_type(L, &kn->ps, i, hv);
  if (kn->epi) pt[np - 1] = L->p8;
  LLVMValueRef f = function(L, arena_printf("%s_k%d", L->name, k), L->v, pt, (unsigned)np, true);
  for (int i = kn->epi; kn->ps.n <= NOALIAS_MAX && i < kn->ps.n; i++) add_attr(L, f, (unsigned)i + 5, "noalias");
  L->n = LLVMGetParam(f, 0), L->nt = LLVMGetParam(f, 1);
  LLVMValueRef lo = LLVMGetParam(f, 2), hi = LLVMGetParam(f, 3);
  LLVMValueRef *arg = arena_alloc(sizeof(LLVMValueRef) * (size_t)(kn->ps.n + 1));
  for (int i = 0; i < kn->ps.n; i++) {
    arg[i] = LLVMGetParam(f, (unsigned)i + 4);
    if (kn->ps.yx[i] == 'y' || kn->ps.yx[i] == 'x') (kn->ps.yx[i] == 'y' ? L->yp : L->xp)[kn->ps.id[i]] = arg[i];
  }
  L->epi = kn->epi ? LLVMGetParam(f, (unsigned)np - 1) : NULL;
  LLVMValueRef s = kn->scratch ? arg[kn->ps.n - 1] : NULL;
  if (fused)
    k_fused(L, k, lo, hi);
  else
    switch (op_info[hv->op].cls) {
    case CL_REDUCE:
      if (hv->op == OP_SUM || hv->op == OP_RMAX)
        k_reduce(L, hv, arg[0], arg[1], lo, hi);
      else
        k_axis(L, hv, arg[0], arg[1], lo, hi);
      break;
    case CL_CONTRACT: k_matmul(L, hv, arg, s, lo, hi); break;
    case CL_MOVE: k_move(L, hv, arg[0], arg[1], hv->nin > 1 ? arg[2] : NULL, s, lo, hi); break;
    case CL_WINDOW: llvm_window(L, hv, arg, s); break;
    default: bug("%%%d is no kernel's head", h);
    }
  LLVMBuildRetVoid(L->b);
  /* the entry nnrt_parallel_for calls: words n, nt, then the pointers */
  LLVMTypeRef tt[3] = {L->p8, L->i64, L->i64};
  kn->par = function(L, arena_printf("%s_k%d_par", L->name, k), L->v, tt, 3, true);
  LLVMValueRef words = cast_ptr(L, LLVMGetParam(kn->par, 0), L->i64);
  LLVMValueRef *args = arena_alloc(sizeof(LLVMValueRef) * (size_t)np);
  args[0] = load(L, L->i64, words, ci(L, 0));
  args[1] = LLVMBuildTrunc(L->b, load(L, L->i64, words, ci(L, 1)), L->i32, "");
  args[2] = LLVMGetParam(kn->par, 1), args[3] = LLVMGetParam(kn->par, 2);
  for (int i = 4; i < np; i++) args[i] = LLVMBuildIntToPtr(L->b, load(L, L->i64, words, ci(L, i - 2)), pt[i], "");
  call(L, f, args, (unsigned)np);
  LLVMBuildRetVoid(L->b);
}

/* How kernel k splits: count iterations of its outer loop over work
 * elements (count 1: it runs at once). */
static void kernel_split(Lv *L, int k, LLVMValueRef *count, LLVMValueRef *work) {
  Graph *g = L->g;
  const Value *v = &g->v[L->p->first[k]];
  *count = ci(L, 1), *work = ci(L, 0);
  if (op_elementwise(v->op)) {
    Shape s = g->v[L->p->last[k]].shape;
    *work = numel_v(L, s);
    *count = fused_flat(L, k) ? *work : s.rank ? dim_v(L, s.dim[0]) : ci(L, 1);
    return;
  }
  const Value *x = v->nin ? &g->v[v->in[0]] : NULL;
  switch (v->op) {
  case OP_SUM:
  case OP_RMAX: {
    bool drop[NN_MAX_RANK] = {0};
    for (int i = 0; i < v->nattr; i++) drop[v->a[i]] = true;
    int lead = 0, first = -1;
    while (lead < x->shape.rank && drop[lead]) lead++;
    bool prefix = lead > 0;
    for (int d = lead; d < x->shape.rank; d++) prefix &= !drop[d];
    for (int d = x->shape.rank - 1; d >= 0; d--)
      if (!drop[d]) first = d;
    if (prefix || first < 0) return; /* rows added in order, or one sum: at once */
    *count = dim_v(L, x->shape.dim[first]);
    *work = numel_v(L, v->shape);
    return;
  }
  case OP_SOFTMAX:
  case OP_LOGSOFTMAX:
  case OP_ARGMAX: {
    int ax = (int)v->a[0];
    *count = mul(L, prod_v(L, x->shape, 0, ax), prod_v(L, x->shape, ax + 1, x->shape.rank));
    *work = numel_v(L, x->shape);
    return;
  }
  case OP_MATMUL: /* matmul_sum: at once */
    if (!plan_one_product(g, v)) *count = dim_v(L, v->shape.dim[0]), *work = prod_v(L, v->shape, 0, v->shape.rank - 2);
    return;
  case OP_EXPAND:
  case OP_TRANSPOSE:
  case OP_SLICE:
  case OP_PAD:
  case OP_CONCAT:
    if (v->shape.rank) *count = dim_v(L, v->shape.dim[0]), *work = numel_v(L, v->shape);
    return;
  default: return;
  }
}

/* Elements of scratch head v needs besides its result, or null. */
static LLVMValueRef scratch_elems(Lv *L, const Value *v) {
  PlanScratch ps = plan_scratch(L->g, v);
  if (!ps.any) return NULL;
  LLVMValueRef x = ci(L, ps.fixed);
  if (ps.cap) x = add(L, x, mul(L, sel(L, lt(L, L->n, ci(L, ps.cap)), L->n, ci(L, ps.cap)), ci(L, ps.per)));
  if (ps.packs) {
    LLVMValueRef nt = ps.pack_alone ? ci32(L, 1) : L->nt;
    LLVMValueRef pack = call(L, declare(L, "nnrt_sgemm_scratch", L->i64, &L->i32, 1), &nt, 1);
    x = add(L, x, mul(L, ci(L, ps.packs), pack));
  }
  return x;
}

static LLVMValueRef align_up(Lv *L, LLVMValueRef bytes) {
  return call(L, declare(L, "nnrt_align", L->i64, &L->i64, 1), &bytes, 1);
}

/* The arena for n samples at nt threads (arena_lines in the C backend):
 * the planned regions, the buffers of their own (d[id]), then the largest
 * scratch (at *sc). Returns the bytes. */
static LLVMValueRef arena(Lv *L, LLVMValueRef *d, LLVMValueRef *sc) {
  Graph *g = L->g;
  Plan *p = L->p;
  LLVMTargetDataRef td = LLVMGetModuleDataLayout(L->mod);
  LLVMValueRef need = add(L, ci(L, p->fixed_bytes), mul(L, ci(L, p->sample_bytes), L->n));
  LLVMValueRef most = ci(L, 0);
  Map *seen = map_new(); /* the kernels' scratch sizes, each once: a deep model has thousands alike */
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    int64_t size = (int64_t)LLVMABISizeOfType(td, ty(L, v->dtype));
    if (p->stored[id] && p->region[id] == 2) {
      d[id] = need;
      need = add(L, need, align_up(L, mul(L, ci(L, size), numel_v(L, v->shape))));
    }
    if (v->op == OP_SCAN) {
      LLVMValueRef s = llvm_scan_scratch(L, id);
      most = sel(L, LLVMBuildICmp(L->b, LLVMIntUGT, s, most, ""), s, most);
    }
    PlanScratch ps = p->kernel[id] >= 0 ? plan_scratch(g, v) : (PlanScratch){0};
    char *key = !ps.any ? NULL
                        : arena_printf("%lld %lld %lld %d %d %lld", (long long)ps.fixed, (long long)ps.cap,
                                       (long long)ps.per, ps.packs, ps.pack_alone, (long long)size);
    LLVMValueRef s = key && !map_get(seen, key) ? scratch_elems(L, v) : NULL;
    if (s) {
      map_put(seen, key, key);
      s = mul(L, s, ci(L, size));
      most = sel(L, LLVMBuildICmp(L->b, LLVMIntUGT, s, most, ""), s, most);
    }
  }
  *sc = need;
  return add(L, need, align_up(L, most));
}

/* A field of the instance (NnrtModel) as a pointer to its type. */
static LLVMValueRef field(Lv *L, LLVMValueRef m, size_t offset, LLVMTypeRef t) {
  return cast_ptr(L, at(L, L->i8, m, ci(L, (int64_t)offset)), t);
}

/* NAME_arena(n, threads) */
static LLVMValueRef arena_function(Lv *L) {
  LLVMTypeRef pt[2] = {L->i64, L->i32};
  LLVMValueRef f = function(L, arena_printf("%s_arena", L->name), L->i64, pt, 2, true);
  L->n = LLVMGetParam(f, 0), L->nt = LLVMGetParam(f, 1);
  LLVMValueRef *d = arena_alloc(sizeof(LLVMValueRef) * (size_t)(L->g->n + 1)), sc;
  LLVMBuildRet(L->b, arena(L, d, &sc));
  return f;
}

/* A leaf the run function fills in its buffer val[id]: a run-time scalar
 * from the instance m, an iota, a stored constant, a dropout mask. */
static void leaf(Lv *L, int id, LLVMValueRef *val, LLVMValueRef m) {
  Graph *g = L->g;
  const Value *v = &g->v[id];
  LLVMTypeRef t = ty(L, v->dtype);
  if (v->op == OP_SCALAR) { /* the batch, or the instance's step, epoch, seed (unsigned) or rate */
    static const size_t at[] = {0, offsetof(NnrtModel, step), offsetof(NnrtModel, epoch), offsetof(NnrtModel, seed),
                                offsetof(NnrtModel, lr)};
    int s = (int)v->a[0];
    LLVMValueRef w = s == 0 ? L->n : LLVMBuildLoad2(L->b, s == 4 ? L->f64 : L->i64, field(L, m, at[s], s == 4 ? L->f64 : L->i64), "");
    LLVMValueRef x = s == 4 ? w : s == 3 ? LLVMBuildUIToFP(L->b, w, L->f64, "") : LLVMBuildSIToFP(L->b, w, L->f64, "");
    store(L, t, from_double(L, x, v->dtype), cast_ptr(L, val[id], t), ci(L, 0));
  } else if (v->op == OP_IOTA) {
    Loop li;
    LLVMValueRef i = loop_open(L, &li, ci(L, 0), numel_v(L, v->shape));
    LLVMValueRef x =
        LLVMBuildSRem(L->b, LLVMBuildSDiv(L->b, i, prod_v(L, v->shape, (int)v->a[0] + 1, v->shape.rank), ""),
                      ci(L, v->shape.dim[v->a[0]]), "");
    store(L, t, from_double(L, LLVMBuildSIToFP(L->b, x, L->f64, ""), v->dtype), cast_ptr(L, val[id], t), i);
    loop_close(L, &li);
  } else if (v->op == OP_CONST) {
    Loop li;
    LLVMValueRef i = loop_open(L, &li, ci(L, 0), numel_v(L, v->shape));
    store(L, t, from_double(L, cf(L, v->f), v->dtype), cast_ptr(L, val[id], t), i);
    loop_close(L, &li);
  } else if (v->op == OP_DROPMASK) {
    const Value *s0 = &g->v[v->in[0]], *s1 = &g->v[v->in[1]];
    LLVMValueRef seed = LLVMBuildFPToUI(
        L->b,
        to_double(L, load(L, ty(L, s0->dtype), cast_ptr(L, val[v->in[0]], ty(L, s0->dtype)), ci(L, 0)),
                  s0->dtype),
        L->i64, "");
    LLVMValueRef step = LLVMBuildFPToUI(
        L->b,
        to_double(L, load(L, ty(L, s1->dtype), cast_ptr(L, val[v->in[1]], ty(L, s1->dtype)), ci(L, 0)),
                  s1->dtype),
        L->i64, "");
    LLVMValueRef stream = LLVMBuildXor(L->b, ci(L, (int64_t)((uint64_t)v->a[0] << 44)), step, "");
    Loop li;
    LLVMValueRef i = loop_open(L, &li, ci(L, 0), numel_v(L, v->shape));
    LLVMTypeRef ut[3] = {L->i64, L->i64, L->i64};
    LLVMValueRef ua[3] = {seed, stream, i};
    LLVMValueRef u = call(L, declare(L, "nnrt_uniform", L->f64, ut, 3), ua, 3);
    LLVMValueRef keep = LLVMBuildFCmp(L->b, LLVMRealOGE, u, cf(L, v->f), "");
    LLVMValueRef one = from_double(L, cf(L, 1 / (1 - v->f)), v->dtype);
    store(L, t, sel(L, keep, one, LLVMConstNull(t)), cast_ptr(L, val[id], t), i);
    loop_close(L, &li);
  }
}

/* Kernel k called through nnrt_parallel_for with its words (n, threads,
 * its pointers, its epilogue) in `words`; an epilogue's context (the row
 * length, the head's buffer, the members' pointers) in `ewords`, and the
 * NnrtEpilogue in `epi`. */
static void call_kernel(Lv *L, Kernel *K, int k, LLVMValueRef *val, LLVMValueRef scratch, LLVMValueRef words,
                        LLVMValueRef ewords, LLVMValueRef epi) {
  Graph *g = L->g;
  Plan *p = L->p;
  LLVMValueRef w0 = cast_ptr(L, words, L->i64);
  LLVMBuildStore(L->b, L->n, at(L, L->i64, w0, ci(L, 0)));
  LLVMBuildStore(L->b, LLVMBuildSExt(L->b, L->nt, L->i64, ""), at(L, L->i64, w0, ci(L, 1)));
  for (int i = 0; i < K->ps.n; i++) {
    int64_t kept = K->ps.yx[i] == 'k' ? plan_kept_slot(p, g, &g->v[K->ps.id[i]]) : -1;
    LLVMValueRef ptr = K->ps.yx[i] == 's'   ? scratch
                       : K->ps.yx[i] != 'k' ? val[plan_root(p, g, K->ps.id[i])]
                       : kept < 0           ? LLVMConstNull(L->p8)
                                            : at(L, L->i8, L->kept, ci(L, kept));
    if (!ptr) bug("%%%d has no buffer", K->ps.id[i]);
    LLVMBuildStore(L->b, LLVMBuildPtrToInt(L->b, ptr, L->i64, ""), at(L, L->i64, w0, ci(L, i + 2)));
  }
  if (K->epi) { /* its context: the row length, the head's buffer, the members' pointers */
    const Value *hv = &g->v[p->first[k]];
    LLVMValueRef e0 = cast_ptr(L, ewords, L->i64);
    LLVMValueRef cols = hv->shape.rank ? dim_v(L, hv->shape.dim[hv->shape.rank - 1]) : ci(L, 1);
    LLVMBuildStore(L->b, cols, at(L, L->i64, e0, ci(L, 0)));
    LLVMBuildStore(L->b, LLVMBuildPtrToInt(L->b, val[plan_root(p, g, plan_home(p, g, k))], L->i64, ""),
                   at(L, L->i64, e0, ci(L, 1)));
    for (int i = 0; i < K->eps.n; i++)
      LLVMBuildStore(L->b, LLVMBuildPtrToInt(L->b, val[plan_root(p, g, K->eps.id[i])], L->i64, ""),
                     at(L, L->i64, e0, ci(L, i + 2)));
    LLVMValueRef e = cast_ptr(L, epi, L->p8);
    LLVMBuildStore(L->b, LLVMBuildBitCast(L->b, K->epifn, L->p8, ""), at(L, L->p8, e, ci(L, 0)));
    LLVMBuildStore(L->b, cast_ptr(L, ewords, L->i8), at(L, L->p8, e, ci(L, 1)));
    LLVMBuildStore(L->b, LLVMBuildPtrToInt(L->b, cast_ptr(L, epi, L->i8), L->i64, ""),
                   at(L, L->i64, w0, ci(L, K->ps.n + 2)));
  }
  LLVMValueRef count, work;
  kernel_split(L, k, &count, &work);
  LLVMTypeRef bt[3] = {L->p8, L->i64, L->i64};
  LLVMTypeRef ft[5] = {L->i32, L->i64, L->i64, ptr_to(LLVMFunctionType(L->v, bt, 3, 0)), L->p8};
  LLVMValueRef par = declare(L, "nnrt_parallel_for", L->v, ft, 5);
  LLVMValueRef args[5] = {L->nt, work, count, K->par, cast_ptr(L, words, L->i8)};
  call(L, par, args, 5);
  const Value *hv = &g->v[p->first[k]];
  if (K->epi && hv->op == OP_SUM) { /* after a sum, over its (small) result */
    LLVMTypeRef rt[4] = {L->i32, L->i64, L->i64, L->p8};
    LLVMValueRef ra[4] = {L->nt, hv->shape.rank ? prod_v(L, hv->shape, 0, hv->shape.rank - 1) : ci(L, 1),
                          hv->shape.rank ? dim_v(L, hv->shape.dim[hv->shape.rank - 1]) : ci(L, 1),
                          cast_ptr(L, epi, L->i8)};
    call(L, declare(L, "nnrt_epilogue_rows", L->v, rt, 4), ra, 4);
  }
}

/* The run function's kernel calls come in pieces, each a function of its
 * own that LLVM does not inline when there are several: a deep model's
 * run would be one block of hundreds of thousands of instructions, and
 * LLVM's optimizer (its SLP vectorizer above all) takes time that grows
 * faster than a block's size. A piece makes the buffer pointers it needs
 * from the workspace (val, made). */
enum { RUN_PIECE = 256 };   /* kernels (or updates) a piece has at most */

typedef struct Piece {
  LLVMValueRef m, inputs, labels, ws, dofs, params, states;
  LLVMValueRef *val;  /* value -> its buffer (i8 *) in this piece */
  int *made;          /* value -> the piece that made val[value], + 1 */
  int *dslot;         /* value of region 2 -> its offset's index in dofs */
  int no;
} Piece;

/* Value id's buffer in the current piece, made where the builder is. */
static LLVMValueRef buffer(Lv *L, Piece *P, int id) {
  Plan *p = L->p;
  const Value *v = &L->g->v[id];
  if (P->made[id] == P->no + 1) return P->val[id];
  LLVMValueRef x = NULL;
  switch (v->op) {
  case OP_INPUT: x = load(L, L->p8, P->inputs, ci(L, v->a[0])); break;
  case OP_LABEL: x = load(L, L->p8, P->labels, ci(L, v->a[0])); break;
  case OP_PARAM: x = load(L, L->p8, P->params, ci(L, v->a[0])); break;
  case OP_STATE: x = load(L, L->p8, P->states, ci(L, v->a[0])); break;
  default:
    if (p->alias[id]) { /* a reshape: its operand's memory */
      x = buffer(L, P, v->in[0]);
    } else if (p->stored[id]) {
      LLVMValueRef off = p->region[id] == 0   ? ci(L, p->off[id])
                         : p->region[id] == 1 ? add(L, ci(L, p->fixed_bytes), mul(L, ci(L, p->off[id]), L->n))
                                              : load(L, L->i64, P->dofs, ci(L, P->dslot[id]));
      x = at(L, L->i8, P->ws, off);
    }
  }
  P->made[id] = P->no + 1;
  return P->val[id] = x;
}

/* The buffers kernel k's call reads: its pointers' and its epilogue's. */
static void kernel_buffers(Lv *L, Piece *P, const Kernel *K, int k) {
  Plan *p = L->p;
  for (int i = 0; i < K->ps.n; i++)
    if (K->ps.yx[i] == 'y' || K->ps.yx[i] == 'x') buffer(L, P, plan_root(p, L->g, K->ps.id[i]));
  if (!K->epi) return;
  buffer(L, P, plan_root(p, L->g, plan_home(p, L->g, k)));
  for (int i = 0; i < K->eps.n; i++) buffer(L, P, plan_root(p, L->g, K->eps.id[i]));
}

static void run_updates(Lv *L, Piece *P, int lo, int hi);

/* Piece `no`: the leaves and kernel calls of values [lo, hi), then
 * updates [ulo, uhi), as NAME_runNO(m, n, inputs, labels, ws, scratch,
 * dofs, nt). */
static LLVMValueRef run_piece(Lv *L, Piece *P, Kernel *kn, int lo, int hi, int ulo, int uhi, int nwords,
                              int newords) {
  Graph *g = L->g;
  Plan *p = L->p;
  LLVMTypeRef pt[8] = {L->p8, L->i64, L->pp8, L->pp8, L->p8, L->p8, L->p64, L->i32};
  LLVMValueRef f = function(L, arena_printf("%s_run%d", L->name, P->no), L->v, pt, 8, true);
  P->m = LLVMGetParam(f, 0), P->inputs = LLVMGetParam(f, 2), P->labels = LLVMGetParam(f, 3);
  P->ws = LLVMGetParam(f, 4), P->dofs = LLVMGetParam(f, 6);
  LLVMValueRef scratch = LLVMGetParam(f, 5);
  L->n = LLVMGetParam(f, 1), L->nt = LLVMGetParam(f, 7);
  P->params = LLVMBuildLoad2(L->b, L->pp8, field(L, P->m, offsetof(NnrtModel, params), L->pp8), "");
  P->states = LLVMBuildLoad2(L->b, L->pp8, field(L, P->m, offsetof(NnrtModel, states), L->pp8), "");
  L->kept = LLVMBuildLoad2(L->b, L->p8, field(L, P->m, offsetof(NnrtModel, kept), L->p8), "");
  LLVMValueRef words = local(L, LLVMArrayType(L->i64, (unsigned)nwords + 1), "words");
  LLVMValueRef ewords = local(L, LLVMArrayType(L->i64, (unsigned)newords + 1), "ewords");
  LLVMValueRef epi = local(L, LLVMArrayType(L->p8, 2), "epi");
  for (int id = lo; id < hi; id++) {
    const Value *v = &g->v[id];
    int k = p->kernel[id];
    if (v->op == OP_SCALAR || v->op == OP_IOTA || v->op == OP_CONST || v->op == OP_DROPMASK) {
      if (v->op == OP_CONST && !p->stored[id]) continue; /* a constant unstored is a literal */
      buffer(L, P, id);
      if (v->op == OP_DROPMASK) buffer(L, P, v->in[0]), buffer(L, P, v->in[1]);
      leaf(L, id, P->val, P->m);
    } else if (k >= 0 && p->last[k] == id && g->v[p->first[k]].op == OP_SCAN) {
      int h = p->first[k];
      LLVMValueRef *res = arena_alloc(sizeof(LLVMValueRef) * (size_t)(ir_scan_results(g, &g->v[h]) + 1));
      LLVMValueRef *ops = arena_alloc(sizeof(LLVMValueRef) * (size_t)(g->v[h].nin + 1));
      for (int r = h + 1; r <= id; r++) res[g->v[r].a[0]] = buffer(L, P, r);
      for (int i = 0; i < g->v[h].nin; i++) ops[i] = buffer(L, P, plan_read(p, g, g->v[h].in[i]));
      llvm_scan_call(L, h, res, ops, P->m, scratch);
    } else if (k >= 0 && p->last[k] == id) {
      kernel_buffers(L, P, &kn[k], k);
      call_kernel(L, &kn[k], k, P->val, scratch, words, ewords, epi);
    }
  }
  run_updates(L, P, ulo, uhi);
  LLVMBuildRetVoid(L->b);
  return f;
}

/* After the step: updates [lo, hi) into the parameters and states. */
static void run_updates(Lv *L, Piece *P, int lo, int hi) {
  Graph *g = L->g;
  LLVMTargetDataRef td = LLVMGetModuleDataLayout(L->mod);
  for (int i = lo; i < hi; i++) {
    Update u = g->updates[i];
    ParamInfo *pi = u.state ? g->states[u.index] : g->params[u.index];
    LLVMValueRef dst = load(L, L->p8, u.state ? P->states : P->params, ci(L, u.index));
    LLVMValueRef src = buffer(L, P, u.value), count = numel_v(L, pi->shape);
    if (pi->dtype == DT_F32) { /* subnormals flushed, so that none persists */
      LLVMTypeRef st[3] = {ptr_to(L->f32), ptr_to(L->f32), L->i64};
      LLVMValueRef sa[3] = {cast_ptr(L, dst, L->f32), cast_ptr(L, src, L->f32), count};
      call(L, declare(L, "nnrt_store_f32", L->v, st, 3), sa, 3);
    } else {
      LLVMBuildMemCpy(L->b, dst, 8, src, 8, mul(L, count, ci(L, (int64_t)LLVMABISizeOfType(td, ty(L, pi->dtype)))));
    }
  }
}

/* The loss and the outputs, in the run function (P its own piece). */
static void run_results(Lv *L, Piece *P) {
  Graph *g = L->g;
  LLVMValueRef m = P->m;
  if (g->loss >= 0) {
    LLVMTypeRef t = ty(L, g->v[g->loss].dtype);
    LLVMValueRef x = load(L, t, cast_ptr(L, buffer(L, P, g->loss), t), ci(L, 0));
    LLVMBuildStore(L->b, to_double(L, x, g->v[g->loss].dtype), field(L, m, offsetof(NnrtModel, loss), L->f64));
  }
  for (int i = 0; i < g->noutputs; i++)
    LLVMBuildStore(L->b, buffer(L, P, g->outputs[i]),
                   at(L, L->p8, field(L, m, offsetof(NnrtModel, out), L->p8), ci(L, i)));
}

/* NAME_run(m, n, inputs, labels): the workspace and the offsets of the
 * buffers sized at run time, the pieces in order (leaves, and kernels
 * each through nnrt_parallel_for), then the results. */
static LLVMValueRef run_function(Lv *L, Kernel *kn, bool exported) {
  Graph *g = L->g;
  Plan *p = L->p;
  int nwords = 0, newords = 64 + 2 * NN_MAX_RANK + 1; /* epilogues' words: room for a usual one at least */
  for (int k = 0; k < p->nkernels; k++) {
    nwords = kn[k].ps.n + 3 > nwords ? kn[k].ps.n + 3 : nwords;
    newords = kn[k].eps.n + 2 > newords ? kn[k].eps.n + 2 : newords;
  }
  Piece P = {.val = arena_alloc(sizeof(LLVMValueRef) * (size_t)(g->n + 1)),
             .made = arena_alloc(sizeof(int) * (size_t)(g->n + 1)),
             .dslot = arena_alloc(sizeof(int) * (size_t)(g->n + 1))};
  /* the pieces first: value ranges of RUN_PIECE kernels each, then
   * RUN_PIECE updates each (the last of the kernels' pieces takes the
   * values left and the first updates) */
  int kpieces = (p->nkernels + RUN_PIECE - 1) / RUN_PIECE, ndofs = 0;
  kpieces = kpieces < 1 ? 1 : kpieces;
  int npieces = kpieces + (g->nupdates > RUN_PIECE ? (g->nupdates - 1) / RUN_PIECE : 0);
  for (int id = 0; id < g->n; id++)
    if (p->stored[id] && p->region[id] == 2) P.dslot[id] = ndofs++;
  LLVMValueRef *piece = arena_alloc(sizeof(LLVMValueRef) * (size_t)npieces);
  for (int id = 0, u = 0; P.no < npieces; P.no++) {
    int lo = id, ulo = u;
    for (int calls = 0; id < g->n && (calls < RUN_PIECE || P.no >= kpieces - 1); id++)
      calls += p->kernel[id] >= 0 && p->last[p->kernel[id]] == id;
    if (P.no >= kpieces - 1) u = u + RUN_PIECE < g->nupdates ? u + RUN_PIECE : g->nupdates;
    piece[P.no] = run_piece(L, &P, kn, lo, id, ulo, u, nwords, newords);
    if (npieces > 1) add_attr(L, piece[P.no], LLVMAttributeFunctionIndex, "noinline");
  }
  LLVMTypeRef pt[4] = {L->p8, L->i64, L->pp8, L->pp8};
  LLVMValueRef f = function(L, arena_printf("%s_run", L->name), L->v, pt, 4, !exported);
  P.m = LLVMGetParam(f, 0), P.inputs = LLVMGetParam(f, 2), P.labels = LLVMGetParam(f, 3);
  L->n = LLVMGetParam(f, 1);
  L->nt = LLVMBuildLoad2(L->b, L->i32, field(L, P.m, offsetof(NnrtModel, threads), L->i32), "threads");
  LLVMValueRef *d = arena_alloc(sizeof(LLVMValueRef) * (size_t)(g->n + 1)), sc;
  arena(L, d, &sc); /* the offsets; the model API has grown ws to the arena */
  P.ws = LLVMBuildLoad2(L->b, L->p8, field(L, P.m, offsetof(NnrtModel, ws), L->p8), "ws");
  P.dofs = local(L, LLVMArrayType(L->i64, (unsigned)ndofs + 1), "dofs");
  P.dofs = LLVMBuildBitCast(L->b, P.dofs, L->p64, "");
  for (int id = 0; id < g->n; id++)
    if (p->stored[id] && p->region[id] == 2) LLVMBuildStore(L->b, d[id], at(L, L->i64, P.dofs, ci(L, P.dslot[id])));
  for (int i = 0; i < npieces; i++) {
    LLVMValueRef args[8] = {P.m, L->n, P.inputs, P.labels, P.ws, at(L, L->i8, P.ws, sc), P.dofs, L->nt};
    call(L, piece[i], args, 8);
  }
  P.params = LLVMBuildLoad2(L->b, L->pp8, field(L, P.m, offsetof(NnrtModel, params), L->pp8), "");
  P.states = LLVMBuildLoad2(L->b, L->pp8, field(L, P.m, offsetof(NnrtModel, states), L->pp8), "");
  run_results(L, &P);
  LLVMBuildRetVoid(L->b);
  return f;
}

/* ------------------------------------------------------------ a model */


/* One graph: its kernels, NAME_arena and NAME_run. Returns them. */
void llvm_graph(LlvmOut *o, Graph *g, Plan *p, const char *name, bool exported, LLVMValueRef *run,
                LLVMValueRef *arena_fn) {
  Lv L = lv_new(o);
  L.g = g;
  L.p = p;
  L.name = name;
  L.yp = arena_alloc(sizeof(LLVMValueRef) * (size_t)(g->n + 1));
  L.xp = arena_alloc(sizeof(LLVMValueRef) * (size_t)(g->n + 1));
  L.t = arena_alloc(sizeof(LLVMValueRef) * (size_t)(g->n + 1));
  L.xl = arena_alloc(sizeof(LLVMValueRef) * (size_t)(g->n + 1));
  /* a kernel identical to an earlier one but for value numbers (the C
   * backend's test) calls the earlier one's functions with its pointers,
   * which come in the same order */
  L.body_run = arena_alloc(sizeof(LLVMValueRef) * (size_t)(g->nbodies + 1));
  L.body_arena = arena_alloc(sizeof(LLVMValueRef) * (size_t)(g->nbodies + 1));
  for (int i = 0; i < g->nbodies; i++) /* each body a graph of its own */
    llvm_graph(o, p->bodies[i], p->body[i], arena_printf("%s_b%d", name, i), false, &L.body_run[i], &L.body_arena[i]);
  Kernel *kn = arena_alloc(sizeof(Kernel) * (size_t)(L.p->nkernels + 1));
  int *canon = L.p->same;
  for (int k = 0; k < L.p->nkernels; k++) {
    if (g->v[L.p->first[k]].op == OP_SCAN) continue; /* the runtime's loop (llvm_scan_call) */
    if (canon[k] == k) {
      kernel_function(&L, k, &kn[k]);
      continue;
    }
    kernel_ptrs(&L, k, &kn[k]);
    kn[k].par = kn[canon[k]].par;
    kn[k].epifn = kn[canon[k]].epifn;
  }
  *arena_fn = arena_function(&L);
  *run = run_function(&L, kn, exported);
  LLVMDisposeBuilder(L.b);
}
