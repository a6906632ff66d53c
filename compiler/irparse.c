/* irparse.c — reads the text form of the IR back (`nnc FILE.ir`).
 *
 * The grammar is the printer's (ir.c: print_ir), line by line:
 *
 *   graph NAME (training step|inference, N values)
 *     body I (NAME, N values)     a scan's body: lines of its own, to "end"
 *       ...
 *     end
 *     # PART
 *     %ID = OP [%A, %B, ...] [{NAME: INT, NAME: [INT, ...], f: NUMBER}] : TYPE [# NOTE]
 *     output %ID | loss %ID | update param|state NAME = %ID
 *
 * Op names and attribute names come from the op table. Values must be
 * numbered 0, 1, 2, ... with operands defined before use; types are checked
 * by the same inference the builders use. A parameter or state takes its
 * name from the note after it. Every problem is an error at the file's
 * line and column; a file that reads back prints the same text again.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

typedef struct Reader {
  const SrcFile *src;
  const char *p, *line_start;
  int line;
  Graph *g;       /* the graph being read: the file's, or a body's */
  bool nested;    /* in a body */
  Map *origins;   /* source paths named in notes */
  bool failed;
} Reader;

static Loc here(Reader *r) {
  Loc l = {.file = r->src, .first_line = r->line, .last_line = r->line};
  l.first_column = l.last_column = (int)(r->p - r->line_start) + 1;
  return l;
}

static bool fail(Reader *r, const char *what) {
  if (!r->failed) error_at(here(r), "%s", what);
  r->failed = true;
  return false;
}

static void blanks(Reader *r) {
  while (*r->p == ' ' || *r->p == '\t') r->p++;
}

static bool lit(Reader *r, const char *s) {
  blanks(r);
  size_t n = strlen(s);
  if (strncmp(r->p, s, n) != 0) return false;
  r->p += n;
  return true;
}

static bool expect(Reader *r, const char *s) {
  if (lit(r, s)) return true;
  return fail(r, arena_printf("expected '%s'", s));
}

static const char *word(Reader *r) {
  blanks(r);
  const char *start = r->p;
  while (isalnum((unsigned char)*r->p) || *r->p == '_' || *r->p == '.' || *r->p == '-') r->p++;
  if (r->p == start) return fail(r, "expected a name"), NULL;
  return arena_strndup(start, (size_t)(r->p - start));
}

static bool integer(Reader *r, int64_t *out) {
  blanks(r);
  char *end;
  errno = 0;
  long long v = strtoll(r->p, &end, 10);
  if (end == r->p || errno == ERANGE) return fail(r, "expected an integer");
  r->p = end;
  *out = v;
  return true;
}

static bool ref(Reader *r, int *id) {
  int64_t v;
  if (!expect(r, "%") || !integer(r, &v)) return false;
  if (v < 0 || v >= r->g->n) return fail(r, arena_printf("%%%lld is not defined before this line", (long long)v));
  *id = (int)v;
  return true;
}

/* f32[N, 8] */
static bool type(Reader *r, DType *dt, Shape *sh) {
  const char *name = word(r);
  if (!name) return false;
  char *br = strchr(name, '[');
  (void)br;
  *dt = dtype_from_name(name);
  if (*dt == DT_NONE) return fail(r, "expected an element type (f32, f64, i32)");
  if (!expect(r, "[")) return false;
  *sh = (Shape){0};
  while (!lit(r, "]")) {
    if (sh->rank > 0 && !expect(r, ",")) return false;
    if (sh->rank == NN_MAX_RANK) return fail(r, "too many dimensions");
    int64_t d;
    if (lit(r, "N")) d = DIM_BATCH;
    else if (!integer(r, &d)) return false;
    else if (d < 1 || d > NN_MAX_ELEMS) return fail(r, "dimension out of range");
    sh->dim[sh->rank++] = d;
  }
  return true;
}

static Op op_named(const char *name) {
  for (int op = 0; op < NUM_OPS; op++)
    if (!strcmp(op_info[op].name, name)) return (Op)op;
  return NUM_OPS;
}

/* {index: 0}  {axes: [0, 1]}  {sh: 1, sw: 1, ...}  {f: 0.5} */
static bool attrs(Reader *r, Value *v) {
  if (!lit(r, "{")) return true;
  const char *names = op_info[v->op].attrs;
  bool list = strstr(names, "...") != NULL;
  while (!lit(r, "}")) {
    if ((v->nattr > 0 || v->f != 0) && !expect(r, ",")) return false;
    const char *key = word(r);
    if (!key || !expect(r, ":")) return false;
    if (!strcmp(key, "f")) {
      blanks(r);
      char *end;
      v->f = strtod(r->p, &end);
      if (end == r->p) return fail(r, "expected a number");
      r->p = end;
      continue;
    }
    if (list) {
      if (!expect(r, "[")) return false;
      while (!lit(r, "]")) {
        if (v->nattr > 0 && !expect(r, ",")) return false;
        if (v->nattr == IR_MAX_ATTR) return fail(r, "too many attributes");
        if (!integer(r, &v->a[v->nattr++])) return false;
      }
      continue;
    }
    /* the next name in the op's list must be this one */
    const char *p = names;
    for (int i = 0; i < v->nattr && p; i++) p = strchr(p, ' '), p = p ? p + 1 : NULL;
    size_t n = strlen(key);
    if (!p || strncmp(p, key, n) != 0 || (p[n] != ' ' && p[n] != '\0'))
      return fail(r, arena_printf("'%s' takes attributes {%s}", op_info[v->op].name, names));
    if (v->nattr == IR_MAX_ATTR || !integer(r, &v->a[v->nattr++])) return false;
  }
  return true;
}

