/* ast.c — the syntax tree: the builders the grammar calls, and printers.
 *
 * Builders only record what was written; they check nothing but nesting
 * depth, which bounds every later recursive walk over expressions.
 * print_ast dumps the tree as parsed (-d P); expr_str renders an expression
 * back as source text for diagnostics and dumps.
 */
#include <string.h>
#include "nnc.h"

Node *new_node(NodeKind kind, Loc loc) {
  Node *n = arena_alloc(sizeof *n);
  n->kind = kind;
  n->loc = loc;
  n->name_loc = loc;
  return n;
}

Node *node_reverse(Node *list) {
  Node *out = NULL;
  while (list) {
    Node *next = list->next;
    list->next = out;
    out = list;
    list = next;
  }
  return out;
}

int node_count(const Node *list) {
  int n = 0;
  for (; list; list = list->next) n++;
  return n;
}

/* Gives n a depth one more than its deepest operand; an expression deeper
 * than NN_MAX_DEPTH is reported once and replaced by a leaf. */
static Node *nest(Node *n, int depth) {
  n->depth = depth + 1;
  if (n->depth <= NN_MAX_DEPTH) return n;
  if (depth == NN_MAX_DEPTH) error_at(n->loc, "expression nested too deeply (more than %d levels)",
                                      NN_MAX_DEPTH);
  Node *leaf = new_node(ND_INT, n->loc);
  leaf->depth = NN_MAX_DEPTH + 1; /* keeps the error from repeating up the tree */
  return leaf;
}

static int max_depth(const Node *list) {
  int d = 0;
  for (; list; list = list->next)
    if (list->depth > d) d = list->depth;
  return d;
}

Node *ast_import(Loc loc, const char *path) {
  Node *n = new_node(ND_IMPORT, loc);
  n->sval = path;
  return n;
}

/* import "model.onnx" as Net: the imported model's name */
Node *ast_import_as(Loc loc, const char *path, const char *as, Loc as_loc, const char *name, Loc name_loc) {
  Node *n = ast_import(loc, path);
  if (strcmp(as, "as") != 0) error_at(as_loc, "unexpected '%s' after the import's path; write 'import \"%s\" as NAME'", as, path);
  n->name = name, n->name_loc = name_loc;
  return n;
}

Node *ast_layer(Loc loc, const char *name, Loc name_loc, Node *hparams, Node *inputs,
                Node *ret, Node *body) {
  Node *n = new_node(ND_LAYER, loc);
  n->name = name;
  n->name_loc = name_loc;
  n->lhs = hparams;  /* ND_INPUT nodes without types: hyper-parameters */
  n->inputs = inputs;
  n->ret = ret;
  n->kids = body;
  return n;
}

Node *ast_decl(NodeKind kind, Loc loc, const char *name, Loc name_loc, Node *body) {
  Node *n = new_node(kind, loc);
  n->name = name;
  n->name_loc = name_loc;
  n->kids = body;
  return n;
}

Node *ast_stmt(NodeKind kind, Loc loc, const char *name, Loc name_loc, Node *type, Node *value) {
  Node *n = new_node(kind, loc);
  n->name = name;
  n->name_loc = name_loc;
  n->lhs = type;
  n->rhs = value;
  return n;
}

Node *ast_setting(Loc loc, const char *key, Loc key_loc, bool when, Node *values) {
  Node *n = new_node(ND_SETTING, loc);
  n->name = key;
  n->name_loc = key_loc;
  n->when = when;
  n->kids = values;
  return n;
}

Node *ast_type(Loc loc, const char *dtype, Loc dtype_loc, Node *dims) {
  Node *n = new_node(ND_TYPE, loc);
  n->name = dtype;
  n->name_loc = dtype_loc;
  n->kids = dims;
  return nest(n, max_depth(dims));
}

Node *ast_binary(NodeKind kind, Loc loc, Loc op_loc, int op, Node *lhs, Node *rhs) {
  Node *n = new_node(kind, loc);
  n->name_loc = op_loc;
  n->op = op;
  n->lhs = lhs;
  n->rhs = rhs;
  return nest(n, lhs->depth > rhs->depth ? lhs->depth : rhs->depth);
}

Node *ast_unary(Loc loc, Node *operand) {
  Node *n = new_node(ND_NEG, loc);
  n->lhs = operand;
  return nest(n, operand->depth);
}

