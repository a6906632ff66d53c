/* sema.c — semantic analysis: names, arguments, shapes, hyper-parameters.
 *
 * Requires: a parsed Program (program.c's sema_check calls check_model for
 * each model, then settings.c for the train blocks); values.c (values,
 * operators), builtins.c (the table) and layers.c (the built-ins' shape
 * rules, the parameter list), none of which calls back into this file.
 * Guarantees on success: every model statement has a dtype and a static
 * shape (with at most the symbolic batch dimension N), and every parameter
 * of every model is listed with its full name ("block1.conv2d1.W"), shape
 * and initializer.
 *
 * Expressions are evaluated to Values: compile-time constants (ints, floats,
 * names, lists) or tensor types. A user layer is checked once per call, with
 * its hyper-parameters and input shapes bound (like a template); a layer
 * that is never called is only checked for its header. A value of kind
 * VK_ERROR has been reported already and silences follow-on errors.
 */
#include <string.h>
#include "nnc.h"

typedef struct Binding {
  Val *val;
  Loc loc;
  bool reassignable;      /* `h = ...` may be assigned again, as in Python */
} Binding;

/* ------------------------------------------------------------- scopes */

Scope *scope_push(Sema *s, const char *prefix, const Node *layer, DType fdt) {
  Scope *sc = arena_alloc(sizeof *sc);
  sc->parent = s->scope;
  sc->prefix = prefix;
  sc->vars = map_new();
  sc->counters = map_new();
  sc->layer = layer;
  sc->model = s->scope ? s->scope->model : NULL;
  sc->float_dtype = fdt;
  s->scope = sc;
  return sc;
}

void scope_pop(Sema *s) { s->scope = s->scope->parent; }

static Binding *lookup(Sema *s, const char *name) { return map_get(s->scope->vars, name); }

static bool bind_value(Sema *s, const char *name, Loc loc, Val *v, bool reassignable) {
  Binding *old = lookup(s, name);
  if (old && old->reassignable && reassignable) {
    old->val = v;
    old->loc = loc;
    return true;
  }
  if (old) {
    error_at(loc, "redefinition of '%s'", name);
    note_at(old->loc, "'%s' was defined here", name);
    return false;
  }
  Binding *b = arena_alloc(sizeof *b);
  b->val = v;
  b->loc = loc;
  b->reassignable = reassignable;
  map_put(s->scope->vars, name, b);
  return true;
}

static bool bind(Sema *s, const char *name, Loc loc, Val *v) {
  return bind_value(s, name, loc, v, false);
}

/* dense -> dense1, dense2, ... within the current scope. */
/* dense -> dense1, dense2, ... within the current scope. A name already
 * taken (a layer called `dense1` makes "dense11") gets a suffix _2, _3, ... */
static const char *instance_name(Sema *s, const char *kind) {
  intptr_t n = (intptr_t)map_get(s->scope->counters, kind) + 1;
  map_put(s->scope->counters, kind, (void *)n);
  const char *name = arena_printf("%s%ld", kind, (long)n);
  for (int k = 2; map_get(s->scope->counters, arena_printf("#%s", name)); k++)
    name = arena_printf("%s%ld_%d", kind, (long)n, k);
  map_put(s->scope->counters, arena_printf("#%s", name), (void *)1);
  if (*s->scope->prefix) name = arena_printf("%s.%s", s->scope->prefix, name);
  return name;
}

/* ---------------------------------------------------------- expressions */

static Val *eval_call(Sema *s, Node *call, Val *first);

static Node *synthetic_call(Node *name) {
  Node *c = new_node(ND_CALL, name->loc);
  c->name = name->name;
  c->name_loc = name->loc;
  return c;
}

static Val *pipe_into(Sema *s, Node *rhs, Val *lhs) {
  if (rhs->kind == ND_CALL) return eval_call(s, rhs, lhs);
  if (rhs->kind == ND_NAME) {
    Node *c = synthetic_call(rhs);
    Val *v = eval_call(s, c, lhs);
    rhs->typed = c->typed, rhs->dtype = c->dtype, rhs->shape = c->shape, rhs->inst = c->inst;
    return v;
  }
  error_at(rhs->loc, "the right side of '|>' must be a layer or function, like relu or "
                     "dense(10)");
  return v_error(rhs->loc);
}

static Val *eval_node(Sema *s, Node *n);
static bool check_init(Sema *s, const Node *n, Val *v, const char *what);

/* Evaluates an expression; in build mode the IR it emits carries n's place. */
Val *sema_eval(Sema *s, Node *n) {
  if (!s->graph) return eval_node(s, n);
  Loc saved = s->graph->loc;
  s->graph->loc = n->loc;
  Val *v = eval_node(s, n);
  s->graph->loc = saved;
  return v;
}

