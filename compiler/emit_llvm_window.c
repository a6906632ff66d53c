/* emit_llvm_window.c — the LLVM backend's convolutions and pooling: a
 * call of the runtime's kernel (runtime/nnrt.h) with the window's
 * geometry as a constant, as the C backend's k_conv and k_pool write it.
 * A float convolution also takes its kept slot (plan_kept_slot), and a
 * convolution with the pooling fused after it (Plan.pool) the pooling's
 * result, which kernel_ptrs (emit_llvm.c) passes after the operands.
 *
 * Requires: the LLVM section of nnc.h; the builder in the kernel's
 * function. Guarantees: one call, the builder after it. */
#include <string.h>
#include "nnc.h"
#include "nnrt.h"

/* A window's geometry (NnrtWindow: int64 fields only) as a private
 * constant; its address as i8 *. */
static LLVMValueRef window_const(Lv *L, NnrtWindow w) {
  int64_t f[17] = {w.h,  w.w,  w.c,  w.oh, w.ow, w.f,      w.kh,    w.kw, w.sh,
                   w.sw, w.ph, w.pw, w.dh, w.dw, w.groups, w.chunk, w.batch};
  LLVMValueRef c[17];
  for (int i = 0; i < 17; i++) c[i] = ci(L, f[i]);
  LLVMValueRef init = LLVMConstArray(L->i64, c, 17);
  LLVMValueRef gv = LLVMAddGlobal(L->mod, LLVMTypeOf(init), "window");
  LLVMSetInitializer(gv, init);
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetLinkage(gv, LLVMPrivateLinkage);
  return LLVMConstPointerCast(gv, L->p8);
}

/* Quantized layer q's blob (runtime/nnrt.h) as a private constant of
 * 32-bit words, once a module; its address as i8 *. */
