/* emit_llvm_loops.c — the LLVM backend's generated loops: how they are
 * opened and closed (counted loops, nests over a shape, ifs, variables in
 * the entry block), their shape where it decides how fast they run, and
 * the window constants and the fused convolution-and-pooling call of its
 * kernels; and the lanes of a float softmax row.
 *
 * An epilogue (NAME_epiK) is called by the product for a block of rows
 * [r0, r1) and columns [c0, c1) of a row length the loops read from the
 * context. In practice the block is whole rows (c0 = 0, c1 = the row
 * length: every block when a row fits the product's column block, and
 * the small product's single call), and the row length is a constant of
 * the shape. Told only the run-time bounds, LLVM vectorizes the inner
 * loop for the widest vectors twice interleaved (16 floats with AVX2, 32
 * with AVX-512) and a row of 10 never enters that body: the whole
 * epilogue runs scalar, where GCC's loop of the C backend runs 8 at a
 * time and 2 after. So whole rows of a constant length get the loops
 * again, inlined, with that length as the trip count (vectorized for it,
 * or unrolled), and any other block the general loops. Same arithmetic,
 * same order per element: the same bits.
 *
 * Requires: the LLVM section of nnc.h; the builder at the end of the
 * entry function, `loops` internal and defined. Guarantees: both calls
 * return to the caller's block, which is left for it to finish. */
#include "nnc.h"
#include "nnrt.h"

#include <llvm-c/DebugInfo.h>

/* Calls loops(r0, r1, c0, c1, cols, pointers...) (args, n of them) from
 * the function being built; with a row length `width` known (not the
 * batch), whole rows through a copy with constants. */
void llvm_call_rows(Lv *L, LLVMValueRef loops, LLVMValueRef *args, unsigned n, int64_t width) {
  if (width == DIM_BATCH) {
    call(L, loops, args, n);
    return;
  }
  unsigned always = LLVMGetEnumAttributeKindForName("alwaysinline", 12);
  LLVMAddAttributeAtIndex(loops, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(L->cx, always, 0));
  LLVMValueRef f = LLVMGetBasicBlockParent(LLVMGetInsertBlock(L->b));
  LLVMBasicBlockRef rows = LLVMAppendBasicBlockInContext(L->cx, f, "rows"),
                    part = LLVMAppendBasicBlockInContext(L->cx, f, "part"),
                    done = LLVMAppendBasicBlockInContext(L->cx, f, "done");
  LLVMValueRef whole = LLVMBuildAnd(L->b, LLVMBuildICmp(L->b, LLVMIntEQ, args[2], ci(L, 0), ""),
                                    LLVMBuildICmp(L->b, LLVMIntEQ, args[3], ci(L, width), ""), "");
  LLVMBuildCondBr(L->b, whole, rows, part);
  LLVMPositionBuilderAtEnd(L->b, rows);
  LLVMValueRef saved[3] = {args[2], args[3], args[4]};
  args[2] = ci(L, 0), args[3] = args[4] = ci(L, width);
  call(L, loops, args, n);
  args[2] = saved[0], args[3] = saved[1], args[4] = saved[2];
  LLVMBuildBr(L->b, done);
  LLVMPositionBuilderAtEnd(L->b, part);
  call(L, loops, args, n);
  LLVMBuildBr(L->b, done);
  LLVMPositionBuilderAtEnd(L->b, done);
}

/* !llvm.loop !{self, !{"llvm.loop.vectorize.enable", i1 false}} on the
 * back edge br. Once a row of a constant length is unrolled whole, its
 * rows' loop is the innermost and LLVM vectorizes it across rows, the
 * row length apart: with AVX-512 through vgatherqps and vscatterqps,
 * which AMD's Zen runs slowly. Kept scalar, the unrolled row goes to the
 * SLP vectorizer (8 then 2 for a row of 10, GCC's way). */
void llvm_loop_scalar(Lv *L, LLVMValueRef br) {
  LLVMMetadataRef self = LLVMTemporaryMDNode(L->cx, NULL, 0);
  LLVMMetadataRef off[2] = {LLVMMDStringInContext2(L->cx, "llvm.loop.vectorize.enable", 26),
                            LLVMValueAsMetadata(LLVMConstInt(L->i1, 0, false))};
  LLVMMetadataRef ops[2] = {self, LLVMMDNodeInContext2(L->cx, off, 2)};
  LLVMMetadataRef id = LLVMMDNodeInContext2(L->cx, ops, 2);
  LLVMMetadataReplaceAllUsesWith(self, id);
  LLVMSetMetadata(br, LLVMGetMDKindIDInContext(L->cx, "llvm.loop", 9), LLVMMetadataAsValue(L->cx, id));
}

