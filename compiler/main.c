/* main.c — the nnc driver: options, then the pipeline as one flat list.
 *
 *   nnc [options] FILE.nn        (FILE "-" reads standard input)
 *
 * compile() calls the passes in order; after each one, `-d LETTER` dumps the
 * program to standard error. Exit status: 0 on success, 1 on any error in
 * the input or on the command line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

typedef enum { EMIT_NONE, EMIT_AST, EMIT_IR, EMIT_DOT, EMIT_C, EMIT_EXE, EMIT_SO, EMIT_LL, EMIT_BC, EMIT_ASM,
               EMIT_OBJ } Emit;
typedef enum { BACKEND_DEFAULT, BACKEND_C, BACKEND_LLVM } Backend;
#ifdef NNC_HAVE_LLVM
enum { HAVE_LLVM = 1 };
#else
enum { HAVE_LLVM = 0 };
#endif

typedef struct Options {
  const char *input;
  const char *output;   /* -o; NULL means standard output */
  Emit emit;
  bool syntax_only;
  bool check_grad;      /* --check-grad */
  bool check_c;         /* --check-c */
  bool no_main;         /* --no-main: C output for linking into a program */
  DType dtype;          /* --dtype: element type of inputs written without one */
  const char *dump;     /* -d letters */
  const char *cpu;      /* --cpu: the processor (C: the compiler's -march; LLVM: its CPU name) */
  const char *target;   /* --target: the LLVM backend's target triple (none: the host) */
  Backend backend;      /* --backend */
  int opt;              /* -O0..-O3; -1: the default (3) */
  bool check_llvm;      /* --check-c checks the LLVM backend's library too */
} Options;

/* The stages that -d can dump after, in pipeline order. */
static const struct { char letter; const char *what; } stages[] = {
  {'P', "the syntax tree as parsed, imports included"},
  {'S', "the checked program: shapes, parameters, resolved settings"},
  {'L', "the lowered IR: forward, loss, backward and update (training step)"},
  {'O', "the IR after simplification (folding, algebra, dead code)"},
  {'K', "the code generator's plan: kernels (fused loops, epilogues) and the arena"},
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: nnc [options] FILE.nn\n"
          "\n"
          "Compiles a neural network described in the .nn language. FILE may be '-'\n"
          "for standard input.\n"
          "\n"
          "options:\n"
          "  -o FILE           write the output to FILE (default: standard output)\n"
          "  --emit=KIND       what to produce: ast (the checked program with every\n"
          "                    layer's output shape and the parameter list), ir (the\n"
          "                    tensor IR of the training step, or of inference for a\n"
          "                    model without a train block), dot (that IR as Graphviz)\n"
          "                    c (one C file: the runtime, the model, and a main that\n"
          "                    trains it; builds with cc -O2 FILE.c -lm), exe (that\n"
          "                    program, built with the system C compiler), so (a shared\n"
          "                    library of every model, with NAME.h beside it), and with\n"
          "                    the LLVM backend llvm (.ll), bc, asm (.s) and obj (.o)\n"
          "  --backend=B       llvm (LLVM IR through the LLVM-C API, linked by the\n"
          "                    system linker; the default for so and the LLVM kinds\n"
          "                    when nnc is built with LLVM) or c (C built with $CC)\n"
          "  -O0 .. -O3        optimization level (default -O3)\n"
          "  --target=TRIPLE   the LLVM backend's target, e.g. aarch64-linux-gnu\n"
          "                    (default: this machine); shared libraries are linked\n"
          "                    for this machine only, other targets get --emit=obj\n"
          "  --no-fuse         one kernel per IR value (for comparison: fusion never\n"
          "                    changes a result's bits)\n"
          "  --no-main         C output without the training program's main, to link\n"
          "                    several models into one program\n"
          "  --check-grad      check every gradient autodiff builds against central\n"
          "                    differences on random data (in f64 unless --dtype=f32)\n"
          "  --check-c         compile every model to C with the system's C compiler and\n"
          "                    check it against the reference evaluator (within float\n"
          "                    rounding; 1 and 2 threads must give the same bits), and\n"
          "                    with LLVM (unless --backend=c) the LLVM backend's library\n"
          "                    against the C (the same bits)\n"
          "  --cpu=NAME        the processor to build for, e.g. native (this machine),\n"
          "                    haswell, znver2, cortex-a72: the C compiler's -march,\n"
          "                    or LLVM's CPU. By default the C backend builds for any\n"
          "                    x86-64 (matrix products still use AVX2 or AVX-512\n"
          "                    where the processor has it) and LLVM for this machine\n"
          "                    (a generic processor of another --target)\n"
          "  --dtype=T         element type of inputs declared without one: f32\n"
          "                    (default) or f64\n"
          "  -fsyntax-only     check the program (syntax, names, shapes, settings)\n"
          "                    and produce nothing\n"
          "  -d LETTERS        dump the program to standard error after stages:\n");
  for (size_t i = 0; i < sizeof stages / sizeof *stages; i++)
    fprintf(out, "                      %c  %s\n", stages[i].letter, stages[i].what);
  fprintf(out,
          "  --help-builtins   list the built-in layers, functions, initializers,\n"
          "                    losses, optimizers, schedules, data sources,\n"
          "                    augmentations, metrics\n"
          "  --help            show this help\n"
          "  --version         show the version\n"
          "\n"
          "The artifact follows the output name: NAME.c is C, NAME without an\n"
          "extension a program (built with $CC or cc), NAME.so a shared library,\n"
          "NAME.ll/.bc/.s/.o LLVM's, NAME.ast/.ir/.dot a dump.\n");
}

