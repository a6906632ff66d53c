/* values.c — sema's values: making and printing them, reporting one that
 * is not what its context needs, and the arithmetic operators on them
 * (constant folding; on tensors broadcasting and numpy's matmul).
 *
 * Requires: builtins.c (names to suggest), layers.c (shape sizes, a
 * tensor's IR value), ir.c (build mode), and the Sema and Scope types.
 * Calls nothing in sema.c. Guarantees: a value of kind VK_ERROR has been
 * reported, and an operator on one gives VK_ERROR without a second
 * message; a tensor result is within NN_MAX_ELEMS elements and in build
 * mode carries its IR value.
 */
#include <math.h>
#include <string.h>
#include "nnc.h"

/* -------------------------------------------------------------- values */

Val *v_new(ValKind kind, Loc loc) {
  Val *v = arena_alloc(sizeof *v);
  v->kind = kind;
  v->loc = loc;
  return v;
}

Val *v_error(Loc loc) { return v_new(VK_ERROR, loc); }

Val *v_int(int64_t i, Loc loc) {
  Val *v = v_new(VK_INT, loc);
  v->i = i;
  return v;
}

Val *v_float(double f, Loc loc) {
  Val *v = v_new(VK_FLOAT, loc);
  v->f = f;
  return v;
}

Val *v_tensor(DType dt, Shape sh, Loc loc) {
  Val *v = v_new(VK_TENSOR, loc);
  v->dtype = dt;
  v->shape = sh;
  return v;
}

const char *kind_word(const Val *v) {
  switch (v->kind) {
  case VK_ERROR: return "an error";
  case VK_NONE: return "none";
  case VK_INT: return v->batch ? "the batch dimension" : "an integer";
  case VK_FLOAT: return "a number";
  case VK_BOOL: return "a boolean";
  case VK_STRING: return "a string";
  case VK_NAME: return arena_printf("the name '%s'", v->s);
  case VK_LIST: return "a list";
  case VK_TENSOR: return arena_printf("a tensor %s", type_str(v->dtype, v->shape));
  case VK_CALLABLE: return arena_printf("the function '%s'", v->s);
  }
  return "?";
}

char *value_str(const Val *v) {
  switch (v->kind) {
  case VK_NONE: return "none";
  case VK_INT: return v->batch ? "N" : arena_printf("%lld", (long long)v->i);
  case VK_FLOAT: return arena_printf("%g", v->f);
  case VK_BOOL: return v->i ? "true" : "false";
  case VK_STRING: return quote_str(v->s);
  case VK_NAME: return arena_printf("%s", v->s);
  case VK_CALLABLE: return v->call && v->call->kind == ND_CALL ? expr_str(v->call)
                                                                 : arena_printf("%s", v->s);
  case VK_TENSOR: return type_str(v->dtype, v->shape);
  case VK_LIST: {
    char *out = "[";
    for (int i = 0; i < v->nitems; i++)
      out = arena_printf("%s%s%s", out, i ? ", " : "", value_str(&v->items[i]));
    return arena_printf("%s]", out);
  }
  case VK_ERROR: break;
  }
  return "?";
}

/* ------------------------------------------------------- suggestions */

static void consider_var(const char *key, void *val, void *ctx) {
  (void)val;
  consider(ctx, key);
}

const char *did_you_mean(Sema *s, const char *name, bool vars, bool layers) {
  Suggest sg = {.name = name, .best_d = 1000};
  if (vars && s->scope) map_each(s->scope->vars, consider_var, &sg);
  if (layers) {
    const Builtin *b = builtin_suggest(name, BK_FUNC);
    if (b) consider(&sg, b->name);
    for (Node *d = s->prog->decls; d; d = d->next)
      if (d->kind == ND_LAYER) consider(&sg, d->name);
  }
  return sg.best ? arena_printf("; did you mean '%s'?", sg.best) : "";
}