/* A variable in the entry block (so that mem2reg makes it a register). */
LLVMValueRef local(Lv *L, LLVMTypeRef t, const char *name) {
  LLVMBuilderRef b = LLVMCreateBuilderInContext(L->cx);
  LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(L->fn);
  LLVMValueRef first = LLVMGetFirstInstruction(entry);
  if (first)
    LLVMPositionBuilderBefore(b, first);
  else
    LLVMPositionBuilderAtEnd(b, entry);
  LLVMValueRef v = LLVMBuildAlloca(b, t, name);
  LLVMDisposeBuilder(b);
  return v;
}

/* for (i = from; i < to; i++) { ... } (nnc.h) */
LLVMValueRef loop_open(Lv *L, Loop *lp, LLVMValueRef from, LLVMValueRef to) {
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(L->b);
  lp->head = LLVMAppendBasicBlockInContext(L->cx, L->fn, "loop");
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(L->cx, L->fn, "body");
  lp->exit = LLVMAppendBasicBlockInContext(L->cx, L->fn, "done");
  LLVMBuildBr(L->b, lp->head);
  LLVMPositionBuilderAtEnd(L->b, lp->head);
  lp->i = LLVMBuildPhi(L->b, L->i64, "i");
  LLVMAddIncoming(lp->i, &from, &pre, 1);
  bool one = LLVMIsAConstantInt(from) && LLVMIsAConstantInt(to) &&
             LLVMConstIntGetSExtValue(to) - LLVMConstIntGetSExtValue(from) <= 1;
  lp->loops = L->loops += !one;
  LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, lp->i, to, ""), body, lp->exit);
  LLVMPositionBuilderAtEnd(L->b, body);
  return lp->i;
}

void loop_close(Lv *L, Loop *lp) {
  LLVMValueRef next = LLVMBuildNSWAdd(L->b, lp->i, ci(L, 1), "");
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(L->b);
  LLVMValueRef br = LLVMBuildBr(L->b, lp->head);
  if (L->loops != lp->loops) llvm_loop_scalar(L, br);
  LLVMAddIncoming(lp->i, &next, &latch, 1);
  LLVMPositionBuilderAtEnd(L->b, lp->exit);
}

LLVMBasicBlockRef if_open(Lv *L, LLVMValueRef cond) {
  LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(L->cx, L->fn, "then");
  LLVMBasicBlockRef merge = LLVMAppendBasicBlockInContext(L->cx, L->fn, "endif");
  LLVMBuildCondBr(L->b, cond, then, merge);
  LLVMPositionBuilderAtEnd(L->b, then);
  return merge;
}

void if_close(Lv *L, LLVMBasicBlockRef merge) {
  LLVMBuildBr(L->b, merge);
  LLVMPositionBuilderAtEnd(L->b, merge);
}

void loops_open(Lv *L, Loop *lp, Shape s, LLVMValueRef *idx, LLVMValueRef lo, LLVMValueRef hi) {
  for (int d = 0; d < s.rank; d++)
    idx[d] = loop_open(L, &lp[d], d == 0 && lo ? lo : ci(L, 0), d == 0 && hi ? hi : dim_v(L, s.dim[d]));
}

void loops_close(Lv *L, Loop *lp, int rank) {
  for (int d = rank - 1; d >= 0; d--) loop_close(L, &lp[d]);
}

/* Integer arithmetic and element access for the loops below. */
static LLVMValueRef iadd(Lv *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWAdd(L->b, a, b, ""); }
static LLVMValueRef isub(Lv *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWSub(L->b, a, b, ""); }
static LLVMValueRef imul(Lv *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWMul(L->b, a, b, ""); }
static LLVMValueRef ilt(Lv *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(L->b, LLVMIntSLT, a, b, ""); }
static LLVMValueRef ld(Lv *L, LLVMTypeRef t, LLVMValueRef base, LLVMValueRef i) {
  return LLVMBuildLoad2(L->b, t, LLVMBuildInBoundsGEP2(L->b, t, base, &i, 1, ""), "");
}
static void st(Lv *L, LLVMTypeRef t, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i) {
  LLVMBuildStore(L->b, v, LLVMBuildInBoundsGEP2(L->b, t, base, &i, 1, ""));
}

/* f32 softmax and log-softmax of row (len elements, inner apart) into
 * yr, as the C backend's k_axis: the maximum in 8 lanes (element j in
 * lane j % 8) joined in order, the exponentials in float, their sum in 8
 * double lanes joined as a tree, then each element divided or shifted. */
