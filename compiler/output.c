/* output.c — the backends: what each artifact is made of.
 *
 * compile() builds every model's graphs and plans once, picks a row of
 * `backends` (by --backend, else the first that makes the artifact) and
 * calls its begin, model and finish. The rows: "ir" and "dot" write each
 * model's main graph as text or as Graphviz, "c" one C file (built into a
 * program or a shared library by the system's C compiler), "llvm" LLVM's
 * IR, bitcode, assembly, an object or a shared library. Each writes to a
 * temporary name and renames at the end: a failed run leaves nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

#define KIND(e) (1u << (e))

static bool cannot_write(const char *path) {
  fprintf(stderr, "nnc: error: cannot write '%s': %s\n", path, strerror(errno));
  return false;
}

/* The output file, or standard output for "-" (or no -o). */
static bool open_target(Out *w, const char *fallback) {
  w->target = w->o->output ? w->o->output : fallback;
  if (!strcmp(w->target, "-")) {
    w->f = stdout;
    return true;
  }
  w->tmp = arena_printf("%s.nnc-tmp", w->target);
  w->f = fopen(w->tmp, "w");
  return w->f ? true : cannot_write(w->tmp);
}

/* Closes the output and, when all went well, gives it its name. */
static bool close_target(Out *w, bool ok) {
  if (w->f == stdout) return ok && fflush(stdout) == 0;
  bool closed = w->f && fclose(w->f) == 0;
  w->f = NULL;
  ok = ok && closed;
  if (ok && rename(w->tmp, w->target) != 0) ok = cannot_write(w->target);
  else if (!ok && !closed) cannot_write(w->target);
  if (!ok) remove(w->tmp);
  return ok;
}

int write_ast(const Options *o, Sema *s) {
  Out w = {.o = o};
  if (!open_target(&w, "-")) return 1;
  print_checked(w.f, s);
  return close_target(&w, true) ? 0 : 1;
}

int write_nn(const Options *o, const char *text) {
  Out w = {.o = o};
  if (!open_target(&w, "-")) return 1;
  fputs(text, w.f);
  return close_target(&w, true) ? 0 : 1;
}

/* ---------------------------------------------------- ir, dot: the IR */

static bool text_begin(Out *w) { return open_target(w, "-"); }

static bool ir_model(Out *w, const Built *b) {
  if (b != w->models) fprintf(w->f, "\n");
  print_ir(w->f, built_main_graph(b));
  return true;
}

static bool dot_model(Out *w, const Built *b) {
  print_dot(w->f, built_main_graph(b));
  return true;
}

static bool text_finish(Out *w, bool ok) { return close_target(w, ok); }

/* ------------------------------------- layers, svg: the layer graph */

/* --emit=layers writes the Graphviz text; --emit=svg writes it beside the
 * target and has Graphviz's dot draw it. */
static bool layers_begin(Out *w) {
  if (w->o->emit == EMIT_LAYERS) {
    if (!open_target(w, "-")) return false;
  } else {
    w->target = w->o->output ? w->o->output : "-";
    w->tmp = arena_printf("%s.nnc-tmp.dot", !strcmp(w->target, "-") ? "layers" : w->target);
    if (!(w->f = fopen(w->tmp, "w"))) return cannot_write(w->tmp);
  }
  fprintf(w->f, "digraph layers {\n  node [fontname=\"sans-serif\", fontsize=11];\n");
  return true;
}

static bool layers_model(Out *w, const Built *b) {
  static int cluster;
  if (b->g[GRAPH_LAYERS]) print_layers_dot(w->f, b->g[GRAPH_LAYERS], cluster++);
  return true;
}

