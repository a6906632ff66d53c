/* sequences.c — the shape rules of the sequence layers: the recurrent
 * ones (simple_rnn, lstm, gru as a scan over the steps, docs/sequences.md),
 * positional encodings, attention and the Transformer blocks. Split from
 * layers.c, whose helpers (layer_*) it shares, under the same contract.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

/* A batch of sequences [N, T, D] with known T and D, or an error. */
static bool need_sequences(const Builtin *b, Val *x, const char *what) {
  if (x->shape.rank == 3 && x->shape.dim[0] == DIM_BATCH && x->shape.dim[1] != DIM_BATCH &&
      x->shape.dim[2] != DIM_BATCH)
    return true;
  error_at(x->loc, "'%s' needs a batch of sequences [N, %s, features], got %s", b->name, what,
           type_str(x->dtype, x->shape));
  return false;
}

/* Columns lo..hi-1 of a matrix [N, k]. */
static int cols(Graph *g, int x, int64_t lo, int64_t hi) { return ir_slice(g, x, 1, lo, hi); }

static int sigmoid(Graph *g, int x) { return ir_unary(g, OP_SIGMOID, x); }

/* A GRU step with the reset gate after the recurrent product (PyTorch's,
 * and Keras 2's reset_after): z, r = sigmoid(xw + hu) of their columns,
 * cand = tanh(xw_h + r * hu_h), h' = z h + (1 - z) cand, from
 * hu = h U + rb (the recurrent bias; rb alone from the zero state, h < 0). */
static int gru_after(Graph *g, int z, int h, int hu, int64_t u) {
  int last = g->v[hu].shape.rank - 1, one = ir_scalar(g, g->v[z].dtype, 1);
  /* one value a statement (or nested one deep): value numbers must not
   * depend on the order a compiler evaluates a call's arguments in */
  int hz = ir_slice(g, hu, last, 0, u), xz = cols(g, z, 0, u);
  int zg = sigmoid(g, ir_binary(g, OP_ADD, xz, hz));
  int hr = ir_slice(g, hu, last, u, 2 * u), xr = cols(g, z, u, 2 * u);
  int rg = sigmoid(g, ir_binary(g, OP_ADD, xr, hr));
  int rh = ir_binary(g, OP_MUL, rg, ir_slice(g, hu, last, 2 * u, 3 * u)), xh = cols(g, z, 2 * u, 3 * u);
  int cand = ir_unary(g, OP_TANH, ir_binary(g, OP_ADD, xh, rh));
  int fresh = ir_binary(g, OP_MUL, ir_binary(g, OP_SUB, one, zg), cand);
  return h >= 0 ? ir_binary(g, OP_ADD, ir_binary(g, OP_MUL, zg, h), fresh) : fresh;
}

/* One step of a recurrent layer in a scan's body (kind 0 simple_rnn, 1
 * gru, 2 lstm, 3 gru with reset_after). Inputs: the carries h (and an
 * LSTM's c), the step's xw (and its keep [N, 1] under a mask), then U (a
 * GRU's U[:, :2u] and U[:, 2u:]; with reset_after U and the recurrent
 * bias). Outputs: the new carries, then with return_sequences the new h,
 * then in a training graph the gates and products the step's gradient
 * reads (autodiff.c's scan rule takes them from there). */