void llvm_softmax_f32(Lv *L, const Value *v, LLVMValueRef row, LLVMValueRef yr, LLVMValueRef len,
                      LLVMValueRef inner) {
  LLVMValueRef mv[8], sv[8], m = NULL, j8 = LLVMBuildAnd(L->b, len, ci(L, ~(int64_t)7), "");
  for (int l = 0; l < 8; l++) {
    mv[l] = local(L, L->f32, "mv"), sv[l] = local(L, L->f64, "sv");
    LLVMBuildStore(L->b, LLVMConstReal(L->f32, -INFINITY), mv[l]);
    LLVMBuildStore(L->b, cf(L, 0), sv[l]);
  }
  for (int pass = 0; pass < 2; pass++) { /* the maximum, then (after the exponentials) the sum */
    LLVMValueRef *lane = pass ? sv : mv, src = pass ? yr : row;
    for (int tail = 0; tail < 2; tail++) { /* blocks of 8, then the rest in lanes 0.. */
      Loop lj;
      LLVMValueRef blocks = LLVMBuildSDiv(L->b, len, ci(L, 8), "");
      LLVMValueRef j = tail ? j8 : imul(L, loop_open(L, &lj, ci(L, 0), blocks), ci(L, 8));
      for (int l = 0; l < 8; l++) {
        LLVMBasicBlockRef merge = tail ? if_open(L, ilt(L, ci(L, l), isub(L, len, j8))) : NULL;
        LLVMValueRef e = ld(L, L->f32, src, imul(L, iadd(L, j, ci(L, l)), inner));
        LLVMValueRef cur = LLVMBuildLoad2(L->b, pass ? L->f64 : L->f32, lane[l], "");
        LLVMValueRef next = pass ? LLVMBuildFAdd(L->b, cur, LLVMBuildFPExt(L->b, e, L->f64, ""), "")
                                 : LLVMBuildSelect(L->b, LLVMBuildFCmp(L->b, LLVMRealOGT, e, cur, ""), e, cur, "");
        LLVMBuildStore(L->b, next, lane[l]);
        if (tail) if_close(L, merge);
      }
      if (!tail) loop_close(L, &lj);
    }
    if (pass) break;
    LLVMValueRef mf = LLVMBuildLoad2(L->b, L->f32, mv[0], "");
    for (int l = 1; l < 8; l++) {
      LLVMValueRef e = LLVMBuildLoad2(L->b, L->f32, mv[l], "");
      mf = LLVMBuildSelect(L->b, LLVMBuildFCmp(L->b, LLVMRealOGT, e, mf, ""), e, mf, "");
    }
    m = LLVMBuildFPExt(L->b, mf, L->f64, "");
    Loop lj;
    LLVMValueRef j = loop_open(L, &lj, ci(L, 0), len);
    LLVMValueRef x = LLVMBuildFPExt(L->b, ld(L, L->f32, row, imul(L, j, inner)), L->f64, "");
    LLVMValueRef z = LLVMBuildFSub(L->b, x, m, "");
    st(L, L->f32, math(L, "nnrt_expf", LLVMBuildFPTrunc(L->b, z, L->f32, ""), NULL), yr, imul(L, j, inner));
    loop_close(L, &lj);
  }
  LLVMValueRef t[8];
  for (int l = 0; l < 8; l++) t[l] = LLVMBuildLoad2(L->b, L->f64, sv[l], "");
  for (int w = 1; w < 8; w *= 2)
    for (int l = 0; l < 8; l += 2 * w) t[l] = LLVMBuildFAdd(L->b, t[l], t[l + w], "");
  LLVMValueRef total = t[0], ls = v->op == OP_SOFTMAX ? NULL : math(L, "log", total, NULL);
  Loop lj;
  LLVMValueRef j = loop_open(L, &lj, ci(L, 0), len), at_j = imul(L, j, inner);
  LLVMValueRef r;
  if (v->op == OP_SOFTMAX) {
    r = LLVMBuildFDiv(L->b, LLVMBuildFPExt(L->b, ld(L, L->f32, yr, at_j), L->f64, ""), total, "");
  } else {
    LLVMValueRef x = LLVMBuildFPExt(L->b, ld(L, L->f32, row, at_j), L->f64, "");
    r = LLVMBuildFSub(L->b, LLVMBuildFSub(L->b, x, m, ""), ls, "");
  }
  st(L, L->f32, LLVMBuildFPTrunc(L->b, r, L->f32, ""), yr, at_j);
  loop_close(L, &lj);
}
