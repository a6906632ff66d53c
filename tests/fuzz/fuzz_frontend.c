/* fuzz_frontend.c — libFuzzer entry point for the whole front end.
 *
 * Each input is parsed and checked as a .nn file named "fuzz.nn"; the
 * diagnostics go to a null stream. A crash, a sanitizer report, a hang or
 * unbounded memory is a finding; an error message is not.
 */
#include <stdio.h>
#include "nnc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *null;
  if (!null) null = fopen("/dev/null", "w");
  if (size > NN_MAX_SOURCE) return 0;
  diag_reset(null);
  SrcFile *src = source_from_memory("fuzz.nn", (const char *)data, size);
  Program *prog = load_program(src);
  if (diag.errors == 0) {
    Sema sema = {0};
    if (sema_check(&sema, prog)) print_checked(null, &sema);
  }
  print_ast(null, prog);
  arena_free_all();
  return 0;
}
