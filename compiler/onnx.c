/* onnx.c — an ONNX model imported as a .nn program.
 *
 * The graph read by onnx_read.c is written out as the text of a `model`
 * in the .nn language, one statement a node (its ONNX name and op in a
 * comment), which the ordinary front end then parses and checks: the same
 * shapes, the same verifier, both backends, `--emit=nn` to read it, and a
 * `train` block to fine-tune it. Initializers become the parameters of the
 * layers they feed (a Conv's weights a conv2d's W, a Gemm's a dense's),
 * converted to nnc's layouts here; their values are built into the output
 * as `--weights` builds a checkpoint's (onnx_values). Integer constants,
 * `Shape` and what is computed from them are folded at import, the batch
 * dimension as the symbol N.
 *
 * Layouts: the model takes and returns the ONNX graph's own tensors. When
 * every input's first dimension is symbolic it is nnc's batch N; otherwise
 * the whole of each input is one sample (run it with a batch of 1), and an
 * ONNX axis a is nnc's a + 1. Images stay NCHW between nodes; a Conv or a
 * pooling transposes to NHWC and back around itself, and the simplifier
 * removes the transposes that cancel. docs/onnx.md has the op table.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

typedef struct ParamValue {
  const char *model, *param;
  const double *data;
  int64_t count;
  struct ParamValue *next;
} ParamValue;

static ParamValue *values; /* every imported model's parameters */

static void put(char **buf, size_t *len, size_t *cap, const char *s) {
  size_t n = strlen(s);
  if (*len + n + 1 > *cap) {
    size_t c = *cap ? *cap * 2 : 4096;
    while (c < *len + n + 1) c *= 2;
    char *b = arena_alloc(c);
    if (*len) memcpy(b, *buf, *len);
    *buf = b, *cap = c;
  }
  memcpy(*buf + *len, s, n + 1);
  *len += n;
}

bool ox_fail(OnnxTr *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool ox_fail(OnnxTr *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char msg[600];
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!t->failed && t->node)
    t->err = arena_printf("%s: node %s (%s, opset %lld): %s", t->m->path, quote_str(t->node->name), t->node->op,
                          (long long)t->m->opset, msg);
  else if (!t->failed) t->err = arena_printf("%s: %s", t->m->path, msg);
  for (char *c = (char *)t->err; c && *c; c++) /* names from the file: no terminal controls */
    if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
  t->failed = true;
  return false;
}

/* ---------------------------------------------------------------- names */

static bool reserved(const char *s) {
  static const char *kw[] = {"model", "layer", "train", "input", "output", "param", "return", "import", "when",
                             "true", "false", "none", "f32", "f64", "i32", "N", "same", "valid"};
  for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
    if (!strcmp(s, kw[i])) return true;
  return builtin_find(s) != NULL || !strncmp(s, "Const", 5);
}

/* A .nn name for an ONNX one: letters, digits and _, not taken. */
const char *ox_name(OnnxTr *t, const char *onnx) {
  while (*onnx == '/') onnx++; /* PyTorch's "/fc1/Gemm_output_0" -> fc1_Gemm */
  size_t n = strlen(onnx);
  if (n > 9 && !strcmp(onnx + n - 9, "_output_0")) n -= 9;
  char *s = arena_alloc(n + 3);
  if (!n) onnx = "v", n = 1;
  size_t k = 0;
  if (!(onnx[0] >= 'a' && onnx[0] <= 'z') && !(onnx[0] >= 'A' && onnx[0] <= 'Z') && onnx[0] != '_') s[k++] = 'v';
  for (size_t i = 0; i < n && k < 60; i++) {
    char c = onnx[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok && k && s[k - 1] == '_') continue;
    s[k++] = ok ? c : '_';
  }
  s[k] = 0;
  const char *name = s;
  if (reserved(name)) name = arena_printf("%s_", name);
  for (int i = 2; map_get(t->names, name); i++) name = arena_printf("%s_%d", s, i);
  map_put(t->names, name, (void *)1);
  return name;
}

/* The instance name sema will give the next call of layer `kind`. */
const char *ox_instance(OnnxTr *t, const char *kind) {
  intptr_t n = (intptr_t)map_get(t->counters, kind) + 1;
  map_put(t->counters, kind, (void *)n);
  return arena_printf("%s%ld", kind, (long)n);
}

