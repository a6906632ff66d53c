/* emit_llvm_isa.c — the LLVM backend's code for any x86-64 that still runs
 * AVX2 or AVX-512 where the processor has it. In a module built for the
 * x86-64 baseline (the default: no --cpu; llvm_begin sets o->levels) each
 * graph's kernels, epilogues and run function are built once for every
 * level of isa_levels (compiler/emit_c.c), each function of a copy with
 * that level's "target-features", and once for the module's own
 * processor; NAME_run calls the copy of the level nnrt_isa() (the
 * runtime's choice, which NNRT_ISA narrows) returns. The runtime's
 * functions inlined into a copy's kernels at -O3 (the small product, the
 * convolutions, the pooling) are compiled with that copy's features;
 * nothing else in the library uses more than the baseline, so it loads
 * and runs on any x86-64. The copies compute the same bits: nothing is
 * contracted into FMAs (the IR asks for none) or reassociated.
 */
#include <stdio.h>
#include <string.h>
#include "nnc.h"

#ifdef NNC_HAVE_LLVM
/* isa_levels[i]'s "target-features" on the functions defined so far whose
 * names begin with prefix. clang's target("avx2,fma") also turns on what
 * its front end implies with AVX and SSE 4.2 (xsave, popcnt, crc32), which
 * LLVM's own feature implications leave out: without them a runtime
 * function compiled so (the small product) is not inline-compatible with
 * the copy and stays out of line, its sizes unknown (the seed MLP's step
 * twice as long). Every processor of these levels has them (AVX's test
 * asks the operating system through XGETBV, which XSAVE provides). */
static void level_features(LlvmOut *o, int i, const char *prefix) {
  char features[256] = "+xsave,+popcnt,+crc32";
  for (const char *f = isa_levels[i].features; *f;) { /* "avx2,fma" -> "+avx2,+fma" */
    size_t len = strcspn(f, ",");
    snprintf(features + strlen(features), sizeof features - strlen(features), ",+%.*s", (int)len, f);
    f += len + (f[len] == ',');
  }
  for (LLVMValueRef f = LLVMGetFirstFunction(o->mod); f; f = LLVMGetNextFunction(f)) {
    size_t len;
    if (!LLVMIsDeclaration(f) && !strncmp(LLVMGetValueName2(f, &len), prefix, strlen(prefix)))
      LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                              LLVMCreateStringAttribute(o->cx, "target-features", 15, features,
                                                        (unsigned)strlen(features)));
  }
}

void llvm_graph_levels(LlvmOut *o, Graph *g, Plan *p, const char *model, const char *suffix, int only_level,
                       LLVMValueRef *run, LLVMValueRef *arena_fn) {
  const char *name = arena_printf("%s_%s", model, suffix);
  if (!o->levels || only_level) { /* one copy: the module's processor's, or (Built.only_level) a level's */
    int one = o->levels && only_level <= NISA_LEVELS ? only_level - 1 : -1;
    o->level = one >= 0 && o->runtime_in ? isa_levels[one].name : NULL;
    llvm_graph(o, g, p, name, o->export_runs, run, arena_fn);
    o->level = NULL;
    if (one >= 0) level_features(o, one, arena_printf("%s_", name));
    return;
  }
  LLVMValueRef copy[NISA_LEVELS + 1], unused;
  for (int i = 0; i < NISA_LEVELS; i++) {
    o->level = o->runtime_in ? isa_levels[i].name : NULL;
    llvm_graph(o, g, p, arena_printf("%s_%s", name, isa_levels[i].name), false, &copy[i], &unused);
    o->level = NULL;
    level_features(o, i, arena_printf("%s_%s_", name, isa_levels[i].name));
  }
  llvm_graph(o, g, p, name, false, &copy[NISA_LEVELS], arena_fn);
  const char *generic = arena_printf("%s_run_generic", name);
  LLVMSetValueName2(copy[NISA_LEVELS], generic, strlen(generic));
  /* NAME_run(m, n, inputs, labels): switch (nnrt_isa()) to the copy */
  Lv L = lv_new(o);
  LLVMTypeRef pt[4] = {L.p8, L.i64, L.pp8, L.pp8};
  LLVMValueRef f = function(&L, arena_printf("%s_run", name), L.v, pt, 4, !o->export_runs);
  LLVMValueRef isa = call(&L, declare(&L, "nnrt_isa", L.i32, NULL, 0), NULL, 0), args[4];
  for (unsigned a = 0; a < 4; a++) args[a] = LLVMGetParam(f, a);
  LLVMBasicBlockRef block[NISA_LEVELS + 1];
  for (int i = 0; i <= NISA_LEVELS; i++) block[i] = LLVMAppendBasicBlockInContext(L.cx, f, "");
  LLVMValueRef sw = LLVMBuildSwitch(L.b, isa, block[NISA_LEVELS], NISA_LEVELS);
  for (int i = 0; i <= NISA_LEVELS; i++) {
    if (i < NISA_LEVELS) LLVMAddCase(sw, ci32(&L, isa_levels[i].isa), block[i]);
    LLVMPositionBuilderAtEnd(L.b, block[i]);
    call(&L, copy[i], args, 4);
    LLVMBuildRetVoid(L.b);
  }
  LLVMDisposeBuilder(L.b);
  *run = f;
}
#endif
