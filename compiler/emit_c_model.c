/* emit_c_model.c — the C backend's program around the graphs: the
 * model's API as one-line wrappers of the runtime's nnrt_model_*
 * functions, its NnrtModelDef table and descriptor, the library's header,
 * and the runtime's source copied in (the parts the graphs call).
 *
 * Requires: each model's graphs already written by emit_c_graph (their
 * NAME_run and NAME_arena); the runtime's source embedded by the build.
 * Guarantees: writes nothing but to the FILE it is given. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "nnrt.h"

/* The exported API (runtime/nnrt_api.h): each function one call into the
 * runtime's generic nnrt_model_* (M_Model being NnrtModel), with its
 * prototype and comment in the library's header (docs/c-api.md has the
 * whole contract). `def`: the call's first argument is the model's table;
 * `graph`: the function exists only when the model has that graph (train,
 * eval, infer). `params` and `args` come with their parentheses. */
static const struct {
  const char *ret, *name, *params, *args;
  bool def;
  int graph;
  const char *doc;
} api[] = {
#define NNRT_MODEL_FN(ret, name, params, args, def, graph, sig, doc) {#ret, #name, #params, #args, def, graph, doc},
#include "nnrt_api.h"
#undef NNRT_MODEL_FN
};

/* "type name": a space between them unless the type ends in '*' */
static const char *typed(const char *ret, const char *name) {
  return arena_printf("%s%s%s", ret, ret[strlen(ret) - 1] == '*' ? "" : " ", name);
}

/* text with every "NnrtModel" written as "M_Model" */
static char *for_model(const char *text, const char *model) {
  char *out = arena_strdup("");
  for (const char *p = text, *at; *p; p = at + 9) {
    if (!(at = strstr(p, "NnrtModel"))) return arena_printf("%s%s", out, p);
    out = arena_printf("%s%.*s%s_Model", out, (int)(at - p), p, model);
  }
  return out;
}

extern const char nnrt_h_source[], nnrt_api_h_source[], nn_model_desc_h_source[], nnrt_c_source[],
    nnrt_random_c_source[], nnrt_gemm_c_source[], nnrt_window_c_source[], nnrt_window_inc_source[], nnrt_conv_c_source[],
    nnrt_checkpoint_c_source[], nnrt_model_c_source[],
    nnrt_program_h_source[], nnrt_data_c_source[], nnrt_callbacks_c_source[], nnrt_program_c_source[],
    nnrt_predict_c_source[], nnrt_arrays_c_source[], nnrt_vmath_h_source[], nnrt_viz_c_source[],
    nnrt_prune_c_source[], nnrt_qgemm_c_source[];

/* A file of the runtime, copied in with the files it includes that are
 * written in place (the API's rows, the descriptor types, the window
 * template, once per element type) and without its other #include of the
 * runtime's headers (nnrt.h, nnrt_program.h: they are in already). */
static void inline_source(FILE *o, const char *c) {
  static const struct {
    const char *line, *text;
  } in_place[] = {{"#include \"nnrt_api.h\"", nnrt_api_h_source},
                  {"#include \"nn_model_desc.h\"", nn_model_desc_h_source},
                  {"#include \"nnrt_window.inc\"", nnrt_window_inc_source},
                  {"#include \"nnrt_vmath.h\"", nnrt_vmath_h_source}};
  while (*c) {
    const char *line = c, *nl = strchr(c, '\n');
    size_t len = nl ? (size_t)(nl - c) + 1 : strlen(c), i = 0;
    while (i < sizeof in_place / sizeof *in_place && strncmp(line, in_place[i].line, strlen(in_place[i].line)))
      i++;
    if (i < sizeof in_place / sizeof *in_place)
      inline_source(o, in_place[i].text);
    else if (strncmp(line, "#include \"nn", 12) != 0)
      fwrite(line, 1, len, o);
    c += len;
  }
}

/* The runtime, copied in so the file needs nothing but libm: the parts
 * every model calls (the common one, random numbers and initializers,
 * checkpoints, the model API), the GEMM when a graph has a product, a
 * convolution or pooling (the convolutions' part, which pooling shares,
 * calls it), the convolutions and pooling when a graph has one. */
static void runtime_parts(const Graph *g, bool *gemm, bool *window, bool *quant) {
  for (int i = 0; i < g->nbodies; i++) runtime_parts(g->bodies[i], gemm, window, quant);
  *quant |= g->nqlayers > 0;
  for (int id = 0; id < g->n; id++) {
    OpClass cls = op_info[g->v[id].op].cls;
    *gemm |= cls == CL_CONTRACT || cls == CL_WINDOW;
    *window |= cls == CL_WINDOW;
  }
}