void ox_add_value(OnnxTr *t, const char *param, const OnnxTensor *k) {
  ParamValue *v = arena_alloc(sizeof *v);
  *v = (ParamValue){t->model, param, k->f, k->count, values};
  values = v;
}

/* ------------------------------------------------------------ constants */

/* Whether a constant of these dimensions can be made (each >= 0); an
 * error otherwise. A constant made at import (ConstantOfShape, Expand, Tile, a fold): at
 * most 2^24 values, so that a few bytes of a file cannot ask for
 * gigabytes; weights come from initializers, which the file holds. */
bool ox_size_ok(OnnxTr *t, int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (nsym_times(dims[i]))
      return ox_fail(t, "a constant as large as the batch (a dimension of %s) is not supported here",
                     ox_ints_str(dims + i, 1));
    if (dims[i] < 0 || dims[i] > (1 << 24)) return ox_fail(t, "a constant of dimension %lld", (long long)dims[i]);
    n *= dims[i];
    if (n > (1 << 24)) return ox_fail(t, "a constant of more than 2^24 values made at import");
  }
  return true;
}

OnnxTensor *ox_new_const(int type, int rank, const int64_t *dims) {
  OnnxTensor *k = arena_alloc(sizeof *k);
  k->type = type, k->rank = rank, k->count = 1, k->name = "";
  for (int i = 0; i < rank; i++) k->dims[i] = dims[i], k->count *= dims[i];
  if (onnx_is_float(type)) k->f = arena_alloc(sizeof(double) * (size_t)(k->count + 1));
  else k->i = arena_alloc(sizeof(int64_t) * (size_t)(k->count + 1));
  return k;
}

double ox_kget(const OnnxTensor *k, int64_t i) { return k->f ? k->f[i] : (double)k->i[i]; }

DType ox_dtype(int type) {
  return type == OX_DOUBLE ? DT_F64 : onnx_is_float(type) ? DT_F32 : DT_I32;
}

OnnxVal *ox_tv_const(OnnxTensor *k) {
  OnnxVal *v = arena_alloc(sizeof *v);
  v->k = k, v->dt = ox_dtype(k->type);
  v->sh.rank = k->rank;
  for (int i = 0; i < k->rank; i++) v->sh.dim[i] = k->dims[i];
  return v;
}

char *ox_num_str(double x) {
  if (x == floor(x) && fabs(x) < 1e15) return arena_printf("%.1f", x);
  if ((double)(float)x == x) /* a float attribute: its shortest text */
    for (int p = 6; p <= 9; p++) {
      char *s = arena_printf("%.*g", p, x);
      if ((float)strtod(s, NULL) == (float)x) return s;
    }
  return arena_printf("%.17g", x);
}

/* A rank-r constant layer, declared once. */
/* The layer that holds a constant of rank `rank`: an initializer used as
 * a tensor (a parameter: fine-tuning trains it) or a table the import
 * made (a const: never trained). */
static const char *const_layer(OnnxTr *t, int rank, bool table) {
  const char *name = arena_printf("%s%dD_%s", table ? "Table" : "Const", rank, t->model);
  bool *made = table ? &t->table_layer[rank] : &t->const_layer[rank];
  if (!*made) {
    *made = true;
    char *dims = arena_strdup(""), *hp = arena_strdup("");
    for (int i = 0; i < rank; i++) {
      dims = arena_printf("%s%sd%d", dims, i ? ", " : "", i);
      hp = arena_printf("%s%sd%d", hp, i ? ", " : "", i);
    }
    t->layers = arena_printf("%s# %s\nlayer %s(%s) (x) {\n  %s value: [%s] = zeros\n  return value\n}\n\n",
                             t->layers ? t->layers : "",
                             table ? "a table the import made (an interpolation, say): its values are built in, never trained"
                                   : "an ONNX initializer used as a tensor: its values are built in",
                             name, hp, table ? "const" : "param", dims);
  }
  return name;
}

