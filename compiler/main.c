/* main.c — the nnc driver: options, then the pipeline as one flat list.
 *
 *   nnc [options] FILE.nn        (FILE "-" reads standard input)
 *   nnc [options] FILE.onnx      (an ONNX model, imported as a .nn model)
 *
 * compile() calls the passes in order; after each one, `-d LETTER` dumps the
 * program to standard error. Exit status: 0 on success, 1 on any error in
 * the input or on the command line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

#ifdef NNC_HAVE_LLVM
enum { HAVE_LLVM = 1 };
#else
enum { HAVE_LLVM = 0 };
#endif

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
          "       nnc [options] FILE.onnx\n"
          "\n"
          "Compiles a neural network described in the .nn language, or an ONNX model\n"
          "(imported as a .nn model named after the file). FILE may be '-' for\n"
          "standard input (.nn).\n"
          "\n"
          "options:\n"
          "  -o FILE           write the output to FILE, of the kind its name says (below);\n"
          "                    '-' is standard output, for the text of --emit=KIND\n"
          "                    (without -o or --emit, nnc checks the program only)\n"
          "  --emit=KIND       what to produce: nn (an ONNX model as .nn text), onnx\n"
          "                    (a model's inference graph as ONNX, its weights from\n"
          "                    --weights or the imported model), ast (the checked\n"
          "                    program with every\n"
          "                    layer's output shape and the parameter list), ir (the\n"
          "                    tensor IR of the training step, or of inference for a\n"
          "                    model without a train block), dot (that IR as Graphviz),\n"
          "                    layers (each model's layers with their shapes and what\n"
          "                    feeds them, as Graphviz), svg (that drawn by Graphviz's\n"
          "                    dot, which must be installed),\n"
          "                    c (one C file: the runtime, the model, and a main that\n"
          "                    trains it; builds with cc -O2 FILE.c -lm), exe (that\n"
          "                    program, built with the system C compiler), so (a shared\n"
          "                    library of every model, with NAME.h beside it), and with\n"
          "                    the LLVM backend llvm (.ll), bc, asm (.s) and obj (.o,\n"
          "                    NAME.h beside it too; link it with the runtime:\n"
          "                    pkg-config --libs nnrt)\n"
          "  --backend=B       llvm (LLVM IR through the LLVM-C API, linked by the\n"
          "                    system linker; the default for so and the LLVM kinds\n"
          "                    when nnc is built with LLVM) or c (C built with $CC)\n"
          "  -O0 .. -O3        optimization level (default -O3)\n"
          "  --target=TRIPLE   the LLVM backend's target, e.g. aarch64-linux-gnu\n"
          "                    (default: this machine); shared libraries are linked\n"
          "                    for this machine only, other targets get --emit=obj\n"
          "  --no-fuse         one kernel per IR value (for comparison: fusion never\n"
          "                    changes a result's bits)\n"
          "  --unroll          recurrent layers as copies of their step, one a time\n"
          "                    step, instead of a loop (for comparison)\n"
          "  --no-main         C output without the training program's main, to link\n"
          "                    several models into one program\n"
          "  --check-grad      check every gradient autodiff builds against central\n"
          "                    differences on random data (in f64 unless --dtype=f32)\n"
          "  --check-c         compile every model to C with the system's C compiler and\n"
          "                    check it against the reference evaluator (within float\n"
          "                    rounding; 1 and 2 threads must give the same bits), and\n"
          "                    with LLVM (unless --backend=c) the LLVM backend's library\n"
          "                    against the C (the same bits)\n"
          "  --check-explain   the same for the graphs a library adds to look inside\n"
          "                    (attribution and layers) instead of the others\n"
          "  --cpu=NAME        the processor to build for, e.g. native (this machine),\n"
          "                    haswell, znver2, cortex-a72: the C compiler's -march,\n"
          "                    or LLVM's CPU, one version for it. By default both\n"
          "                    backends build for any x86-64, with the kernels copied\n"
          "                    for AVX2 and AVX-512 and picked when the program runs\n"
          "                    (another --target: its generic processor)\n"
          "  --dtype=T         element type of inputs declared without one: f32\n"
          "                    (default) or f64\n"
          "  --weights [MODEL=]FILE\n"
          "                    build the weights of a checkpoint or weights file into the\n"
          "                    output: the model's instances start from them (MODEL= names\n"
          "                    the model when the program has several; repeatable)\n"
          "  --batch=K         an ONNX model's symbolic first dimensions fixed to K: for\n"
          "                    graphs that use the batch axis as data (a softmax\n"
          "                    across the samples), whose library then takes one\n"
          "                    sample of K (docs/onnx.md)\n"
          "  --model=NAME      the model --emit=onnx writes when the program has\n"
          "                    several (an imported one and a model calling it)\n"
          "  --inference-only  a library without the training step, the evaluation and\n"
          "                    the optimizer's state: prediction only, a smaller arena\n"
          "  --quantize int8   a library for inference whose products and convolutions\n"
          "                    of --weights run in int8 (docs/quantize.md); prints each\n"
          "                    layer's error\n"
          "  --calibrate SOURCE\n"
          "                    the train block's source (data, validation or test) whose\n"
          "                    first samples set --quantize's activation scales\n"
          "  --calibrate-samples=N  how many (default 500)\n"
          "  --calibrate-percentile=P  a scale from the P-th percentile of |x|, P in\n"
          "                    [50, 100] (default: the maximum)\n"
          "  --no-explain      a library without the graphs that look inside its models\n"
          "                    (M_saliency, M_gradcam, M_activation...): smaller, faster\n"
          "                    to build\n"
          "  -MD               also write the files the output depends on (the .nn file,\n"
          "                    those it imports, --weights) as a make rule, to the\n"
          "                    output's name with .d, or to -MF FILE\n"
          "  --summary         print each model's summary: its layers with their output\n"
          "                    shapes and parameter counts, the totals, the optimizer's\n"
          "                    state and the arena of a training step\n"
          "  -fsyntax-only     check the program (syntax, names, shapes, settings)\n"
          "                    and produce nothing\n"
          "  -d LETTERS        dump the program to standard error after stages:\n");
  for (size_t i = 0; i < sizeof stages / sizeof *stages; i++)
    fprintf(out, "                      %c  %s\n", stages[i].letter, stages[i].what);
  fprintf(out,
          "  --help-builtins   list the built-in layers, functions, initializers,\n"
          "                    losses, optimizers, schedules, data sources,\n"
          "                    augmentations, metrics, and the train settings\n"
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

/* The value of flag `name` written "NAME VALUE" or "NAME=VALUE" ("" when
 * missing), or NULL when argv[*i] is another flag. */