static Graph *recurrent_body(Graph *outer, int kind, int xw, bool masked, const int *inv, int64_t u, bool seq) {
  Graph *g = graph_new(arena_printf("%s_step", kind == 2 ? "lstm" : kind ? "gru" : "simple_rnn"));
  g->loc = outer->loc;
  DType dt = outer->v[xw].dtype;
  Shape hs = {.rank = 2, .dim = {DIM_BATCH, u}}, zs = {.rank = 2, .dim = {DIM_BATCH, outer->v[xw].shape.dim[2]}};
#define IN(shape) (g->inputs[g->ninputs] = ir_leaf(g, OP_INPUT, dt, shape, g->ninputs), g->inputs[g->ninputs++])
  int h = IN(hs), c = kind == 2 ? IN(hs) : -1, z = IN(zs);
  int keep = masked ? IN(((Shape){.rank = 2, .dim = {DIM_BATCH, 1}})) : -1;
  int w = IN(outer->v[inv[0]].shape), w2 = kind == 1 || kind == 3 ? IN(outer->v[inv[1]].shape) : -1;
#undef IN
  int h_was = h, c_was = c, one = ir_scalar(g, dt, 1), save[6], nsave = 0;
  if (kind == 2) {
    z = ir_binary(g, OP_ADD, z, ir_matmul(g, h, w));
    int i = sigmoid(g, cols(g, z, 0, u));
    int f = sigmoid(g, cols(g, z, u, 2 * u));
    int cand = ir_unary(g, OP_TANH, cols(g, z, 2 * u, 3 * u));
    int o = sigmoid(g, cols(g, z, 3 * u, 4 * u));
    int ic = ir_binary(g, OP_MUL, i, cand); /* one a statement: value numbers not up to the compiler */
    int fc = ir_binary(g, OP_MUL, f, c);
    c = ir_binary(g, OP_ADD, fc, ic);
    int tc = ir_unary(g, OP_TANH, c);
    h = ir_binary(g, OP_MUL, o, tc);
    save[0] = i, save[1] = f, save[2] = cand, save[3] = o, save[4] = tc, nsave = 5;
  } else if (kind == 3) {
    int hu = ir_binary(g, OP_ADD, ir_matmul(g, h, w), w2);
    h = gru_after(g, z, h, hu, u);
    save[0] = hu, nsave = 1;
  } else if (kind == 1) {
    int zx = cols(g, z, 0, u), rx = cols(g, z, u, 2 * u), hx = cols(g, z, 2 * u, 3 * u);
    int hu = ir_matmul(g, h, w);
    int zg = sigmoid(g, ir_binary(g, OP_ADD, zx, cols(g, hu, 0, u)));
    int rg = sigmoid(g, ir_binary(g, OP_ADD, rx, cols(g, hu, u, 2 * u)));
    int rh = ir_binary(g, OP_MUL, rg, h);
    int cand = ir_unary(g, OP_TANH, ir_binary(g, OP_ADD, hx, ir_matmul(g, rh, w2)));
    int keep = ir_binary(g, OP_SUB, one, zg);
    int fresh = ir_binary(g, OP_MUL, keep, cand);
    int old = ir_binary(g, OP_MUL, zg, h);
    h = ir_binary(g, OP_ADD, old, fresh);
    save[0] = zg, save[1] = rg, save[2] = cand, nsave = 3;
  } else {
    h = ir_unary(g, OP_TANH, ir_binary(g, OP_ADD, z, ir_matmul(g, h, w)));
    save[0] = h, nsave = 1;
  }
  if (keep >= 0) { /* a padded step: the state as it was, exactly (so the scan may skip it) */
    h = ir_select(g, keep, h, h_was);
    if (kind == 2) c = ir_select(g, keep, c, c_was);
  }
  g->outputs[g->noutputs++] = h;
  if (kind == 2) g->outputs[g->noutputs++] = c;
  if (seq) g->outputs[g->noutputs++] = h;
  /* training: the step's products and gates stacked too, which the
   * backward loop reads instead of running the step again (autodiff.c) */
  for (int i = 0; outer->training && i < nsave; i++) g->outputs[g->noutputs++] = save[i];
  return g;
}

/* The layer as a scan from the given state (start[i] >= 0) or the zero
 * state (inference): its result, the last h or every step's h [N, T, u].
 * rb: reset_after's recurrent bias. */