static const char *use_const(OnnxTr *t, OnnxTensor *k, const char *name, bool table) {
  const char *layer = const_layer(t, k->rank, table);
  char *args = arena_strdup(t->any_input);
  for (int i = 0; i < k->rank; i++) args = arena_printf("%s, %lld", args, (long long)k->dims[i]);
  name = ox_name(t, name);
  ox_add_value(t, arena_printf("%s.value", ox_instance(t, layer)), k);
  ox_stmt(t, name, arena_printf("%s(%s)", layer, args));
  return name;
}

const char *ox_table(OnnxTr *t, OnnxTensor *k, const char *name) {
  return use_const(t, k, name, true);
}

void ox_stmt(OnnxTr *t, const char *name, const char *expr) {
  const char *line = arena_printf("  %s = %s", name, expr);
  int pad = 44 - (int)strlen(line);
  line = arena_printf("%s%*s  # %s\n", line, pad > 0 ? pad : 0, "",
                      !t->node             ? "a constant output"
                      : *t->node->name ? arena_printf("%s (%s)", quote_str(t->node->name), t->node->op)
                                       : arena_printf("node (%s)", t->node->op));
  put(&t->text, &t->len, &t->cap, line);
}

/* A statement of its own for an expression used several times. */
const char *ox_named(OnnxTr *t, const char *e) {
  const char *n = ox_name(t, arena_printf("%s_part", t->node ? t->node->out[0] : "out"));
  ox_stmt(t, n, e);
  return n;
}

/* The runtime expression of v: a constant is written as a parameter of a
 * constant layer (or a literal, for one value, when literal_ok). */
const char *ox_use(OnnxTr *t, OnnxVal *v, bool literal_ok) {
  if (v->nn) return v->nn;
  OnnxTensor *k = v->k;
  if (literal_ok && k->count == 1) return ox_num_str(ox_kget(k, 0));
  if (!k->f) {
    ox_fail(t, "an integer constant tensor used as a tensor of the model: not supported yet");
    return "?";
  }
  if (k->rank == 0) {
    ox_fail(t, "a scalar constant used as a tensor: not supported yet");
    return "?";
  }
  v->nn = use_const(t, k, *k->name ? k->name : "c", false);
  return v->nn;
}

/* ---------------------------------------------------------------- nodes */

OnnxVal *ox_in(OnnxTr *t, int i) {
  const OnnxNode *n = t->node;
  if (i >= n->nin || !*n->in[i]) return NULL;
  OnnxVal *v = map_get(t->vals, n->in[i]);
  if (!v) ox_fail(t, "input '%s' is not defined before the node (the graph is not sorted, or has a cycle)", n->in[i]);
  return v;
}

OnnxVal *ox_need(OnnxTr *t, int i) {
  OnnxVal *v = ox_in(t, i);
  if (!v && !t->failed) ox_fail(t, "input %d is missing", i);
  return v;
}

const OnnxAttr *ox_attr(OnnxTr *t, const char *name) {
  for (int i = 0; i < t->node->nattrs; i++)
    if (!strcmp(t->node->attrs[i].name, name)) return &t->node->attrs[i];
  return NULL;
}

int64_t ox_attr_i(OnnxTr *t, const char *name, int64_t dflt) {
  const OnnxAttr *a = ox_attr(t, name);
  return a ? a->i : dflt;
}

double ox_attr_f(OnnxTr *t, const char *name, double dflt) {
  const OnnxAttr *a = ox_attr(t, name);
  return a ? a->f : dflt;
}

const char *ox_attr_s(OnnxTr *t, const char *name, const char *dflt) {
  const OnnxAttr *a = ox_attr(t, name);
  return a && a->s ? a->s : dflt;
}

/* Defines output i of the node as the statement name = expr. */
OnnxVal *ox_out(OnnxTr *t, int i, DType dt, Shape sh, const char *expr) {
  OnnxVal *v = arena_alloc(sizeof *v);
  v->dt = dt, v->sh = sh;
  const char *name = t->node->out[i];
  v->nn = ox_name(t, map_get(t->outs, name) ? arena_printf("%s_value", (const char *)map_get(t->outs, name)) : name);
  ox_stmt(t, v->nn, expr);
  map_put(t->vals, t->node->out[i], v);
  return v;
}