static Val *eval_node(Sema *s, Node *n) {
  switch (n->kind) {
  case ND_INT: return v_int(n->ival, n->loc);
  case ND_FLOAT: return v_float(n->fval, n->loc);
  case ND_STRING: {
    Val *v = v_new(VK_STRING, n->loc);
    v->s = n->sval;
    return v;
  }
  case ND_NAME: {
    Binding *b = s->scope ? lookup(s, n->name) : NULL;
    if (b) {
      Val *v = arena_alloc(sizeof *v);
      *v = *b->val;
      v->loc = n->loc;
      return v;
    }
    Val *v = v_new(VK_NAME, n->loc);
    v->s = n->name;
    v->call = n;
    if (!strcmp(n->name, "true") || !strcmp(n->name, "false")) {
      v->kind = VK_BOOL;
      v->i = n->name[0] == 't';
    } else if (!strcmp(n->name, "none")) {
      v->kind = VK_NONE;
    } else if (builtin_find(n->name) || builtin_find_kind(n->name, BK_INIT)) {
      v->kind = VK_CALLABLE;
    } else {
      Node *d = s->decls ? map_get(s->decls, n->name) : NULL;
      if (d && d->kind == ND_LAYER) v->kind = VK_CALLABLE;
    }
    return v;
  }
  case ND_LIST: {
    Val *v = v_new(VK_LIST, n->loc);
    v->nitems = node_count(n->kids);
    v->items = arena_alloc(sizeof(Val) * (size_t)(v->nitems + 1));
    int i = 0;
    for (Node *k = n->kids; k; k = k->next) {
      v->items[i++] = *sema_eval(s, k);
      if (v->items[i - 1].kind == VK_ERROR) return v_error(n->loc);
    }
    v->call = n;
    return v;
  }
  case ND_CALL:
    if (builtin_find_kind(n->name, BK_INIT) && !builtin_find(n->name) &&
        !(s->scope && lookup(s, n->name)) && !(s->decls && map_get(s->decls, n->name))) {
      /* an initializer as a value: dense(4, bias_init: constant(0.1)) */
      Val *v = v_new(VK_CALLABLE, n->loc);
      if (!check_init(s, n, v, "an initializer")) return v_error(n->loc);
      return v;
    }
    return eval_call(s, n, NULL);
  case ND_PIPE: {
    Val *lhs = sema_eval(s, n->lhs);
    if (lhs->kind == VK_ERROR) return lhs;
    return pipe_into(s, n->rhs, need_tensor(s, lhs, "the left side of '|>'"));
  }
  case ND_BINARY: {
    Val *a = sema_eval(s, n->lhs);
    Val *b = sema_eval(s, n->rhs);
    return eval_binary(s, n, a, b);
  }
  case ND_NEG: {
    Val *a = sema_eval(s, n->lhs);
    if (a->kind == VK_ERROR) return a;
    if (a->kind == VK_INT && !a->batch && a->i != INT64_MIN) return v_int(-a->i, n->loc);
    if (a->kind == VK_FLOAT) return v_float(-a->f, n->loc);
    if (a->kind == VK_TENSOR) {
      Val *r = v_tensor(a->dtype, a->shape, n->loc);
      if (s->graph) r->ir = ir_unary(s->graph, OP_NEG, val_ir(a)) + 1;
      return r;
    }
    wrong_value(s, a, "a number or a tensor", "the operand of unary '-'");
    return v_error(n->loc);
  }
  case ND_COMPARE:
    error_at(n->name_loc, "comparisons are only allowed in a 'stop when' rule");
    return v_error(n->loc);
  default:
    bug("sema_eval of %s", nodekind_name(n->kind));
  }
}

/* ------------------------------------------------------------ arguments */

static const char *range_text(const BParam *p) {
  if (p->has_lo && !p->has_hi)
    return arena_printf("%s %g", p->lo_open ? "greater than" : "at least", p->lo);
  if (!p->has_lo && p->has_hi)
    return arena_printf("%s %g", p->hi_open ? "less than" : "at most", p->hi);
  return arena_printf("in %c%g, %g%c", p->lo_open ? '(' : '[', p->lo, p->hi,
                      p->hi_open ? ')' : ']');
}

static bool in_range(const BParam *p, double x) {
  if (p->has_lo && (p->lo_open ? x <= p->lo : x < p->lo)) return false;
  if (p->has_hi && (p->hi_open ? x >= p->hi : x > p->hi)) return false;
  return true;
}

static bool check_range(const BParam *p, const char *callee, Val *v) {
  if (in_range(p, val_num(v))) return true;
  error_at(v->loc, "'%s' of '%s' must be %s, got %s", p->name, callee, range_text(p),
           value_str(v));
  return false;
}

static bool check_int(Sema *s, const BParam *p, const char *callee, Val *v) {
  if (v->kind != VK_INT || v->batch) {
    wrong_value(s, v, "an integer", arena_printf("'%s' of '%s'", p->name, callee));
    return false;
  }
  if (v->i > NN_MAX_ELEMS || v->i < -NN_MAX_ELEMS) { /* keeps size arithmetic in range */
    error_at(v->loc, "'%s' of '%s' is too large: %lld", p->name, callee, (long long)v->i);
    return false;
  }
  return check_range(p, callee, v);
}

/* An initializer: a name (glorot_uniform) or a call (constant(0.1)). */

/* A name written where the parameter wants a symbol: the value bound to it
 * in the current scope (a layer's hyper-parameter), or the name itself. */
static Val *symbol(Sema *s, Node *n) {
  Val *v = sema_eval(s, n);
  if (v->kind == VK_CALLABLE) v->kind = VK_NAME;
  return v;
}

