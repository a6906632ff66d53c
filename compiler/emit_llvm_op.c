/* emit_llvm_op.c — an elementwise op's meaning for the LLVM backend: the
 * row's expression of compiler/ops.h, translated.
 *
 * The row is C on doubles a, b, c (the evaluator is compiled from it, the C
 * backend writes it); this file reads that text as C would compile it, so
 * adding an op to ops.h needs nothing here. On floats (an f32 value's
 * operands) it reads it as the C backend writes it for them: `double` is
 * float, and a function its float version (vmath_f32) or the double one
 * with its result rounded. Requires: the LLVM section of nnc.h (math calls
 * libm or the runtime). Guarantees: the value in its operands' type
 * (double or float), or an internal compiler error naming the op when its
 * expression uses what this reader does not know (tests/unit/ops.c runs
 * every row through it).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

/* An elementwise op: ops.h's expression (C on doubles a, b, c) translated
 * as C would compile it. It has literals, a b c, calls, the casts (double)
 * and (int32_t), unary -, * / + -, comparisons and ?:; a comparison is an
 * int 0 or 1, and ints meet doubles as in C. Its "double" is ft, the type
 * of a b c (double, or float). */
typedef struct Xp {
  Lv *L;
  const char *s;
  LLVMValueRef abc[3];
  LLVMTypeRef ft;
} Xp;
typedef struct Xv {
  LLVMValueRef v;
  bool i; /* an i32 (C's int) rather than a double (ft) */
} Xv;

static Xv xp_cond(Xp *x);

static bool xp_eat(Xp *x, const char *tok) {
  while (*x->s == ' ') x->s++;
  size_t n = strlen(tok);
  if (strncmp(x->s, tok, n) != 0 || (n == 1 && strchr("<>!=", *tok) && x->s[1] == '=')) return false;
  x->s += n;
  return true;
}

static LLVMValueRef xp_double(Xp *x, Xv a) { return a.i ? LLVMBuildSIToFP(x->L->b, a.v, x->ft, "") : a.v; }

/* A call of libm's `name` (or the runtime's) in ft: in float, its float
 * version, or the double function with the arguments widened and the
 * result rounded. */
static LLVMValueRef xp_call(Xp *x, const char *name, LLVMValueRef a, LLVMValueRef b) {
  Lv *L = x->L;
  if (x->ft == L->f64) return math(L, name, a, b);
  if (vmath_f32(name)) return math(L, vmath_f32(name), a, b);
  LLVMValueRef r = math(L, name, LLVMBuildFPExt(L->b, a, L->f64, ""), b ? LLVMBuildFPExt(L->b, b, L->f64, "") : NULL);
  return LLVMBuildFPTrunc(L->b, r, L->f32, "");
}

static Xv xp_unary(Xp *x) {
  Lv *L = x->L;
  if (xp_eat(x, "-")) return (Xv){LLVMBuildFNeg(L->b, xp_double(x, xp_unary(x)), ""), false};
  if (xp_eat(x, "(double)")) return (Xv){xp_double(x, xp_unary(x)), false};
  if (xp_eat(x, "(int32_t)")) {
    Xv a = xp_unary(x);
    return a.i ? a : (Xv){LLVMBuildFPToSI(L->b, a.v, L->i32, ""), true};
  }
  if (xp_eat(x, "(")) {
    Xv a = xp_cond(x);
    if (!xp_eat(x, ")")) bug("')' expected in %s", x->s);
    return a;
  }
  const char *w = x->s;
  while (isalnum((unsigned char)*x->s) || *x->s == '_' || *x->s == '.') x->s++;
  size_t n = (size_t)(x->s - w);
  if (n == 1 && *w >= 'a' && *w <= 'c') return (Xv){x->abc[*w - 'a'], false};
  if (isdigit((unsigned char)*w)) {
    double d = strtod(w, NULL);
    return memchr(w, '.', n) ? (Xv){LLVMConstReal(x->ft, d), false} : (Xv){ci32(L, (int64_t)d), true};
  }
  if (!n || !xp_eat(x, "(")) bug("cannot read an op's expression at '%s'", w);
  LLVMValueRef arg[2] = {xp_double(x, xp_cond(x)), NULL};
  if (xp_eat(x, ",")) arg[1] = xp_double(x, xp_cond(x));
  if (!xp_eat(x, ")")) bug("')' expected in %s", x->s);
  const char *name = arena_strndup(w, n);
  return (Xv){xp_call(x, name, arg[0], arg[1]), false};
}

