/* program.c — the semantic check of a whole program, in order: top-level
 * names, layer headers, models (sema.c), train blocks and memory
 * (settings.c).
 *
 * Requires: a parsed Program. Kept apart from sema.c so that calls run one
 * way: this file -> settings.c -> sema.c, and sema.c never calls the
 * train-block checks. Guarantees: what sema.c and settings.c guarantee for
 * every declaration, or errors reported (the result is false).
 */
#include "nnc.h"

static void check_layer_header(Sema *s, Node *layer) {
  Map *names = map_new();
  for (Node *p = layer->inputs; p; p = p->next) {
    Node *old = map_get(names, p->name);
    if (old) {
      error_at(p->name_loc, "duplicate parameter '%s' of layer '%s'", p->name, layer->name);
      continue;
    }
    map_put(names, p->name, p);
    if (p->rhs) error_at(p->rhs->loc, "tensor input '%s' cannot have a default", p->name);
  }
  for (Node *h = layer->lhs; h; h = h->next) {
    if (map_get(names, h->name)) {
      error_at(h->name_loc, "duplicate parameter '%s' of layer '%s'", h->name, layer->name);
      continue;
    }
    map_put(names, h->name, h);
    if (h->lhs) error_at(h->lhs->loc, "hyper-parameter '%s' cannot have a shape; tensor inputs "
                                      "go in the second ( )", h->name);
  }
  if (!layer->inputs) error_at(layer->name_loc, "layer '%s' takes no tensor input", layer->name);
  (void)s;
}

bool sema_check(Sema *s, Program *prog) {
  builtins_init();
  int errors_before = diag.errors;
  s->prog = prog;
  if (s->default_float == DT_NONE) s->default_float = DT_F32;
  s->decls = map_new();
  for (Node *d = prog->decls; d; d = d->next) {
    if (d->kind == ND_IMPORT || d->kind == ND_TRAIN) continue;
    Node *old = map_get(s->decls, d->name);
    if (old) {
      error_at(d->name_loc, "redefinition of '%s'", d->name);
      note_at(old->name_loc, "'%s' was defined here", d->name);
      continue;
    }
    if (builtin_find(d->name)) {
      error_at(d->name_loc, "'%s' is a built-in %s and cannot be redefined", d->name,
               builtin_find(d->name)->kind == BK_LAYER ? "layer" : "function");
      continue;
    }
    map_put(s->decls, d->name, d);
  }
  for (Node *d = prog->decls; d; d = d->next)
    if (d->kind == ND_LAYER && map_get(s->decls, d->name) == d) check_layer_header(s, d);
  for (Node *d = prog->decls; d; d = d->next)
    if (d->kind == ND_MODEL && map_get(s->decls, d->name) == d) check_model(s, d);
  for (Node *d = prog->decls; d; d = d->next)
    if (d->kind == ND_TRAIN) check_train(s, d);
  check_memory(s);
  s->scope = NULL;
  return diag.errors == errors_before;
}