static int recurrent_scan(Graph *g, int kind, int xw, int keep_all, int U, int rb, const int *start, int64_t u,
                          bool seq, bool rev) {
  DType dt = g->v[xw].dtype;
  int64_t T = g->v[xw].shape.dim[1];
  int zero = ir_const(g, dt, (Shape){.rank = 2, .dim = {DIM_BATCH, u}}, 0);
  int carries[2] = {start[0] >= 0 ? start[0] : zero, start[1] >= 0 ? start[1] : zero}, seqs[2] = {xw, -1},
      inv[2] = {U, -1};
  if (keep_all >= 0) seqs[1] = ir_reshape(g, keep_all, (Shape){.rank = 3, .dim = {DIM_BATCH, T, 1}});
  if (kind == 1) inv[0] = ir_slice(g, U, 1, 0, 2 * u), inv[1] = ir_slice(g, U, 1, 2 * u, 3 * u);
  if (kind == 3) inv[1] = rb;
  int k = kind == 2 ? 2 : 1;
  Graph *body = recurrent_body(g, kind, xw, keep_all >= 0, inv, u, seq);
  int first = ir_scan(g, ir_body(g, body), T, rev, 1, carries, k, seqs, keep_all >= 0 ? 2 : 1, inv,
                      kind == 1 || kind == 3 ? 2 : 1, keep_all >= 0 ? 1 : -1, 0);
  return seq ? first + k : first;
}

/* simple_rnn, lstm, gru over a batch of sequences x[N, T, D], unrolled over
 * the T steps from a zero state, so backpropagation through time is the
 * autodiff of the unrolled graph. W[D, G u] and U[u, G u] hold the G gates'
 * input and recurrent weights side by side (LSTM: i, f, g, o as Keras;
 * GRU: z, r, h with the reset gate applied before U, Keras's
 * reset_after = false), b[G u] their biases. The result is the last state
 * [N, u], or with return_sequences every step's state [N, T, u]; with
 * reverse the sequence is read from its end and the states are returned in
 * the input's order, so concat(f(x), f(x, reverse: true)) along the last
 * axis is a bidirectional layer. With a mask [N, T] (1 a step, 0 padding:
 * below 0.5), a padded step keeps the state (and an LSTM's cell) as it
 * was, so shorter sequences in a batch of the longest length end with
 * their own last state. */