static bool convert(Sema *s, const BParam *p, const char *callee, Node *n, Val *v) {
  const char *what = arena_printf("'%s' of '%s'", p->name, callee);
  Val *x = p->kind == PK_ACT || p->kind == PK_INIT || p->kind == PK_ENUM || p->kind == PK_PAD ||
                     p->kind == PK_METRIC
                 ? symbol(s, n)
                 : p->kind == PK_MONITOR && n->kind == ND_NAME ? v_new(VK_NAME, n->loc)
                 : sema_eval(s, n);
  if (p->kind == PK_MONITOR && n->kind == ND_NAME) x->s = n->name;
  if (!x->call) x->call = n;
  *v = *x;
  if (x->kind == VK_ERROR) return false;
  switch (p->kind) {
  case PK_TENSOR:
    if (x->kind == VK_TENSOR) return true;
    if (x->kind == VK_NONE && p->dflt && p->dflt->kind == ND_NAME) return true; /* =none */
    wrong_value(s, x, "a tensor", what);
    return false;
  case PK_TENSORS: bug("variadic converted alone");
  case PK_INT:
    if (x->kind == VK_NONE && p->dflt && p->dflt->kind == ND_NAME) return true; /* =none */
    return check_int(s, p, callee, v);
  case PK_FLOAT:
    if (x->kind == VK_NONE && p->dflt && p->dflt->kind == ND_NAME) return true;
    if (!val_is_num(x) || x->batch) {
      wrong_value(s, x, "a number", what);
      return false;
    }
    v->kind = VK_FLOAT;
    v->f = val_num(x);
    return check_range(p, callee, v);
  case PK_BOOL:
    if (x->kind == VK_BOOL) return true;
    wrong_value(s, x, "true or false", what);
    return false;
  case PK_INTS:
    if (x->kind == VK_NONE && p->dflt && p->dflt->kind == ND_NAME) return true;
    if (x->kind == VK_INT) return check_int(s, p, callee, v);
    if (x->kind != VK_LIST || x->nitems == 0) {
      wrong_value(s, x, "an integer or a list of integers", what);
      return false;
    }
    for (int i = 0; i < x->nitems; i++)
      if (!check_int(s, p, callee, &v->items[i])) return false;
    return true;
  case PK_AXES:
    if (x->kind == VK_NONE || (x->kind == VK_INT && !x->batch)) return true;
    if (x->kind == VK_LIST) {
      for (int i = 0; i < x->nitems; i++)
        if (x->items[i].kind != VK_INT || x->items[i].batch) {
          wrong_value(s, &x->items[i], "an integer", what);
          return false;
        }
      return true;
    }
    wrong_value(s, x, "an axis or a list of axes", what);
    return false;
  case PK_SHAPE:
    if (x->kind != VK_LIST) {
      wrong_value(s, x, "a list of dimensions", what);
      return false;
    }
    for (int i = 0; i < x->nitems; i++)
      if (x->items[i].kind != VK_INT || x->items[i].batch) {
        wrong_value(s, &x->items[i], "an integer", arena_printf("a dimension of %s", what));
        return false;
      }
    return true;
  case PK_PAD:
    if (x->kind == VK_NAME && (!strcmp(x->s, "valid") || !strcmp(x->s, "same"))) return true;
    if (x->kind == VK_INT && !x->batch && x->i >= 0) return true;
    if (x->kind == VK_LIST && x->nitems >= 1 && x->nitems <= 2) {
      for (int i = 0; i < x->nitems; i++)
        if (x->items[i].kind != VK_INT || x->items[i].i < 0) goto bad_pad;
      return true;
    }
  bad_pad:
    error_at(x->loc, "%s must be valid, same, or a padding size, got %s", what, value_str(x));
    return false;
  case PK_ACT:
    if (x->kind == VK_NONE) return true;
    if (x->kind == VK_NAME && (builtin_is_activation(x->s) || !strcmp(x->s, "linear"))) {
      if (!strcmp(x->s, "linear")) v->kind = VK_NONE;
      return true;
    }
    error_at(x->loc, "%s must be an activation (relu, sigmoid, tanh, softmax, ...), got %s%s", what,
             value_str(x),
             x->kind == VK_STRING && builtin_is_activation(x->s)
                 ? arena_printf("; names are written without quotes: %s", x->s)
                 : "");
    return false;
  case PK_INIT:
    return check_init(s, v->call, v, what);
  case PK_ENUM: {
    if (x->kind == VK_NAME) {
      const char *e = p->enums;
      size_t len = strlen(x->s);
      for (const char *q = e; q && *q; q = strchr(q, '|'), q = q ? q + 1 : q)
        if (!strncmp(q, x->s, len) && (q[len] == '|' || q[len] == '\0')) return true;
    }
    char *opts = arena_strdup(p->enums);
    for (char *c = opts; *c; c++)
      if (*c == '|') *c = '/';
    error_at(x->loc, "%s must be one of %s, got %s", what, opts, value_str(x));
    return false;
  }
  case PK_STRING:
    if (x->kind == VK_STRING) return true;
    wrong_value(s, x, "a string", what);
    return false;
  case PK_METRIC:
    if (x->kind == VK_NAME && builtin_find_kind(x->s, BK_METRIC)) return true;
    error_at(x->loc, "unknown metric %s; expected one of %s", value_str(x),
             builtin_kind_names(BK_METRIC));
    return false;
  case PK_ANY:
    return true;
  case PK_MONITOR: /* which names are measured: settings.c */
    if (x->kind == VK_NAME) return true;
    error_at(x->loc, "%s must name what the training measures (loss, val_loss, a metric), got %s", what,
             value_str(x));
    return false;
  }
  return true;
}

static bool check_init(Sema *s, const Node *n, Val *v, const char *what) {
  /* an initializer passed through a hyper-parameter: the expression it came from */
  Binding *bound = n->kind == ND_NAME && s->scope ? lookup(s, n->name) : NULL;
  if (bound && bound->val->call) n = bound->val->call;
  v->call = n;
  const char *name = n->kind == ND_NAME || n->kind == ND_CALL ? n->name : NULL;
  const Builtin *b = name ? builtin_find_kind(name, BK_INIT) : NULL;
  if (!b) {
    const Builtin *sg = name ? builtin_suggest(name, BK_INIT) : NULL;
    error_at(n->loc, "%s must be an initializer (%s), got %s%s", what,
             "glorot_uniform, he_normal, zeros, constant(v), ...", expr_str(n),
             sg ? arena_printf("; did you mean '%s'?", sg->name) : "");
    return false;
  }
  v->kind = VK_CALLABLE;
  v->s = b->name;
  /* the initializer's own arguments, defaults filled in, travel in items */
  Val *args = arena_alloc(sizeof(Val) * (size_t)(b->nparams + 1));
  if (!bind_args(s, b->name, b->params, b->nparams, n->kind == ND_CALL ? n->kids : NULL, NULL,
                 n->loc, args))
    return false;
  v->items = args;
  v->nitems = b->nparams;
  if (!strcmp(b->name, "uniform") && args[0].f >= args[1].f) {
    error_at(n->loc, "'uniform' needs low < high, got low %g and high %g", args[0].f, args[1].f);
    return false;
  }
  return true;
}

static int find_param(const BParam *ps, int np, const char *name) {
  for (int i = 0; i < np; i++)
    if (!strcmp(ps[i].name, name)) return i;
  return -1;
}