/* "model.nn:6:3" in a note: the value's place in its .nn source */
static Loc origin(Reader *r, const char *note) {
  const char *c2 = strrchr(note, ':');
  if (!c2 || c2 == note) return (Loc){0};
  const char *c1 = c2 - 1;
  while (c1 > note && *c1 != ':') c1--;
  if (c1 == note) return (Loc){0};
  Loc l = {0};
  l.first_line = l.last_line = atoi(c1 + 1);
  l.first_column = l.last_column = atoi(c2 + 1);
  if (l.first_line < 1 || l.first_column < 1) return (Loc){0};
  const char *path = arena_strndup(note, (size_t)(c1 - note));
  if (!r->origins) r->origins = map_new();
  SrcFile *f = map_get(r->origins, path);
  if (!f) {
    f = source_from_memory(path, "", 0);
    map_put(r->origins, path, f);
  }
  l.file = f;
  return l;
}

static ParamInfo *leaf_info(const char *name, DType dt, Shape sh) {
  ParamInfo *p = arena_alloc(sizeof *p);
  p->name = name;
  p->dtype = dt;
  p->shape = sh;
  p->init_name = "glorot_uniform";
  p->trainable = true;
  return p;
}

static bool value_line(Reader *r, int64_t id) {
  Graph *g = r->g;
  if (id != g->n) return fail(r, arena_printf("expected %%%d: values are numbered in order", g->n));
  if (!expect(r, "=")) return false;
  blanks(r);
  const char *op_at = r->p;
  const char *name = word(r);
  if (!name) return false;
  Value v = {.op = op_named(name), .part = g->part};
  if (v.op == NUM_OPS) {
    r->p = op_at;
    return fail(r, arena_printf("unknown op '%s'", name));
  }
  blanks(r);
  while (*r->p == '%') {
    if (v.nin == IR_MAX_IN) return fail(r, "too many operands");
    if (!ref(r, &v.in[v.nin++])) return false;
    if (!lit(r, ",")) break;
    blanks(r);
  }
  if (v.nin != op_info[v.op].arity && op_info[v.op].arity >= 0)
    return fail(r, arena_printf("'%s' takes %d operands", name, op_info[v.op].arity));
  if (r->nested && ir_body_op(v.op)) {
    r->p = op_at;
    return fail(r, ir_body_op(v.op));
  }
  if (!attrs(r, &v) || !expect(r, ":") || !type(r, &v.dtype, &v.shape)) return false;
  const char *note = NULL;
  if (lit(r, "#")) {
    blanks(r);
    const char *end = strchr(r->p, '\n');
    note = arena_strndup(r->p, end ? (size_t)(end - r->p) : strlen(r->p));
    r->p += strlen(note);
  }
  /* leaves with an index: the interface, grown as they come */
  if (v.op == OP_PARAM || v.op == OP_STATE || v.op == OP_INPUT) {
    int want = v.op == OP_PARAM ? g->nparams : v.op == OP_STATE ? g->nstates : g->ninputs;
    if (v.nattr != 1 || v.a[0] != want)
      return fail(r, arena_printf("expected {index: %d}", want));
    if (v.op == OP_INPUT) {
      if (g->ninputs == 16) return fail(r, "too many inputs");
      g->inputs[g->ninputs++] = g->n;
    } else {
      if (!note) return fail(r, "a parameter needs its name after '#'");
      add_param_value(g, leaf_info(note, v.dtype, v.shape), v.op == OP_STATE);
      return true;
    }
  }
  const char *err = ir_check(g, &v);
  if (!err && v.op == OP_SCANOUT) err = ir_scanout_place(g, (int)id, &v);
  if (err) {
    r->p = op_at;
    return fail(r, arena_printf("%s: %s", name, err));
  }
  g->loc = note ? origin(r, note) : (Loc){0};
  g->part = v.part;
  int made = ir_make(g, v.op, v.dtype, v.shape, v.in, v.nin, v.a, v.nattr, v.f);
  if (made != id) return fail(r, arena_printf("%%%lld repeats %%%d", (long long)id, made));
  if (v.op == OP_LABEL) {
    if (v.a[0] < 0 || v.a[0] >= 16 || (v.a[0] < g->nlabels && g->labels[v.a[0]] >= 0))
      return fail(r, "a label's index is a new one from 0 to 15");
    g->labels[v.a[0]] = made; /* sample weights come first, with the index after the outputs' labels */
    for (int i = g->nlabels; i < v.a[0]; i++) g->labels[i] = -1;
    if (v.a[0] >= g->nlabels) g->nlabels = (int)v.a[0] + 1;
  }
  return true;
}

