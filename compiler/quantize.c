/* quantize.c — `nnc --quantize int8 --calibrate SOURCE`: post-training
 * quantization of a model's inference graph (docs/quantize.md).
 *
 * A product x W or a convolution of x by W, W a parameter whose value is
 * built in (--weights), becomes qmatmul or qconv2d: W in int8 with a
 * scale for each output column (symmetric: max |W| of the column is 127),
 * x quantized on the fly with one scale for the tensor, taken from the
 * activations the f32 graph computes on the train block's source SOURCE
 * (its first samples): max |x| / 127, or the P-th percentile of |x| with
 * --calibrate-percentile P. The products sum in int32, exactly; a bias,
 * an activation, softmax and everything else stay f32 and read the
 * product dequantized. W's f32 parameter leaves the model where nothing
 * else reads it, so the library carries the int8 weights alone.
 *
 * The evaluator (eval.c) runs both graphs on the calibration samples for
 * the report: each layer's error against f32 (the relative RMS of its
 * result, errors of the layers before it included), the outputs', and the
 * accuracy of each where the source has class labels. Products and
 * convolutions left in f32 are listed with the reason.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "nnrt.h"
#include "nnrt_program.h"

enum { QUANT_MIN_K = 32, QUANT_BATCH = 50, QUANT_SAMPLE_CAP = 1 << 20 };

typedef struct Cand {
  int id;              /* the product or convolution in the inference graph */
  const char *layer;   /* "conv2d2": its weight's name less ".W" */
  const char *why;     /* why it stays f32, or NULL */
  int64_t k, n;
  int64_t run, kp;     /* the runs of terms the kernel reads (nnrt.h), the packed weights' rows */
  const float *w;      /* [k, n] */
  double maxabs;       /* of x over the samples */
  float *absx;         /* |x|, every stride-th, for a percentile */
  int64_t nabs, capabs, stride, seen;
  float scale;         /* x's */
  const char *note;    /* about the scale, for the report, or NULL */
  double e2, y2;       /* sums of (y_int8 - y_f32)^2 and y_f32^2 */
} Cand;



/* The train block's source named by --calibrate, read as ./train reads it. */
static bool read_calibration(const Built *b, const Options *o, NnrtTable *t, const char **file) {
  const TrainInfo *tr = b->train;
  const char *name = o->calibrate;
  if (!tr) {
    fprintf(stderr, "nnc: error: --calibrate %s reads model %s's train block, and it has none\n", name, b->name);
    return false;
  }
  const Setting *st = !strcmp(name, "data") ? &tr->data : !strcmp(name, "validation") ? &tr->validation_data
                                                                                     : &tr->test_data;
  if (!st->b) {
    fprintf(stderr, "nnc: error: --calibrate %s: the train block of %s names no %s source%s\n", name, b->name,
            name, !strcmp(name, "validation") ? " (it holds out a fraction of its data: use --calibrate data)" : "");
    return false;
  }
  const char *reader = st->b->name;
  const Setting *data = &tr->data;
  char err[1024] = "";
  bool ok = false;
  if (strcmp(reader, "idx") && strcmp(reader, "npy") && strcmp(reader, "cifar10") && strcmp(reader, "csv")) {
    fprintf(stderr, "nnc: error: --calibrate %s: calibration reads csv, idx, npy and cifar10 sources, not %s\n",
            name, reader);
    return false;
  }
  double scale = source_arg(st, data, "scale")->f;
  if (!strcmp(reader, "idx")) {
    *file = setting_arg(st, "images")->s;
    ok = nnrt_idx_load(*file, setting_arg(st, "labels")->s, scale, t, err, sizeof err);
  } else if (!strcmp(reader, "npy")) {
    const Val *x = setting_arg(st, "x"), *y = setting_arg(st, "y");
    if (x->kind != VK_STRING) {
      fprintf(stderr, "nnc: error: --calibrate %s: the source reads several inputs; calibration reads models of one\n",
              name);
      return false;
    }
    *file = x->s; /* several outputs: the first's labels, for the report's accuracy */
    ok = nnrt_npy_load(*file, y->kind == VK_STRING ? y->s : y->items[0].s, scale, t, err, sizeof err);
  } else if (!strcmp(reader, "cifar10")) {
    *file = setting_arg(st, "path")->s;
    ok = nnrt_cifar_load(*file, scale, t, err, sizeof err);
  } else if (!strcmp(reader, "csv")) {
    Val *l = source_arg(st, data, "label");
    *file = setting_arg(st, "path")->s;
    ok = nnrt_csv_load(*file, l->kind == VK_STRING ? l->s : NULL,
                       l->kind == VK_INT ? (int)l->i : l->kind == VK_NAME && !strcmp(l->s, "first") ? 0 : -1,
                       source_arg(st, data, "header")->i != 0, source_arg(st, data, "delimiter")->s[0], scale, t,
                       err, sizeof err);
  }
  if (!ok) fprintf(stderr, "nnc: error: --calibrate %s: %s\n", name, err);
  /* `validation F` holds out the data's last rows: calibration stays off them */
  if (ok && st == &tr->data && tr->validation > 0 && !tr->validation_data.b)
    t->rows -= (int64_t)((double)t->rows * tr->validation);
  return ok;
}

