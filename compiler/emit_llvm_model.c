/* emit_llvm_model.c — the LLVM backend's model and module: a model's
 * constant tables (NnrtTensorInfo, NnModelDesc, NnrtModelDef) laid out as
 * the runtime's C compiler lays them out, its exported API as one call
 * each into the runtime's nnrt_model_*, and the module's life: target
 * machine, verification, the runtime's bitcode linked in at -O3, the
 * optimizer, the output file and the shared library by the system linker.
 * The kernels and run functions of each graph come from emit_llvm.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Linker.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <llvm/Config/llvm-config.h>
#include "nnc.h"
#include "nnrt.h"

#ifndef NNC_RUNTIME_DIRS
#define NNC_RUNTIME_DIRS "."
#endif

/* A file of the runtime, found from where this nnc is, so that a build
 * tree and an installed prefix (moved anywhere) both work: `rel` lists
 * folders relative to nnc's own folder, ':'-separated, NNC_RUNTIME_DIRS
 * (the installed layout's, then the build tree's). NULL when none has it. */
static const char *runtime_file(const char *name) {
  static char exe[4096];
  if (!exe[0]) {
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0 || k >= (ssize_t)sizeof exe - 1) return NULL;
    exe[k] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) slash[1] = 0;
  }
  char *dirs = arena_printf("%s", NNC_RUNTIME_DIRS);
  for (char *d = strtok(dirs, ":"); d; d = strtok(NULL, ":")) {
    char *path = arena_printf("%s%s/%s", exe, d, name);
    if (access(path, R_OK) == 0) return path;
  }
  return NULL;
}

/* ------------------------------------------------------ a model's tables */

/* A builder over the module's context, with its types. */
Lv lv_new(LlvmOut *o) {
  Lv L = {.cx = o->cx, .mod = o->mod, .b = LLVMCreateBuilderInContext(o->cx), .level = o->level, .cold = o->cold};
  L.v = LLVMVoidTypeInContext(o->cx);
  L.i1 = LLVMInt1TypeInContext(o->cx);
  L.i8 = LLVMInt8TypeInContext(o->cx);
  L.i32 = LLVMInt32TypeInContext(o->cx);
  L.i64 = LLVMInt64TypeInContext(o->cx);
  L.f32 = LLVMFloatTypeInContext(o->cx);
  L.f64 = LLVMDoubleTypeInContext(o->cx);
  L.p8 = LLVMPointerType(L.i8, 0);
  L.pp8 = LLVMPointerType(L.p8, 0);
  L.p64 = LLVMPointerType(L.i64, 0);
  return L;
}

static LLVMValueRef cstr(Lv *L, const char *s) {
  LLVMValueRef init = LLVMConstStringInContext(L->cx, s, (unsigned)strlen(s), 0);
  LLVMValueRef gv = LLVMAddGlobal(L->mod, LLVMTypeOf(init), ".str");
  LLVMSetInitializer(gv, init);
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetLinkage(gv, LLVMPrivateLinkage);
  LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
  return LLVMConstPointerCast(gv, L->p8);
}

/* The runtime's layout of a struct this backend lays out field by field
 * (t, n fields): its size and each field's offset must be what the C
 * compiler gives the runtime's type (size, at[]); a drift is a bug. The
 * check needs a target that lays data out as this machine does (pointers
 * of its size); another target's runtime is built from the same header.
 * tests/cli/layouts.sh reads each table back through the runtime's types. */
static void check_layout(Lv *L, LLVMTypeRef t, const char *what, size_t size, const size_t *at, unsigned n) {
  LLVMTargetDataRef td = LLVMGetModuleDataLayout(L->mod);
  if (LLVMPointerSize(td) != sizeof(void *)) return;
  if (LLVMCountStructElementTypes(t) != n || LLVMABISizeOfType(td, t) != size)
    bug("the LLVM backend's %s does not match the runtime's", what);
  for (unsigned i = 0; i < n; i++)
    if (LLVMOffsetOfElement(td, t, i) != at[i]) bug("%s field %u moved", what, i);
}

/* The window geometry llvm_window (emit_llvm_window.c) builds as 17 int64 fields. */
_Static_assert(sizeof(NnrtWindow) == 17 * sizeof(int64_t) && offsetof(NnrtWindow, batch) == 16 * sizeof(int64_t),
               "NnrtWindow is no longer the 17 int64_t fields the LLVM backend builds");