static const char *flag_value(const char *name, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) || (a[n] && a[n] != '=')) return NULL;
  return a[n] ? a + n + 1 : ++*i < argc ? argv[*i] : "";
}

/* --quantize and the calibration's flags (docs/quantize.md). */
static bool quantize_option(int argc, char **argv, int *i, Options *o) {
  const char *v, *a = argv[*i];
  char *end;
  if ((v = flag_value("--quantize", argc, argv, i))) {
    if (strcmp(v, "int8")) return usage_error("--quantize takes int8 (the one type it converts to), not '%s'", v);
    o->quantize = v;
  } else if ((v = flag_value("--calibrate", argc, argv, i))) {
    if (strcmp(v, "data") && strcmp(v, "validation") && strcmp(v, "test"))
      return usage_error("--calibrate takes a source of the train block: data, validation or test, not '%s'", v);
    o->calibrate = v;
  } else if ((v = flag_value("--calibrate-samples", argc, argv, i))) {
    long long k = strtoll(v, &end, 10);
    if (end == v || *end || k < 1 || k > 1000000)
      return usage_error("'--calibrate-samples' takes a count from 1 to 1000000, not '%s'", v);
    o->calibrate_samples = k;
  } else if ((v = flag_value("--calibrate-percentile", argc, argv, i))) {
    double pc = strtod(v, &end);
    if (end == v || *end || !(pc >= 50 && pc <= 100))
      return usage_error("'--calibrate-percentile' takes a percentile from 50 to 100, not '%s'", v);
    o->percentile = pc;
  } else {
    return usage_error("unknown option '%s'", a);
  }
  return true;
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
      print_settings(stdout);
      *exit_now = 0;
      return true;
    } else if (!strcmp(a, "-o")) {
      if (++i == argc) return usage_error("'-o' needs a file name%s", "");
      o->output = argv[i];
    } else if (!strncmp(a, "-o", 2)) {
      o->output = a + 2;
    } else if (!strncmp(a, "--emit=", 7)) {
      if (!strcmp(a + 7, "ast")) o->emit = EMIT_AST;
      else if (!strcmp(a + 7, "nn")) o->emit = EMIT_NN;
      else if (!strcmp(a + 7, "onnx")) o->emit = EMIT_ONNX;
      else if (!strcmp(a + 7, "ir")) o->emit = EMIT_IR;
      else if (!strcmp(a + 7, "dot")) o->emit = EMIT_DOT;
      else if (!strcmp(a + 7, "layers")) o->emit = EMIT_LAYERS;
      else if (!strcmp(a + 7, "svg")) o->emit = EMIT_SVG;
      else if (!strcmp(a + 7, "c")) o->emit = EMIT_C;
      else if (!strcmp(a + 7, "exe")) o->emit = EMIT_EXE;
      else if (!strcmp(a + 7, "so")) o->emit = EMIT_SO;
      else if (!strcmp(a + 7, "llvm")) o->emit = EMIT_LL;
      else if (!strcmp(a + 7, "bc")) o->emit = EMIT_BC;
      else if (!strcmp(a + 7, "asm")) o->emit = EMIT_ASM;
      else if (!strcmp(a + 7, "obj")) o->emit = EMIT_OBJ;
      else return usage_error("unknown --emit kind '%s' (nn, onnx, ast, ir, dot, layers, svg, c, exe, so, llvm, bc, asm, "
                              "obj)", a + 7);
    } else if (!strncmp(a, "--backend=", 10)) {
      if (strcmp(a + 10, "c") != 0 && strcmp(a + 10, "llvm") != 0)
        return usage_error("unknown backend '%s' (llvm or c)", a + 10);
      o->backend_name = a + 10;
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
    } else if (!strcmp(a, "--weights") || !strncmp(a, "--weights=", 10)) {
      const char *w = a[9] ? a + 10 : (++i < argc ? argv[i] : NULL);
      if (!w || !*w) return usage_error("'--weights' needs a checkpoint file (--weights [MODEL=]FILE)%s", "");
      if (o->nweights == (int)(sizeof o->weights / sizeof *o->weights))
        return usage_error("more than 16 --weights%s", "");
      o->weights[o->nweights++] = w;
    } else if (!strcmp(a, "-MD")) {
      o->deps = true;
    } else if (!strcmp(a, "-MF")) {
      if (++i == argc) return usage_error("'-MF' needs a file name%s", "");
      o->deps_file = argv[i];
    } else if (!strncmp(a, "--model=", 8)) {
      o->model = a + 8;
      if (!*o->model) return usage_error("'--model=' needs a model's name%s", "");
    } else if (!strncmp(a, "--quantize", 10) || !strncmp(a, "--calibrate", 11)) {
      if (!quantize_option(argc, argv, &i, o)) return false;
    } else if (!strcmp(a, "--inference-only")) {
      o->inference_only = true;
    } else if (!strcmp(a, "--no-explain")) {
      o->no_explain = true;
    } else if (!strncmp(a, "--batch=", 8)) {
      char *end;
      long long k = strtoll(a + 8, &end, 10);
      if (end == a + 8 || *end || k < 1 || k > (1 << 24))
        return usage_error("'--batch' takes a batch size from 1 to 16777216, not '%s'", a + 8);
      o->batch = k;
    } else if (!strcmp(a, "--summary")) {
      o->summary = true;
    } else if (!strcmp(a, "--no-fuse")) {
      o->no_fuse = true;
    } else if (!strcmp(a, "--unroll")) {
      o->unroll = true;
    } else if (!strcmp(a, "--no-main")) {
      o->no_main = true;
    } else if (!strcmp(a, "--check-c") || !strcmp(a, "--check-explain")) {
      o->check_c = true;
      o->check_explain = a[8] == 'x';
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
  if (o->summary && (o->syntax_only || o->emit == EMIT_AST))
    return usage_error("--summary needs the model's graphs, which %s stops before; drop one of them",
                       o->syntax_only ? "-fsyntax-only" : "--emit=ast");
  return true;
}