void ox_out_const(OnnxTr *t, int i, OnnxTensor *k) { map_put(t->vals, t->node->out[i], ox_tv_const(k)); }

/* An ONNX axis of a runtime value of nnc rank r as nnc's; -1 when it is
 * the batch axis or out of range (reported). */
int ox_axis(OnnxTr *t, int64_t a, int onnx_rank) {
  if (a < 0) a += onnx_rank;
  if (a < 0 || a >= onnx_rank) return ox_fail(t, "axis %lld is out of range for rank %d", (long long)a, onnx_rank), -1;
  if (t->off == 0 && a == 0) return ox_fail(t, "this op along the batch axis (axis 0) is not supported"), -1;
  return (int)a + t->off;
}

int ox_orank(OnnxTr *t, const OnnxVal *v) { return v->k ? v->sh.rank : v->sh.rank - t->off - v->mlo - v->mhi; }

char *ox_ints_str(const int64_t *a, int n) { /* the batch symbol as N, c times it as cN */
  char *s = arena_strdup("[");
  for (int i = 0; i < n; i++) {
    int64_t c = nsym_times(a[i]);
    s = c == 1 ? arena_printf("%s%sN", s, i ? ", " : "")
        : c    ? arena_printf("%s%s%lldN", s, i ? ", " : "", (long long)c)
               : arena_printf("%s%s%lld", s, i ? ", " : "", (long long)a[i]);
  }
  return arena_printf("%s]", s);
}

bool ox_elems(Shape sh, int from, int64_t *out) {
  int64_t n = 1;
  for (int i = from; i < sh.rank; i++) {
    if (sh.dim[i] == DIM_BATCH) return false;
    n *= sh.dim[i];
  }
  *out = n;
  return true;
}

/* Broadcast shape of two runtime-or-constant values (nnc shapes). */
bool ox_bshape(OnnxTr *t, Shape a, Shape b, Shape *o) {
  o->rank = a.rank > b.rank ? a.rank : b.rank;
  for (int i = 0; i < o->rank; i++) {
    int ia = i - (o->rank - a.rank), ib = i - (o->rank - b.rank);
    int64_t da = ia >= 0 ? a.dim[ia] : 1, db = ib >= 0 ? b.dim[ib] : 1;
    if (da != db && da != 1 && db != 1) return ox_fail(t, "shapes %s and %s do not broadcast", shape_str(a), shape_str(b));
    o->dim[i] = da == 1 ? db : da;
  }
  return true;
}

/* Without a batch axis every runtime value leads with the sample axis;
 * the one of lower rank of two gets 1s after it, as numpy aligns them. */
const char *ox_align(OnnxTr *t, OnnxVal *v, int rank, Shape *sh) {
  *sh = v->sh;
  if (v->k || t->off == 0 || v->sh.rank >= rank) return ox_use(t, v, true);
  Shape s = {.rank = rank};
  s.dim[0] = v->sh.dim[0];
  int extra = rank - v->sh.rank;
  for (int i = 1; i < rank; i++) s.dim[i] = i <= extra ? 1 : v->sh.dim[i - extra];
  *sh = s;
  return arena_printf("reshape(%s, %s)", ox_use(t, v, true), ox_ints_str(s.dim + 1, rank - 1));
}


/* ---------------------------------------------------------- the import */

/* The axis of graph input vi's batch: that of its one symbolic dimension
 * (PyTorch's dynamic_axes: {1: "batch"} for a time-major sequence or an
 * initial state); with none, 1 when a recurrent op of layout 0 reads it as
 * X ([T, N, F]) or as an initial state ([D, N, H]); else 0. */
static int input_batch_axis(const OnnxGraph *g, const OnnxValueInfo *vi) {
  int sym = -1, nsym = 0;
  for (int d = 0; d < vi->rank; d++)
    if (vi->dims[d] < 1) sym = d, nsym++;
  if (nsym == 1) return sym;
  for (int i = 0; i < g->nnodes; i++) {
    const OnnxNode *n = &g->nodes[i];
    if (strcmp(n->op, "LSTM") && strcmp(n->op, "GRU") && strcmp(n->op, "RNN")) continue;
    bool read = false, layout1 = false;
    for (int j = 0; j < n->nin && j < 7; j++) read |= (j == 0 || j >= 5) && !strcmp(n->in[j], vi->name);
    if (!read) continue;
    for (int a = 0; a < n->nattrs; a++) layout1 |= !strcmp(n->attrs[a].name, "layout") && n->attrs[a].i == 1;
    return !layout1 && vi->rank == 3;
  }
  return 0;
}

