/* nnrt_arrays.c — the training program's per-sample weights (see
 * nnrt_program.h): an npy file of one weight a sample next to the data.
 * Only programs use it: nnc copies it into a C file that has a main. */
#include "nnrt_program.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

NNRT_API bool nnrt_npy_weights(const char *path, NnrtTable *t, char *err, size_t errlen) {
  NnrtTable w;
  if (!nnrt_npy_load(path, NULL, 1.0, &w, err, errlen)) return false;
  bool ok = true;
  if (w.features != 1)
    ok = nnrt_error(err, errlen, path, "sample weights are one value a sample, shape (n,) or (n, 1); this array has "
                    "%lld a sample", (long long)w.features);
  else if (w.rows != t->rows)
    ok = nnrt_error(err, errlen, path, "expected weights for %lld samples, got %lld", (long long)t->rows,
                    (long long)w.rows);
  for (int64_t i = 0; ok && i < w.rows; i++)
    if (!(w.x[i] >= 0) || !isfinite(w.x[i]))
      ok = nnrt_error(err, errlen, path, "sample %lld: the weight %g is not a finite number of at least 0",
                      (long long)i + 1, (double)w.x[i]);
  if (ok) {
    free(t->w);
    t->w = w.x;
    w.x = NULL;
  }
  nnrt_table_free(&w);
  return ok;
}
