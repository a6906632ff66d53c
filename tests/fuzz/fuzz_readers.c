/* fuzz_readers.c — libFuzzer entry point for the runtime's file readers.
 *
 * Each input is written to a file and read as a CSV table (two ways), as an
 * IDX pair, as an NPY pair, and as a safetensors checkpoint of a fixed two-tensor model. A
 * crash, a sanitizer report, a hang or unbounded memory is a finding; a
 * refusal with a message is not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "nnrt_program.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/nnc-fuzz-readers-%d", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);

  char err[512];
  NnrtTable t;
  if (nnrt_csv_load(path, NULL, -1, false, ',', 1.0, &t, err, sizeof err)) nnrt_table_free(&t);
  if (nnrt_csv_load(path, "label", 0, true, ';', 0.5, &t, err, sizeof err)) nnrt_table_free(&t);
  /* with a column of sample weights, by number and by name */
  if (nnrt_csv_load_weighted(path, NULL, -1, NULL, 1, false, ',', 1.0, &t, err, sizeof err)) nnrt_table_free(&t);
  if (nnrt_csv_load_weighted(path, "label", -1, "w", -1, true, ',', 1.0, &t, err, sizeof err)) nnrt_table_free(&t);
  if (nnrt_idx_load(path, path, 1.0 / 255, &t, err, sizeof err)) nnrt_table_free(&t);
  if (nnrt_npy_load(path, path, 1.0, &t, err, sizeof err)) nnrt_table_free(&t);
  if (nnrt_idx_load(path, NULL, 1.0, &t, err, sizeof err)) nnrt_table_free(&t); /* samples alone */
  if (nnrt_npy_load(path, NULL, 1.0, &t, err, sizeof err)) nnrt_table_free(&t);
  if (nnrt_text_load(path, 8, 3, &t, err, sizeof err)) nnrt_table_free(&t);

  NnrtTensorInfo model[2] = {{"a", 4, 2, {3, 4}, 0, {0, 0}, NULL}, {"b", 8, 1, {5}, 0, {0, 0}, NULL}};
  float a[12];
  double b[5];
  void *tensors[2] = {a, b};
  NnrtMeta meta;
  nnrt_load(path, model, tensors, 2, 0, &meta, err, sizeof err);
  nnrt_load(path, model, tensors, 2, 1, &meta, err, sizeof err);
  return 0;
}