Node *ast_int(Loc loc, int64_t v) {
  Node *n = new_node(ND_INT, loc);
  n->ival = v;
  return n;
}

Node *ast_float(Loc loc, double v) {
  Node *n = new_node(ND_FLOAT, loc);
  n->fval = v;
  return n;
}

Node *ast_string(Loc loc, const char *s) {
  Node *n = new_node(ND_STRING, loc);
  n->sval = s;
  return n;
}

Node *ast_name(Loc loc, const char *name) {
  Node *n = new_node(ND_NAME, loc);
  n->name = name;
  return n;
}

Node *ast_call(Loc loc, const char *callee, Loc callee_loc, Node *args) {
  Node *n = new_node(ND_CALL, loc);
  n->name = callee;
  n->name_loc = callee_loc;
  n->kids = args;
  return nest(n, max_depth(args));
}

Node *ast_arg(Loc loc, const char *name, Loc name_loc, Node *value) {
  Node *n = new_node(ND_ARG, loc);
  n->name = name;
  n->name_loc = name_loc;
  n->lhs = value;
  n->depth = value->depth;
  return n;
}

Node *ast_list(Loc loc, Node *items) {
  Node *n = new_node(ND_LIST, loc);
  n->kids = items;
  return nest(n, max_depth(items));
}

/* ------------------------------------------------------------- printing */

const char *nodekind_name(NodeKind k) {
  static const char *names[] = {
    [ND_INT] = "int", [ND_FLOAT] = "float", [ND_STRING] = "string", [ND_NAME] = "name",
    [ND_LIST] = "list", [ND_CALL] = "call", [ND_ARG] = "arg", [ND_BINARY] = "binary",
    [ND_NEG] = "neg", [ND_PIPE] = "pipe", [ND_COMPARE] = "compare", [ND_INPUT] = "input",
    [ND_PARAM] = "param", [ND_ASSIGN] = "assign", [ND_OUTPUT] = "output",
    [ND_RETURN] = "return", [ND_LAYERSTMT] = "layer-stmt", [ND_SETTING] = "setting",
    [ND_TYPE] = "type", [ND_IMPORT] = "import", [ND_LAYER] = "layer", [ND_MODEL] = "model",
    [ND_TRAIN] = "train",
  };
  return names[k];
}

const char *dtype_name(DType t) {
  switch (t) {
  case DT_F32: return "f32";
  case DT_F64: return "f64";
  case DT_I32: return "i32";
  case DT_NONE: break;
  }
  return "?";
}

DType dtype_from_name(const char *s) {
  if (!strcmp(s, "f32")) return DT_F32;
  if (!strcmp(s, "f64")) return DT_F64;
  if (!strcmp(s, "i32")) return DT_I32;
  return DT_NONE;
}

char *shape_str(Shape s) {
  char *out = "[";
  for (int i = 0; i < s.rank; i++) {
    const char *sep = i ? ", " : "";
    if (s.dim[i] == DIM_BATCH) out = arena_printf("%s%sN", out, sep);
    else out = arena_printf("%s%s%lld", out, sep, (long long)s.dim[i]);
  }
  return arena_printf("%s]", out);
}

char *type_str(DType t, Shape s) {
  return arena_printf("%s%s", dtype_name(t), shape_str(s));
}

static const char *op_text(int op) {
  switch (op) {
  case 'l': return "<=";
  case 'g': return ">=";
  case '|': return "|>";
  case '+': return "+";
  case '-': return "-";
  case '*': return "*";
  case '/': return "/";
  case '@': return "@";
  case '<': return "<";
  case '>': return ">";
  }
  return "?";
}

/* A string literal as it would be written, escapes included. */
char *quote_str(const char *s) {
  char *out = arena_alloc(4 * strlen(s) + 3), *p = out;
  *p++ = '"';
  for (; *s; s++) {
    const char *esc = *s == '"' ? "\\\"" : *s == '\\' ? "\\\\" : *s == '\n' ? "\\n"
                    : *s == '\t' ? "\\t" : NULL;
    unsigned char c = (unsigned char)*s;
    if (esc) *p++ = esc[0], *p++ = esc[1];
    else if (c < 0x20 || c == 0x7f) p += sprintf(p, "\\x%02x", c); /* a terminal's controls, shown */
    else *p++ = *s;
  }
  *p++ = '"';
  *p = '\0';
  return out;
}