static void inline_runtime(FILE *o, const Built *models) {
  bool gemm = false, window = false, quant = false;
  for (const Built *b = models; b; b = b->next)
    for (int k = 0; k < NGRAPHS; k++)
      if (b->g[k]) runtime_parts(b->g[k], &gemm, &window, &quant);
  fprintf(o, "/* ---- the nnrt runtime (runtime/nnrt.h and the parts of runtime/ this file calls) ---- */\n%s%s%s",
          gemm ? "" : "#define NNRT_NO_GEMM\n", quant ? "" : "#define NNRT_NO_QGEMM\n", window ? "" : "#define NNRT_NO_WINDOW\n");
  inline_source(o, nnrt_h_source);
  fprintf(o, "\n");
  inline_source(o, nnrt_c_source);
  inline_source(o, nnrt_random_c_source);
  if (gemm) inline_source(o, nnrt_gemm_c_source);
  if (window) inline_source(o, nnrt_conv_c_source);
  if (window) inline_source(o, nnrt_window_c_source);
  if (quant) inline_source(o, nnrt_qgemm_c_source);
  inline_source(o, nnrt_checkpoint_c_source);
  inline_source(o, nnrt_model_c_source);
}

void emit_c_program_runtime(FILE *o) {
  fprintf(o, "\n/* ---- the training program's runtime (runtime/nnrt_program.h, nnrt_data.c, nnrt_program.c, nnrt_predict.c, nnrt_viz.c, nnrt_prune.c) ---- */\n");
  inline_source(o, nnrt_program_h_source);
  inline_source(o, nnrt_data_c_source);
  inline_source(o, nnrt_callbacks_c_source);
  inline_source(o, nnrt_program_c_source);
  inline_source(o, nnrt_predict_c_source);
  inline_source(o, nnrt_arrays_c_source);
  inline_source(o, nnrt_viz_c_source);
  inline_source(o, nnrt_prune_c_source);
}

/* The model's tensors with their initializers: the parameters, then the
 * states (the order of a checkpoint). */
static void tensor_table(FILE *o, const char *model, const Graph *g) {
  int n = g->nparams + g->nstates;
  for (int i = 0; i < n; i++) { /* built-in values (--weights): their bytes as a string, which C compilers
                                   read far faster than a list of numbers (50 MB: 10 s against 76, docs/install.md) */
    ParamInfo *p = i < g->nparams ? g->params[i] : g->states[i - g->nparams];
    if (!p->value) continue;
    int64_t bytes = param_elements(p) * (p->dtype == DT_F64 ? 8 : 4);
    fprintf(o, "static const char %s_value%d[%lld] =", model, i, (long long)(bytes ? bytes : 1));
    const unsigned char *b = p->value;
    for (int64_t j = 0, col = 80; j < bytes; j++) {
      if (col >= 80) fputs(j ? "\"\n  \"" : "\n  \"", o), col = 0;
      /* printable bytes as they are, the rest (and \\ " ? ') as three octal digits */
      if (b[j] >= 32 && b[j] < 127 && !strchr("\\\"?'", b[j])) fputc(b[j], o), col++;
      else fprintf(o, "\\%03o", b[j]), col += 4;
    }
    fprintf(o, "%s;\n", bytes ? "\"" : " \"\"");
  }
  fprintf(o, "static const NnrtTensorInfo %s_tensors[%d] = {\n", model, n ? n : 1);
  for (int i = 0; i < n; i++) {
    ParamInfo *p = i < g->nparams ? g->params[i] : g->states[i - g->nparams];
    fprintf(o, "  {\"%s\", %d, %d, {", p->name, p->dtype == DT_F64 ? 8 : 4, p->shape.rank);
    for (int d = 0; d < p->shape.rank; d++) fprintf(o, "%s%lld", d ? ", " : "", (long long)p->shape.dim[d]);
    fprintf(o, "}, %d, {%.17g, %.17g}, %s},\n", nnrt_init_index(p->init_name), p->init_args[0], p->init_args[1],
            p->value ? arena_printf("%s_value%d", model, i) : "0");
  }
  if (!n) fprintf(o, "  {0}\n");
  fprintf(o, "};\n");
}