static DType input_dtype(OnnxTr *t, const OnnxValueInfo *vi) {
  if (vi->type == OX_DOUBLE) return DT_F64;
  if (vi->type == OX_FLOAT || vi->type == OX_FLOAT16 || vi->type == OX_BOOL) return DT_F32; /* bool: 0 or 1 */
  if ((vi->type >= OX_UINT8 && vi->type <= OX_INT64 && vi->type != OX_STRING) || vi->type == OX_BOOL) return DT_I32;
  ox_fail(t, "input '%s' has elements of type %s, which are not supported", vi->name, onnx_type_name(vi->type));
  return DT_NONE;
}

/* A declaration's shape of v: its sample dims, with N where the batch is
 * when that is not first ([5, N, 3]). */
static const char *layout_str(const OnnxVal *v) {
  if (!v->bax) return ox_ints_str(v->sh.dim + 1, v->sh.rank - 1);
  Shape s = caller_layout(v->sh, v->bax);
  char *o = arena_strdup("[");
  for (int i = 0; i < s.rank; i++)
    o = arena_printf(s.dim[i] == DIM_BATCH ? "%s%sN" : "%s%s%lld", o, i ? ", " : "", (long long)s.dim[i]);
  return arena_printf("%s]", o);
}

/* Translates the graph with the batch as off says; false with t->err. */
static bool translate(OnnxTr *t) {
  const OnnxGraph *g = &t->m->graph;
  t->vals = map_new(), t->names = map_new(), t->counters = map_new(), t->outs = map_new();
  for (int i = 0; i < g->nnodes; i++) /* the first op nnc lacks, before any other error */
    if (!onnx_supported(g->nodes[i].op) || (*g->nodes[i].domain && strcmp(g->nodes[i].domain, "ai.onnx"))) {
      t->node = &g->nodes[i];
      return *t->node->domain && strcmp(t->node->domain, "ai.onnx")
                 ? ox_fail(t, "op %s of domain '%s' is not supported (only the default domain is)", t->node->op,
                           t->node->domain)
                 : ox_fail(t, "op %s is not supported", t->node->op);
    }
  for (int i = 0; i < g->ninits; i++) map_put(t->vals, g->inits[i].name, ox_tv_const(&g->inits[i]));
  char *inputs = arena_strdup("");
  for (int i = 0; i < g->ninputs; i++) {
    const OnnxValueInfo *vi = &g->inputs[i];
    if (map_get(t->vals, vi->name)) continue; /* an initializer listed as an input too */
    if (vi->not_tensor) return ox_fail(t, "input '%s' is not a tensor: sequences, maps and optionals are not supported", vi->name);
    if (!vi->has_shape) return ox_fail(t, "input '%s' has no shape: inputs of unknown rank are not supported", vi->name);
    DType dt = input_dtype(t, vi);
    if (dt == DT_NONE) return false;
    OnnxVal *v = arena_alloc(sizeof *v);
    v->dt = dt, v->nn = ox_name(t, vi->name);
    v->sh.rank = vi->rank + t->off;
    v->sh.dim[0] = DIM_BATCH;
    v->bax = t->off ? 0 : input_batch_axis(g, vi);
    int64_t size = 1;
    for (int d = 0; d < vi->rank; d++) {
      if (d == v->bax && !t->off) continue;
      if (vi->dims[d] > NN_MAX_ELEMS || (size *= vi->dims[d] > 0 ? vi->dims[d] : 1) > NN_MAX_ELEMS)
        return ox_fail(t, "input '%s' has more than 2^31 elements a sample", vi->name);
      if (vi->dims[d] < 1)
        return ox_fail(t, "dimension %d of input '%s' is %s; nnc needs every dimension but the batch's fixed", d, vi->name,
                       vi->params[d] ? arena_printf("the symbol '%s'", vi->params[d]) : "unknown");
      v->sh.dim[d + t->off + (!t->off && d < v->bax)] = vi->dims[d];
    }
    map_put(t->vals, vi->name, v);
    if (!t->any_input) t->any_input = v->nn;
    const char *ty = dt == DT_F64 ? "f64" : dt == DT_I32 ? "i32" : "";
    inputs = arena_printf("%s  input %s: %s%s%*s# %s %s%s\n", inputs, v->nn, ty, layout_str(v),
                          8, "", quote_str(vi->name), onnx_type_name(vi->type),
                          t->off ? " (the whole tensor one sample)" : "");
  }
  if (!t->any_input) return ox_fail(t, "a graph without inputs (all of it constant) is not supported");
  for (int i = 0; i < g->noutputs; i++) /* their names first: a value that is one is NAME_value */
    if (!map_get(t->outs, g->outputs[i].name)) map_put(t->outs, g->outputs[i].name, (void *)ox_name(t, g->outputs[i].name));
  for (int i = 0; i < g->nnodes && !t->failed; i++) {
    t->node = &g->nodes[i];
    if (t->node->nout < 1) return ox_fail(t, "the node has no outputs");
    for (int a = 0; a < t->node->nattrs; a++)
      if (t->node->attrs[a].has_graph) return ox_fail(t, "ops with subgraphs (If, Loop, Scan) are not supported");
    onnx_node(t);
  }
  t->node = NULL;
  if (t->failed) return false;
  char *outputs = arena_strdup("");
  for (int i = 0; i < g->noutputs; i++) {
    OnnxVal *v = map_get(t->vals, g->outputs[i].name);
    if (!v) return ox_fail(t, "output '%s' is not computed by any node", g->outputs[i].name);
    if (v->mlo || v->mhi)
      return ox_fail(t, "output '%s' merges the batch with another axis (a reshape to [N * k, ...]): not supported",
                     g->outputs[i].name);
    const char *e = v->nn;
    if (!v->nn || v->sh.dim[0] != DIM_BATCH) { /* a constant: the same for every sample */
      OnnxVal *x = NULL;
      for (int j = 0; j < g->ninputs && !x; j++)
        if ((x = map_get(t->vals, g->inputs[j].name)) && x->nn != t->any_input) x = NULL;
      if (v->nn || !x || !(e = ox_const_output(t, v, x)))
        return ox_fail(t, "output '%s' is a constant (known when the model is compiled) of a form not supported",
                       g->outputs[i].name);
    }
    outputs = arena_printf("%s  output %s%s%s = %s\n", outputs, (const char *)map_get(t->outs, g->outputs[i].name),
                           v->bax ? ": " : "", v->bax ? layout_str(v) : "", e);
  }
  t->text = arena_printf("%s\nmodel %s {\n%s%s%s}\n", t->layers ? t->layers : "", t->model, inputs, t->text ? t->text : "",
                         outputs);
  return true;
}