/* The products and convolutions of g, each a candidate or with the reason
 * it stays f32. */
static Cand *candidates(const Graph *g, int *ncand) {
  Cand *c = arena_alloc(sizeof(Cand) * (size_t)(g->n + 1));
  int n = 0;
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    if (v->op != OP_MATMUL && v->op != OP_CONV2D && v->op != OP_CONV2DBX) continue;
    const Value *w = &g->v[v->in[1]], *x = &g->v[v->in[0]];
    Cand *q = &c[n++];
    *q = (Cand){.id = id, .layer = "(two activations)"};
    if (w->op != OP_PARAM) {
      q->why = "a product of two computed values: no int8 kernel";
      continue;
    }
    const ParamInfo *p = g->params[w->a[0]];
    size_t len = strlen(p->name);
    q->layer = len > 2 && !strcmp(p->name + len - 2, ".W") ? arena_strndup(p->name, len - 2) : p->name;
    q->w = p->value;
    bool conv = v->op == OP_CONV2D;
    q->k = conv ? w->shape.dim[0] * w->shape.dim[1] * w->shape.dim[2] : w->shape.dim[0];
    q->n = w->shape.dim[w->shape.rank - 1];
    q->run = conv ? nnrt_qconv2d_run(w->shape.dim[1], w->shape.dim[2], v->a[7]) : q->k;
    q->kp = conv ? nnrt_qconv2d_terms(w->shape.dim[0], w->shape.dim[1], w->shape.dim[2], v->a[7]) : (q->k + 3) / 4 * 4;
    if (v->op == OP_CONV2DBX) q->why = "a transposed convolution: no int8 kernel";
    else if (x->dtype != DT_F32 || w->dtype != DT_F32) q->why = "int8 replaces f32 only";
    else if (!p->value) q->why = "its weights are not built in";
    else if (w->shape.rank != (conv ? 4 : 2)) q->why = "batched weights: no int8 kernel";
    else if (conv && v->a[8] != 1) q->why = "a grouped convolution: no int8 kernel";
    else if (!conv && q->k < QUANT_MIN_K)
      q->why = arena_printf("%lld term%s a sum: int8 is slower than f32 below %d", (long long)q->k,
                            q->k == 1 ? "" : "s", QUANT_MIN_K);
    else if (!conv && q->kp > NNRT_QTILE_BYTES)
      q->why = arena_printf("%lld terms: wider than the int8 kernel's tiles", (long long)q->k);
    else if (conv && nnrt_qconv2d_runs(w->shape.dim[0], w->shape.dim[1], v->a[7]) > NNRT_QMAXRUNS)
      q->why = arena_printf("a window of more than %d runs: no int8 kernel", NNRT_QMAXRUNS);
    else if (q->kp > 65536)
      q->why = arena_printf("%lld terms: int32 sums could overflow", (long long)q->k);
    else if ((int64_t)nnrt_qlayer_bytes(q->kp, q->n) >= 4 * q->k * q->n)
      q->why = q->kp > (q->k + 3) / 4 * 4
                   ? arena_printf("runs of %lld term%s, each padded to 4: int8's weights would not be smaller",
                                  (long long)q->run, q->run == 1 ? "" : "s")
                   : arena_printf("%lld column%s: int8's panels of 16 would not be smaller", (long long)q->n,
                                  q->n == 1 ? "" : "s");
  }
  *ncand = n;
  return c;
}

/* Samples [from, from + n) of the table into e's input. */
static void load_batch(Eval *e, const NnrtTable *t, int64_t from, int64_t n) {
  for (int64_t i = 0; i < n * t->features; i++) e->inputs[0].d[i] = t->x[from * t->features + i];
}