/* The name-independent description a generic host drives a model by:
 * inputs, outputs and parameters with their types (-1 is the batch). */
static void desc_list(FILE *o, const char *model, const char *what, Graph *g, const int *ids,
                      int n, ParamInfo **ps, const char *const *names, const int8_t *batch_at) {
  fprintf(o, "static const NnTensorDesc %s_desc_%s[%d] = {\n", model, what, n ? n : 1);
  for (int i = 0; i < n; i++) {
    DType dt = ps ? ps[i]->dtype : g->v[ids[i]].dtype;
    Shape sh = ps ? ps[i]->shape : caller_layout(g->v[ids[i]].shape, batch_at ? batch_at[i] : 0);
    fprintf(o, "  {\"%s\", %d, %d, {", ps ? ps[i]->name : names && names[i] ? names[i] : arena_printf("%s%d", what, i),
            dt == DT_F64 ? 1 : dt == DT_I32 ? 2 : 0, sh.rank);
    for (int d = 0; d < sh.rank; d++)
      fprintf(o, "%s%lld", d ? ", " : "", (long long)(sh.dim[d] == DIM_BATCH ? -1 : sh.dim[d]));
    fprintf(o, "}},\n");
  }
  if (!n) fprintf(o, "  {0}\n");
  fprintf(o, "};\n");
}

/* gl: the graph whose labels a step takes (the training step's), or NULL;
 * gy: the layers graph, whose outputs are the layers, or NULL. */
static void descriptor(FILE *o, const char *model, Graph *g, Graph *gl, Graph *gy) {
  fprintf(o, "\n");
  desc_list(o, model, "input", g, g->inputs, g->ninputs, NULL, g->input_names, g->input_batch);
  desc_list(o, model, "output", g, g->outputs, g->noutputs, NULL, g->output_names, g->output_batch);
  desc_list(o, model, "param", g, NULL, g->nparams, g->params, NULL, NULL);
  int nl = gl ? gl->nlabels - (gl->nlabels && gl->label_rules[gl->nlabels - 1].kind == NNRT_LABEL_WEIGHTS) : 0;
  desc_list(o, model, "label", gl, gl ? gl->labels : NULL, nl, NULL, gl ? gl->output_names : NULL,
            gl ? gl->output_batch : NULL);
  int ns = 0; /* the model's states: the optimizer's slots come after them */
  while (ns < g->nstates && !g->states[ns]->slot) ns++;
  desc_list(o, model, "state", g, NULL, ns, g->states, NULL, NULL);
  desc_list(o, model, "layer", gy, gy ? gy->outputs : NULL, gy ? gy->noutputs : 0, NULL, gy ? gy->output_names : NULL,
            NULL);
  fprintf(o, "static const NnModelDesc %s_desc = {\"%s\", %d, %d, %d, %s_desc_input, %s_desc_output, %s_desc_param,\n"
             "  %d, %s_desc_label, %d, %s_desc_state, \"%s\", %d, %d, %s_desc_layer};\n",
          model, model, g->ninputs, g->noutputs, g->nparams, model, model, model, nl, model, ns, model, NNC_VERSION,
          NN_MODEL_ABI, gy ? gy->noutputs : 0, model);
}

void emit_c_header(FILE *o, const char *source, const Built *models) {
  fprintf(o, "/* The C API of the models nnc compiled from %s (docs/c-api.md).\n"
             " * inputs[i] and outputs are row-major arrays of n samples, the batch\n"
             " * at the axis where the descriptor's dims hold -1 (the first unless the\n"
             " * model declares another: input x: [T, N, F]); a model's\n"
             " * instances are independent, so several threads may each use their own.\n"
             " * Every function checks its arguments: an error returns -1, NaN or NULL\n"
             " * and M_last_error says why. */\n"
             "#ifndef NNC_%s_H\n#define NNC_%s_H\n#include <stddef.h>\n#include <stdint.h>\n%s",
          source, models ? models->name : "NONE", models ? models->name : "NONE", nn_model_desc_h_source);
  for (const Built *m = models; m; m = m->next) {
    const char *M = m->name;
    fprintf(o, "\n/* model %s, compiled by nnc %s for ABI %d (M_describe()->nnc_version, ->abi) */\n"
               "#define %s_NNC_VERSION \"%s\"\n#define %s_ABI %d\ntypedef struct %s_Model %s_Model;\n",
            M, NNC_VERSION, NN_MODEL_ABI, M, NNC_VERSION, M, NN_MODEL_ABI, M, M);
    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++) {
      if (api[i].graph >= 0 && !m->g[api[i].graph]) continue;
      fprintf(o, "/* %s */\n%s%s;\n", api[i].doc,
              typed(for_model(api[i].ret, M), arena_printf("%s_%s", M, api[i].name)), for_model(api[i].params, M));
    }
    fprintf(o, "/* inputs, outputs and parameters with names, types and shapes */\n"
               "const NnModelDesc *%s_describe(void);\n", M);
  }
  fprintf(o, "\n#endif\n");
}