/* The model's name: the file's stem as a .nn name ("mnist-8.onnx" -> mnist_8). */
static const char *model_name(const char *path) {
  const char *base = strrchr(path, '/');
  char *stem = path_stem(base ? base + 1 : path);
  for (char *p = stem; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) *p = '_';
  if (!*stem || (*stem >= '0' && *stem <= '9')) stem = arena_printf("m%s", stem);
  if (reserved(stem) && *stem >= 'a' && *stem <= 'z') *stem = (char)(*stem - 'a' + 'A'); /* model.onnx: Model */
  return stem;
}

SrcFile *onnx_import(const char *path, const char *name, int64_t batch) {
  OnnxModel *m = onnx_read(path);
  return m ? onnx_translate(m, name, batch) : NULL;
}

SrcFile *onnx_translate(OnnxModel *m, const char *name, int64_t batch) {
  const char *path = m->path;
  builtins_init(); /* names that are built-ins are renamed */
  if (!name) name = model_name(path);
  const OnnxGraph *g = &m->graph;
  for (int i = 0; batch && i < g->ninputs; i++) { /* --batch: symbolic batch dimensions fixed */
    int b = input_batch_axis(g, &g->inputs[i]);
    if (g->inputs[i].rank > b && g->inputs[i].dims[b] < 1) m->graph.inputs[i].dims[b] = batch;
  }
  if (g->sparse) {
    error_plain("%s: sparse initializers are not supported", path);
    return NULL;
  }
  /* the batch: a symbolic first dimension; else a first dimension all
   * inputs share, if the graph never treats it as data; else none */
  bool symbolic = false, same = true;
  int64_t first = -1;
  for (int i = 0; i < g->ninputs; i++) {
    const OnnxValueInfo *vi = &g->inputs[i];
    bool init = false;
    for (int k = 0; k < g->ninits && !init; k++) init = !strcmp(g->inits[k].name, vi->name);
    if (init) continue;
    int b = input_batch_axis(g, vi);
    if (vi->rank == 0) same = false;
    else if (vi->dims[b] < 1) symbolic = true;
    else if (first < 0 || first == vi->dims[b]) first = vi->dims[b];
    else same = false;
  }
  OnnxTr t = {.m = m, .model = name, .off = 0, .fixed_batch = symbolic ? -1 : first};
  ParamValue *before = values; /* a failed attempt's values are dropped */
  if (symbolic || same) translate(&t);
  if (!symbolic && (!same || t.failed)) {
    ParamValue *first_try = values;
    values = before;
    OnnxTr t1 = {.m = m, .model = name, .off = 1, .fixed_batch = -1};
    if (translate(&t1) || !same) t = t1;
    else values = first_try;
  }
  if (t.failed) values = before;
  if (t.failed) {
    bool batch_axis = symbolic && t.err && strstr(t.err, "batch axis");
    error_plain("%s%s", t.err ? t.err : "cannot import",
                batch_axis ? " (the graph uses the batch axis as data: --batch=K compiles it for batches of K)" : "");
    return NULL;
  }
  const char *head = arena_printf("# %s imported by nnc %s: ONNX ir_version %lld, opset %lld%s%s\n"
                                  "# %s\n", path, NNC_VERSION, (long long)m->ir_version, (long long)m->opset,
                                  m->producer ? ", from " : "", m->producer ? m->producer : "",
                                  t.off ? "the graph has no batch axis: each input is one whole sample"
                                        : "the batch N: the first axis of every input and output but where a declaration places N");
  const char *text = arena_printf("%s%s", head, t.text);
  return source_from_memory(path, text, strlen(text));
}