/* A constant table as a private global; its address as i8 *. */
static LLVMValueRef table(Lv *L, const char *name, LLVMTypeRef t, LLVMValueRef *rows, int n) {
  LLVMValueRef init = n ? LLVMConstArray(t, rows, (unsigned)n) : LLVMConstNull(LLVMArrayType(t, 1));
  LLVMValueRef gv = LLVMAddGlobal(L->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(gv, init);
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetLinkage(gv, LLVMPrivateLinkage);
  return LLVMConstPointerCast(gv, L->p8);
}

static LLVMValueRef dims8(Lv *L, Shape s, bool batch_minus_one) {
  LLVMValueRef d[8];
  for (int i = 0; i < 8; i++)
    d[i] = ci(L, i < s.rank ? (batch_minus_one && s.dim[i] == DIM_BATCH ? -1 : s.dim[i]) : 0);
  return LLVMConstArray(L->i64, d, 8);
}

/* The tensors (NnrtTensorInfo): the parameters, then the states. */
static LLVMValueRef tensor_table(Lv *L, const char *model, const Graph *g) {
  int n = g->nparams + g->nstates;
  LLVMTypeRef ft[7] = {L->p8, L->i32, L->i32, LLVMArrayType(L->i64, 8), L->i32, LLVMArrayType(L->f64, 2), L->p8};
  LLVMTypeRef t = LLVMStructTypeInContext(L->cx, ft, 7, 0);
  static const size_t at[] = {offsetof(NnrtTensorInfo, name), offsetof(NnrtTensorInfo, elem_size),
                              offsetof(NnrtTensorInfo, rank), offsetof(NnrtTensorInfo, dims),
                              offsetof(NnrtTensorInfo, init), offsetof(NnrtTensorInfo, init_args),
                              offsetof(NnrtTensorInfo, data)};
  check_layout(L, t, "NnrtTensorInfo", sizeof(NnrtTensorInfo), at, sizeof at / sizeof *at);
  LLVMValueRef *rows = arena_alloc(sizeof(LLVMValueRef) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    ParamInfo *p = i < g->nparams ? g->params[i] : g->states[i - g->nparams];
    LLVMValueRef args[2] = {cf(L, p->init_args[0]), cf(L, p->init_args[1])};
    LLVMValueRef data = LLVMConstNull(L->p8);
    if (p->value) { /* built in (--weights): the bytes as one constant */
      size_t bytes = (size_t)param_elements(p) * (p->dtype == DT_F64 ? 8 : 4);
      LLVMValueRef s = LLVMConstStringInContext(L->cx, p->value, (unsigned)bytes, 1);
      LLVMValueRef gv = LLVMAddGlobal(L->mod, LLVMTypeOf(s), arena_printf("%s_value%d", model, i));
      LLVMSetInitializer(gv, s), LLVMSetGlobalConstant(gv, 1), LLVMSetLinkage(gv, LLVMPrivateLinkage);
      LLVMSetAlignment(gv, 64);
      data = LLVMConstBitCast(gv, L->p8);
    }
    LLVMValueRef f[7] = {
        cstr(L, p->name),          ci32(L, p->dtype == DT_F64 ? 8 : 4),    ci32(L, p->shape.rank),
        dims8(L, p->shape, false), ci32(L, nnrt_init_index(p->init_name)), LLVMConstArray(L->f64, args, 2), data};
    rows[i] = LLVMConstNamedStruct(t, f, 7);
  }
  return table(L, arena_printf("%s_tensors", model), t, rows, n);
}

/* The descriptor (NnModelDesc and its NnTensorDesc lists). */
static LLVMValueRef desc_list(Lv *L, const char *what, Graph *g, const int *ids, int n, ParamInfo **ps,
                              const char *const *names, const int8_t *batch_at) {
  LLVMTypeRef ft[4] = {L->p8, L->i32, L->i32, LLVMArrayType(L->i64, 8)};
  LLVMTypeRef t = LLVMStructTypeInContext(L->cx, ft, 4, 0);
  static const size_t at[] = {offsetof(NnTensorDesc, name), offsetof(NnTensorDesc, dtype),
                              offsetof(NnTensorDesc, rank), offsetof(NnTensorDesc, dims)};
  check_layout(L, t, "NnTensorDesc", sizeof(NnTensorDesc), at, sizeof at / sizeof *at);
  LLVMValueRef *rows = arena_alloc(sizeof(LLVMValueRef) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    DType dt = ps ? ps[i]->dtype : g->v[ids[i]].dtype;
    Shape sh = ps ? ps[i]->shape : caller_layout(g->v[ids[i]].shape, batch_at ? batch_at[i] : 0);
    LLVMValueRef f[4] = {cstr(L, ps ? ps[i]->name : names && names[i] ? names[i] : arena_printf("%s%d", what, i)),
                         ci32(L, dt == DT_F64   ? 1
                                 : dt == DT_I32 ? 2
                                                : 0),
                         ci32(L, sh.rank), dims8(L, sh, true)};
    rows[i] = LLVMConstNamedStruct(t, f, 4);
  }
  return table(L, "desc_list", t, rows, n);
}

/* gl: the graph whose labels a step takes (the training step's), or NULL;
 * gy: the layers graph, whose outputs are the layers, or NULL. */
static LLVMValueRef descriptor(Lv *L, const char *model, Graph *g, Graph *gl, Graph *gy) {
  int nl = gl ? gl->nlabels - (gl->nlabels && gl->label_rules[gl->nlabels - 1].kind == NNRT_LABEL_WEIGHTS) : 0;
  int ns = 0; /* the model's states: the optimizer's slots come after them */
  while (ns < g->nstates && !g->states[ns]->slot) ns++;
  LLVMValueRef f[15] = {cstr(L, model),
                       ci32(L, g->ninputs),
                       ci32(L, g->noutputs),
                       ci32(L, g->nparams),
                       desc_list(L, "input", g, g->inputs, g->ninputs, NULL, g->input_names, g->input_batch),
                       desc_list(L, "output", g, g->outputs, g->noutputs, NULL, g->output_names, g->output_batch),
                       desc_list(L, "param", g, NULL, g->nparams, g->params, NULL, NULL),
                       ci32(L, nl),
                       desc_list(L, "label", gl, gl ? gl->labels : NULL, nl, NULL, gl ? gl->output_names : NULL,
                                 gl ? gl->output_batch : NULL),
                       ci32(L, ns),
                       desc_list(L, "state", g, NULL, ns, g->states, NULL, NULL),
                       cstr(L, NNC_VERSION),
                       ci32(L, NN_MODEL_ABI),
                       ci32(L, gy ? gy->noutputs : 0),
                       desc_list(L, "layer", gy, gy ? gy->outputs : NULL, gy ? gy->noutputs : 0, NULL,
                                 gy ? gy->output_names : NULL, NULL)};
  LLVMValueRef init = LLVMConstStructInContext(L->cx, f, 15, 0);
  static const size_t at[] = {offsetof(NnModelDesc, name),    offsetof(NnModelDesc, ninputs),
                              offsetof(NnModelDesc, noutputs), offsetof(NnModelDesc, nparams),
                              offsetof(NnModelDesc, inputs),  offsetof(NnModelDesc, outputs),
                              offsetof(NnModelDesc, params),  offsetof(NnModelDesc, nlabels),
                              offsetof(NnModelDesc, labels),  offsetof(NnModelDesc, nstates),
                              offsetof(NnModelDesc, states),  offsetof(NnModelDesc, nnc_version),
                              offsetof(NnModelDesc, abi),     offsetof(NnModelDesc, nlayers),
                              offsetof(NnModelDesc, layers)};
  check_layout(L, LLVMTypeOf(init), "NnModelDesc", sizeof(NnModelDesc), at, sizeof at / sizeof *at);
  LLVMValueRef gv = LLVMAddGlobal(L->mod, LLVMTypeOf(init), arena_printf("%s_desc", model));
  LLVMSetInitializer(gv, init);
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetLinkage(gv, LLVMPrivateLinkage);
  return LLVMConstPointerCast(gv, L->p8);
}

/* The exported API (runtime/nnrt_api.h): each function one call of the
 * runtime's nnrt_model_* with the same arguments, the model's table first
 * where `def`; its types from the row's `sig`. */
static const struct {
  const char *name, *sig;
  bool def;
  int graph; /* the function exists when the model has this graph */
} api[] = {
#define NNRT_MODEL_FN(ret, name, params, args, def, graph, sig, doc) {#name, sig, def, graph},
#include "nnrt_api.h"
#undef NNRT_MODEL_FN
};

static LLVMTypeRef sig_type(Lv *L, char c) {
  return c == 'p' ? L->p8 : c == 'l' ? L->i64 : c == 'i' ? L->i32 : c == 'd' ? L->f64 : L->v;
}

static void wrappers(Lv *L, const char *model, LLVMValueRef def, Graph *const *gs) {
  for (size_t w = 0; w < sizeof api / sizeof *api; w++) {
    if (api[w].graph >= 0 && !gs[api[w].graph]) continue;
    const char *sig = api[w].sig;
    int n = (int)strlen(sig) - 1;
    LLVMTypeRef pt[8], rt[9];
    for (int i = 0; i < n; i++) pt[i] = sig_type(L, sig[i + 1]);
    int nr = 0;
    if (api[w].def) rt[nr++] = L->p8;
    for (int i = 0; i < n; i++) rt[nr++] = pt[i];
    LLVMValueRef target =
        declare(L, arena_printf("nnrt_model_%s", api[w].name), sig_type(L, sig[0]), rt, (unsigned)nr);
    LLVMValueRef f =
        function(L, arena_printf("%s_%s", model, api[w].name), sig_type(L, sig[0]), pt, (unsigned)n, false);
    LLVMValueRef args[9];
    nr = 0;
    if (api[w].def) args[nr++] = def;
    for (int i = 0; i < n; i++) args[nr++] = LLVMGetParam(f, (unsigned)i);
    LLVMValueRef r = call(L, target, args, (unsigned)nr);
    if (sig[0] == 'v')
      LLVMBuildRetVoid(L->b);
    else
      LLVMBuildRet(L->b, r);
  }
  function(L, arena_printf("%s_describe", model), L->p8, NULL, 0, false);
  LLVMBuildRet(L->b, LLVMConstPointerCast(LLVMGetNamedGlobal(L->mod, arena_printf("%s_desc", model)), L->p8));
}

/* The train block's class_weight as a constant array, or a null pointer. */
static LLVMValueRef class_weights(Lv *L, const char *model, const TrainInfo *t) {
  if (!t || !t->class_weight) return LLVMConstNull(L->p8);
  LLVMValueRef *w = arena_alloc(sizeof(LLVMValueRef) * (size_t)t->nclass_weight);
  for (int64_t i = 0; i < t->nclass_weight; i++) w[i] = cf(L, t->class_weight[i]);
  LLVMValueRef init = LLVMConstArray(L->f64, w, (unsigned)t->nclass_weight);
  LLVMValueRef gv = LLVMAddGlobal(L->mod, LLVMTypeOf(init), arena_printf("%s_class_weights", model));
  LLVMSetInitializer(gv, init);
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetLinkage(gv, LLVMPrivateLinkage);
  return LLVMConstPointerCast(gv, L->p8);
}

void llvm_model(LlvmOut *o, const Built *b) {
  const char *model = b->name;
  Graph *const *gs = b->g, *infer = b->g[GRAPH_INFER];
  Graph *g = built_main_graph(b);
  static const char *suffix[NGRAPHS] = {"train", "eval", "infer", "step", "attr", "layers"};
  LLVMValueRef run[NGRAPHS], arenas[NGRAPHS];
  Lv L = lv_new(o);
  int64_t kept = plan_kept(b); /* the forward graphs' kept slots, before their code */
  for (int k = 0; k < NGRAPHS; k++) {
    run[k] = arenas[k] = LLVMConstNull(L.p8);
    if (gs[k]) {
      o->cold = k >= GRAPH_ATTR;
      llvm_graph_levels(o, gs[k], b->plan[k], model, suffix[k], graph_levels(b, k), &run[k], &arenas[k]);
      run[k] = LLVMConstPointerCast(run[k], L.p8);
      arenas[k] = LLVMConstPointerCast(arenas[k], L.p8);
    }
  }
  /* the table (NnrtModelDef) */
  ModelChecks c = model_checks(gs);
  const int64_t *gen = c.gen;
  LLVMValueRef vocab[16], lab[6][16], states[15];
  for (int i = 0; i < 15; i++) states[i] = ci(&L, c.gen_state_bytes[i]);
  for (int i = 0; i < 16; i++) {
    vocab[i] = ci(&L, c.vocab[i]);
    lab[0][i] = ci32(&L, c.label_kind[i]), lab[1][i] = ci32(&L, c.label_dtype[i]);
    lab[2][i] = ci32(&L, c.label_has_ignore[i]), lab[3][i] = ci(&L, c.label_size[i]);
    lab[4][i] = ci(&L, c.label_classes[i]), lab[5][i] = ci(&L, c.label_ignore[i]);
  }
  LLVMValueRef f[] = {cstr(&L, model),
                      ci32(&L, g->nparams),
                      ci32(&L, g->nstates),
                      tensor_table(&L, model, g),
                      cf(&L, g->base_lr),
                      LLVMConstArray(L.p8, run, NGRAPHS),
                      LLVMConstArray(L.p8, arenas, NGRAPHS),
                      descriptor(&L, model, infer ? infer : g, gs[GRAPH_TRAIN] ? gs[GRAPH_TRAIN] : gs[GRAPH_EVAL], gs[GRAPH_LAYERS]),
                      ci(&L, gen[0]),
                      ci(&L, gen[1]),
                      ci32(&L, gen[2]),
                      ci32(&L, gen[3]),
                      ci32(&L, c.gen_nstates),
                      LLVMConstArray(L.i64, states, 15),
                      ci32(&L, c.nslots),
                      ci32(&L, c.nlabels),
                      LLVMConstArray(L.i32, lab[0], 16),
                      LLVMConstArray(L.i32, lab[1], 16),
                      LLVMConstArray(L.i32, lab[2], 16),
                      ci(&L, c.max_batch),
                      LLVMConstArray(L.i64, lab[3], 16),
                      LLVMConstArray(L.i64, lab[4], 16),
                      LLVMConstArray(L.i64, lab[5], 16),
                      LLVMConstArray(L.i64, vocab, 16),
                      ci(&L, b->train && b->train->class_weight ? b->train->nclass_weight : 0),
                      class_weights(&L, model, b->train),
                      ci32(&L, c.sample_split),
                      ci(&L, c.sample_work),
                      ci(&L, kept)};
  static const size_t at[] = {
      offsetof(NnrtModelDef, name),          offsetof(NnrtModelDef, nparams),
      offsetof(NnrtModelDef, nstates),       offsetof(NnrtModelDef, tensors),
      offsetof(NnrtModelDef, base_lr),       offsetof(NnrtModelDef, run),
      offsetof(NnrtModelDef, arena),         offsetof(NnrtModelDef, desc),
      offsetof(NnrtModelDef, gen_steps),     offsetof(NnrtModelDef, gen_classes),
      offsetof(NnrtModelDef, gen_probabilities), offsetof(NnrtModelDef, gen_dtype),
      offsetof(NnrtModelDef, gen_nstates),   offsetof(NnrtModelDef, gen_state_bytes),
      offsetof(NnrtModelDef, nslots),        offsetof(NnrtModelDef, nlabels),
      offsetof(NnrtModelDef, label_kind),
      offsetof(NnrtModelDef, label_dtype),   offsetof(NnrtModelDef, label_has_ignore),
      offsetof(NnrtModelDef, max_batch),     offsetof(NnrtModelDef, label_size),
      offsetof(NnrtModelDef, label_classes), offsetof(NnrtModelDef, label_ignore),
      offsetof(NnrtModelDef, vocab),         offsetof(NnrtModelDef, nclass_weights),
      offsetof(NnrtModelDef, class_weights), offsetof(NnrtModelDef, sample_split),
      offsetof(NnrtModelDef, sample_work), offsetof(NnrtModelDef, kept_bytes)};
  LLVMValueRef init = LLVMConstStructInContext(L.cx, f, sizeof f / sizeof *f, 0);
  if (sizeof at / sizeof *at != sizeof f / sizeof *f) bug("the LLVM backend's NnrtModelDef has other fields");
  check_layout(&L, LLVMTypeOf(init), "NnrtModelDef", sizeof(NnrtModelDef), at, sizeof at / sizeof *at);
  LLVMValueRef def = LLVMAddGlobal(L.mod, LLVMTypeOf(init), arena_printf("%s_def", model));
  LLVMSetInitializer(def, init);
  LLVMSetGlobalConstant(def, 1);
  LLVMSetLinkage(def, LLVMPrivateLinkage);
  wrappers(&L, model, LLVMConstPointerCast(def, L.p8), gs);
  LLVMDisposeBuilder(L.b);
}

/* ----------------------------------------------------------- a module */

const char *llvm_version(void) { return LLVM_VERSION_STRING; }

LlvmOut *llvm_begin(const char *source, const char *triple, const char *cpu, int opt, bool export_runs) {
  /* A loop with a constant trip count under 16 is vectorized by default
   * only with its last part masked: the rows of a small product, which
   * the next step reads back, then come from masked stores that loads
   * cannot forward from (about twenty cycles each on x86); from 4 up a
   * scalar remainder is allowed, as GCC does. */
  static bool parsed;
  if (!parsed) {
    const char *args[] = {"nnc", "-vectorizer-min-trip-count=4"};
    LLVMParseCommandLineOptions(2, args, NULL);
    parsed = true;
  }
  LLVMInitializeAllTargetInfos();
  LLVMInitializeAllTargets();
  LLVMInitializeAllTargetMCs();
  LLVMInitializeAllAsmPrinters();
  char *lhost = LLVMGetDefaultTargetTriple(), *lt = triple ? LLVMNormalizeTargetTriple(triple) : NULL;
  const char *host = arena_printf("%s", lhost), *t = lt ? arena_printf("%s", lt) : host;
  LLVMDisposeMessage(lhost);
  if (lt) LLVMDisposeMessage(lt);
  LLVMTargetRef target;
  char *msg = NULL;
  if (LLVMGetTargetFromTriple(t, &target, &msg)) {
    error_plain("unknown target '%s': %s (targets are triples such as x86_64-linux-gnu or "
                "aarch64-linux-gnu)",
                triple ? triple : t, msg ? msg : "");
    LLVMDisposeMessage(msg);
    return NULL;
  }
  /* without --cpu, any x86-64 with copies of the kernels per level
   * (emit_llvm_isa.c), the host's processor on another host, a cross
   * target's generic one */
  bool x86 = !strncmp(t, "x86_64-", 7), native = (!cpu && !triple && !x86) || (cpu && !strcmp(cpu, "native"));
  if (native && triple && strcmp(t, host) != 0) {
    error_plain("--cpu=native names this machine's processor, which cannot run target '%s'", triple);
    return NULL;
  }
  char *name = native ? LLVMGetHostCPUName() : NULL, *features = native ? LLVMGetHostCPUFeatures() : NULL;
  LlvmOut *o = arena_alloc(sizeof *o);
  o->cx = LLVMContextCreate();
  o->mod = LLVMModuleCreateWithNameInContext(source, o->cx);
  o->opt = opt;
  o->export_runs = export_runs;
  o->levels = x86 && !cpu;
#ifdef NNC_RUNTIME_BC
  o->runtime_in = !strcmp(t, host) && opt >= 3 && runtime_file("nnrt.bc");
#endif
  static const LLVMCodeGenOptLevel level[4] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess, LLVMCodeGenLevelDefault,
                                               LLVMCodeGenLevelAggressive};
  o->tm = LLVMCreateTargetMachine(target, t,
                                  native ? name
                                  : cpu  ? cpu
                                  : x86  ? "x86-64"
                                         : "generic",
                                  native ? features : "", level[opt], LLVMRelocPIC, LLVMCodeModelDefault);
  LLVMSetTarget(o->mod, t);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(o->tm);
  char *layout = LLVMCopyStringRepOfTargetData(td);
  LLVMSetDataLayout(o->mod, layout);
  LLVMDisposeMessage(layout);
  LLVMDisposeTargetData(td);
  if (name) LLVMDisposeMessage(name);
  if (features) LLVMDisposeMessage(features);
  return o;
}

