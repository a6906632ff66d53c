/* fuzz_onnx.c — libFuzzer entry point for ONNX import.
 *
 * Each input is read as an ONNX ModelProto named "fuzz.onnx"; a model that
 * reads is translated to .nn, and a translation is parsed, checked,
 * lowered and simplified as `nnc model.onnx` does. Diagnostics go to a
 * null stream. A crash, a sanitizer report, an internal compiler error, a
 * hang or unbounded memory is a finding; an error message is not.
 */
#include <stdio.h>
#include "nnc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *null;
  if (!null) null = fopen("/dev/null", "w");
  diag_reset(null);
  OnnxModel *m = onnx_parse("fuzz.onnx", data, size);
  SrcFile *src = m ? onnx_translate(m, NULL, 0) : NULL;
  Sema sema = {0};
  if (src) {
    Program *prog = load_program(src);
    if (diag.errors == 0 && sema_check(&sema, prog)) {
      onnx_values(&sema);
      for (ModelInfo *mi = sema.models; mi; mi = mi->next) {
        Graph *g = lower_inference(&sema, mi);
        if (g) verify(simplify(g), "simplify");
      }
    }
  }
  onnx_values(NULL);
  arena_free_all();
  return 0;
}