/* Reports a value that is not what the context needs. */
void wrong_value(Sema *s, const Val *v, const char *needed, const char *what) {
  if (v->kind == VK_ERROR) return;
  if (v->kind == VK_NAME && v->call && v->call->loc.first_line &&
      (v->call->loc.first_line != v->loc.first_line ||
       v->call->loc.first_column != v->loc.first_column))
    /* passed in from elsewhere (a layer's hyper-parameter): report where it was written */
    error_at(v->call->loc, "unknown name '%s'", v->s);
  else if (v->kind == VK_NAME)
    error_at(v->loc, "unknown name '%s'%s", v->s, did_you_mean(s, v->s, true, false));
  else
    error_at(v->loc, "%s must be %s, got %s", what, needed, kind_word(v));
}

Val *need_tensor(Sema *s, Val *v, const char *what) {
  if (v->kind == VK_TENSOR || v->kind == VK_ERROR) return v;
  wrong_value(s, v, "a tensor", what);
  return v_error(v->loc);
}

/* ---------------------------------------------------------- arithmetic */

static const char *op_name(int op) {
  switch (op) {
  case '+': return "+";
  case '-': return "-";
  case '*': return "*";
  case '/': return "/";
  case '@': return "@";
  }
  return "?";
}

static Val *fold(Node *n, Val *a, Val *b) {
  if (a->batch || b->batch) {
    error_at(n->name_loc, "the batch dimension has no fixed size and cannot be computed with");
    return v_error(n->loc);
  }
  if (a->kind == VK_INT && b->kind == VK_INT) {
    int64_t r = 0;
    bool ovf = false;
    switch (n->op) {
    case '+': ovf = __builtin_add_overflow(a->i, b->i, &r); break;
    case '-': ovf = __builtin_sub_overflow(a->i, b->i, &r); break;
    case '*': ovf = __builtin_mul_overflow(a->i, b->i, &r); break;
    case '/':
      if (b->i == 0) {
        error_at(n->name_loc, "division by zero");
        return v_error(n->loc);
      }
      if (b->i == -1 && a->i == INT64_MIN) ovf = true;
      else if (a->i % b->i == 0) r = a->i / b->i;
      else return v_float((double)a->i / (double)b->i, n->loc);
      break;
    default:
      error_at(n->name_loc, "'@' needs tensors, got two integers");
      return v_error(n->loc);
    }
    if (ovf) {
      error_at(n->name_loc, "integer overflow in constant expression");
      return v_error(n->loc);
    }
    return v_int(r, n->loc);
  }
  double x = val_num(a), y = val_num(b), r;
  switch (n->op) {
  case '+': r = x + y; break;
  case '-': r = x - y; break;
  case '*': r = x * y; break;
  case '/':
    if (y == 0) {
      error_at(n->name_loc, "division by zero");
      return v_error(n->loc);
    }
    r = x / y;
    break;
  default:
    error_at(n->name_loc, "'@' needs tensors, got two numbers");
    return v_error(n->loc);
  }
  if (!isfinite(r)) {
    error_at(n->name_loc, "constant expression overflows");
    return v_error(n->loc);
  }
  return v_float(r, n->loc);
}


static const char *dim_text(int64_t d) {
  return d == DIM_BATCH ? "N" : arena_printf("%lld", (long long)d);
}

/* a @ b, numpy's matmul: [..., m, k] @ [..., k, n] -> [..., m, n]; a vector
 * operand gains and then loses a unit axis. */