static const char *param_suggest(const BParam *ps, int np, const char *name) {
  /* PyTorch's optimizer arguments that are not one of ours */
  if (!strcmp(name, "betas") && find_param(ps, np, "beta1") >= 0)
    return "; the betas are two arguments: beta1: 0.9, beta2: 0.999";
  if (!strcmp(name, "weight_decay") && find_param(ps, np, "lr") >= 0)
    return "; weight decay is the train block's 'weight_decay' setting (an L2 penalty in the "
           "loss), or adamw(weight_decay: ...) for decoupled decay";
  Suggest sg = {.name = name, .best_d = 1000};
  for (int i = 0; i < np; i++) consider(&sg, ps[i].name);
  return sg.best ? arena_printf("; did you mean '%s'?", sg.best) : "";
}

/* Binds a call's arguments to the parameters ps (positional first, then
 * named), converting each; `first` is the implicit input of a sequential
 * statement or the left side of '|>'. out gets one value per parameter. */
bool bind_args(Sema *s, const char *callee, const BParam *ps, int np, Node *args, Val *first,
               Loc call_loc, Val *out) {
  bool ok = true, named_seen = false;
  bool set[16] = {0};
  int pi = 0;
  Val *var = NULL; /* the variadic list, if any */
  for (int i = 0; i < np; i++)
    if (ps[i].variadic) {
      var = &out[i];
      var->kind = VK_LIST;
      var->loc = call_loc;
      var->items = arena_alloc(sizeof(Val) * (size_t)(node_count(args) + 2));
    }
  if (first) {
    if (np == 0 || (ps[0].kind != PK_TENSOR && ps[0].kind != PK_TENSORS)) {
      error_at(call_loc, "'%s' does not take a tensor input", callee);
      return false;
    }
    if (ps[0].variadic) var->items[var->nitems++] = *first;
    else out[pi++] = *first, set[0] = true;
  }
  for (Node *a = args; a; a = a->next) {
    if (!a->name) {
      if (named_seen) {
        error_at(a->loc, "positional argument after a named argument");
        ok = false;
        continue;
      }
      if (pi < np && ps[pi].variadic) {
        Val *v = sema_eval(s, a->lhs);
        if (v->kind == VK_ERROR) ok = false;
        else if (v->kind != VK_TENSOR) {
          wrong_value(s, v, "a tensor", arena_printf("'%s' of '%s'", ps[pi].name, callee));
          ok = false;
        } else var->items[var->nitems++] = *v;
        set[pi] = true;
        continue;
      }
      if (pi >= np) {
        error_at(a->loc, "too many arguments to '%s' (it takes %d)", callee, np);
        return false;
      }
      if (pi == 0 && !first && ps[0].kind == PK_TENSOR && a->lhs->kind != ND_NAME &&
          a->lhs->kind != ND_CALL && a->lhs->kind != ND_BINARY && a->lhs->kind != ND_PIPE &&
          a->lhs->kind != ND_NEG) {
        error_at(a->loc, "'%s' takes its input tensor first, as in %s(x, ...); a statement "
                         "%s(...) of its own in a sequential model takes the previous value",
                 callee, callee, callee);
        return false;
      }
      if (!convert(s, &ps[pi], callee, a->lhs, &out[pi])) ok = false;
      set[pi++] = true;
      continue;
    }
    named_seen = true;
    int i = find_param(ps, np, a->name);
    if (i < 0) {
      error_at(a->name_loc, "'%s' has no argument named '%s'%s", callee, a->name,
               param_suggest(ps, np, a->name));
      ok = false;
      continue;
    }
    if (set[i] || (ps[i].variadic && var->nitems > 0)) {
      error_at(a->name_loc, "argument '%s' of '%s' is given twice", a->name, callee);
      ok = false;
      continue;
    }
    if (ps[i].variadic) {
      error_at(a->name_loc, "'%s' of '%s' takes its tensors by position", a->name, callee);
      ok = false;
      continue;
    }
    if (!convert(s, &ps[i], callee, a->lhs, &out[i])) ok = false;
    set[i] = true;
  }
  for (int i = 0; i < np && ok; i++) {
    if (set[i] || ps[i].variadic) continue;
    if (!ps[i].dflt) {
      error_at(call_loc, "missing argument '%s' of '%s'", ps[i].name, callee);
      ok = false;
      continue;
    }
    Node *d = (Node *)ps[i].dflt;
    Loc saved = d->loc;
    d->loc = call_loc;
    Scope *sc = s->scope;
    s->scope = NULL; /* defaults never see the caller's names */
    ok = convert(s, &ps[i], callee, d, &out[i]) && ok;
    s->scope = sc;
    d->loc = saved;
  }
  return ok;
}

/* --------------------------------------------------------- user layers */

static Val *check_type(Sema *s, Node *type, int *batch_at, DType dflt);
static Val *apply_sequential(Sema *s, Node *e, Val *prev);

static Val *dim_value(int64_t d, Loc loc) {
  Val *v = v_int(d, loc);
  v->batch = d == DIM_BATCH;
  return v;
}

/* Matches a tensor against a declared pattern like [n, k] or i32[n, 20],
 * binding names not bound yet. */
static bool match_pattern(Sema *s, Node *type, Val *v, const char *what) {
  const char *dt = type->name;
  if (dt && dtype_from_name(dt) == DT_NONE) {
    error_at(type->name_loc, "unknown element type '%s'; expected f32, f64 or i32", dt);
    return false;
  }
  bool ok = node_count(type->kids) == v->shape.rank && (!dt || dtype_from_name(dt) == v->dtype);
  int i = 0;
  for (Node *d = type->kids; d && ok; d = d->next, i++) {
    int64_t have = v->shape.dim[i];
    if (d->kind == ND_NAME && !strcmp(d->name, "_")) continue;
    if (d->kind == ND_NAME && !lookup(s, d->name)) {
      bind(s, d->name, d->loc, dim_value(have, d->loc));
      continue;
    }
    Val *want = sema_eval(s, d);
    if (want->kind == VK_ERROR) return false;
    if (want->kind != VK_INT) {
      wrong_value(s, want, "a dimension", "a dimension of a shape pattern");
      return false;
    }
    if ((want->batch ? DIM_BATCH : want->i) != have) ok = false;
  }
  if (!ok) {
    error_at(v->loc, "%s has type %s, which does not match %s", what,
             type_str(v->dtype, v->shape), expr_str(type));
    note_at(type->loc, "declared here");
  }
  return ok;
}