static bool dumping(const Options *o, char letter) {
  return o->dump && strchr(o->dump, letter);
}

/* The artifact follows the output name unless --emit says otherwise. */
static bool choose_emit(Options *o) {
  if (o->output && !strcmp(o->output, "-") && !o->syntax_only && !o->check_grad && !o->check_c &&
      !(o->emit == EMIT_NN || o->emit == EMIT_AST || o->emit == EMIT_IR || o->emit == EMIT_DOT || o->emit == EMIT_LAYERS ||
        o->emit == EMIT_SVG || o->emit == EMIT_C || o->emit == EMIT_LL || o->emit == EMIT_ASM))
    return usage_error("'-o -' writes text to standard output: it needs --emit=nn, ast, ir, dot, layers, svg, c, llvm or "
                       "asm; name "
                       "a file for a program, a library, an object or bitcode%s", "");
  if (o->emit != EMIT_NONE || o->syntax_only) return true;
  if (!o->output || o->check_grad || o->check_c) return true; /* nothing to produce */
  static const struct { const char *ext; Emit emit; } by_ext[] = {
    {".nn", EMIT_NN}, {".onnx", EMIT_ONNX}, {".ast", EMIT_AST}, {".ir", EMIT_IR}, {".dot", EMIT_DOT}, {".svg", EMIT_SVG}, {".c", EMIT_C}, {".so", EMIT_SO},
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
                     "(-o NAME), .nn text (of an ONNX model), .onnx files, .ast, .ir and .dot dumps and .svg layer "
                     "graphs", o->output);
}