void emit_c_prelude(FILE *o, const char *source, const Built *models) {
  fprintf(o, "/* Compiled by nnc %s from %s.\n"
             " * Build: cc -O2 FILE.c -lm (the runtime is included below). */\n"
             "#if !defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L\n"
             "#error \"this file is C11: build it with -std=c11 or later (the default of gcc and clang)\"\n"
             "#endif\n"
             "/* a * b + c is two roundings, as the reference evaluator computes it: the\n"
             " * compiler may not fuse it into one (the results are the same everywhere) */\n"
             "#if defined(__clang__)\n#pragma STDC FP_CONTRACT OFF\n"
             "#elif defined(__GNUC__)\n#pragma GCC optimize(\"fp-contract=off\")\n#endif\n"
             "/* the kernels copied for AVX2 and AVX-512 too, the copy run chosen when the\n"
             " * program runs, where the file is built for any x86-64 (no -march with AVX) */\n"
             "#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__OPTIMIZE__) && \\\n"
             "    !defined(__AVX__) && !defined(NNRT_ONE_ISA)\n#define NNRT_CLONES 1\n#else\n#define NNRT_CLONES 0\n#endif\n"
             "#define _POSIX_C_SOURCE 200809L\n"
             "#if defined(__GNUC__)\n#define NNRT_API static __attribute__((unused))\n"
             "#define NNRT_WINDOW_API static inline __attribute__((always_inline, unused))\n"
             "#else\n#define NNRT_API static\n#endif\n"
             "#include <errno.h>\n#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n"
             "#include <stdlib.h>\n#include <string.h>\n\n",
          NNC_VERSION, source);
  inline_runtime(o, models);
}

/* The def's generation fields (model_checks): M_generate of a model that
 * is not a language model returns -1 (gen_steps 0). */
static void generation(FILE *o, const ModelChecks *c) {
  fprintf(o, "  .gen_steps = %lld, .gen_classes = %lld, .gen_probabilities = %d, .gen_dtype = %d,\n",
          (long long)c->gen[0], (long long)c->gen[1], (int)c->gen[2], (int)c->gen[3]);
  fprintf(o, "  .gen_nstates = %d, .gen_state_bytes = {", c->gen_nstates);
  for (int i = 0; i < c->gen_nstates; i++) fprintf(o, "%s%lld", i ? ", " : "", (long long)c->gen_state_bytes[i]);
  fprintf(o, "%s},\n", c->gen_nstates ? "" : "0");
}

/* A model: its tensors, its graphs (training step, evaluation, inference,
 * generation's step; any may be NULL), its descriptor, the table NnrtModelDef that drives the
 * runtime's generic model functions, and the exported API over them. The
 * graphs share the parameters; the training step's states come first in
 * the same order as the evaluation's and inference's. */