static Eval *evaluator(Graph *g, int64_t batch) {
  Eval *e = eval_new(g, batch);
  for (int i = 0; i < g->nparams + g->nstates; i++) {
    const ParamInfo *p = i < g->nparams ? g->params[i] : g->states[i - g->nparams];
    Tensor *t = i < g->nparams ? &e->params[i] : &e->states[i - g->nparams];
    if (p->value && p->dtype == DT_F32)
      for (int64_t j = 0; j < t->n; j++) t->d[j] = ((const float *)p->value)[j];
    else if (p->value && p->dtype == DT_F64)
      memcpy(t->d, p->value, sizeof(double) * (size_t)t->n);
    else if (p->value)
      for (int64_t j = 0; j < t->n; j++) t->d[j] = ((const int32_t *)p->value)[j];
    else
      init_tensor(t, p, 0, (uint64_t)i);
  }
  return e;
}

/* |x| into c's sample, every stride-th value, halved when full. */
static void observe(Cand *c, const Tensor *x, bool percentile) {
  for (int64_t i = 0; i < x->n; i++) {
    double a = fabs(x->d[i]);
    if (a > c->maxabs) c->maxabs = a;
    if (!percentile || c->seen++ % c->stride) continue;
    if (c->nabs == QUANT_SAMPLE_CAP) {
      for (int64_t j = 0; j < QUANT_SAMPLE_CAP / 2; j++) c->absx[j] = c->absx[2 * j];
      c->nabs = QUANT_SAMPLE_CAP / 2, c->stride *= 2;
    }
    if (c->nabs == c->capabs) {
      c->capabs = c->capabs ? 2 * c->capabs : 4096;
      c->absx = realloc(c->absx, sizeof(float) * (size_t)c->capabs);
      if (!c->absx) {
        fprintf(stderr, "nnc: error: out of memory for the calibration's sample of |x|\n");
        exit(1);
      }
    }
    c->absx[c->nabs++] = (float)a;
  }
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* The layer's blob (nnrt_qlayer_pack): the weights per column, their
 * rows in the kernel's runs (each padded with zero rows to a multiple of
 * 4), offsets and scales. */
static QLayer quant_layer(const Cand *c) {
  QLayer q = {.k = c->k, .n = c->n, .bytes = nnrt_qlayer_bytes(c->kp, c->n)};
  int8_t *w = arena_alloc((size_t)(c->k * c->n)), *wp = arena_alloc((size_t)(c->kp * c->n));
  float *scale = arena_alloc(sizeof(float) * (size_t)c->n);
  unsigned char *blob = arena_alloc(q.bytes);
  for (int64_t j = 0; j < c->n; j++) {
    float m = 0;
    for (int64_t p = 0; p < c->k; p++) m = fmaxf(m, fabsf(c->w[p * c->n + j]));
    float sw = m > 0 ? m / 127 : 1;
    for (int64_t p = 0; p < c->k; p++) {
      float r = nearbyintf(c->w[p * c->n + j] / sw);
      w[p * c->n + j] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
    }
    scale[j] = c->scale * sw;
  }
  int64_t run4 = (c->run + 3) / 4 * 4;
  for (int64_t p = 0; p < c->kp; p++) { /* row p: term t of run r, or padding */
    int64_t r = p / run4, t = p % run4;
    for (int64_t j = 0; j < c->n; j++) wp[p * c->n + j] = t < c->run ? w[(r * c->run + t) * c->n + j] : 0;
  }
  nnrt_qlayer_pack(c->kp, c->n, wp, c->n, scale, blob);
  q.w = w, q.scale = scale, q.blob = blob;
  return q;
}

/* The class of row i of a classifier's output [N, classes]. */
static int64_t argmax_row(const Tensor *y, int64_t i, int64_t classes) {
  int64_t best = 0;
  for (int64_t j = 1; j < classes; j++)
    if (y->d[i * classes + j] > y->d[i * classes + best]) best = j;
  return best;
}

/* The graph's parameters that a value still reads, renumbered. */
static void drop_unread_params(Graph *g) {
  int *map = arena_alloc(sizeof(int) * (size_t)(g->nparams + 1));
  for (int i = 0; i < g->nparams; i++) map[i] = -1;
  for (int id = 0; id < g->n; id++)
    if (g->v[id].op == OP_PARAM) map[g->v[id].a[0]] = 0;
  ParamInfo **kept = arena_alloc(sizeof(ParamInfo *) * (size_t)(g->nparams + 1));
  int n = 0;
  for (int i = 0; i < g->nparams; i++)
    if (map[i] == 0) kept[n] = g->params[i], map[i] = n++;
  for (int id = 0; id < g->n; id++)
    if (g->v[id].op == OP_PARAM) g->v[id].a[0] = map[g->v[id].a[0]];
  g->params = kept, g->nparams = g->capparams = n;
}