static bool llvm_kind(Emit e) { return e == EMIT_LL || e == EMIT_BC || e == EMIT_ASM || e == EMIT_OBJ; }

/* Which backend writes the artifact: the one --backend names, else the
 * first that makes it (LLVM for shared libraries when nnc has it). */
static bool choose_backend(Options *o) {
  const char *name = o->backend_name;
  if (!name) name = llvm_kind(o->emit) || (o->emit == EMIT_SO && HAVE_LLVM) ? "llvm" : "c";
  bool llvm = !strcmp(name, "llvm");
  o->check_llvm = HAVE_LLVM && !(o->backend_name && !llvm);
  if (llvm && !HAVE_LLVM)
    return usage_error("%s needs the LLVM backend, and this nnc was built without LLVM (see nnc --version)",
                       llvm_kind(o->emit) ? "this output" : "--backend=llvm");
  if (llvm && (o->emit == EMIT_C || o->emit == EMIT_EXE))
    return usage_error("%s comes from the C backend (--backend=llvm builds .so, .ll, .bc, .s and .o)",
                       o->emit == EMIT_C ? "C output" : "a program");
  if (!llvm && llvm_kind(o->emit)) return usage_error("LLVM's output (.ll, .bc, .s, .o) needs --backend=llvm%s", "");
  if (o->target && !llvm) return usage_error("--target=%s needs the LLVM backend (--backend=llvm)", o->target);
  bool code = o->emit == EMIT_C || o->emit == EMIT_EXE || o->emit == EMIT_SO || llvm_kind(o->emit);
  if (o->quantize && (!(code || o->check_c) || o->check_grad || !o->nweights || !o->calibrate))
    return usage_error("--quantize int8 converts trained weights into a library: it needs --weights FILE, "
                       "--calibrate SOURCE and code to write (-o with .so, .o, .c, ...)%s", "");
  if ((o->calibrate || o->calibrate_samples || o->percentile) && !o->quantize)
    return usage_error("--calibrate and its options set up --quantize int8, which this run lacks%s", "");
  if ((o->nweights || o->inference_only || o->no_explain) &&
      (!(code || o->emit == EMIT_ONNX || (o->check_c && o->quantize)) || (o->check_c && !o->quantize) ||
       o->check_grad))
    return usage_error("%s builds into code (-o with .so, .o, .c, a program, ...), not a check or a dump",
                       o->nweights ? "--weights" : o->inference_only ? "--inference-only" : "--no-explain");
  if (o->deps_file && !o->deps) return usage_error("-MF names the file that -MD writes; add -MD%s", "");
  if (o->deps && (!code || !o->output || !strcmp(o->output, "-")))
    return usage_error("-MD needs an output file (-o FILE) that is code: a library, an object, C, a program%s", "");
  if (o->quantize && (o->emit == EMIT_EXE || (o->emit == EMIT_C && !o->no_main)))
    return usage_error("--quantize makes a library for inference: a training program trains in f32 (for C "
                       "without the program, add --no-main)%s", "");
  if (o->inference_only && (o->emit == EMIT_EXE || (o->emit == EMIT_C && !o->no_main)))
    return usage_error("--inference-only makes a library: a training program needs its training step (for C "
                       "without the program, add --no-main)%s", "");
  if (o->emit == EMIT_ONNX && (!o->output || !strcmp(o->output, "-")))
    return usage_error("--emit=onnx writes a file: name it with -o FILE.onnx%s", "");
  if (o->model && o->emit != EMIT_ONNX)
    return usage_error("--model=%s names the model --emit=onnx writes; this run writes no ONNX file", o->model);
  if (o->emit == EMIT_NONE || o->emit == EMIT_NN || o->emit == EMIT_ONNX || o->emit == EMIT_AST || o->check_grad ||
      o->check_c)
    return true;
  if (o->emit == EMIT_IR || o->emit == EMIT_DOT) name = o->emit == EMIT_IR ? "ir" : "dot";
  if (o->emit == EMIT_LAYERS || o->emit == EMIT_SVG) name = "layers";
  o->backend = backend_named(name);
  if (!o->backend || !(o->backend->kinds & 1u << o->emit)) bug("backend %s does not make kind %d", name, (int)o->emit);
  return true;
}