bool rule_recurrent(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  Val *x = &a[0];
  if (!layer_need_float(b, x)) return false;
  if (!need_sequences(b, x, "steps")) return false;
  bool lstm = !strcmp(b->name, "lstm"), gru = !strcmp(b->name, "gru");
  bool after = gru && layer_arg(b, a, "reset_after")->i;
  int64_t T = x->shape.dim[1], D = x->shape.dim[2], u = a[1].i, G = lstm ? 4 : gru ? 3 : 1;
  bool seq = layer_arg(b, a, "return_sequences")->i, rev = layer_arg(b, a, "reverse")->i;
  DType dt = x->dtype;
  Val *mask = layer_arg(b, a, "mask");
  if (mask->kind == VK_TENSOR && (mask->shape.rank != 2 || mask->shape.dim[0] != DIM_BATCH ||
                                  mask->shape.dim[1] != T || mask->dtype == DT_NONE)) {
    error_at(mask->loc, "the mask of '%s' must be [N, %lld] (1 a step, 0 padding) for the sequence's %lld steps, got %s",
             b->name, (long long)T, (long long)T, type_str(mask->dtype, mask->shape));
    return false;
  }
  if (u > NN_MAX_ELEMS / G) {
    error_at(a[1].loc, "'%s' with %lld units is too large", b->name, (long long)u);
    return false;
  }
  /* the state to start from: h [N, u] (an LSTM's [h, c]), or zero */
  Val *init = layer_arg(b, a, "initial_state");
  int nstate = init->kind == VK_NONE ? 0 : init->kind == VK_LIST ? init->nitems : 1, start[2] = {-1, -1};
  Shape hs = {.rank = 2, .dim = {DIM_BATCH, u}};
  for (int i = 0; i < nstate; i++) {
    const Val *t = init->kind == VK_LIST ? &init->items[i] : init;
    if (nstate != (lstm ? 2 : 1) || t->kind != VK_TENSOR || t->dtype != dt || !shape_eq(t->shape, hs)) {
      error_at(init->loc, "the initial_state of '%s' is %s %s [N, %lld] of x's type %s, got %s", b->name,
               lstm ? "a list of two," : "one", lstm ? "the state h and the cell c, each" : "tensor", (long long)u,
               dtype_name(dt), value_str(init));
      return false;
    }
    if (s->graph) start[i] = val_ir(t);
  }
  int W, U, B, RB = -1;
  if (!layer_weight(s, "W", dt, (Shape){.rank = 2, .dim = {D, G * u}}, layer_arg(b, a, "kernel_init"), call->loc, &W) ||
      !layer_weight(s, "U", dt, (Shape){.rank = 2, .dim = {u, G * u}}, layer_arg(b, a, "recurrent_init"), call->loc, &U) ||
      !add_param(s, "b", dt, layer_shape1(G * u), "zeros", NULL, NULL, 0, true, call->loc, &B) ||
      (after && !add_param(s, "rb", dt, layer_shape1(G * u), "zeros", NULL, NULL, 0, true, call->loc, &RB)))
    return false;
  Shape sh = seq ? (Shape){.rank = 3, .dim = {DIM_BATCH, T, u}} : (Shape){.rank = 2, .dim = {DIM_BATCH, u}};
  layer_out(out, dt, sh);
  if (!check_shape_size(call->loc, dt, sh)) return false;
  if (!s->graph) return true;
  Graph *g = s->graph;
  /* the input's part of every gate at every step: one product */
  int xw = ir_binary(g, OP_ADD, ir_matmul(g, val_ir(x), W), B);
  int keep_all = -1;
  if (mask->kind == VK_TENSOR) { /* 1 where a step is real: no gradient */
    int m = val_ir(mask);
    if (mask->dtype != dt) m = ir_cast(g, m, dt);
    keep_all = ir_binary(g, OP_GT, m, ir_scalar(g, g->v[m].dtype, 0.5));
  }
  return layer_emit(out, recurrent_scan(g, lstm ? 2 : after ? 3 : gru ? 1 : 0, xw, keep_all, U, RB, start, u, seq, rev));
}

/* positional_encoding(x): x + the sinusoidal table of "Attention is all
 * you need": PE[t, 2i] = sin(t / 10000^(2i/D)), PE[t, 2i+1] = cos(same),
 * built from iota leaves (sin a = cos(a - pi/2)). */
bool rule_positional_encoding(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  Val *x = &a[0];
  if (!layer_need_float(b, x) || !need_sequences(b, x, "positions")) return false;
  layer_out(out, x->dtype, x->shape);
  if (!s->graph) return true;
  Graph *g = s->graph;
  DType dt = x->dtype;
  int64_t D = x->shape.dim[2];
  Shape td = {.rank = 2, .dim = {x->shape.dim[1], D}};
  int t = ir_iota(g, dt, td, 0), j = ir_iota(g, dt, td, 1);
  int pair = ir_unary(g, OP_FLOOR, layer_scale(g, j, 0.5));                       /* i = floor(j / 2) */
  int rate = ir_unary(g, OP_EXP, layer_scale(g, pair, -2 * log(10000.0) / (double)D)); /* 10000^(-2i/D) */
  int angle = ir_binary(g, OP_MUL, t, rate);
  int odd = ir_binary(g, OP_SUB, j, layer_scale(g, pair, 2));                     /* j mod 2 */
  int shift = layer_scale(g, ir_binary(g, OP_SUB, ir_scalar(g, g->v[j].dtype, 1), odd), 1.5707963267948966);
  int pe = ir_unary(g, OP_COS, ir_binary(g, OP_SUB, angle, shift));        /* sin for even j */
  return layer_emit(out, ir_binary(g, OP_ADD, val_ir(x), pe));
}