static bool usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "nnc: error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(run 'nnc --help' for the options)\n");
  return false;
}

static bool parse_options(int argc, char **argv, Options *o, int *exit_now) {
  *exit_now = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      *exit_now = 0;
      return true;
    } else if (!strcmp(a, "--version")) {
#ifdef NNC_HAVE_LLVM
      printf("nnc %s\nbackends: llvm (LLVM %s; the default for shared libraries and objects), c\n",
             NNC_VERSION, llvm_version());
#else
      printf("nnc %s\nbackends: c (this nnc was built without LLVM)\n", NNC_VERSION);
#endif
      *exit_now = 0;
      return true;
    } else if (!strcmp(a, "--help-builtins")) {
      builtins_init();
      print_builtins(stdout);
      *exit_now = 0;
      return true;
    } else if (!strcmp(a, "-o")) {
      if (++i == argc) return usage_error("'-o' needs a file name%s", "");
      o->output = argv[i];
    } else if (!strncmp(a, "-o", 2)) {
      o->output = a + 2;
    } else if (!strncmp(a, "--emit=", 7)) {
      if (!strcmp(a + 7, "ast")) o->emit = EMIT_AST;
      else if (!strcmp(a + 7, "ir")) o->emit = EMIT_IR;
      else if (!strcmp(a + 7, "dot")) o->emit = EMIT_DOT;
      else if (!strcmp(a + 7, "c")) o->emit = EMIT_C;
      else if (!strcmp(a + 7, "exe")) o->emit = EMIT_EXE;
      else if (!strcmp(a + 7, "so")) o->emit = EMIT_SO;
      else if (!strcmp(a + 7, "llvm")) o->emit = EMIT_LL;
      else if (!strcmp(a + 7, "bc")) o->emit = EMIT_BC;
      else if (!strcmp(a + 7, "asm")) o->emit = EMIT_ASM;
      else if (!strcmp(a + 7, "obj")) o->emit = EMIT_OBJ;
      else return usage_error("unknown --emit kind '%s' (ast, ir, dot, c, exe, so, llvm, bc, asm, obj)", a + 7);
    } else if (!strncmp(a, "--backend=", 10)) {
      if (!strcmp(a + 10, "c")) o->backend = BACKEND_C;
      else if (!strcmp(a + 10, "llvm")) o->backend = BACKEND_LLVM;
      else return usage_error("unknown backend '%s' (llvm or c)", a + 10);
    } else if (!strncmp(a, "--target=", 9)) {
      o->target = a + 9;
      if (!*o->target) return usage_error("'--target=' needs a triple such as aarch64-linux-gnu%s", "");
    } else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) {
      o->opt = a[2] - '0';
    } else if (!strncmp(a, "--cpu=", 6)) {
      o->cpu = a + 6;
      if (!*o->cpu || strspn(o->cpu, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+")
                          != strlen(o->cpu))
        return usage_error("bad --cpu name '%s' (letters, digits, '-', '_', '.', '+')", o->cpu);
    } else if (!strcmp(a, "--no-fuse")) {
      nnc_fuse = false;
    } else if (!strcmp(a, "--no-main")) {
      o->no_main = true;
    } else if (!strcmp(a, "--check-c")) {
      o->check_c = true;
    } else if (!strcmp(a, "--check-grad")) {
      o->check_grad = true;
      if (o->dtype == DT_NONE) o->dtype = DT_F64;
    } else if (!strncmp(a, "--dtype=", 8)) {
      o->dtype = dtype_from_name(a + 8);
      if (o->dtype != DT_F32 && o->dtype != DT_F64)
        return usage_error("unknown --dtype '%s' (f32 or f64)", a + 8);
    } else if (!strcmp(a, "-fsyntax-only")) {
      o->syntax_only = true;
    } else if (!strcmp(a, "-d") || !strncmp(a, "-d", 2)) {
      const char *letters = a[2] ? a + 2 : (++i < argc ? argv[i] : NULL);
      if (!letters) return usage_error("'-d' needs stage letters%s", "");
      for (const char *c = letters; *c; c++) {
        bool known = false;
        for (size_t k = 0; k < sizeof stages / sizeof *stages; k++)
          if (stages[k].letter == *c) known = true;
        if (!known) return usage_error("unknown dump letter '%s' (see nnc --help)",
                                       arena_strndup(c, 1));
      }
      o->dump = letters;
    } else if (a[0] == '-' && a[1] != '\0') {
      return usage_error("unknown option '%s'", a);
    } else {
      if (o->input) return usage_error("more than one input file ('%s')", a);
      o->input = a;
    }
  }
  if (!o->input) return usage_error("no input file%s", "");
  return true;
}