static bool in_instantiation(Sema *s, const Node *layer) {
  for (Scope *sc = s->scope; sc; sc = sc->parent)
    if (sc->layer == layer) return true;
  return false;
}

static Val *check_layer_body(Sema *s, Node *layer) {
  Val *result = NULL;
  Node *ret = NULL;
  for (Node *st = layer->kids; st; st = st->next) {
    if (ret) {
      error_at(st->loc, "statement after 'return'");
      break;
    }
    switch (st->kind) {
    case ND_PARAM: {
      Val *t = check_type(s, st->lhs, NULL, s->scope->float_dtype);
      if (t->kind == VK_ERROR) {
        bind(s, st->name, st->name_loc, t);
        break;
      }
      if (t->dtype == DT_I32) {
        error_at(st->lhs->loc, "%s must be floating-point, not i32", st->ival ? "constants" : "parameters");
        bind(s, st->name, st->name_loc, v_error(st->loc));
        break;
      }
      Val init = {0};
      if (st->rhs && !check_init(s, st->rhs, &init, arena_printf("the initializer of '%s'",
                                                                   st->name))) {
        bind(s, st->name, st->name_loc, v_error(st->loc));
        break;
      }
      int id;
      if (!st->rhs) { /* no initializer written: glorot_uniform, as Keras's add_weight */
        init.s = "glorot_uniform";
        init.call = NULL;
      }
      if (add_param(s, st->name, t->dtype, t->shape, init.s, init.call, init.items, init.nitems,
                    !st->ival, st->loc, &id)) /* a const is a parameter not trained */
        t->ir = id + 1;
      bind(s, st->name, st->name_loc, t);
      break;
    }
    case ND_ASSIGN:
      bind_value(s, st->name, st->name_loc,
                 need_tensor(s, sema_eval(s, st->rhs), arena_printf("'%s'", st->name)), true);
      break;
    case ND_RETURN:
      ret = st;
      result = need_tensor(s, sema_eval(s, st->rhs), "the returned value");
      break;
    case ND_INPUT:
      error_at(st->loc, "'input' belongs in a model; a layer takes its inputs in its header");
      break;
    case ND_OUTPUT:
      error_at(st->loc, "'output' belongs in a model; a layer ends with 'return'");
      break;
    case ND_LAYERSTMT:
      error_at(st->loc, "a layer body cannot apply layers in sequence; name the result, "
                        "e.g. h = %s", expr_str(st->rhs));
      break;
    default:
      bug("statement %s in a layer", nodekind_name(st->kind));
    }
  }
  if (!ret) {
    error_at(layer->name_loc, "layer '%s' has no 'return'", layer->name);
    return v_error(layer->loc);
  }
  if (result->kind == VK_TENSOR && layer->ret &&
      !match_pattern(s, layer->ret, result, arena_printf("the result of layer '%s'", layer->name)))
    return v_error(ret->loc);
  return result;
}

static Val *call_layer(Sema *s, Node *layer, Node *call, Val *first) {
  if (in_instantiation(s, layer)) {
    error_at(call->name_loc, "layer '%s' calls itself", layer->name);
    return v_error(call->loc);
  }
  if (++s->instances > NN_MAX_INSTANCES) {
    if (s->instances == NN_MAX_INSTANCES + 1)
      error_at(call->loc, "too many layer instances (more than %d)", NN_MAX_INSTANCES);
    return v_error(call->loc);
  }
  int ni = node_count(layer->inputs), nh = node_count(layer->lhs), np = ni + nh;
  if (np > 16) {
    error_at(layer->name_loc, "layer '%s' has more than 16 parameters", layer->name);
    return v_error(call->loc);
  }
  BParam ps[16] = {0};
  Node *decl[16];
  int k = 0;
  for (Node *in = layer->inputs; in; in = in->next, k++) {
    decl[k] = in;
    ps[k] = (BParam){.name = in->name, .kind = PK_TENSOR, .dflt = NULL};
  }
  for (Node *h = layer->lhs; h; h = h->next, k++) {
    decl[k] = h;
    ps[k] = (BParam){.name = h->name, .kind = PK_ANY, .dflt = h->rhs};
  }
  Val args[16] = {0};
  if (!bind_args(s, layer->name, ps, np, call->kids, first, call->loc, args))
    return v_error(call->loc);

  DType fdt = DT_F32;
  for (int i = ni - 1; i >= 0; i--)
    if (args[i].dtype == DT_F32 || args[i].dtype == DT_F64) fdt = args[i].dtype;
  const char *inst = instance_name(s, layer->name);
  call->inst = inst;
  scope_push(s, inst, layer, fdt);
  bool ok = true;
  for (int i = ni; i < np; i++) bind(s, ps[i].name, decl[i]->loc, &args[i]);
  for (int i = 0; i < ni && ok; i++) {
    Val *v = arena_alloc(sizeof *v);
    *v = args[i];
    if (decl[i]->lhs)
      ok = match_pattern(s, decl[i]->lhs, &args[i],
                         arena_printf("input '%s' of layer '%s'", ps[i].name, layer->name));
    v->loc = decl[i]->loc;
    if (ok) ok = bind(s, ps[i].name, decl[i]->loc, v);
  }
  Val *r = ok ? check_layer_body(s, layer) : v_error(call->loc);
  scope_pop(s);
  if (r->kind == VK_ERROR && ok) note_at(call->loc, "in layer '%s' called here", layer->name);
  Val *out = arena_alloc(sizeof *out);
  *out = *r;
  out->loc = call->loc;
  return out;
}

/* The instance names a call of a model gave the nodes of its statements
 * (Net1.dense1) back to the model's own (dense1), for its summary. */