static LLVMValueRef quant_blob(Lv *L, int q) {
  const char *name = arena_printf("%s.q%d", L->g->name, q);
  LLVMValueRef gv = LLVMGetNamedGlobal(L->mod, name);
  if (!gv) {
    const QLayer *ql = &L->g->qlayers[q];
    size_t n = ql->bytes / 4;
    LLVMValueRef *w = arena_alloc(sizeof(LLVMValueRef) * (n + 1));
    for (size_t i = 0; i < n; i++) {
      uint32_t u;
      memcpy(&u, ql->blob + 4 * i, 4);
      w[i] = ci32(L, (int32_t)u);
    }
    LLVMValueRef init = LLVMConstArray(L->i32, w, (unsigned)n);
    gv = LLVMAddGlobal(L->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetAlignment(gv, 64);
  }
  return LLVMConstPointerCast(gv, L->p8);
}

/* A quantized layer: nnrt_qdense_f32 or nnrt_qconv2d_f32 with its blob.
 * arg: the result (a band with pooling fused), x, then the pooling's
 * result where it is fused. */
static void llvm_quant(Lv *L, const Value *v, LLVMValueRef *arg, LLVMValueRef s) {
  bool conv = v->op == OP_QCONV2D;
  int q = (int)v->a[conv ? 12 : 0];
  Shape xs = L->g->v[v->in[0]].shape;
  LLVMTypeRef p = ptr_to(L->f32);
  LLVMValueRef epi = L->epi ? L->epi : LLVMConstNull(L->p8), inv = LLVMConstReal(L->f32, v->f);
  int pv = conv ? L->p->pool[L->p->kernel[v - L->g->v]] : -1;
  if (pv >= 0) { /* pooling fused (plan_pools): arg[0] a band, arg[2] the pooling's result */
    const Value *pool = &L->g->v[pv];
    LLVMTypeRef pt[13] = {L->i32, L->i64, L->p8, L->p8, L->i32, L->i64, p, L->f32, L->p8, p, p, p, L->p8};
    LLVMValueRef args[13] = {L->nt, dim_v(L, xs.dim[0]), window_const(L, plan_window(L->g, v)),
                             window_const(L, plan_window(L->g, pool)),
                             ci32(L, pool->op == OP_MAXPOOL ? NNRT_MAXPOOL : NNRT_AVGPOOL),
                             ci(L, plan_pool_band(L->g, pool->in[0])), arg[1], inv, quant_blob(L, q), arg[0], arg[2], s,
                             epi};
    call(L, declare(L, "nnrt_qconv2d_pool_f32", L->v, pt, 13), args, 13);
    return;
  }
  if (conv) {
    LLVMTypeRef pt[9] = {L->i32, L->i64, L->p8, p, L->f32, L->p8, p, p, L->p8};
    LLVMValueRef args[9] = {L->nt, dim_v(L, xs.dim[0]), window_const(L, plan_window(L->g, v)), arg[1], inv,
                            quant_blob(L, q), arg[0], s, epi};
    call(L, declare(L, "nnrt_qconv2d_f32", L->v, pt, 9), args, 9);
    return;
  }
  int64_t k = 1;
  bool batch = false;
  for (int d = 0; d + 1 < xs.rank; d++) {
    if (xs.dim[d] == DIM_BATCH) batch = true;
    else k *= xs.dim[d];
  }
  LLVMValueRef m = batch ? LLVMBuildNSWMul(L->b, L->n, ci(L, k), "") : ci(L, k);
  LLVMTypeRef pt[9] = {L->i32, L->i64, L->i64, L->i64, p, L->f32, L->p8, p, L->p8};
  LLVMValueRef args[9] = {L->nt, m, ci(L, L->g->qlayers[q].k), ci(L, L->g->qlayers[q].n), arg[1], inv,
                          quant_blob(L, q), arg[0], epi};
  call(L, declare(L, "nnrt_qdense_f32", L->v, pt, 9), args, 9);
}

/* Convolutions and pooling: a call of the runtime's with the geometry as
 * a constant. arg: the result (a band with pooling fused), the operands,
 * then the pooling's result where it is fused, then the kept slot where
 * the convolution takes one. */
void llvm_window(Lv *L, const Value *v, LLVMValueRef *arg, LLVMValueRef s) {
  if (v->op == OP_QMATMUL || v->op == OP_QCONV2D) {
    llvm_quant(L, v, arg, s);
    return;
  }
  LLVMValueRef win = window_const(L, plan_window(L->g, v));
  LLVMTypeRef p = ptr_to(ty(L, v->dtype));
  /* the type, and in a level's copy the runtime's functions for that level */
  const char *t = arena_printf("%s%s%s", v->dtype == DT_F64 ? "f64" : "f32", L->level ? "_" : "",
                               L->level ? L->level : "");
  /* the batch: the image's first axis */
  Shape xs = v->op == OP_CONV2DBX || v->op == OP_AVGPOOLB ? v->shape : L->g->v[v->in[0]].shape;
  LLVMValueRef n = dim_v(L, xs.dim[0]);
  LLVMValueRef epi = L->epi ? L->epi : LLVMConstNull(L->p8);
  int pv = L->p->pool[L->p->kernel[v - L->g->v]];
  bool kept = plan_takes_kept(L->g, v);
  if (pv >= 0) { /* pooling fused (plan_pools): arg[0] a band, arg[3] the pooling's result */
    const Value *pool = &L->g->v[pv];
    LLVMTypeRef pt[13] = {L->i32, L->i64, L->p8, L->p8, L->i32, L->i64, p, p, p, p, p, L->p8, L->p8};
    LLVMValueRef args[13] = {L->nt, n, win, window_const(L, plan_window(L->g, pool)),
                             ci32(L, pool->op == OP_MAXPOOL ? NNRT_MAXPOOL : NNRT_AVGPOOL),
                             ci(L, plan_pool_band(L->g, pool->in[0])), arg[1], arg[2], arg[0], arg[3], s, epi,
                             kept ? arg[4] : LLVMConstNull(L->p8)};
    call(L, declare(L, arena_printf("nnrt_conv2d_pool_%s", t), L->v, pt, 13), args, 13);
    return;
  }
  if (v->op == OP_CONV2D || v->op == OP_CONV2DBX || v->op == OP_CONV2DBW) { /* arg[3]: a kept slot */
    const char *fn = kept ? "conv2d_kept" : v->op == OP_CONV2D ? "conv2d" : v->op == OP_CONV2DBX ? "conv2d_bx"
                                                                                                 : "conv2d_bw";
    LLVMTypeRef pt[9] = {L->i32, L->i64, L->p8, p, p, p, p, L->p8, L->p8};
    LLVMValueRef args[9] = {L->nt, n, win, arg[1], arg[2], arg[0], s, epi, kept ? arg[3] : NULL};
    call(L, declare(L, arena_printf("nnrt_%s_%s", fn, t), L->v, pt, 8 + kept), args, 8 + kept);
    return;
  }
  int op = v->op == OP_MAXPOOL    ? NNRT_MAXPOOL
           : v->op == OP_AVGPOOL  ? NNRT_AVGPOOL
           : v->op == OP_MAXPOOLB ? NNRT_MAXPOOL_B
                                  : NNRT_AVGPOOL_B;
  LLVMTypeRef pt[7] = {L->i32, L->i64, L->i32, L->p8, p, p, p};
  LLVMValueRef args[7] = {L->nt, n, ci32(L, op), win, arg[1], v->nin > 1 ? arg[2] : LLVMConstNull(p), arg[0]};
  call(L, declare(L, arena_printf("nnrt_pool_%s", t), L->v, pt, 7), args, 7);
}