static bool dumping(const Options *o, char letter) {
  return o->dump && strchr(o->dump, letter);
}

/* The artifact follows the output name unless --emit says otherwise. */
static bool choose_emit(Options *o) {
  if (o->emit != EMIT_NONE || o->syntax_only) return true;
  if (!o->output || o->check_grad || o->check_c) return true; /* nothing to produce */
  static const struct { const char *ext; Emit emit; } by_ext[] = {
    {".ast", EMIT_AST}, {".ir", EMIT_IR}, {".dot", EMIT_DOT}, {".c", EMIT_C}, {".so", EMIT_SO},
    {".ll", EMIT_LL},   {".bc", EMIT_BC}, {".s", EMIT_ASM},   {".o", EMIT_OBJ},
  };
  const char *dot = strrchr(o->output, '.');
  for (size_t i = 0; dot && i < sizeof by_ext / sizeof *by_ext; i++)
    if (!strcmp(dot, by_ext[i].ext)) {
      o->emit = by_ext[i].emit;
      return true;
    }
  if (!dot || strchr(dot, '/')) { /* no extension: a program, as cc -o makes */
    o->emit = EMIT_EXE;
    return true;
  }
  return usage_error("cannot build '%s': nnc writes .c, .so, .ll, .bc, .s and .o files, programs "
                     "(-o NAME) and .ast, .ir and .dot dumps", o->output);
}

static bool llvm_kind(Emit e) { return e == EMIT_LL || e == EMIT_BC || e == EMIT_ASM || e == EMIT_OBJ; }

/* Which backend builds the artifact: LLVM for its own kinds, and for
 * shared libraries when nnc has it; C for C and programs. */
static bool choose_backend(Options *o) {
  o->check_llvm = HAVE_LLVM && o->backend != BACKEND_C;
  if (o->backend == BACKEND_DEFAULT)
    o->backend = llvm_kind(o->emit) || (o->emit == EMIT_SO && HAVE_LLVM) ? BACKEND_LLVM : BACKEND_C;
  if (o->backend == BACKEND_LLVM && !HAVE_LLVM)
    return usage_error("%s needs the LLVM backend, and this nnc was built without LLVM (see nnc --version)",
                       llvm_kind(o->emit) ? "this output" : "--backend=llvm");
  if (o->backend == BACKEND_LLVM && (o->emit == EMIT_C || o->emit == EMIT_EXE))
    return usage_error("%s comes from the C backend (--backend=llvm builds .so, .ll, .bc, .s and .o)",
                       o->emit == EMIT_C ? "C output" : "a program");
  if (o->backend == BACKEND_C && llvm_kind(o->emit))
    return usage_error("LLVM's output (.ll, .bc, .s, .o) needs --backend=llvm%s", "");
  if (o->target && o->backend != BACKEND_LLVM)
    return usage_error("--target=%s needs the LLVM backend (--backend=llvm)", o->target);
  return true;
}