static void strip_inst(Node *n, size_t len) {
  for (; n; n = n->next) {
    if (n->inst && strlen(n->inst) > len && n->inst[len - 1] == '.') n->inst += len;
    strip_inst(n->lhs, len);
    strip_inst(n->rhs, len);
    strip_inst(n->kids, len);
  }
}

/* A model called as a layer (a new head on an imported model): its
 * inputs bound to the arguments in order, each of the declared type, its
 * statements checked in a scope of their own (its parameters named after
 * the instance: Net1.dense1.W), its first output the result. */
static Val *call_model(Sema *s, Node *model, Node *call, Val *first) {
  if (in_instantiation(s, model)) {
    error_at(call->name_loc, "model '%s' calls itself", model->name);
    return v_error(call->loc);
  }
  if (++s->instances > NN_MAX_INSTANCES) return v_error(call->loc);
  BParam ps[16] = {0};
  int ni = 0;
  for (Node *st = model->kids; st; st = st->next)
    if (st->kind == ND_INPUT && ni < 16) ps[ni++] = (BParam){.name = st->name, .kind = PK_TENSOR};
  Val args[16] = {0};
  if (!bind_args(s, model->name, ps, ni, call->kids, first, call->loc, args)) return v_error(call->loc);
  const char *inst = instance_name(s, model->name);
  call->inst = inst;
  scope_push(s, inst, model, s->scope->float_dtype);
  Val *prev = NULL, *result = NULL;
  int k = 0, at;
  for (Node *st = model->kids; st; st = st->next) {
    Val *v = NULL;
    if (st->kind == ND_INPUT) {
      Val *want = check_type(s, st->lhs, &at, s->default_float), *a = &args[k++];
      if (want->kind == VK_TENSOR && (a->dtype != want->dtype || !shape_eq(a->shape, want->shape))) {
        error_at(a->loc, "input '%s' of model '%s' is %s, got %s", st->name, model->name,
                 type_str(want->dtype, want->shape), type_str(a->dtype, a->shape));
        v = v_error(a->loc);
      } else {
        v = arena_alloc(sizeof *v);
        *v = *a;
        v->loc = st->name_loc;
        bind(s, st->name, st->name_loc, v);
      }
    } else if (st->kind == ND_ASSIGN) {
      v = need_tensor(s, sema_eval(s, st->rhs), arena_printf("'%s'", st->name));
      bind_value(s, st->name, st->name_loc, v, true);
    } else if (st->kind == ND_LAYERSTMT && prev) {
      v = apply_sequential(s, st->rhs, prev);
    } else if (st->kind == ND_OUTPUT) {
      v = need_tensor(s, sema_eval(s, st->rhs), "an output");
      if (st->name && v->kind != VK_ERROR) bind(s, st->name, st->name_loc, v);
      if (!result) result = v;
    }
    if (v && v->kind == VK_ERROR) {
      result = v;
      break;
    }
    if (v) prev = v;
  }
  scope_pop(s);
  strip_inst(model->kids, strlen(inst) + 1);
  if (!result) result = prev ? prev : v_error(call->loc); /* a sequential model's last layer */
  if (result->kind == VK_ERROR) note_at(call->loc, "in model '%s' called here", model->name);
  Val *out = arena_alloc(sizeof *out);
  *out = *result;
  out->loc = call->loc;
  return out;
}

/* -------------------------------------------------------------- calls */

static Val *call_builtin(Sema *s, const Builtin *b, Node *call, Val *first) {
  Val *args = arena_alloc(sizeof(Val) * (size_t)(b->nparams + 1));
  if (!bind_args(s, b->name, b->params, b->nparams, call->kids, first, call->loc, args))
    return v_error(call->loc);
  Val *out = v_new(VK_ERROR, call->loc);
  if (b->kind == BK_LAYER) {
    const char *inst = instance_name(s, b->name);
    call->inst = inst;
    scope_push(s, inst, NULL, s->scope->float_dtype);
    bool ok = b->rule(s, b, call, args, out);
    scope_pop(s);
    if (!ok) return v_error(call->loc);
  } else if (!b->rule(s, b, call, args, out)) {
    return v_error(call->loc);
  }
  int act = find_param(b->params, b->nparams, "activation");
  if (act >= 0 && args[act].kind == VK_NAME) {
    const Builtin *fn = builtin_find(args[act].s);
    Val *fargs = arena_alloc(sizeof(Val) * (size_t)(fn->nparams + 1));
    if (!bind_args(s, fn->name, fn->params, fn->nparams, NULL, out, args[act].loc, fargs) ||
        !fn->rule(s, fn, call, fargs, out))
      return v_error(call->loc);
  }
  out->loc = call->loc;
  return out;
}

static Val *eval_call(Sema *s, Node *call, Val *first) {
  if (first && first->kind == VK_ERROR) return first;
  if (s->graph) s->graph->loc = call->loc;
  Val *r;
  Node *orig = call;
  Binding *local = s->scope ? lookup(s, call->name) : NULL;
  if (local && local->val->kind == VK_CALLABLE) {
    /* a hyper-parameter naming a function: layer Block(act = relu) ... act(x);
     * the name it holds is looked up among built-ins and layers only */
    call = new_node(ND_CALL, orig->loc);
    *call = *orig;
    call->name = local->val->s;
  } else if (local) {
    error_at(call->name_loc, "'%s' is %s, not a layer or function", call->name,
             kind_word(local->val));
    return v_error(call->loc);
  }
  const Builtin *b = builtin_find(call->name);
  Node *d = s->decls ? map_get(s->decls, call->name) : NULL;
  if (b) r = call_builtin(s, b, call, first);
  else if (d && d->kind == ND_LAYER) r = call_layer(s, d, call, first);
  else if (d && d->kind == ND_MODEL) r = call_model(s, d, call, first);
  else {
    const char *kinds[] = {
      [BK_INIT] = "an initializer", [BK_LOSS] = "a loss", [BK_OPTIMIZER] = "an optimizer",
      [BK_SCHEDULE] = "a learning-rate schedule", [BK_DATA] = "a data source",
      [BK_AUGMENT] = "an augmentation",
      [BK_METRIC] = "a metric", [BK_STOPPER] = "an early stopping",
      [BK_REDUCER] = "a learning-rate reduction", [BK_SAVER] = "a checkpoint rule",
      [BK_PRUNER] = "a pruning rule",
    };
    for (int k = BK_INIT; k <= BK_LAST; k++)
      if (builtin_find_kind(call->name, (BuiltinKind)k)) {
        error_at(call->name_loc, "'%s' is %s, not a layer or function", call->name, kinds[k]);
        return v_error(call->loc);
      }
    error_at(call->name_loc, "unknown layer or function '%s'%s", call->name,
             did_you_mean(s, call->name, false, true));
    return v_error(call->loc);
  }
  if (r->kind == VK_TENSOR) {
    orig->typed = true;
    orig->dtype = r->dtype;
    orig->shape = r->shape;
    orig->inst = call->inst;
    if (s->layers && s->graph && call->inst) layer_logged(s->layers, call->inst, val_ir(r));
  }
  return r;
}