/* The calibration samples: the source's first (at most --calibrate-samples),
 * checked against the model's one input. */
static bool open_calibration(const Built *b, const Options *o, NnrtTable *t, const char **file, int64_t *samples) {
  const Graph *g = b->g[GRAPH_INFER];
  if (g->ninputs != 1) {
    fprintf(stderr, "nnc: error: --quantize: model %s has %d inputs; calibration reads models of one\n", b->name,
            g->ninputs);
    return false;
  }
  if (!read_calibration(b, o, t, file)) return false;
  const Value *in = &g->v[g->inputs[0]];
  int64_t features = 1;
  for (int d = 1; d < in->shape.rank; d++) features *= in->shape.dim[d];
  *samples = o->calibrate_samples ? o->calibrate_samples : 500;
  if (*samples > t->rows) *samples = t->rows;
  if (t->features != features)
    fprintf(stderr, "nnc: error: --calibrate %s: the samples of '%s' have %lld values; model %s's input %s takes %lld (%s)\n",
            o->calibrate, *file, (long long)t->features, b->name, g->input_names[0] ? g->input_names[0] : "0",
            (long long)features, shape_str(in->shape));
  else if (*samples == 0)
    fprintf(stderr, "nnc: error: --calibrate %s: '%s' holds no samples\n", o->calibrate, *file);
  else
    return true;
  nnrt_table_free(t);
  return false;
}

/* The f32 graph on the samples: each candidate's |x|. */
static void calibrate(Graph *g, Cand *c, int ncand, const NnrtTable *t, int64_t samples, bool pct) {
  for (int i = 0; i < ncand; i++) c[i].stride = 1;
  for (int64_t from = 0; from < samples; from += QUANT_BATCH) {
    int64_t n = samples - from < QUANT_BATCH ? samples - from : QUANT_BATCH;
    Eval *e = evaluator(g, n);
    load_batch(e, t, from, n);
    eval_run(e);
    for (int i = 0; i < ncand; i++)
      if (!c[i].why) observe(&c[i], &e->vals[g->v[c[i].id].in[0]], pct);
    eval_free(e);
  }
}

/* Each candidate's scale and layer, and its value in g made the int8 op. */
static QLayer *rewrite(Graph *g, Cand *c, int ncand, int nq, const Options *o) {
  QLayer *ql = arena_alloc(sizeof(QLayer) * (size_t)(nq + 1));
  int k = 0;
  for (int i = 0; i < ncand; i++) {
    Cand *q = &c[i];
    if (q->why) continue;
    double m = q->maxabs;
    if (o->percentile > 0 && q->nabs) {
      qsort(q->absx, (size_t)q->nabs, sizeof(float), cmp_float);
      int64_t at = (int64_t)ceil(o->percentile / 100 * (double)q->nabs) - 1;
      double at_p = q->absx[at < 0 ? 0 : at >= q->nabs ? q->nabs - 1 : at];
      if (at_p > 0) m = at_p;
      else q->note = "the percentile is 0 (most of x is): max |x| instead";
    }
    free(q->absx);
    q->absx = NULL;
    /* a scale whose inverse f32 holds (1e-30 at least: x below it is 0 to
     * f32's products anyway) */
    q->scale = m > 0 && isfinite(m) ? (float)(m / 127) : 1.0f;
    if (!(m > 0)) q->note = "x was 0 on every sample: scale 1";
    else if (q->scale < 1e-30f) q->scale = 1e-30f, q->note = "|x| below 1e-28 on every sample: scale 1e-30";
    ql[k] = quant_layer(q);
    Value *v = &g->v[q->id];
    if (v->op == OP_CONV2D) {
      const Shape ws = g->v[v->in[1]].shape;
      v->op = OP_QCONV2D, v->nattr = 13;
      v->a[9] = ws.dim[0], v->a[10] = ws.dim[1], v->a[11] = ws.dim[3], v->a[12] = k;
    } else {
      v->op = OP_QMATMUL, v->nattr = 2, v->a[0] = k, v->a[1] = q->n;
    }
    v->nin = 1;
    v->f = 1.0f / q->scale;
    k++;
  }
  g->qlayers = ql, g->nqlayers = nq;
  return ql;
}