static bool tail_line(Reader *r) {
  Graph *g = r->g;
  int id;
  if (lit(r, "output")) {
    if (g->noutputs == 16) return fail(r, "too many outputs");
    if (!ref(r, &id)) return false;
    g->outputs[g->noutputs++] = id;
    return true;
  }
  if (lit(r, "loss")) {
    if (!ref(r, &id)) return false;
    if (g->v[id].shape.rank != 0) return fail(r, "the loss must be a scalar");
    g->loss = id;
    return true;
  }
  if (lit(r, "update")) {
    bool state = lit(r, "state");
    if (!state && !expect(r, "param")) return false;
    const char *name = word(r);
    if (!name || !expect(r, "=") || !ref(r, &id)) return false;
    ParamInfo **list = state ? g->states : g->params;
    int n = state ? g->nstates : g->nparams;
    for (int i = 0; i < n; i++)
      if (!strcmp(list[i]->name, name)) {
        if (!shape_eq(list[i]->shape, g->v[id].shape) || list[i]->dtype != g->v[id].dtype)
          return fail(r, arena_printf("the update of %s has the wrong type", name));
        add_update(g, state, i, id);
        return true;
      }
    return fail(r, arena_printf("no %s named '%s'", state ? "state" : "param", name));
  }
  return fail(r, "expected a value, output, loss or update");
}

static void next_line(Reader *r) {
  r->p++; /* the newline */
  r->line++;
  r->line_start = r->p;
}

/* Lines of r->g up to the end of the file, or of a body up to its "end":
 * whether that came. */
static bool parse_lines(Reader *r) {
  Graph *g = r->g;
  while (*r->p && !r->failed) {
    next_line(r);
    blanks(r);
    if (*r->p == '\n' || *r->p == '\0') continue;
    if (lit(r, "#")) { /* a part of the training step */
      blanks(r);
      static const char *parts[] = {"forward", "loss", "backward", "update"};
      for (int i = 0; i < 4; i++)
        if (!strncmp(r->p, parts[i], strlen(parts[i]))) g->part = (Part)i;
      while (*r->p && *r->p != '\n') r->p++;
    } else if (lit(r, "%")) {
      int64_t id;
      if (integer(r, &id)) value_line(r, id);
    } else if (lit(r, "body")) {
      int64_t i;
      const char *name;
      if (r->nested) fail(r, "a scan's body holds no body");
      else if (g->n > 0) fail(r, "bodies come before the graph's values");
      else if (integer(r, &i) && i != g->nbodies) fail(r, arena_printf("expected body %d", g->nbodies));
      else if (!r->failed && expect(r, "(") && (name = word(r)) && expect(r, ",")) {
        Loc at = here(r);
        while (*r->p && *r->p != '\n') r->p++;
        Graph *b = r->g = graph_new(name);
        r->nested = true;
        if (!parse_lines(r) && !r->failed) {
          error_at(at, "body %lld has no 'end'", (long long)i);
          r->failed = true;
        }
        r->nested = false;
        r->g = g;
        if (!r->failed) ir_body(g, b);
        if (!r->failed) blanks(r);
      }
    } else if (r->nested && lit(r, "end")) {
      if (g->noutputs == 0) fail(r, "a body has outputs");
      return true;
    } else {
      tail_line(r);
    }
    if (r->failed) break;
    blanks(r);
    if (*r->p == '#') while (*r->p && *r->p != '\n') r->p++;
    if (*r->p && *r->p != '\n') fail(r, "unexpected text at the end of the line");
  }
  return false;
}

Graph *parse_ir(const SrcFile *src) {
  Reader r = {.src = src, .p = src->text, .line_start = src->text, .line = 1};
  if (strlen(src->text) != src->len) {
    error_at((Loc){.file = src, .first_line = 1, .first_column = 1, .last_line = 1, .last_column = 1},
             "the file contains a NUL byte");
    return NULL;
  }
  if (!lit(&r, "graph")) {
    fail(&r, "expected 'graph NAME (...)'");
    return NULL;
  }
  const char *name = word(&r);
  if (!name) return NULL;
  Graph *g = r.g = graph_new(name);
  if (lit(&r, "(training step")) g->training = true;
  else if (!lit(&r, "(inference")) return fail(&r, "expected '(training step' or '(inference'"), NULL;
  while (*r.p && *r.p != '\n') r.p++;
  parse_lines(&r);
  for (int i = 0; i < g->nlabels && !r.failed; i++)
    if (g->labels[i] < 0) fail(&r, arena_printf("no label {index: %d}", i));
  if (r.failed) return NULL;
  g->part = PART_FWD;
  verify(g, "reading");
  return g;
}