static int write_output(const Options *o, Sema *sema, Graph **graphs, int ngraphs) {
  FILE *out = stdout;
  if (o->output && strcmp(o->output, "-") != 0) {
    out = fopen(o->output, "w");
    if (!out) {
      fprintf(stderr, "nnc: error: cannot write '%s': %s\n", o->output, strerror(errno));
      return 1;
    }
  }
  if (o->emit == EMIT_AST) print_checked(out, sema);
  for (int i = 0; i < ngraphs; i++) {
    if (o->emit == EMIT_IR) fprintf(out, "%s", i ? "\n" : ""), print_ir(out, graphs[i]);
    if (o->emit == EMIT_DOT) print_dot(out, graphs[i]);
  }
  if (out != stdout ? fclose(out) != 0 : fflush(out) != 0) {
    fprintf(stderr, "nnc: error: writing '%s' failed: %s\n", o->output ? o->output : "output",
            strerror(errno));
    return 1;
  }
  return 0;
}

/* The graph simplified; the lowered one's arrays are given back. */
static Graph *built(Graph *g) {
  if (!g) return NULL;
  Graph *h = simplify(g);
  graph_release(g);
  verify(h, "simplify");
  return h;
}

/* A model's graphs: its training step and evaluation when it has a train
 * block (else NULL), and inference. */
static bool model_graphs(Sema *s, ModelInfo *m, TrainInfo **t, Graph **train, Graph **eval, Graph **infer) {
  *t = NULL;
  for (TrainInfo *ti = s->trains; ti; ti = ti->next)
    if (ti->model == m) *t = ti;
  *train = *t ? built(lower_training(s, *t)) : NULL;
  *eval = *t ? built(lower_evaluation(s, *t)) : NULL;
  *infer = built(lower_inference(s, m));
  return (!*t || (*train && *eval)) && *infer;
}

/* The C file: every model, and the training program of the first model
 * with a train block. */
static bool model_has_train(ModelInfo *m);
static Sema *current_sema;

static bool write_c(const Options *o, Sema *s, FILE *out, bool need_main) {
  TrainInfo *first = NULL;
  for (TrainInfo *t = s->trains; t && !first && o->emit != EMIT_SO && !o->no_main; t = t->next)
    first = t;
  if (need_main && !first) {
    fprintf(stderr, "nnc: error: '%s' has no train block: there is no program to build\n", o->input);
    return false;
  }
  Loc where;
  const char *why;
  if (first && !main_supported(first, &where, &why)) {
    error_at(where, "%s", why);
    return false;
  }
  int n = 0, i = 0; /* every model's graphs first: the prelude carries the runtime they call */
  for (ModelInfo *m = s->models; m; m = m->next) n++;
  Graph **gs = arena_alloc(sizeof(Graph *) * (size_t)(3 * n + 1));
  TrainInfo **ts = arena_alloc(sizeof(TrainInfo *) * (size_t)(n + 1));
  for (ModelInfo *m = s->models; m; m = m->next, i++)
    if (!model_graphs(s, m, &ts[i], &gs[3 * i], &gs[3 * i + 1], &gs[3 * i + 2])) return false;
  emit_c_prelude(out, o->input, gs, 3 * n);
  Graph *main_train = NULL, *main_eval = NULL;
  i = 0;
  for (ModelInfo *m = s->models; m; m = m->next, i++) {
    emit_c_model(out, m->decl->name, gs[3 * i], gs[3 * i + 1], gs[3 * i + 2]);
    if (ts[i] == first) main_train = gs[3 * i], main_eval = gs[3 * i + 1];
  }
  if (first) emit_c_main(out, first->model->decl->name, first, main_train, main_eval);
  return true;
}

static bool model_has_train(ModelInfo *m) {
  for (TrainInfo *t = current_sema->trains; t; t = t->next)
    if (t->model == m) return true;
  return false;
}

/* model.so: the C without a main, built -shared, and model.h beside it. */
static bool write_header(const Options *o, Sema *s, const char *target) {
  size_t len = strlen(target);
  char *h = arena_printf("%.*s.h", (int)(len > 3 ? len - 3 : len), target);
  char *tmp = arena_printf("%s.tmp", h);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "nnc: error: cannot write '%s': %s\n", tmp, strerror(errno));
    return false;
  }
  current_sema = s;
  emit_c_header(f, o->input, s->models, model_has_train);
  if (fclose(f) != 0 || rename(tmp, h) != 0) {
    fprintf(stderr, "nnc: error: cannot write '%s': %s\n", h, strerror(errno));
    remove(tmp);
    return false;
  }
  return true;
}