/* ------------------------------------------------------------- models */

/* A declared tensor type: f32[28, 28, 1] (batched: [N, 28, 28, 1]). */
/* A declared type. batch_at NULL: a parameter's (no batch); else an
 * input's or output's: the batch first, and where the declaration names
 * it (`[12, N, 8]`: the caller's layout holds the batch at axis 1) the
 * axis it has there, in *batch_at (-1 when it is not named). */
static Val *check_type(Sema *s, Node *type, int *batch_at, DType dflt) {
  DType dt = dflt;
  if (type->name) {
    dt = dtype_from_name(type->name);
    if (dt == DT_NONE) {
      error_at(type->name_loc, "unknown element type '%s'; expected f32, f64 or i32", type->name);
      return v_error(type->loc);
    }
  }
  Shape sh = {0};
  if (batch_at) sh.dim[sh.rank++] = DIM_BATCH, *batch_at = -1;
  int i = 0;
  for (Node *d = type->kids; d; d = d->next, i++) {
    bool n = batch_at && d->kind == ND_NAME && !strcmp(d->name, "N") && !lookup(s, "N");
    Val *v = n ? dim_value(DIM_BATCH, d->loc) : sema_eval(s, d);
    if (v->kind == VK_ERROR) return v;
    if (v->kind == VK_INT && v->batch) {
      if (!batch_at || *batch_at >= 0) {
        error_at(d->loc, batch_at ? "the batch dimension '%s' appears twice" : "a declared shape cannot use the batch dimension '%s'",
                 expr_str(d));
        return v_error(type->loc);
      }
      *batch_at = i;
      continue;
    }
    if (v->kind != VK_INT) {
      wrong_value(s, v, "an integer", "a dimension");
      return v_error(type->loc);
    }
    if (v->i < 1) {
      error_at(d->loc, "dimension must be at least 1, got %lld", (long long)v->i);
      return v_error(type->loc);
    }
    if (sh.rank == NN_MAX_RANK) {
      error_at(type->loc, "too many dimensions (at most %d)", NN_MAX_RANK);
      return v_error(type->loc);
    }
    sh.dim[sh.rank++] = v->i;
  }
  if (!check_shape_size(type->loc, dt, sh)) return v_error(type->loc);
  return v_tensor(dt, sh, type->loc);
}

/* The layer statement of a sequential model, applied to the previous value. */
static Val *apply_sequential(Sema *s, Node *e, Val *prev) {
  if (e->kind == ND_CALL && e->kids && !e->kids->name && e->kids->lhs->kind == ND_NAME) {
    Binding *b = lookup(s, e->kids->lhs->name);
    if (b && b->val->kind == VK_TENSOR) {
      error_at(e->kids->loc, "a layer statement applies to the previous value; to apply '%s' to "
                             "'%s', name the result: h = %s", e->name, e->kids->lhs->name,
               expr_str(e));
      return v_error(e->loc);
    }
  }
  Val *in = arena_alloc(sizeof *in);
  *in = *prev;
  in->loc = e->loc; /* errors about the implicit input point at this layer */
  prev = in;
  switch (e->kind) {
  case ND_CALL: return eval_call(s, e, prev);
  case ND_NAME: {
    Binding *b = lookup(s, e->name);
    if (b) {
      error_at(e->loc, "'%s' is a value, not a layer; a statement of its own must be a layer "
                       "like dense(10)", e->name);
      return v_error(e->loc);
    }
    Node *c = synthetic_call(e);
    Val *v = eval_call(s, c, prev);
    e->typed = c->typed, e->dtype = c->dtype, e->shape = c->shape, e->inst = c->inst;
    return v;
  }
  case ND_PIPE: {
    Val *v = apply_sequential(s, e->lhs, prev);
    if (v->kind == VK_ERROR) return v;
    return pipe_into(s, e->rhs, v);
  }
  default:
    error_at(e->loc, "expected a layer, like dense(10) or relu");
    return v_error(e->loc);
  }
}

static void set_type(Node *n, const Val *v) {
  if (v->kind != VK_TENSOR) return;
  n->typed = true;
  n->dtype = v->dtype;
  n->shape = v->shape;
}

/* input x standardized, channel by channel (its last axis), with the
 * statistics the training program measures on its data: (x - mean) / std,
 * two states that start as 0 and 1 and are saved with the weights, so
 * that every graph, and a checkpoint's predictions anywhere, see inputs
 * as training did (`normalize: true` of a data source). */
static int standardized(Graph *g, int x) {
  const Value *v = &g->v[x];
  Shape ch = {.rank = 1, .dim = {v->shape.dim[v->shape.rank - 1]}};
  int stat[2];
  for (int i = 0; i < 2; i++) {
    ParamInfo *p = arena_alloc(sizeof *p);
    p->name = i ? "normalize.std" : "normalize.mean";
    p->dtype = v->dtype;
    p->shape = ch;
    p->init_name = i ? "ones" : "zeros";
    p->loc = v->loc;
    stat[i] = add_param_value(g, p, true);
  }
  return ir_binary(g, OP_DIV, ir_binary(g, OP_SUB, x, stat[0]), stat[1]);
}