/* Whether parameter `name` of a model is param of imported model `model`
 * there: the name itself in that model, or a call of it in another
 * (Net1.dense1.W, Head1.Net2.dense1.W: an instance of Net, then param). */
static bool imported_param(const char *owner, const char *name, const char *model, const char *param) {
  if (!strcmp(owner, model)) return !strcmp(name, param);
  size_t lm = strlen(model), lp = strlen(param), ln = strlen(name);
  if (ln < lp + lm + 2 || strcmp(name + ln - lp, param) || name[ln - lp - 1] != '.') return false;
  for (const char *at = name; (at = strstr(at, model)) && at < name + ln - lp; at++) {
    if (at != name && at[-1] != '.') continue;
    const char *q = at + lm;
    if (*q < '0' || *q > '9') continue;
    while ((*q >= '0' && *q <= '9') || *q == '_') q++;
    if (q == name + ln - lp - 1) return true;
  }
  return false;
}

void onnx_values(Sema *s) {
  for (ModelInfo *mi = s ? s->models : NULL; mi; mi = mi->next)
    for (ParamInfo *p = mi->params; p; p = p->next)
      for (ParamValue *v = values; v; v = v->next) {
        if (!imported_param(mi->decl->name, p->name, v->model, v->param)) continue;
        if (v->count != param_elements(p)) continue; /* another model of the name: an error already */
        if (p->dtype == DT_F64) {
          double *d = arena_alloc(sizeof(double) * (size_t)(v->count + 1));
          memcpy(d, v->data, sizeof(double) * (size_t)v->count);
          p->value = d;
        } else {
          float *f = arena_alloc(sizeof(float) * (size_t)(v->count + 1));
          for (int64_t i = 0; i < v->count; i++) f[i] = (float)v->data[i];
          p->value = f;
        }
        break;
      }
  values = NULL; /* in the arena: gone with it */
}