/* positional_embedding(x): x + a learned table P[T, D]. */
bool rule_positional_embedding(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  Val *x = &a[0];
  if (!layer_need_float(b, x) || !need_sequences(b, x, "positions")) return false;
  int P;
  Shape td = {.rank = 2, .dim = {x->shape.dim[1], x->shape.dim[2]}};
  if (!layer_weight(s, "P", x->dtype, td, layer_arg(b, a, "init"), call->loc, &P)) return false;
  layer_out(out, x->dtype, x->shape);
  return !s->graph || layer_emit(out, ir_binary(s->graph, OP_ADD, val_ir(x), P));
}

/* x[N, T, k] @ W[k, m] + b, a projection of every position. */
static int project(Graph *g, int x, int W, int B) { return ir_binary(g, OP_ADD, ir_matmul(g, x, W), B); }

/* [N, T, H*d] -> [N, H, T, d]: the heads apart. */
static int split_heads(Graph *g, int x, int64_t T, int64_t H, int64_t d) {
  int perm[4] = {0, 2, 1, 3};
  return ir_transpose(g, ir_reshape(g, x, (Shape){.rank = 4, .dim = {DIM_BATCH, T, H, d}}), perm);
}

/* Checks attention's operands: x [N, T, D] with heads dividing D, the
 * context c [N, S, C] of x's type, causal needing S = T, a mask [N, S]. */
static bool attention_operands(const Builtin *b, Node *call, Val *x, Val *heads, Val *c, bool causal,
                               Val *mask) {
  if (!layer_need_float(b, x) || !need_sequences(b, x, "positions")) return false;
  int64_t T = x->shape.dim[1], D = x->shape.dim[2], H = heads->i;
  if (D % H) {
    error_at(heads->loc, "%lld heads do not divide the model width %lld", (long long)H, (long long)D);
    return false;
  }
  if (c != x && (!need_sequences(b, c, "positions") || c->dtype != x->dtype)) {
    if (c->dtype != x->dtype)
      error_at(c->loc, "the context of '%s' must be %s like its input, got %s", b->name,
               x->dtype == DT_F64 ? "f64" : "f32", type_str(c->dtype, c->shape));
    return false;
  }
  int64_t S = c->shape.dim[1];
  if (causal && S != T) {
    error_at(call->loc, "a causal '%s' needs as many context positions as positions (%lld, got %lld)",
             b->name, (long long)T, (long long)S);
    return false;
  }
  if (mask->kind == VK_TENSOR && (mask->shape.rank != 2 || mask->shape.dim[0] != DIM_BATCH ||
                                  mask->shape.dim[1] != S || mask->dtype == DT_NONE)) {
    error_at(mask->loc, "the mask of '%s' must be [N, %lld] (1 keep, 0 padding) for the context's %lld positions, got %s",
             b->name, (long long)S, (long long)S, type_str(mask->dtype, mask->shape));
    return false;
  }
  return true;
}

/* Multi-head scaled dot-product attention of x[N, T, D] over c[N, S, C],
 * as Keras's MultiHeadAttention with key_dim D / heads: Q = x Wq + bq,
 * K = c Wk + bk, V = c Wv + bv split into heads, softmax(Q K^T / sqrt(d) +
 * masks) V joined and projected by Wo + bo; the parameters are named
 * PREFIXWq and so on. `causal` lets position i see positions j <= i only;
 * `mask` [N, S] (1 keep; below 0.5 is padding) hides padded context
 * positions. A hidden score is -1e9, so a row with every position hidden
 * stays finite (uniform). The result in *y when building. */