static Val *matmul(Sema *s, Node *n, Val *a, Val *b) {
  if (a->dtype != b->dtype) {
    error_at(n->name_loc, "operands of '@' have different types: %s and %s",
             type_str(a->dtype, a->shape), type_str(b->dtype, b->shape));
    return v_error(n->loc);
  }
  if (a->dtype == DT_I32) {
    error_at(n->name_loc, "'@' needs floating-point tensors, got %s", type_str(a->dtype, a->shape));
    return v_error(n->loc);
  }
  if (a->shape.rank < 1 || b->shape.rank < 1) {
    error_at(n->name_loc, "'@' needs tensors of rank 1 or more, got %s and %s",
             shape_str(a->shape), shape_str(b->shape));
    return v_error(n->loc);
  }
  Shape sa = a->shape, sb = b->shape;
  bool va = sa.rank == 1, vb = sb.rank == 1;
  if (va) sa = (Shape){.rank = 2, .dim = {1, sa.dim[0]}};
  if (vb) sb = (Shape){.rank = 2, .dim = {sb.dim[0], 1}};
  int64_t ka = sa.dim[sa.rank - 1], kb = sb.dim[sb.rank - 2];
  if (ka != kb) {
    error_at(n->name_loc, "cannot multiply %s by %s: inner dimensions %s and %s differ",
             type_str(a->dtype, a->shape), type_str(b->dtype, b->shape), dim_text(ka),
             dim_text(kb));
    return v_error(n->loc);
  }
  Shape la = sa, lb = sb, lead;
  la.rank -= 2;
  lb.rank -= 2;
  int ia, ib;
  if (!broadcast_where(la, lb, &lead, &ia, &ib)) {
    error_at(n->name_loc, "cannot multiply %s by %s: leading dimensions do not broadcast",
             type_str(a->dtype, a->shape), type_str(b->dtype, b->shape));
    return v_error(n->loc);
  }
  if (lead.rank + 2 > NN_MAX_RANK) bug("matmul rank");
  Shape out = lead;
  if (!va) out.dim[out.rank++] = sa.dim[sa.rank - 2];
  if (!vb) out.dim[out.rank++] = sb.dim[sb.rank - 1];
  if (!check_shape_size(n->loc, a->dtype, out)) return v_error(n->loc);
  Val *r = v_tensor(a->dtype, out, n->loc);
  if (s->graph) {
    Graph *g = s->graph;
    int x = ir_reshape(g, val_ir(a), sa), y = ir_reshape(g, val_ir(b), sb);
    r->ir = ir_reshape(g, ir_matmul(g, x, y), out) + 1;
  }
  return r;
}

Val *eval_binary(Sema *s, Node *n, Val *a, Val *b) {
  if (a->kind == VK_ERROR || b->kind == VK_ERROR) return v_error(n->loc);
  const char *what = arena_printf("operand of '%s'", op_name(n->op));
  if (a->kind == VK_NAME) return wrong_value(s, a, "", what), v_error(n->loc);
  if (b->kind == VK_NAME) return wrong_value(s, b, "", what), v_error(n->loc);
  if (val_is_num(a) && val_is_num(b)) return fold(n, a, b);
  bool ta = a->kind == VK_TENSOR, tb = b->kind == VK_TENSOR;
  if (!(ta || val_is_num(a)) || !(tb || val_is_num(b)) || a->batch || b->batch) {
    error_at(n->name_loc, "invalid operands to '%s': %s and %s", op_name(n->op), kind_word(a),
             kind_word(b));
    return v_error(n->loc);
  }
  if (n->op == '@') {
    if (!ta || !tb) {
      error_at(n->name_loc, "'@' needs two tensors, got %s and %s", kind_word(a), kind_word(b));
      return v_error(n->loc);
    }
    return matmul(s, n, a, b);
  }
  DType dt = ta ? a->dtype : b->dtype;
  if (dt == DT_I32 && ((!ta && !int_operand(a, op_name(n->op))) || (!tb && !int_operand(b, op_name(n->op)))))
    return v_error(n->loc);
  if (ta && tb && a->dtype != b->dtype) {
    error_at(n->name_loc, "operands of '%s' have different types: %s and %s", op_name(n->op),
             type_str(a->dtype, a->shape), type_str(b->dtype, b->shape));
    return v_error(n->loc);
  }
  Shape out = ta ? a->shape : b->shape;
  int ia, ib;
  if (ta && tb && !broadcast_where(a->shape, b->shape, &out, &ia, &ib)) {
    error_at(n->name_loc, "shapes %s and %s do not broadcast: %s against %s",
             shape_str(a->shape), shape_str(b->shape), dim_text(a->shape.dim[ia]),
             dim_text(b->shape.dim[ib]));
    return v_error(n->loc);
  }
  Val *r = v_tensor(dt, out, n->loc);
  if (s->graph) {
    static const Op ops[128] = {['+'] = OP_ADD, ['-'] = OP_SUB, ['*'] = OP_MUL, ['/'] = OP_DIV};
    int x = ta ? val_ir(a) : ir_scalar(s->graph, dt, val_num(a));
    int y = tb ? val_ir(b) : ir_scalar(s->graph, dt, val_num(b));
    r->ir = ir_binary(s->graph, ops[n->op], x, y) + 1;
  }
  return r;
}
