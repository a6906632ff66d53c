/* scan.c — the IR's loop (scan, scan_out) on its own.
 *
 * Graphs built with ir_scan: a simple RNN with a padding mask (one carry,
 * a sequence and a mask along axis 1, an invariant weight), an LSTM cell
 * read in reverse (two carries), and a sequence without a batch scanned
 * along axis 0. Each passes the verifier, prints, reads back and prints
 * the same text, and simplifies keeping its scan; the reference evaluator
 * runs the scan and gives the bits of the same graph unrolled (every
 * result: final carries, stacked results, the carries as each step found
 * them), and the RNN in f64 the textbook recurrence's numbers. Prints one
 * line per case and "N passed, N failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

static int passed, failed;

static void report(const char *what, bool ok) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  ok ? passed++ : failed++;
}

enum { N = 3, T = 5, D = 4, U = 4 };

static Shape sh(int rank, int64_t d0, int64_t d1, int64_t d2) {
  return (Shape){.rank = rank, .dim = {d0, d1, d2}};
}

static int input(Graph *g, DType dt, Shape s) {
  int id = ir_leaf(g, OP_INPUT, dt, s, g->ninputs);
  g->inputs[g->ninputs++] = id;
  return id;
}

/* Every output of g: its scan's results (all of them). */
static void outputs(Graph *g, int first, int count) {
  for (int i = 0; i < count; i++) g->outputs[g->noutputs++] = first + i;
}

/* h' = h + keep (tanh(z + h U) - h): inputs h, z, keep, U; outputs h', h'. */
static Graph *rnn_body(DType dt) {
  Graph *b = graph_new("rnn_step");
  int h = input(b, dt, sh(2, DIM_BATCH, U, 0)), z = input(b, dt, sh(2, DIM_BATCH, U, 0));
  int keep = input(b, dt, sh(2, DIM_BATCH, 1, 0)), w = input(b, dt, sh(2, U, U, 0));
  int h1 = ir_unary(b, OP_TANH, ir_binary(b, OP_ADD, z, ir_matmul(b, h, w)));
  int h2 = ir_binary(b, OP_ADD, h, ir_binary(b, OP_MUL, keep, ir_binary(b, OP_SUB, h1, h)));
  b->outputs[b->noutputs++] = h2;
  b->outputs[b->noutputs++] = h2;
  return b;
}

static Graph *rnn(DType dt) {
  Graph *g = graph_new("Rnn");
  int x = input(g, dt, sh(3, DIM_BATCH, T, U)), mask = input(g, dt, sh(3, DIM_BATCH, T, 1));
  int w = input(g, dt, sh(2, U, U, 0));
  int zero = ir_const(g, dt, sh(2, DIM_BATCH, U, 0), 0);
  int seqs[2] = {x, mask};
  int first = ir_scan(g, ir_body(g, rnn_body(dt)), T, false, 1, &zero, 1, seqs, 2, &w, 1, -1, 0);
  outputs(g, first, 3);
  return g;
}

/* An LSTM cell: inputs h, c, xw [N, 4u] (a step of x W + b), U [u, 4u];
 * outputs h', c', h'. */
static Graph *lstm(void) {
  DType dt = DT_F32;
  Graph *b = graph_new("lstm_step");
  int h = input(b, dt, sh(2, DIM_BATCH, U, 0)), c = input(b, dt, sh(2, DIM_BATCH, U, 0));
  int xw = input(b, dt, sh(2, DIM_BATCH, 4 * U, 0)), w = input(b, dt, sh(2, U, 4 * U, 0));
  int z = ir_binary(b, OP_ADD, xw, ir_matmul(b, h, w));
  int gate[4];
  for (int i = 0; i < 4; i++) {
    gate[i] = ir_slice(b, z, 1, i * U, (i + 1) * U);
    gate[i] = ir_unary(b, i == 2 ? OP_TANH : OP_SIGMOID, gate[i]);
  }
  int c1 = ir_binary(b, OP_ADD, ir_binary(b, OP_MUL, gate[1], c), ir_binary(b, OP_MUL, gate[0], gate[2]));
  int h1 = ir_binary(b, OP_MUL, gate[3], ir_unary(b, OP_TANH, c1));
  b->outputs[b->noutputs++] = h1;
  b->outputs[b->noutputs++] = c1;
  b->outputs[b->noutputs++] = h1;

  Graph *g = graph_new("Lstm");
  int x = input(g, dt, sh(3, DIM_BATCH, T, 4 * U)), h0 = input(g, dt, sh(2, DIM_BATCH, U, 0));
  int wu = input(g, dt, sh(2, U, 4 * U, 0));
  int carries[2] = {h0, ir_const(g, dt, sh(2, DIM_BATCH, U, 0), 0)};
  int first = ir_scan(g, ir_body(g, b), T, true, 1, carries, 2, &x, 1, &wu, 1, -1, 0);
  outputs(g, first, 5);
  return g;
}

/* A running sum and product over the rows of s[T, D], no batch: inputs
 * acc, p, row; outputs acc + row, p * row, acc - row. */