static bool layers_finish(Out *w, bool ok) {
  if (w->f) fprintf(w->f, "}\n");
  if (w->o->emit == EMIT_LAYERS) return close_target(w, ok);
  ok = fclose(w->f) == 0 && ok;
  w->f = NULL;
  if (ok) {
    Argv a = {0};
    bool out = strcmp(w->target, "-") != 0;
    char *svg = arena_printf("%s.nnc-tmp", w->target);
    argv_add(&a, "dot"), argv_add(&a, "-Tsvg");
    if (out) argv_add(&a, "-o"), argv_add(&a, svg);
    argv_add(&a, w->tmp);
    int st = run_tool(&a, NULL, NULL);
    if (st == -ENOENT)
      fprintf(stderr, "nnc: error: drawing the layer graph needs Graphviz's dot (Debian: apt-get install graphviz); "
                      "--emit=layers writes its text\n");
    else if (st != 0)
      fprintf(stderr, "nnc: error: Graphviz's dot failed (%s): %s\n", tool_outcome(st), argv_string(&a));
    ok = st == 0 && (!out || rename(svg, w->target) == 0 || cannot_write(w->target));
    if (out && !ok) remove(svg);
  }
  remove(w->tmp);
  return ok;
}

/* ------------------------------------------------------------ the header */

/* model.so (and model.o) has model.h beside it: every model's API. */
static bool write_header(const Out *w) {
  char *h = arena_printf("%s.h", path_stem(w->target));
  char *tmp = arena_printf("%s.nnc-tmp", h);
  FILE *f = fopen(tmp, "w");
  if (!f) return cannot_write(tmp);
  emit_c_header(f, w->o->input, w->models);
  if (fclose(f) != 0 || rename(tmp, h) != 0) {
    remove(tmp);
    return cannot_write(h);
  }
  return true;
}

/* ------------------------------------------------------------------ c */

/* One C file: the runtime, every model, and the training program of the
 * first model with a train block (not for a library or --no-main). */
static bool c_begin(Out *w) {
  const Options *o = w->o;
  for (const Built *b = w->models; b && !w->program && o->emit != EMIT_SO && !o->no_main; b = b->next)
    if (b->train) w->program = b;
  if (o->emit == EMIT_EXE && !w->program) {
    fprintf(stderr, "nnc: error: '%s' has no train block: there is no program to build\n", o->input);
    return false;
  }
  Loc where;
  const char *why;
  if (w->program && !main_supported(w->program->train, &where, &why)) {
    error_at(where, "%s", why);
    return false;
  }
  const char *fallback = o->emit == EMIT_EXE ? "a.out" : o->emit == EMIT_SO ? "model.so" : "-";
  if (o->emit == EMIT_C) {
    if (!open_target(w, fallback)) return false;
  } else { /* the C goes to a file beside the target, for the compiler */
    w->target = o->output ? o->output : fallback;
    w->tmp = arena_printf("%s.nnc-tmp.c", w->target);
    if (!(w->f = fopen(w->tmp, "w"))) return cannot_write(w->tmp);
  }
  emit_c_prelude(w->f, o->input, w->models);
  return true;
}

static bool c_model(Out *w, const Built *b) {
  emit_c_model(w->f, b);
  return true;
}

/* The file built with the system's C compiler ($CC, else cc, with
 * $CFLAGS; tools.c) into the target; without OpenMP only when the
 * compiler has none. */
static bool c_build(const Out *w) {
  const Options *o = w->o;
  Argv cc = cc_command();
  argv_add(&cc, arena_printf("-O%d", o->opt < 0 ? 3 : o->opt));
  if (o->cpu) argv_add(&cc, arena_printf("-march=%s", o->cpu));
  argv_add(&cc, "-fno-math-errno");
  if (cc_has_openmp()) argv_add(&cc, "-fopenmp");
  if (o->emit == EMIT_SO) { /* named for programs that link it */
    const char *base = strrchr(w->target, '/') ? strrchr(w->target, '/') + 1 : w->target;
    argv_add(&cc, "-shared"), argv_add(&cc, "-fPIC"), argv_add(&cc, arena_printf("-Wl,-soname,%s", base));
  }
  cc_add_cflags(&cc);
  argv_add(&cc, "-o"), argv_add(&cc, w->target), argv_add(&cc, w->tmp), argv_add(&cc, "-lm");
  int status = run_tool(&cc, NULL, NULL);
  if (status != 0) {
    fprintf(stderr, "nnc: error: the C compiler failed (%s): %s\n", tool_outcome(status), argv_string(&cc));
    return false;
  }
  return true;
}