static bool attend(Sema *s, Node *call, Val *x, Val *c, Val *mask, int64_t H, bool causal, const Val *init,
                   const char *prefix, int *y) {
  DType dt = x->dtype;
  int64_t T = x->shape.dim[1], D = x->shape.dim[2], S = c->shape.dim[1], C = c->shape.dim[2];
  int W[4], B[4];
  static const char *names[4] = {"q", "k", "v", "o"};
  for (int i = 0; i < 4; i++) {
    Shape ws = {.rank = 2, .dim = {i == 1 || i == 2 ? C : D, D}};
    if (!layer_weight(s, arena_printf("%sW%s", prefix, names[i]), dt, ws, init, call->loc, &W[i]))
      return false;
  }
  for (int i = 0; i < 4; i++)
    if (!add_param(s, arena_printf("%sb%s", prefix, names[i]), dt, layer_shape1(D), "zeros", NULL, NULL, 0, true,
                   call->loc, &B[i]))
      return false;
  if (!check_shape_size(call->loc, dt, (Shape){.rank = 4, .dim = {DIM_BATCH, H, T, S}})) return false;
  if (!s->graph) return true;
  Graph *g = s->graph;
  int64_t d = D / H;
  int q = split_heads(g, project(g, val_ir(x), W[0], B[0]), T, H, d);
  int k = split_heads(g, project(g, val_ir(c), W[1], B[1]), S, H, d);
  int v = split_heads(g, project(g, val_ir(c), W[2], B[2]), S, H, d);
  int kt_perm[4] = {0, 1, 3, 2};
  int sc = layer_scale(g, ir_matmul(g, q, ir_transpose(g, k, kt_perm)), 1 / sqrt((double)d));
  int hidden = -1; /* 1 where a score is hidden */
  if (causal) { /* position i sees j <= i */
    Shape ts = {.rank = 2, .dim = {T, S}};
    int rows = ir_iota(g, dt, ts, 0), columns = ir_iota(g, dt, ts, 1);
    hidden = ir_binary(g, OP_GT, columns, rows);
  }
  if (mask->kind == VK_TENSOR) { /* a padded context position: mask < 0.5 */
    int m = val_ir(mask);
    if (mask->dtype != dt) m = ir_cast(g, m, dt);
    int pad = ir_binary(g, OP_GT, ir_scalar(g, g->v[m].dtype, 0.5), m);
    pad = ir_reshape(g, pad, (Shape){.rank = 4, .dim = {DIM_BATCH, 1, 1, S}});
    hidden = hidden >= 0 ? ir_binary(g, OP_MAX, hidden, pad) : pad;
  }
  if (hidden >= 0) /* chosen, not added: exact in any precision, and no gradient */
    sc = ir_select(g, hidden, ir_scalar(g, dt, -1e9), sc);
  int p = ir_axis_op(g, OP_SOFTMAX, sc, 3);
  int o = ir_matmul(g, p, v); /* [N, H, T, d] */
  int back[4] = {0, 2, 1, 3};
  o = ir_reshape(g, ir_transpose(g, o, back), x->shape);
  *y = project(g, o, W[3], B[3]);
  return true;
}

/* attention(x, heads, context, causal, mask): x over itself (self-
 * attention) or over a context (cross-attention). */
bool rule_attention(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  Val *x = &a[0], *ctx = layer_arg(b, a, "context"), *mask = layer_arg(b, a, "mask");
  Val *c = ctx->kind == VK_TENSOR ? ctx : x;
  bool causal = layer_arg(b, a, "causal")->i;
  if (!attention_operands(b, call, x, &a[1], c, causal, mask)) return false;
  layer_out(out, x->dtype, x->shape);
  int y = -1;
  if (!attend(s, call, x, c, mask, a[1].i, causal, layer_arg(b, a, "kernel_init"), "", &y)) return false;
  return !s->graph || layer_emit(out, y);
}

/* A Transformer block's position-wise feed-forward: dense(ff, activation)
 * then dense(D), parameters PREFIX1.W, PREFIX1.b, PREFIX2.W, PREFIX2.b. */