/* The report's figures for the first output over the samples. */
typedef struct Compare {
  double e2, y2;           /* sums of (y_int8 - y_f32)^2 and y_f32^2 */
  int64_t hits32, hits8;   /* samples whose class is the label (-1: no labels or no classifier) */
  int64_t agree;           /* samples of the same class in both */
  bool classes;            /* the output is a classifier's [N, classes] */
} Compare;

/* Both graphs on the samples: each layer's error (into c) and the output's. */
static Compare compare(Graph *f32, Graph *g, Cand *c, int ncand, const NnrtTable *t, int64_t samples) {
  Shape os = g->v[g->outputs[0]].shape;
  Compare r = {.classes = os.rank == 2 && os.dim[1] > 1};
  int64_t classes = r.classes ? os.dim[1] : 0;
  bool labels = r.classes && t->width == 1;
  for (int64_t from = 0; from < samples; from += QUANT_BATCH) {
    int64_t n = samples - from < QUANT_BATCH ? samples - from : QUANT_BATCH;
    Eval *e = evaluator(f32, n), *e8 = evaluator(g, n);
    load_batch(e, t, from, n), load_batch(e8, t, from, n);
    eval_run(e), eval_run(e8);
    for (int i = 0; i < ncand; i++) {
      const Tensor *y = &e->vals[c[i].id], *y8 = &e8->vals[c[i].id];
      for (int64_t j = 0; !c[i].why && j < y->n; j++)
        c[i].e2 += pow(y8->d[j] - y->d[j], 2), c[i].y2 += y->d[j] * y->d[j];
    }
    const Tensor *y = &e->vals[g->outputs[0]], *y8 = &e8->vals[g->outputs[0]];
    for (int64_t j = 0; j < y->n; j++) r.e2 += pow(y8->d[j] - y->d[j], 2), r.y2 += y->d[j] * y->d[j];
    for (int64_t s = 0; s < n && classes; s++) {
      int64_t a = argmax_row(y, s, classes), a8 = argmax_row(y8, s, classes), label = (int64_t)t->y[from + s];
      r.agree += a == a8, r.hits32 += labels && a == label, r.hits8 += labels && a8 == label;
    }
    eval_free(e), eval_free(e8);
  }
  if (!labels) r.hits32 = r.hits8 = -1;
  return r;
}

static int64_t param_bytes(const Graph *g) {
  int64_t bytes = 0;
  for (int i = 0; i < g->nparams; i++) bytes += param_elements(g->params[i]) * (g->params[i]->dtype == DT_F64 ? 8 : 4);
  for (int i = 0; i < g->nqlayers; i++) bytes += (int64_t)g->qlayers[i].bytes;
  return bytes;
}