/* --emit=c writes the file; --emit=exe and --emit=so build it with the
 * system's C compiler ($CC, else cc, with $CFLAGS). A failed run leaves
 * nothing behind. */
static int write_program(const Options *o, Sema *s) {
  const char *target = o->output ? o->output
                       : o->emit == EMIT_EXE ? "a.out" : o->emit == EMIT_SO ? "model.so" : "-";
  bool to_stdout = !strcmp(target, "-");
  char *csrc = o->emit == EMIT_C ? arena_printf("%s.tmp", target) : arena_printf("%s.nnc-tmp.c", target);
  FILE *out = o->emit == EMIT_C && to_stdout ? stdout : fopen(csrc, "w");
  if (!out) {
    fprintf(stderr, "nnc: error: cannot write '%s': %s\n", csrc, strerror(errno));
    return 1;
  }
  bool ok = write_c(o, s, out, o->emit == EMIT_EXE);
  if (out == stdout) return ok ? (fflush(stdout) == 0 ? 0 : 1) : 1;
  ok = fclose(out) == 0 && ok;
  if (ok && o->emit == EMIT_C) ok = rename(csrc, target) == 0;
  if (ok && (o->emit == EMIT_EXE || o->emit == EMIT_SO)) {
    const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    const char *flags = getenv("CFLAGS") ? getenv("CFLAGS") : "";
    const char *kind = o->emit == EMIT_SO ? "-shared -fPIC" : "";
    const char *cpu = o->cpu ? arena_printf("-march=%s ", o->cpu) : "";
    int opt = o->opt < 0 ? 3 : o->opt;
    char *cmd = arena_printf("%s -std=c11 -O%d %s-fno-math-errno -fopenmp %s %s -o '%s' '%s' -lm", cc, opt, cpu, kind,
                             flags, target, csrc);
    if (system(cmd) != 0) { /* a compiler without OpenMP: the loops run serially */
      cmd = arena_printf("%s -std=c11 -O%d %s-fno-math-errno %s %s -o '%s' '%s' -lm", cc, opt, cpu, kind, flags,
                         target, csrc);
      fprintf(stderr, "nnc: note: building without OpenMP\n");
    }
    if (system(cmd) != 0) {
      fprintf(stderr, "nnc: error: the C compiler failed: %s\n", cmd);
      ok = false;
    }
  }
  if (ok && o->emit == EMIT_SO) ok = write_header(o, s, target);
  if (o->emit != EMIT_C || !ok) remove(csrc);
  return ok ? 0 : 1;
}

/* The LLVM backend: every model in one module, written as LLVM's kind, or
 * as an object that the system linker makes a shared library of (with
 * NAME.h beside it). A failed run leaves nothing behind. */
static int write_llvm(const Options *o, Sema *s) {
#ifdef NNC_HAVE_LLVM
  static const char *kinds[] = {[EMIT_LL] = "llvm", [EMIT_BC] = "bc", [EMIT_ASM] = "asm", [EMIT_OBJ] = "obj",
                                [EMIT_SO] = "obj"};
  static const char *defaults[] = {[EMIT_LL] = "model.ll", [EMIT_BC] = "model.bc", [EMIT_ASM] = "model.s",
                                   [EMIT_OBJ] = "model.o", [EMIT_SO] = "model.so"};
  const char *target = o->output ? o->output : defaults[o->emit];
  if (!strcmp(target, "-")) {
    fprintf(stderr, "nnc: error: LLVM's output goes to a file: name it with -o\n");
    return 1;
  }
  if (o->emit == EMIT_SO && o->target) {
    fprintf(stderr, "nnc: error: shared libraries are linked for this machine only: for --target=%s "
                    "write an object (--emit=obj, or -o NAME.o) and link it there\n", o->target);
    return 1;
  }
  LlvmOut *lo = llvm_begin(o->input, o->target, o->cpu, o->opt < 0 ? 3 : o->opt, false);
  if (!lo) return 1;
  for (ModelInfo *m = s->models; m; m = m->next) {
    TrainInfo *t;
    Graph *train, *eval, *infer;
    if (!model_graphs(s, m, &t, &train, &eval, &infer)) return 1;
    llvm_model(lo, m->decl->name, train, eval, infer);
  }
  char *tmp = arena_printf("%s.nnc-tmp%s", target, o->emit == EMIT_SO ? ".o" : "");
  char *so = o->emit == EMIT_SO ? arena_printf("%s.nnc-tmp.so", target) : NULL;
  bool ok = llvm_finish(lo, kinds[o->emit], tmp, so);
  if (ok && so) {
    ok = rename(so, target) == 0;
    remove(so);
    current_sema = s;
    ok = ok && write_header(o, s, target);
  } else if (ok) {
    ok = rename(tmp, target) == 0;
    if (!ok) fprintf(stderr, "nnc: error: cannot write '%s': %s\n", target, strerror(errno));
  }
  remove(tmp);
  return ok ? 0 : 1;
#else
  (void)o, (void)s;
  return 1;
#endif
}

