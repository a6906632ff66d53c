/* emit_llvm_loops.c — the shape of the LLVM backend's generated loops
 * where it decides how fast they run, and the window constants and the
 * fused convolution-and-pooling call of its kernels.
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