/* a OP b with C's conversions: int when both are ints */
static Xv xp_binary(Xp *x, char op, Xv a, Xv b) {
  Lv *L = x->L;
  if (a.i && b.i) {
    LLVMValueRef v = op == '*' ? LLVMBuildNSWMul(L->b, a.v, b.v, "") : op == '+' ? LLVMBuildNSWAdd(L->b, a.v, b.v, "")
                                           : LLVMBuildNSWSub(L->b, a.v, b.v, "");
    if (op == '/') bug("integer division in an op's expression");
    return (Xv){v, true};
  }
  LLVMValueRef p = xp_double(x, a), q = xp_double(x, b);
  return (Xv){op == '*' ? LLVMBuildFMul(L->b, p, q, "") : op == '/' ? LLVMBuildFDiv(L->b, p, q, "")
              : op == '+' ? LLVMBuildFAdd(L->b, p, q, "") : LLVMBuildFSub(L->b, p, q, ""), false};
}

/* * and / (level 2), + and - (level 1), left to right */
static Xv xp_arith(Xp *x, int level) {
  const char *ops = level == 2 ? "*/" : "+-";
  Xv a = level == 2 ? xp_unary(x) : xp_arith(x, 2);
  for (;;) {
    char op = xp_eat(x, (char[]){ops[0], 0}) ? ops[0] : xp_eat(x, (char[]){ops[1], 0}) ? ops[1] : 0;
    if (!op) return a;
    a = xp_binary(x, op, a, level == 2 ? xp_unary(x) : xp_arith(x, 2));
  }
}

/* comparisons, the relational ones binding tighter than == and != */
static Xv xp_compare(Xp *x, int level) {
  static const struct { const char *tok; LLVMRealPredicate f; LLVMIntPredicate i; int level; } cmp[] = {
    {"<=", LLVMRealOLE, LLVMIntSLE, 1}, {">=", LLVMRealOGE, LLVMIntSGE, 1}, {"<", LLVMRealOLT, LLVMIntSLT, 1},
    {">", LLVMRealOGT, LLVMIntSGT, 1},  {"==", LLVMRealOEQ, LLVMIntEQ, 0},  {"!=", LLVMRealUNE, LLVMIntNE, 0}};
  Xv a = level ? xp_arith(x, 1) : xp_compare(x, 1);
  for (bool more = true; more;) {
    more = false;
    for (size_t k = 0; k < sizeof cmp / sizeof *cmp && !more; k++) {
      if (cmp[k].level != level || !xp_eat(x, cmp[k].tok)) continue;
      Xv b = level ? xp_arith(x, 1) : xp_compare(x, 1);
      LLVMValueRef c = a.i && b.i ? LLVMBuildICmp(x->L->b, cmp[k].i, a.v, b.v, "")
                                  : LLVMBuildFCmp(x->L->b, cmp[k].f, xp_double(x, a), xp_double(x, b), "");
      a = (Xv){LLVMBuildZExt(x->L->b, c, x->L->i32, ""), true};
      more = true;
    }
  }
  return a;
}

static Xv xp_cond(Xp *x) {
  Lv *L = x->L;
  Xv c = xp_compare(x, 0);
  if (!xp_eat(x, "?")) return c;
  Xv a = xp_cond(x);
  if (!xp_eat(x, ":")) bug("':' expected in %s", x->s);
  Xv b = xp_cond(x);
  LLVMValueRef t = c.i ? LLVMBuildICmp(L->b, LLVMIntNE, c.v, ci32(L, 0), "")
                       : LLVMBuildFCmp(L->b, LLVMRealUNE, c.v, LLVMConstReal(x->ft, 0), "");
  if (a.i && b.i) return (Xv){LLVMBuildSelect(L->b, t, a.v, b.v, ""), true};
  return (Xv){LLVMBuildSelect(L->b, t, xp_double(x, a), xp_double(x, b), ""), false};
}

LLVMValueRef llvm_scalar_op(Lv *L, Op op, DType out, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  (void)out; /* a result in i32 is converted by the caller (from_double) */
  Xp x = {L, op_info[op].x, {a, b, c}, LLVMTypeOf(a)};
  LLVMValueRef v = xp_double(&x, xp_cond(&x));
  while (*x.s == ' ') x.s++;
  if (*x.s) bug("cannot read '%s' of %s's expression", x.s, op_info[op].name);
  return v;
}