/* -MD: "OUTPUT: FILE..." for make (and CMake's DEPFILE): the program's
 * files, imports included, and the --weights files; spaces, '#' and '$'
 * escaped as make reads them. */
static void dep_word(FILE *f, const char *s, bool first) {
  if (!first) fputc(' ', f);
  for (; *s; s++) {
    if (*s == ' ' || *s == '#') fputc('\\', f);
    if (*s == '$') fputc('$', f);
    fputc(*s, f);
  }
}

static bool write_deps(const Options *o, const Program *prog) {
  const char *path = o->deps_file;
  if (!path) path = arena_printf("%s.d", path_stem(o->output));
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "nnc: error: cannot write '%s': %s\n", path, strerror(errno));
    return false;
  }
  dep_word(f, o->output, true);
  fputc(':', f);
  for (int i = 0; i < prog->nfiles; i++)
    if (strcmp(prog->files[i], "<stdin>") != 0) dep_word(f, prog->files[i], false);
  for (int i = 0; i < o->nweights; i++) dep_word(f, weights_file(o->weights[i]), false);
  fputc('\n', f);
  if (fclose(f) != 0) {
    fprintf(stderr, "nnc: error: cannot write '%s': %s\n", path, strerror(errno));
    return false;
  }
  return true;
}

/* Writes the models with the chosen backend. */
static int write_models(const Options *o, Built *models) {
  Out out = {.o = o, .models = models};
  bool ok = o->backend->begin(&out);
  for (Built *b = models; ok && b; b = b->next) ok = o->backend->model(&out, b);
  ok = o->backend->finish(&out, ok && !diag.errors);
  return ok ? 0 : 1;
}