static Graph *rows(void) {
  DType dt = DT_F64;
  Graph *b = graph_new("rows_step");
  int acc = input(b, dt, sh(1, D, 0, 0)), p = input(b, dt, sh(1, D, 0, 0)), row = input(b, dt, sh(1, D, 0, 0));
  b->outputs[b->noutputs++] = ir_binary(b, OP_ADD, acc, row);
  b->outputs[b->noutputs++] = ir_binary(b, OP_MUL, p, row);
  b->outputs[b->noutputs++] = ir_binary(b, OP_SUB, acc, row);

  Graph *g = graph_new("Rows");
  int s = input(g, dt, sh(2, T, D, 0));
  int carries[2] = {ir_const(g, dt, sh(1, D, 0, 0), 0), ir_const(g, dt, sh(1, D, 0, 0), 1)};
  int first = ir_scan(g, ir_body(g, b), T, false, 0, carries, 2, &s, 1, NULL, 0, -1, 0);
  outputs(g, first, 5);
  return g;
}

static char *printed(Graph *g) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  print_ir(f, g);
  fclose(f);
  return text;
}

/* The graph's inputs filled from a fixed sequence; a mask input (its
 * name says so) 0 or 1. */
static void fill(Eval *e) {
  uint64_t r = 12345;
  for (int i = 0; i < e->g->ninputs; i++) {
    bool mask = e->g->v[e->g->inputs[i]].shape.rank == 3 && e->g->v[e->g->inputs[i]].shape.dim[2] == 1;
    for (int64_t j = 0; j < e->inputs[i].n; j++) {
      r = r * 6364136223846793005u + 1442695040888963407u;
      double u = (double)(r >> 11) / 9007199254740992.0;
      e->inputs[i].d[j] = mask ? (u < 0.7) : 2 * u - 1;
    }
  }
}

/* The same bits, but for the sign of a zero: unrolled, the first step's
 * zero state folds away (0 + x is x, where the loop's 0 + -0 is +0). */
static bool same_bits(const Tensor *a, const Tensor *b) {
  if (a->n != b->n) return false;
  int64_t zeros = 0;
  for (int64_t i = 0; i < a->n; i++) {
    if (a->d[i] == 0 && b->d[i] == 0 && signbit(a->d[i]) != signbit(b->d[i])) zeros++;
    else if (memcmp(&a->d[i], &b->d[i], sizeof(double)) != 0) return false;
  }
  if (zeros) printf("  %lld zeros of another sign\n", (long long)zeros);
  return true;
}

/* Text, simplification, and the scan against its unrolled graph. */
static void check(Graph *g, const char *name) {
  verify(g, "building");
  char *text = printed(g);
  Graph *back = parse_ir(source_from_memory(name, text, strlen(text)));
  char *again = back ? printed(back) : NULL;
  report(arena_printf("%s: the text reads back", name), again && !strcmp(text, again));
  if (!again) printf("%s", text);
  free(text);
  free(again);
  Graph *s = simplify(g), *u = unroll(g);
  verify(s, "simplify");
  verify(u, "unroll");
  int scans = 0, left = 0;
  for (int id = 0; id < s->n; id++) scans += s->v[id].op == OP_SCAN;
  for (int id = 0; id < u->n; id++) left += op_info[u->v[id].op].cls == CL_SCAN;
  report(arena_printf("%s: simplify keeps the scan, unroll leaves none", name),
         scans == 1 && s->nbodies == 1 && left == 0 && u->nbodies == 0);
  Eval *es = eval_new(s, N), *eu = eval_new(u, N);
  fill(es);
  fill(eu);
  eval_run(es);
  eval_run(eu);
  bool ok = s->noutputs == u->noutputs;
  for (int i = 0; ok && i < s->noutputs; i++) {
    ok = same_bits(&es->vals[s->outputs[i]], &eu->vals[u->outputs[i]]);
    if (!ok) printf("  result %d differs\n", i);
  }
  report(arena_printf("%s: the scan gives the unrolled graph's bits", name), ok);
  eval_free(es);
  eval_free(eu);
}

/* The RNN in f64 against h_t = h + keep (tanh(x_t + h U) - h) by hand. */
static void textbook(void) {
  Graph *g = simplify(rnn(DT_F64));
  Eval *e = eval_new(g, N);
  fill(e);
  eval_run(e);
  const double *x = e->inputs[0].d, *mask = e->inputs[1].d, *w = e->inputs[2].d;
  double h[N][U] = {{0}}, worst = 0;
  for (int t = 0; t < T; t++)
    for (int n = 0; n < N; n++) {
      double h1[U];
      for (int j = 0; j < U; j++) {
        double z = x[(n * T + t) * U + j];
        for (int i = 0; i < U; i++) z += h[n][i] * w[i * U + j];
        h1[j] = tanh(z);
      }
      for (int j = 0; j < U; j++) {
        h[n][j] += mask[n * T + t] * (h1[j] - h[n][j]);
        worst = fmax(worst, fabs(h[n][j] - e->vals[g->outputs[1]].d[(n * T + t) * U + j]));
      }
    }
  for (int n = 0; n < N; n++)
    for (int j = 0; j < U; j++) worst = fmax(worst, fabs(h[n][j] - e->vals[g->outputs[0]].d[n * U + j]));
  report(arena_printf("rnn f64: the textbook recurrence (largest difference %.3g)", worst), worst < 1e-14);
  eval_free(e);
}

int main(void) {
  check(rnn(DT_F32), "rnn");
  check(lstm(), "lstm reversed");
  check(rows(), "rows along axis 0");
  textbook();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