/* LLVM's verifier on every function; a function it rejects is a bug in
 * this backend, reported by name. */
static void verify_module(LlvmOut *o) {
  for (LLVMValueRef f = LLVMGetFirstFunction(o->mod); f; f = LLVMGetNextFunction(f)) {
    if (LLVMIsDeclaration(f) || !LLVMVerifyFunction(f, LLVMReturnStatusAction)) continue;
    char *msg = NULL;
    LLVMVerifyModule(o->mod, LLVMReturnStatusAction, &msg);
    size_t len;
    bug("LLVM's verifier rejects function '%s': %s", LLVMGetValueName2(f, &len), msg ? msg : "");
  }
}

/* At -O3, the runtime (runtime/nnrt.c as bitcode, made when nnc was
 * built) linked into a module for this machine, so that it is optimized
 * with the kernels for the module's processor (its loops vectorized for
 * it, the small products inlined into the kernels); everything but the
 * model's API (the definitions before) becomes internal. That doubles the
 * time to compile a model, so below -O3 (and without the bitcode) the
 * runtime comes from its prebuilt archive when the library is linked. */
static bool link_runtime(LlvmOut *o) {
#ifdef NNC_RUNTIME_BC
  if (!o->runtime_in) return true;
  int napi = 0;
  for (LLVMValueRef f = LLVMGetFirstFunction(o->mod); f; f = LLVMGetNextFunction(f))
    napi += !LLVMIsDeclaration(f) && LLVMGetLinkage(f) == LLVMExternalLinkage;
  const char **api = arena_alloc(sizeof(char *) * (size_t)(napi + 1));
  napi = 0;
  for (LLVMValueRef f = LLVMGetFirstFunction(o->mod); f; f = LLVMGetNextFunction(f)) {
    size_t len;
    if (!LLVMIsDeclaration(f) && LLVMGetLinkage(f) == LLVMExternalLinkage) api[napi++] = LLVMGetValueName2(f, &len);
  }
  LLVMMemoryBufferRef buf;
  LLVMModuleRef rt;
  char *msg = NULL;
  const char *bc = runtime_file("nnrt.bc");
  if (!bc || LLVMCreateMemoryBufferWithContentsOfFile(bc, &buf, &msg)) {
    error_plain("cannot read the runtime's bitcode '%s': %s (reinstall or rebuild nnc)", bc ? bc : "nnrt.bc",
                bc ? (msg ? msg : "") : "not found next to nnc");
    return false;
  }
  bool bad = LLVMParseBitcodeInContext2(o->cx, buf, &rt);
  LLVMDisposeMemoryBuffer(buf);
  if (bad) {
    error_plain("the runtime '%s' is not bitcode this LLVM reads (reinstall or rebuild nnc)", bc);
    return false;
  }
  LLVMSetTarget(rt, LLVMGetTarget(o->mod));
  LLVMSetDataLayout(rt, LLVMGetDataLayoutStr(o->mod));
  /* clang gave every function the generic processor; the module's is
   * meant (functions with a target attribute of their own, the GEMM's
   * AVX2 and AVX-512 micro-kernels, keep theirs) */
  unsigned fi = LLVMAttributeFunctionIndex;
  LLVMAttributeRef base =
      LLVMGetStringAttributeAtIndex(LLVMGetNamedFunction(rt, "nnrt_sigmoid"), fi, "target-features", 15);
  unsigned blen = 0;
  const char *bfeat = base ? LLVMGetStringAttributeValue(base, &blen) : "";
  for (LLVMValueRef f = LLVMGetFirstFunction(rt); f; f = LLVMGetNextFunction(f)) {
    LLVMAttributeRef a = LLVMGetStringAttributeAtIndex(f, fi, "target-features", 15);
    unsigned len = 0;
    const char *feat = a ? LLVMGetStringAttributeValue(a, &len) : "";
    LLVMRemoveStringAttributeAtIndex(f, fi, "target-cpu", 10);
    LLVMRemoveStringAttributeAtIndex(f, fi, "tune-cpu", 8);
    if (len == blen && !memcmp(feat, bfeat, len)) LLVMRemoveStringAttributeAtIndex(f, fi, "target-features", 15);
  }
  if (LLVMLinkModules2(o->mod, rt)) bug("linking the runtime's bitcode failed");
  /* inlined into the kernels, where sizes, strides and window geometry
   * are constants: the product's entry (its small case; the rest is a
   * call), the convolutions and pooling (as the C backend's are); and
   * the f32 functions and the dropout masks' random numbers, so that the
   * loops calling them vectorize (out of line, Philox's rounds took 15% of
   * the MNIST MLP's step) */
  static const char *inline_always[] = {"nnrt_sgemm",         "nnrt_conv2d_f32",    "nnrt_conv2d_f64",
                                        "nnrt_conv2d_bx_f32", "nnrt_conv2d_bx_f64", "nnrt_conv2d_bw_f32",
                                        "nnrt_conv2d_bw_f64", "nnrt_pool_f32",      "nnrt_pool_f64",
                                        "nnrt_expf",          "nnrt_logf",          "nnrt_tanhf",
                                        "nnrt_sigmoidf",      "nnrt_erff",          "nnrt_conv2d_pool_f32",
                                        "nnrt_conv2d_pool_f64", "nnrt_conv2d_kept_f32", "nnrt_sgemm_kept",
                                        "nnrt_uniform", "nnrt_rng_u64", "nnrt_qconv2d_pool_f32"};
  unsigned always = LLVMGetEnumAttributeKindForName("alwaysinline", 12);
  for (size_t i = 0; i < sizeof inline_always / sizeof *inline_always; i++)
    for (int l = -1; l < NISA_LEVELS; l++) { /* and the window functions of each level */
      LLVMValueRef f = LLVMGetNamedFunction(
          o->mod, l < 0 ? inline_always[i] : arena_printf("%s_%s", inline_always[i], isa_levels[l].name));
      if (f && !LLVMIsDeclaration(f)) LLVMAddAttributeAtIndex(f, fi, LLVMCreateEnumAttribute(o->cx, always, 0));
    }
  for (LLVMValueRef f = LLVMGetFirstFunction(o->mod); f; f = LLVMGetNextFunction(f)) {
    size_t len;
    const char *name = LLVMGetValueName2(f, &len);
    bool keep = LLVMIsDeclaration(f);
    for (int i = 0; i < napi && !keep; i++) keep = !strcmp(api[i], name);
    if (!keep) LLVMSetLinkage(f, LLVMInternalLinkage), LLVMSetVisibility(f, LLVMDefaultVisibility);
  }
  for (LLVMValueRef gv = LLVMGetFirstGlobal(o->mod); gv; gv = LLVMGetNextGlobal(gv)) {
    size_t len;
    if (!LLVMIsDeclaration(gv) && strncmp(LLVMGetValueName2(gv, &len), "llvm.", 5) != 0)
      LLVMSetLinkage(gv, LLVMInternalLinkage), LLVMSetVisibility(gv, LLVMDefaultVisibility);
  }
  /* what the models do not use (the data readers, ...) goes before the
   * optimizer spends time on it */
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMErrorRef err = LLVMRunPasses(o->mod, "globaldce", o->tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  if (err) bug("LLVM's globaldce failed: %s", LLVMGetErrorMessage(err));
#else
  (void)o;
#endif
  return true;
}

static bool link_so(const char *obj, const char *so, const char *soname, bool runtime_in);

/* Verifies, optimizes (the new pass manager's default<On> pipeline) and
 * writes the module as kind: "llvm" (.ll), "bc", "asm" or "obj"; with
 * `so`, links that object into a shared library whose SONAME is
 * soname's file name (so's when NULL). */
bool llvm_finish(LlvmOut *o, const char *kind, const char *path, const char *so, const char *soname) {
  verify_module(o);
  if (!link_runtime(o)) return false;
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(opts, o->opt >= 2);
  LLVMPassBuilderOptionsSetSLPVectorization(opts, o->opt >= 2);
  LLVMPassBuilderOptionsSetLoopUnrolling(opts, o->opt >= 2);
  LLVMPassBuilderOptionsSetMergeFunctions(opts, o->opt >= 1); /* an unrolled recurrence's identical steps */
  LLVMErrorRef err = LLVMRunPasses(o->mod, arena_printf("default<O%d>", o->opt), o->tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  if (err) {
    char *msg = LLVMGetErrorMessage(err);
    bug("LLVM's optimizer failed: %s", msg);
  }
  char *msg = NULL;
  bool failed;
  if (!strcmp(kind, "llvm"))
    failed = LLVMPrintModuleToFile(o->mod, path, &msg);
  else if (!strcmp(kind, "bc"))
    failed = LLVMWriteBitcodeToFile(o->mod, path) != 0;
  else
    failed = LLVMTargetMachineEmitToFile(o->tm, o->mod, (char *)path,
                                         !strcmp(kind, "asm") ? LLVMAssemblyFile : LLVMObjectFile, &msg);
  if (failed) error_plain("cannot write '%s': %s", path, msg ? msg : strerror(errno));
  if (msg) LLVMDisposeMessage(msg);
  if (!failed && so) failed = !link_so(path, so, soname ? soname : so, o->runtime_in);
  LLVMDisposeTargetMachine(o->tm);
  LLVMDisposeModule(o->mod);
  LLVMContextDispose(o->cx);
  return !failed;
}

/* The linker: $NNC_LD, else ld. The runtime as nnc was built with it:
 * its archive with OpenMP and libgcc (the processor checks), or, when its
 * bitcode is in the object, the OpenMP library that calls and libgcc. */
#ifndef NNC_RUNTIME_LIBS
#define NNC_RUNTIME_LIBS ""
#endif
#ifndef NNC_RUNTIME_BC_LIBS
#define NNC_RUNTIME_BC_LIBS ""
#endif

static bool link_so(const char *obj, const char *so, const char *soname, bool runtime_in) {
  const char *ld = getenv("NNC_LD") && *getenv("NNC_LD") ? getenv("NNC_LD") : "ld";
  char *libs = arena_printf("%s", runtime_in ? NNC_RUNTIME_BC_LIBS : NNC_RUNTIME_LIBS);
  const char *archive = runtime_in ? NULL : runtime_file("libnnrt.a");
  if (!runtime_in && !archive) {
    error_plain("cannot find the runtime's archive 'libnnrt.a' next to nnc (reinstall or rebuild nnc)");
    return false;
  }
  Argv a = {0};
  /* named as its file will be, for programs that link it */
  const char *base = strrchr(soname, '/') ? strrchr(soname, '/') + 1 : soname;
  argv_add(&a, ld), argv_add(&a, "-shared"), argv_add(&a, "-soname"), argv_add(&a, base);
  argv_add(&a, "-o"), argv_add(&a, so), argv_add(&a, obj);
  if (archive) argv_add(&a, archive);
  for (char *s = strtok(libs, ":"); s; s = strtok(NULL, ":")) argv_add(&a, s);
  argv_add(&a, "-lm"), argv_add(&a, "-lc");
  int status = run_tool(&a, NULL, NULL);
  if (status < 0) {
    error_plain("cannot run the linker '%s': %s (install binutils, set NNC_LD, or build with --backend=c)", ld,
                strerror(-status));
    return false;
  }
  if (status != 0) {
    error_plain("the linker '%s' failed making '%s'", ld, so);
    return false;
  }
  return true;
}