/* A graph in the IR's text form: read, simplified, written as IR or dot. */
static int compile_ir(Options *o, SrcFile *src) {
  if (o->emit == EMIT_AST || o->check_grad || o->check_c || (o->backend && o->emit != EMIT_IR && o->emit != EMIT_DOT)) {
    fprintf(stderr, "nnc: error: '%s' is IR: it can be written as IR or dot (--emit=ir, --emit=dot); "
                    "--emit=ast, the checks and the backends need a .nn program\n", o->input);
    return 1;
  }
  Graph *g = parse_ir(src);
  if (!g || diag.errors) return 1;
  if (dumping(o, 'L')) print_ir(stderr, g);
  if (o->syntax_only) return 0;
  g = simplify(g);
  verify(g, "simplify");
  if (dumping(o, 'O')) print_ir(stderr, g);
  if (dumping(o, 'K')) print_plan(stderr, g, plan_graph(g, !o->no_fuse));
  Built b = {.name = g->name}; /* IR and dot need no plan */
  b.g[g->training ? GRAPH_TRAIN : GRAPH_INFER] = g;
  return o->backend ? write_models(o, &b) : 0;
}

/* A model's graph k as lowering builds it: the training step (autodiff
 * and the update), the evaluation, inference, or generation's step (from
 * inference, built before it). */
static Graph *lower(Sema *s, const Built *b, int k) {
  if (k == GRAPH_TRAIN) return b->train ? lower_training(s, b->train) : NULL;
  if (k == GRAPH_EVAL) return b->train ? lower_evaluation(s, b->train) : NULL;
  if (k == GRAPH_STEP) return generation_step(b->g[GRAPH_INFER]);
  if (k == GRAPH_ATTR) return lower_attribution(s, b->model);
  if (k == GRAPH_LAYERS) return lower_layers(s, b->model);
  return lower_inference(s, b->model);
}

/* Whether the models get the graphs that look inside them (explain.c):
 * in a library, or C with a program (its API has them), not in a
 * training program, a check, a dump or ONNX (tests/cli/explain.sh checks
 * them against finite differences and the textbook definitions). */
static bool explains(const Options *o, const Sema *s) {
  if (o->check_c || o->check_grad) return false;
  if (o->emit == EMIT_LAYERS || o->emit == EMIT_SVG) return true; /* the layers graph is what they draw */
  if (o->no_explain) return false;
  bool code = o->emit == EMIT_C || o->emit == EMIT_EXE || o->emit == EMIT_SO || llvm_kind(o->emit);
  bool program = o->emit == EMIT_EXE || (o->emit == EMIT_C && !o->no_main);
  return code && !(program && s->trains && !o->inference_only);
}

/* --emit=nn: the text, and with -o FILE.nn the initializers as FILE.safetensors
 * (the text checked first, for the parameters' names and shapes). */
static int emit_nn(const Options *o, SrcFile *src) {
  if (!o->output || !strcmp(o->output, "-")) return write_nn(o, src->text);
  Program *prog = load_program(src);
  Sema sema = {.default_float = o->dtype ? o->dtype : DT_F32};
  if (diag.errors || !sema_check(&sema, prog)) return 1;
  onnx_values(&sema);
  return write_weights(&sema, arena_printf("%s.safetensors", path_stem(o->output))) ? write_nn(o, src->text) : 1;
}