static char *list_str(const Node *n) {
  char *out = "";
  for (; n; n = n->next) out = arena_printf("%s%s%s", out, expr_str(n), n->next ? ", " : "");
  return out;
}

char *expr_str(const Node *n) {
  if (!n) return "";
  switch (n->kind) {
  case ND_INT: return arena_printf("%lld", (long long)n->ival);
  case ND_FLOAT: return arena_printf("%g", n->fval);
  case ND_STRING: return quote_str(n->sval);
  case ND_NAME: return arena_printf("%s", n->name);
  case ND_LIST: return arena_printf("[%s]", list_str(n->kids));
  case ND_CALL: return arena_printf("%s(%s)", n->name, list_str(n->kids));
  case ND_ARG:
    if (n->name) return arena_printf("%s: %s", n->name, expr_str(n->lhs));
    return expr_str(n->lhs);
  case ND_BINARY:
  case ND_COMPARE:
  case ND_PIPE:
    return arena_printf("(%s %s %s)", expr_str(n->lhs), op_text(n->op), expr_str(n->rhs));
  case ND_NEG: return arena_printf("-%s", expr_str(n->lhs));
  case ND_TYPE: return arena_printf("%s[%s]", n->name ? n->name : "", list_str(n->kids));
  default: return arena_printf("<%s>", nodekind_name(n->kind));
  }
}

static void indent(FILE *out, int d) {
  fprintf(out, "%*s", 2 * d, "");
}

static void print_stmt(FILE *out, const Node *n, int d) {
  indent(out, d);
  fprintf(out, "(%s", n->kind == ND_PARAM && n->ival ? "const" : nodekind_name(n->kind));
  if (n->when) fprintf(out, " when");
  if (n->name) fprintf(out, " %s", n->name);
  if (n->lhs) fprintf(out, " : %s", expr_str(n->lhs));
  if (n->rhs) fprintf(out, " = %s", expr_str(n->rhs));
  if (n->kind == ND_SETTING) fprintf(out, " %s", list_str(n->kids));
  fprintf(out, ")  @%d:%d\n", n->loc.first_line, n->loc.first_column);
}

/* The tree as parsed, one declaration after another (-d P). */
void print_ast(FILE *out, const Program *prog) {
  for (const Node *d = prog->decls; d; d = d->next) {
    fprintf(out, "(%s", nodekind_name(d->kind));
    if (d->name) fprintf(out, " %s", d->name);
    if (d->kind == ND_IMPORT) fprintf(out, " \"%s\"", d->sval);
    fprintf(out, "  %s:%d:%d\n", d->loc.file ? d->loc.file->path : "?", d->loc.first_line,
            d->loc.first_column);
    if (d->kind == ND_LAYER) {
      for (const Node *h = d->lhs; h; h = h->next) print_stmt(out, h, 1);
      for (const Node *i = d->inputs; i; i = i->next) print_stmt(out, i, 1);
      if (d->ret) {
        indent(out, 1);
        fprintf(out, "(returns %s)\n", expr_str(d->ret));
      }
    }
    for (const Node *s = d->kids; s; s = s->next) print_stmt(out, s, 1);
    fprintf(out, ")\n");
  }
}

/* -------------------------------------------------------- shape sizes */

Shape caller_layout(Shape sh, int batch_at) {
  Shape o = sh;
  for (int i = 0; i < batch_at && i + 1 < sh.rank; i++) o.dim[i] = sh.dim[i + 1];
  if (batch_at > 0 && batch_at < sh.rank) o.dim[batch_at] = sh.dim[0];
  return o;
}

bool shape_product(Shape sh, int64_t *out) {
  int64_t n = 1;
  for (int i = 0; i < sh.rank; i++) {
    int64_t d = sh.dim[i] == DIM_BATCH ? 1 : sh.dim[i];
    if (__builtin_mul_overflow(n, d, &n) || n > NN_MAX_ELEMS) return false;
  }
  *out = n;
  return true;
}

bool check_shape_size(Loc loc, DType dt, Shape sh) {
  int64_t n;
  if (shape_product(sh, &n)) return true;
  error_at(loc, "tensor %s is too large (more than %lld elements%s)", type_str(dt, sh),
           (long long)NN_MAX_ELEMS, sh.rank && sh.dim[0] == DIM_BATCH ? " per sample" : "");
  return false;
}