void emit_c_model(FILE *o, const Built *b) {
  const char *model = b->name;
  Graph *const *gs = b->g, *infer = b->g[GRAPH_INFER];
  Graph *g = built_main_graph(b);
  for (int k = 1; k < NGRAPHS; k++) {
    Graph *h = gs[k];
    if (!h || h == g) continue;
    if (h->nparams != g->nparams || h->nstates > g->nstates) bug("graphs of %s disagree", model);
    for (int i = 0; i < h->nstates; i++)
      if (strcmp(h->states[i]->name, g->states[i]->name) != 0) bug("state %d of %s", i, model);
  }
  fprintf(o, "\n/* ---- model %s ---- */\n\n", model);
  tensor_table(o, model, g);
  int64_t kept = plan_kept(b); /* the forward graphs' kept slots, before their code */
  static const char *suffix[NGRAPHS] = {"train", "eval", "infer", "step", "attr", "layers"};
  bool cold = false;
  for (int k = 0; k < NGRAPHS; k++) {
    if (!gs[k]) continue;
    if (k >= GRAPH_ATTR && !cold) { /* the graphs run rarely (explain.c): optimized for size, which compiles faster */
      cold = true;
      fprintf(o, "\n#if defined(__GNUC__) && !defined(__clang__)\n#pragma GCC push_options\n"
                 "#pragma GCC optimize(\"Os\", \"fp-contract=off\")\n#endif\n");
    }
    emit_c_graph(o, gs[k], b->plan[k], model, suffix[k], graph_levels(b, k));
  }
  if (cold) fprintf(o, "#if defined(__GNUC__) && !defined(__clang__)\n#pragma GCC pop_options\n#endif\n");
  descriptor(o, model, infer ? infer : g, gs[GRAPH_TRAIN] ? gs[GRAPH_TRAIN] : gs[GRAPH_EVAL], gs[GRAPH_LAYERS]);
  const TrainInfo *t = b->train;
  if (t && t->class_weight) { /* class_weight: what a training step weighs each class's samples by */
    fprintf(o, "\nstatic const double %s_class_weights[%lld] = {", model, (long long)t->nclass_weight);
    for (int64_t i = 0; i < t->nclass_weight; i++) fprintf(o, "%s%.17g", i ? ", " : "", t->class_weight[i]);
    fprintf(o, "};\n");
  }
  fprintf(o, "\nstatic const NnrtModelDef %s_def = {\n"
             "  .name = \"%s\", .nparams = %d, .nstates = %d, .tensors = %s_tensors,\n"
             "  .base_lr = %.17g,\n",
          model, model, g->nparams, g->nstates, model, g->base_lr);
  for (int f = 0; f < 2; f++) { /* .run, then .arena: a function per graph, or NULL */
    const char *field = f ? "arena" : "run";
    fprintf(o, "  .%s = {", field);
    for (int k = 0; k < NGRAPHS; k++)
      fprintf(o, "%s%s", k ? ", " : "", gs[k] ? arena_printf("%s_%s_%s", model, suffix[k], field) : "NULL");
    fprintf(o, "},\n");
  }
  fprintf(o, "  .desc = &%s_desc,\n", model);
  ModelChecks c = model_checks(gs);
  generation(o, &c);
  fprintf(o, "  .nslots = %d, .nlabels = %d, .max_batch = %lld,\n  .sample_split = %d, .sample_work = %lld,\n",
          c.nslots, c.nlabels, (long long)c.max_batch, c.sample_split, (long long)c.sample_work);
  const int *li[3] = {c.label_kind, c.label_dtype, c.label_has_ignore};
  const int64_t *ll[3] = {c.label_size, c.label_classes, c.label_ignore};
  static const char *lname[6] = {"label_kind", "label_dtype", "label_has_ignore", "label_size", "label_classes",
                                 "label_ignore"};
  for (int f = 0; f < 6; f++) { /* each label's, for the labels there are */
    fprintf(o, "  .%s = {", lname[f]);
    for (int i = 0; i < c.nlabels; i++)
      fprintf(o, "%s%lld", i ? ", " : "", f < 3 ? (long long)li[f][i] : (long long)ll[f - 3][i]);
    fprintf(o, "%s},\n", c.nlabels ? "" : "0");
  }
  fprintf(o, "  .vocab = {");
  for (int i = 0; i < 16; i++) fprintf(o, "%s%lld", i ? ", " : "", (long long)c.vocab[i]);
  fprintf(o, "},\n");
  if (t && t->class_weight)
    fprintf(o, "  .nclass_weights = %lld, .class_weights = %s_class_weights,\n", (long long)t->nclass_weight, model);
  fprintf(o, "  .kept_bytes = %lld,\n", (long long)kept);
  fprintf(o, "};\n\n/* The API of the library's header; %s_Model is NnrtModel. */\n"
             "typedef NnrtModel %s_Model;\n", model, model);
  for (size_t i = 0; i < sizeof api / sizeof api[0]; i++) {
    if (api[i].graph >= 0 && !gs[api[i].graph]) continue;
    fprintf(o, "%s%s {\n  %snnrt_model_%s(%s%s;\n}\n",
            typed(api[i].ret, arena_printf("%s_%s", model, api[i].name)), api[i].params,
            strcmp(api[i].ret, "void") ? "return " : "", api[i].name,
            api[i].def ? arena_printf("&%s_def, ", model) : "", api[i].args + 1);
  }
  fprintf(o, "const NnModelDesc *%s_describe(void) {\n  return &%s_desc;\n}\n", model, model);
}