/* A graph in the IR's text form: read, simplified, written. */
static int compile_ir(Options *o, SrcFile *src) {
  if (o->emit == EMIT_AST || o->check_grad) {
    fprintf(stderr, "nnc: error: '%s' is IR: --emit=ast and --check-grad need a .nn program\n",
            o->input);
    return 1;
  }
  Graph *g = parse_ir(src);
  if (!g || diag.errors) return 1;
  if (dumping(o, 'L')) print_ir(stderr, g);
  if (o->syntax_only) return 0;
  g = simplify(g);
  verify(g, "simplify");
  if (dumping(o, 'O')) print_ir(stderr, g);
  if (o->emit == EMIT_NONE) return 0;
  return write_output(o, NULL, &g, 1);
}

/* The pipeline. Each stage stops the run when it reported errors. */
static int compile(Options *o) {
  SrcFile *src = read_source(o->input);
  if (!src) {
    fprintf(stderr, "nnc: error: cannot read '%s': %s\n", o->input,
            errno == EFBIG ? "file too large" : strerror(errno));
    return 1;
  }

  const char *ext = strrchr(o->input, '.');
  if (ext && !strcmp(ext, ".ir")) return compile_ir(o, src);

  Program *prog = load_program(src);
  if (dumping(o, 'P')) print_ast(stderr, prog);
  if (diag.errors) return 1;

  Sema sema = {.default_float = o->dtype ? o->dtype : DT_F32};
  sema_check(&sema, prog);
  if (dumping(o, 'S')) print_checked(stderr, &sema);
  if (diag.errors) return 1;
  if (o->syntax_only) return 0;
  if (o->emit == EMIT_AST) return write_output(o, &sema, NULL, 0);
  if (o->check_grad) return check_gradients(&sema, stdout) ? 0 : 1;
  if (o->check_c) return check_c_backend(&sema, o->check_llvm, stdout) ? 0 : 1;
  if (o->backend == BACKEND_LLVM && (o->emit == EMIT_SO || llvm_kind(o->emit))) return write_llvm(o, &sema);
  if (o->emit == EMIT_C || o->emit == EMIT_EXE || o->emit == EMIT_SO)
    return write_program(o, &sema);

  /* one graph per model: its training step when it has a train block */
  int ngraphs = 0;
  Graph **graphs = arena_alloc(sizeof(Graph *) * 64);
  for (ModelInfo *m = sema.models; m && ngraphs < 64; m = m->next) {
    TrainInfo *t = NULL;
    for (TrainInfo *ti = sema.trains; ti; ti = ti->next)
      if (ti->model == m) t = ti;
    Graph *g = t ? lower_training(&sema, t) : lower_inference(&sema, m);
    if (!g) return 1;
    if (dumping(o, 'L')) print_ir(stderr, g);

    Graph *lowered = g;
    g = simplify(g);
    graph_release(lowered);
    verify(g, "simplify");
    if (dumping(o, 'O')) print_ir(stderr, g);
    if (dumping(o, 'K')) print_plan(stderr, g, plan_graph(g, nnc_fuse));
    graphs[ngraphs++] = g;
  }
  if (diag.errors) return 1;
  if (o->emit == EMIT_NONE) return 0;
  return write_output(o, &sema, graphs, ngraphs);
}

int main(int argc, char **argv) {
  Options o = {.opt = -1};
  int exit_now;
  diag_reset(stderr);
  if (!parse_options(argc, argv, &o, &exit_now)) return 1;
  if (exit_now >= 0) return exit_now;
  if (!choose_emit(&o) || !choose_backend(&o)) return 1;
  int rc = compile(&o);
  if (diag.errors > 0) rc = 1;
  return rc;
}