/* The pipeline. Each stage stops the run when it reported errors. */
static int compile(Options *o) {
  const char *ext = strrchr(o->input, '.');
  bool onnx = ext && !strcmp(ext, ".onnx");
  if (o->emit == EMIT_NN && !onnx) {
    fprintf(stderr, "nnc: error: --emit=nn writes an imported ONNX model as .nn; '%s' is not a .onnx file\n", o->input);
    return 1;
  }
  if (o->batch && !onnx) {
    fprintf(stderr, "nnc: error: --batch fixes an ONNX model's batch; '%s' is not a .onnx file\n", o->input);
    return 1;
  }
  SrcFile *src = onnx ? onnx_import(o->input, NULL, o->batch) : read_source(o->input);
  if (onnx && !src) return 1;
  if (o->emit == EMIT_NN) return emit_nn(o, src);
  if (!src) {
    fprintf(stderr, "nnc: error: cannot read '%s': %s\n", o->input,
            errno == EFBIG ? "file too large" : strerror(errno));
    return 1;
  }

  if (ext && !strcmp(ext, ".ir")) return compile_ir(o, src);

  Program *prog = load_program(src);
  if (dumping(o, 'P')) print_ast(stderr, prog);
  if (diag.errors) return 1;

  Sema sema = {.default_float = o->dtype ? o->dtype : DT_F32};
  sema_check(&sema, prog);
  onnx_values(diag.errors ? NULL : &sema);
  if (dumping(o, 'S')) print_checked(stderr, &sema);
  if (diag.errors) return 1;
  if (o->syntax_only) return 0;
  if (o->emit == EMIT_AST) return write_ast(o, &sema);

  /* every model's graphs, each built once: lowered, simplified, planned */
  Built *models = NULL, **tail = &models;
  for (ModelInfo *m = sema.models; m; m = m->next) {
    Built *b = arena_alloc(sizeof *b);
    b->name = m->decl->name, b->model = m;
    for (TrainInfo *t = sema.trains; t; t = t->next)
      if (t->model == m) b->train = t;
    for (int k = 0; k < NGRAPHS; k++) { /* --inference-only: neither training step nor evaluation */
      bool skip = (o->inference_only || o->quantize) && (k == GRAPH_TRAIN || k == GRAPH_EVAL);
      skip |= o->quantize && k != GRAPH_INFER; /* its graph alone is quantized (quantize.c) */
      skip |= (k == GRAPH_ATTR || k == GRAPH_LAYERS) && !explains(o, &sema);
      skip |= k == GRAPH_ATTR && (o->emit == EMIT_LAYERS || o->emit == EMIT_SVG);
      Graph *g = skip ? NULL : lower(&sema, b, k);
      if (!g) continue;
      if (dumping(o, 'L')) print_ir(stderr, g);
      b->g[k] = simplify(g);
      graph_release(g);
      verify(b->g[k], "simplify");
      if (b->g[k]->nbodies && o->unroll) {
        Graph *u = unroll(b->g[k]);
        graph_release(b->g[k]);
        verify(b->g[k] = u, "unroll");
      }
      if (dumping(o, 'O') && !o->quantize) print_ir(stderr, b->g[k]); /* else quantized, below */
      b->plan[k] = plan_graph(b->g[k], !o->no_fuse);
      if (dumping(o, 'K') && !o->quantize) print_plan(stderr, b->g[k], b->plan[k]);
    }
    *tail = b, tail = &b->next;
  }
  if (diag.errors) return 1;
  if (o->nweights && !built_in_weights(models, o)) return 1;
  if (o->quantize && !quantize_models(models, o)) return 1;
  for (Built *b = models; o->quantize && b; b = b->next) {
    if (dumping(o, 'O')) print_ir(stderr, b->g[GRAPH_INFER]);
    if (dumping(o, 'K')) print_plan(stderr, b->g[GRAPH_INFER], b->plan[GRAPH_INFER]);
  }
  for (Built *b = models; (o->inference_only || o->quantize) && b; b = b->next) b->train = NULL; /* as if it had no train block */
  for (Built *b = models; o->summary && b; b = b->next) printf("%s%s", b == models ? "" : "\n", model_summary(b));

  if (o->emit == EMIT_ONNX) return write_onnx(o, models) ? 0 : 1;
  if (o->check_grad) return check_gradients(&sema, models, stdout) ? 0 : 1;
  if (o->check_c) return check_c_backend(&sema, models, o, stdout) ? 0 : 1;
  int rc = o->backend ? write_models(o, models) : 0;
  return rc == 0 && o->deps && !write_deps(o, prog) ? 1 : rc;
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