/* The caller's layout of output v declared `output y: [5, N, 4] = e`:
 * the batch's axis there; -1 after an error. */
static int output_layout(Sema *s, const Node *st, const Val *v) {
  int at;
  Val *want = check_type(s, st->lhs, &at, v->dtype);
  if (want->kind == VK_ERROR) return -1;
  bool named = at >= 0;
  if (!named || !shape_eq(want->shape, v->shape) || want->dtype != v->dtype) {
    error_at(st->rhs->loc, "output '%s' is %s; its declared layout %s %s", st->name, type_str(v->dtype, v->shape),
             expr_str(st->lhs), named ? "holds other dimensions or another type" : "must name the batch N");
    return -1;
  }
  return at;
}

/* The statements of a model, in either mode. Check mode records the
 * outputs in m; build mode makes the graph's inputs and outputs. */
static void walk_model(Sema *s, ModelInfo *m) {
  Node *decl = m->decl;
  Graph *g = s->graph;
  s->scope = NULL;
  scope_push(s, "", NULL, s->default_float);
  s->scope->model = m;
  Val *prev = NULL, *outs[16];
  int ninputs = 0, nouts = 0, errors_before = diag.errors, at = 0, batch_at[16] = {0};
  for (Node *st = decl->kids; st; st = st->next) {
    Val *v = NULL;
    if (g) g->loc = st->loc;
    switch (st->kind) {
    case ND_INPUT:
      if (m->sequential && !g)
        error_at(st->loc, "in a sequential model every 'input' comes before the layers");
      v = check_type(s, st->lhs, &at, s->default_float);
      v->loc = st->name_loc;
      if (g && v->kind == VK_TENSOR) {
        v->ir = ir_leaf(g, OP_INPUT, v->dtype, v->shape, g->ninputs) + 1;
        g->input_names[g->ninputs] = st->name;
        g->input_batch[g->ninputs] = (int8_t)(at > 0 ? at : 0);
        g->inputs[g->ninputs++] = v->ir - 1;
        if (m->normalize && ninputs == 0) v->ir = standardized(g, v->ir - 1) + 1;
      }
      bind(s, st->name, st->name_loc, v);
      ninputs++;
      break;
    case ND_ASSIGN:
      v = need_tensor(s, sema_eval(s, st->rhs), arena_printf("'%s'", st->name));
      bind_value(s, st->name, st->name_loc, v, true);
      if (s->layers && g && v->kind == VK_TENSOR) layer_logged(s->layers, st->name, val_ir(v));
      break;
    case ND_LAYERSTMT:
      if (!prev) {
        error_at(st->loc, "layer before any 'input'; a model starts with input x: [shape]");
        v = v_error(st->loc);
        break;
      }
      m->sequential = true;
      v = apply_sequential(s, st->rhs, prev);
      if (s->layers && g && v->kind == VK_TENSOR) layer_statement(s->layers, st->rhs, val_ir(v));
      if (!g && st->next && st->next->kind != ND_LAYERSTMT && v->kind == VK_TENSOR)
        warn_at(st->loc, "the result of this layer is never used: the next statement does not "
                         "take it");
      break;
    case ND_OUTPUT:
      v = need_tensor(s, sema_eval(s, st->rhs), "an output");
      at = st->lhs && v->kind == VK_TENSOR ? output_layout(s, st, v) : 0;
      if (at < 0) v = v_error(st->loc);
      if (st->name) bind(s, st->name, st->name_loc, v);
      if (st->name && s->layers && g && v->kind == VK_TENSOR) layer_logged(s->layers, st->name, val_ir(v));
      if (nouts < 16) {
        if (!g) m->outputs[m->noutputs++] = st;
        batch_at[nouts] = at;
        outs[nouts++] = v;
      } else {
        error_at(st->loc, "too many outputs (at most 16)");
      }
      break;
    case ND_PARAM:
      error_at(st->loc, "'%s' belongs in a layer; a model creates parameters through its "
                        "layers", st->ival ? "const" : "param");
      break;
    case ND_RETURN:
      error_at(st->loc, "'return' belongs in a layer; a model ends with 'output'");
      break;
    default:
      bug("statement %s in a model", nodekind_name(st->kind));
    }
    if (v) {
      if (!g) set_type(st, v);
      prev = v;
      if (!st->next && nouts == 0 && st->kind != ND_INPUT) {
        if (!g) m->outputs[m->noutputs++] = st;
        outs[nouts++] = v;
      }
    }
  }
  if (ninputs == 0) error_at(decl->name_loc, "model '%s' has no 'input'", decl->name);
  else if (nouts == 0 && diag.errors == errors_before)
    error_at(decl->name_loc, "model '%s' has no output", decl->name);
  if (g)
    for (int i = 0; i < nouts; i++) {
      g->output_names[g->noutputs] = m->outputs[i]->kind == ND_OUTPUT ? m->outputs[i]->name : NULL;
      g->output_batch[g->noutputs] = (int8_t)batch_at[i];
      g->outputs[g->noutputs++] = val_ir(outs[i]);
    }
  scope_pop(s);
}

void check_model(Sema *s, Node *decl) {
  ModelInfo *m = arena_alloc(sizeof *m);
  m->decl = decl;
  ModelInfo **tail = &s->models;
  while (*tail) tail = &(*tail)->next;
  *tail = m;
  walk_model(s, m);
}

/* Build mode: the checked model's forward pass into g. */
void lower_model(Sema *s, ModelInfo *m, Graph *g) {
  s->graph = g;
  s->cursor = m->params;
  s->dropouts = 0;
  s->instances = 0;
  walk_model(s, m);
  if (s->cursor) bug("parameter %s not lowered", s->cursor->name);
  s->graph = NULL;
  s->scope = NULL;
}