static bool c_finish(Out *w, bool ok) {
  if (!w->f) return false; /* begin failed */
  if (ok && w->program) emit_c_main(w->f, w->program);
  if (w->o->emit == EMIT_C) return close_target(w, ok);
  ok = fclose(w->f) == 0 && ok;
  ok = ok && c_build(w);
  ok = ok && (w->o->emit != EMIT_SO || write_header(w));
  remove(w->tmp);
  return ok;
}

/* --------------------------------------------------------------- llvm */

#ifdef NNC_HAVE_LLVM
/* Every model in one module, written as LLVM's kind, or as an object that
 * the system linker makes a shared library of (with NAME.h beside it). */
static bool llvm_begin_out(Out *w) {
  static const char *defaults[] = {[EMIT_LL] = "model.ll", [EMIT_BC] = "model.bc", [EMIT_ASM] = "model.s",
                                   [EMIT_OBJ] = "model.o", [EMIT_SO] = "model.so"};
  const Options *o = w->o;
  w->target = o->output ? o->output : defaults[o->emit];
  if (!strcmp(w->target, "-")) {
    fprintf(stderr, "nnc: error: LLVM's output goes to a file: name it with -o\n");
    return false;
  }
  if (o->emit == EMIT_SO && o->target) {
    fprintf(stderr, "nnc: error: shared libraries are linked for this machine only: for --target=%s "
                    "write an object (--emit=obj, or -o NAME.o) and link it there\n", o->target);
    return false;
  }
  w->lo = llvm_begin(o->input, o->target, o->cpu, o->opt < 0 ? 3 : o->opt, false);
  return w->lo != NULL;
}

static bool llvm_model_out(Out *w, const Built *b) {
  llvm_model(w->lo, b);
  return true;
}

static bool llvm_finish_out(Out *w, bool ok) {
  static const char *kinds[] = {[EMIT_LL] = "llvm", [EMIT_BC] = "bc", [EMIT_ASM] = "asm", [EMIT_OBJ] = "obj",
                                [EMIT_SO] = "obj"};
  if (!ok || !w->lo) return false; /* the module is left to the process's end */
  Emit e = w->o->emit;
  char *tmp = arena_printf("%s.nnc-tmp%s", w->target, e == EMIT_SO ? ".o" : "");
  char *so = e == EMIT_SO ? arena_printf("%s.nnc-tmp.so", w->target) : NULL;
  ok = llvm_finish(w->lo, kinds[e], tmp, so, w->target);
  if (ok && so) {
    ok = rename(so, w->target) == 0 || cannot_write(w->target);
    remove(so);
    ok = ok && write_header(w);
  } else if (ok) {
    ok = rename(tmp, w->target) == 0 || cannot_write(w->target);
    ok = ok && (e != EMIT_OBJ || write_header(w));
  }
  remove(tmp);
  return ok;
}
#endif

const Backend backends[] = {
#ifdef NNC_HAVE_LLVM
  {"llvm", KIND(EMIT_SO) | KIND(EMIT_LL) | KIND(EMIT_BC) | KIND(EMIT_ASM) | KIND(EMIT_OBJ), llvm_begin_out,
   llvm_model_out, llvm_finish_out},
#endif
  {"c", KIND(EMIT_C) | KIND(EMIT_EXE) | KIND(EMIT_SO), c_begin, c_model, c_finish},
  {"ir", KIND(EMIT_IR), text_begin, ir_model, text_finish},
  {"dot", KIND(EMIT_DOT), text_begin, dot_model, text_finish},
  {"layers", KIND(EMIT_LAYERS) | KIND(EMIT_SVG), layers_begin, layers_model, layers_finish},
};
const int nbackends = sizeof backends / sizeof *backends;

const Backend *backend_named(const char *name) {
  for (int i = 0; i < nbackends; i++)
    if (!strcmp(backends[i].name, name)) return &backends[i];
  return NULL;
}