static bool feed_forward(Sema *s, Node *call, Val *x, int64_t ff, const char *act, const Val *init,
                         const char *prefix, int h, int *y) {
  DType dt = x->dtype;
  int64_t D = x->shape.dim[2];
  int W1, B1, W2, B2;
  if (!layer_weight(s, arena_printf("%s1.W", prefix), dt, (Shape){.rank = 2, .dim = {D, ff}}, init, call->loc, &W1) ||
      !add_param(s, arena_printf("%s1.b", prefix), dt, layer_shape1(ff), "zeros", NULL, NULL, 0, true, call->loc, &B1) ||
      !layer_weight(s, arena_printf("%s2.W", prefix), dt, (Shape){.rank = 2, .dim = {ff, D}}, init, call->loc, &W2) ||
      !add_param(s, arena_printf("%s2.b", prefix), dt, layer_shape1(D), "zeros", NULL, NULL, 0, true, call->loc, &B2))
    return false;
  if (!check_shape_size(call->loc, dt, (Shape){.rank = 3, .dim = {DIM_BATCH, x->shape.dim[1], ff}})) return false;
  if (!s->graph) return true;
  Graph *g = s->graph;
  int u = project(g, h, W1, B1);
  if (act) u = layer_activation(g, act, u, 0);
  *y = project(g, u, W2, B2);
  return true;
}

/* transformer_encoder / transformer_decoder: the blocks of "Attention is
 * all you need". Each sub-layer (self-attention; for the decoder, causal
 * self-attention then attention over the context; the feed-forward) is
 * wrapped in dropout, a residual and a layer norm: after the sum
 * (post-norm, the paper's) or, with norm_first, on the sub-layer's input
 * (pre-norm: x + f(norm(x))). */
bool rule_transformer(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  bool decoder = !strcmp(b->name, "transformer_decoder");
  Val *x = &a[0], *c = decoder ? &a[1] : x, *heads = layer_arg(b, a, "heads");
  bool causal = decoder || layer_arg(b, a, "causal")->i, first = layer_arg(b, a, "norm_first")->i;
  double rate = layer_arg(b, a, "dropout")->f, eps = 1e-5;
  Val *act = layer_arg(b, a, "ff_activation");
  const Val *init = layer_arg(b, a, "kernel_init");
  /* the decoder's self-attention is causal, with no padding mask (a
   * padded position only sees the positions before it); the context's
   * padding is context_mask */
  Val nomask = {.kind = VK_NONE};
  Val *self_mask = decoder ? &nomask : layer_arg(b, a, "mask"), *ctx_mask = decoder ? layer_arg(b, a, "context_mask") : &nomask;
  if (!attention_operands(b, call, x, heads, x, causal, self_mask) ||
      (decoder && !attention_operands(b, call, x, heads, c, false, ctx_mask)))
    return false;
  int64_t D = x->shape.dim[2];
  DType dt = x->dtype;
  int ng = decoder ? 3 : 2, gam[3], bet[3];
  for (int i = 0; i < ng; i++)
    if (!layer_norm_params(s, arena_printf("norm%d.", i + 1), dt, D, call->loc, &gam[i], &bet[i])) return false;
  layer_out(out, dt, x->shape);
  Graph *g = s->graph;
  int h = g ? val_ir(x) : -1, y = -1;
  /* one residual sub-layer: h = norm(h + drop(f(h))) or h + drop(f(norm(h))) */
#define SUBLAYER(i, make)                                                        \
  do {                                                                          \
    int in_ = g && first ? layer_norm_ir(g, h, gam[i], bet[i], eps) : h;      \
    Val hv_ = *x;                                                               \
    hv_.ir = in_ + 1;                                                           \
    if (!(make)) return false;                                                  \
    if (g) {                                                                    \
      int sum_ = ir_binary(g, OP_ADD, h, layer_dropout(s, y, rate));              \
      h = first ? sum_ : layer_norm_ir(g, sum_, gam[i], bet[i], eps);          \
    }                                                                           \
  } while (0)
  SUBLAYER(0, attend(s, call, &hv_, &hv_, self_mask, heads->i, causal, init, "self.", &y));
  if (decoder) SUBLAYER(1, attend(s, call, &hv_, c, ctx_mask, heads->i, false, init, "cross.", &y));
  SUBLAYER(ng - 1, feed_forward(s, call, &hv_, layer_arg(b, a, "ff")->i, act->kind == VK_NAME ? act->s : NULL, init,
                                "ff", in_, &y));
#undef SUBLAYER
  return !g || layer_emit(out, h);
}
