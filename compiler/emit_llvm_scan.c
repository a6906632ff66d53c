/* emit_llvm_scan.c — a scan (the IR's loop) in the LLVM backend: the
 * call of the runtime's loop (nnrt_scan) with the scan's descriptor as a
 * constant, its results and operands, and its scratch; the body is a
 * graph of its own (llvm_graph, under the graph's name + "_bI"), whose
 * run function the runtime calls once a step.
 *
 * Requires: the LLVM section of nnc.h, Lv's body_run and body_arena made
 * for each body (llvm_graph). Guarantees: the same calls as the C
 * backend's scan_call (emit_c.c), so the same bits. */
#include "nnc.h"
#include "nnrt.h"

/* The scan's descriptor (plan_scan_desc) as a private constant. */
static LLVMValueRef scan_desc(Lv *L, int id) {
  const Value *v = &L->g->v[id];
  int64_t d[PLAN_SCAN_WORDS];
  int w = plan_scan_desc(L->p, L->g, v, d);
  const char *name = arena_printf("%s_s%d", L->name, id);
  LLVMValueRef gv = LLVMGetNamedGlobal(L->mod, name);
  if (!gv) {
    LLVMValueRef *words = arena_alloc(sizeof(LLVMValueRef) * (size_t)w);
    for (int i = 0; i < w; i++) words[i] = ci(L, d[i]);
    LLVMValueRef init = LLVMConstArray(L->i64, words, (unsigned)w);
    gv = LLVMAddGlobal(L->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
  }
  return LLVMBuildBitCast(L->b, gv, L->p64, "");
}

LLVMValueRef llvm_scan_scratch(Lv *L, int id) {
  LLVMTypeRef st[2] = {L->p64, L->i64};
  LLVMValueRef sa[2] = {scan_desc(L, id), L->n}, aa[2] = {L->n, L->nt};
  LLVMValueRef own = call(L, declare(L, "nnrt_scan_scratch", L->i64, st, 2), sa, 2);
  return LLVMBuildAdd(L->b, own, call(L, L->body_arena[L->g->v[id].a[0]], aa, 2), "");
}

/* An array of pointers on the stack, filled with ptrs. */
static LLVMValueRef pointers(Lv *L, LLVMValueRef *ptrs, int n) {
  LLVMValueRef a = LLVMBuildArrayAlloca(L->b, L->p8, ci(L, n), "");
  for (int i = 0; i < n; i++) {
    LLVMValueRef at = LLVMBuildGEP2(L->b, L->p8, a, (LLVMValueRef[]){ci(L, i)}, 1, "");
    LLVMBuildStore(L->b, ptrs[i] ? LLVMBuildBitCast(L->b, ptrs[i], L->p8, "") : LLVMConstNull(L->p8), at);
  }
  return a;
}

void llvm_scan_call(Lv *L, int id, LLVMValueRef *res, LLVMValueRef *ops, LLVMValueRef m, LLVMValueRef scratch) {
  const Value *v = &L->g->v[id];
  LLVMValueRef run = L->body_run[v->a[0]];
  LLVMTypeRef ft[7] = {L->p64, L->p8, L->i64, L->pp8, L->pp8, L->p8, LLVMTypeOf(run)};
  LLVMValueRef args[7] = {scan_desc(L, id), m, L->n, pointers(L, res, ir_scan_results(L->g, v)),
                          pointers(L, ops, v->nin), scratch, run};
  call(L, declare(L, "nnrt_scan", L->v, ft, 7), args, 7);
}
