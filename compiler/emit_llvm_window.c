/* emit_llvm_window.c — the LLVM backend's convolutions and pooling: a
 * call of the runtime's kernel (runtime/nnrt.h) with the window's
 * geometry as a constant, as the C backend's k_conv and k_pool write it.
 * A float convolution also takes its kept slot (plan_kept_slot), which
 * kernel_ptrs (emit_llvm.c) passes after the operands.
 *
 * Requires: the LLVM section of nnc.h; the builder in the kernel's
 * function. Guarantees: one call, the builder after it. */
#include "nnc.h"
#include "nnrt.h"

/* Convolutions and pooling: a call of the runtime's with the geometry as
 * a constant (NnrtWindow: int64 fields only). */
void llvm_window(Lv *L, const Value *v, LLVMValueRef *arg, LLVMValueRef s) {
  NnrtWindow w = plan_window(L->g, v);
  int64_t f[16] = {w.h,  w.w,  w.c,  w.oh, w.ow, w.f,  w.kh,     w.kw,
                   w.sh, w.sw, w.ph, w.pw, w.dh, w.dw, w.groups, w.chunk};
  LLVMValueRef c[16];
  for (int i = 0; i < 16; i++) c[i] = ci(L, f[i]);
  LLVMValueRef init = LLVMConstArray(L->i64, c, 16);
  LLVMValueRef gv = LLVMAddGlobal(L->mod, LLVMTypeOf(init), "window");
  LLVMSetInitializer(gv, init);
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetLinkage(gv, LLVMPrivateLinkage);
  LLVMValueRef win = LLVMConstPointerCast(gv, L->p8);
  LLVMTypeRef p = ptr_to(ty(L, v->dtype));
  const char *t = v->dtype == DT_F64 ? "f64" : "f32";
  /* the batch: the image's first axis */
  Shape xs = v->op == OP_CONV2DBX || v->op == OP_AVGPOOLB ? v->shape : L->g->v[v->in[0]].shape;
  LLVMValueRef n = dim_v(L, xs.dim[0]);
  if (v->op == OP_CONV2D || v->op == OP_CONV2DBX || v->op == OP_CONV2DBW) {
    bool kept = plan_takes_kept(L->g, v); /* arg[3]: its kept slot (kernel_ptrs) */
    const char *fn = kept ? "conv2d_kept" : v->op == OP_CONV2D ? "conv2d" : v->op == OP_CONV2DBX ? "conv2d_bx"
                                                                                                 : "conv2d_bw";
    LLVMTypeRef pt[9] = {L->i32, L->i64, L->p8, p, p, p, p, L->p8, L->p8};
    LLVMValueRef args[9] = {L->nt, n, win, arg[1], arg[2], arg[0], s, L->epi ? L->epi : LLVMConstNull(L->p8),
                            kept ? arg[3] : NULL};
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
