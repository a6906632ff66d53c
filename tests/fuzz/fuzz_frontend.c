/* fuzz_frontend.c — libFuzzer entry point for the front end and the IR.
 *
 * Each input is parsed and checked as a .nn file named "fuzz.nn"; a program
 * that passes is lowered (its training step when it has a train block),
 * differentiated, simplified and verified, as `nnc` does. Diagnostics go to
 * a null stream. A crash, a sanitizer report, an internal compiler error, a
 * hang or unbounded memory is a finding; an error message is not.
 */
#include <stdio.h>
#include <string.h>
#include "nnc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *null;
  if (!null) null = fopen("/dev/null", "w");
  if (size > NN_MAX_SOURCE) return 0;
  diag_reset(null);
  if (size >= 6 && !memcmp(data, "graph ", 6)) { /* the IR's text form */
    SrcFile *src = source_from_memory("fuzz.ir", (const char *)data, size);
    Graph *g = parse_ir(src);
    if (g) print_ir(null, simplify(g));
    arena_free_all();
    return 0;
  }
  SrcFile *src = source_from_memory("fuzz.nn", (const char *)data, size);
  Program *prog = load_program(src);
  if (diag.errors == 0) {
    Sema sema = {0};
    if (sema_check(&sema, prog)) {
      print_checked(null, &sema);
      for (ModelInfo *m = sema.models; m; m = m->next) {
        TrainInfo *t = NULL;
        for (TrainInfo *ti = sema.trains; ti; ti = ti->next)
          if (ti->model == m) t = ti;
        Graph *g = t ? lower_training(&sema, t) : lower_inference(&sema, m);
        if (!g) continue;
        g = simplify(g);
        verify(g, "simplify");
        print_ir(null, g);
      }
    }
  }
  print_ast(null, prog);
  arena_free_all();
  return 0;
}