/* The report, on stderr: each candidate, the output, the bytes. */
static void report(const Built *b, const Graph *f32, const Cand *c, int ncand, int nq, const Compare *r,
                   int64_t samples, const char *file, const Options *o) {
  int64_t bytes32 = param_bytes(f32), bytes8 = param_bytes(b->g[GRAPH_INFER]);
  int width = 5;
  for (int i = 0; i < ncand; i++) width = (int)strlen(c[i].layer) > width ? (int)strlen(c[i].layer) : width;
  FILE *out = stderr;
  fprintf(out, "quantized %s to int8: %d of its %d products and convolutions, scales from %lld samples of %s (%s)\n",
          b->name, nq, ncand, (long long)samples, file,
          o->percentile > 0 ? arena_printf("percentile %g of |x|", o->percentile) : "max |x|");
  fprintf(out, "  %-*s %-9s %8s %12s  %s\n", width, "layer", "op", "terms", "x scale", "error (relative RMS)");
  for (int i = 0; i < ncand; i++) {
    const Cand *q = &c[i];
    const Value *v = &f32->v[q->id];
    const char *op = v->op == OP_CONV2D ? "conv2d" : v->op == OP_CONV2DBX ? "conv2d_bx" : "matmul";
    const char *terms = q->k ? arena_printf("%lld", (long long)q->k) : "-";
    if (q->why)
      fprintf(out, "  %-*s %-9s %8s %12s  %s: %s\n", width, q->layer, op, terms, "-", dtype_name(v->dtype), q->why);
    else
      fprintf(out, "  %-*s %-9s %8s %12.4g  %.4f%%%s%s\n", width, q->layer, op, terms, (double)q->scale,
              q->y2 > 0 ? 100 * sqrt(q->e2 / q->y2) : 0.0, q->note ? "  " : "", q->note ? q->note : "");
  }
  fprintf(out, "  everything else (biases, activations, pooling, softmax, ...) stays as it was\n");
  if (!nq) {
    fprintf(stderr, "nnc: warning: --quantize: model %s has no product or convolution that int8 can run; it stays as "
                    "it was\n", b->name);
    return;
  }
  fprintf(out, "  output %s: relative RMS error %.4f%%", f32->output_names[0] ? f32->output_names[0] : "output0",
          r->y2 > 0 ? 100 * sqrt(r->e2 / r->y2) : 0.0);
  if (r->hits32 >= 0)
    fprintf(out, "; accuracy %.4f (f32 %.4f)", (double)r->hits8 / (double)samples, (double)r->hits32 / (double)samples);
  if (r->classes) fprintf(out, "; same class as f32 for %lld of %lld samples", (long long)r->agree, (long long)samples);
  fprintf(out, "\n  weights: %lld bytes, f32 %lld (%.2fx %s, scales included)\n", (long long)bytes8,
          (long long)bytes32, bytes8 <= bytes32 ? (double)bytes32 / (double)bytes8 : (double)bytes8 / (double)bytes32,
          bytes8 <= bytes32 ? "smaller" : "larger: f32 weights int8 does not replace are still read");
  /* a scale set by an outlier quantizes the rest of x to 0: the layer's
   * pooled error may not show it, the output's classes do */
  double err = r->y2 > 0 ? sqrt(r->e2 / r->y2) : 0;
  if ((r->classes && (double)r->agree < 0.9 * (double)samples) || err > 0.1)
    fprintf(stderr, "nnc: warning: --quantize: the int8 model of %s is far from f32 on the calibration samples "
                    "(%s): if a few large |x| set the scales, --calibrate-percentile 99.99 leaves them out\n",
            b->name, r->classes ? arena_printf("the same class for %lld of %lld", (long long)r->agree, (long long)samples)
                                : arena_printf("output error %.1f%%", 100 * err));
}

static bool quantize_model(Built *b, const Options *o) {
  Graph *g = b->g[GRAPH_INFER];
  int ncand, nq = 0;
  Cand *c = candidates(g, &ncand);
  for (int i = 0; i < ncand; i++) nq += !c[i].why;
  NnrtTable t = {0};
  const char *file = "";
  int64_t samples;
  if (!open_calibration(b, o, &t, &file, &samples)) return false;
  Graph f32 = *g; /* the graph as it was, for the report */
  f32.v = arena_alloc(sizeof(Value) * (size_t)g->n);
  memcpy(f32.v, g->v, sizeof(Value) * (size_t)g->n);
  Compare r = {0};
  if (nq) {
    calibrate(g, c, ncand, &t, samples, o->percentile > 0);
    rewrite(g, c, ncand, nq, o);
    r = compare(&f32, g, c, ncand, &t, samples);
  }
  nnrt_table_free(&t);
  /* the graph without the weights it no longer reads */
  Graph *h = simplify(g);
  drop_unread_params(h);
  b->g[GRAPH_INFER] = simplify(h);
  verify(b->g[GRAPH_INFER], "quantize");
  b->plan[GRAPH_INFER] = plan_graph(b->g[GRAPH_INFER], !o->no_fuse);
  report(b, &f32, c, ncand, nq, &r, samples, file, o);
  return true;
}

/* Each model with weights built in; one at least. */
static bool built_in(const Built *b) {
  const Graph *g = b->g[GRAPH_INFER];
  for (int i = 0; g && i < g->nparams; i++)
    if (g->params[i]->value) return true;
  return false;
}

bool quantize_models(Built *models, const Options *o) {
  int done = 0;
  for (Built *b = models; b; b = b->next) {
    if (!built_in(b)) continue;
    if (!quantize_model(b, o)) return false;
    done++;
  }
  for (Built *b = models; done && b; b = b->next)
    if (!built_in(b) && b->g[GRAPH_INFER]->nparams)
      fprintf(stderr, "nnc: warning: --quantize: model %s has no weights built in; it stays f32\n", b->name);
  if (!done)
    fprintf(stderr, "nnc: error: --quantize converts trained weights, and no model has any built in "
                    "(--weights [MODEL=]FILE)\n");
  return done > 0;
}
