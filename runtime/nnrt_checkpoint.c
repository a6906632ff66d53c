/* nnrt_checkpoint.c — checkpoints as safetensors files (nnrt.h): written
 * to PATH.tmp and renamed over PATH; read only after the whole header
 * (tensors, shapes, offsets, metadata) has been checked. */
#include "nnrt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

NNRT_API int64_t nnrt_tensor_bytes(const NnrtTensorInfo *t) {
  int64_t n = t->elem_size;
  for (int d = 0; d < t->rank; d++) n *= t->dims[d];
  return n;
}

/* PATH.tmp for writing, created anew: a file left there by a save that
 * was killed is truncated, and a link there is removed, not followed. */
static FILE *create_tmp(const char *tmp) {
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
      FILE *f = fdopen(fd, "wb");
      if (!f) close(fd);
      return f;
    }
    if (errno != ELOOP || unlink(tmp) != 0) return NULL;
  }
  return NULL;
}

/* A tensor in two parts (NnrtMeta.sparse) seen as rows of its last axis
 * (a scalar: one row of one): its bitmap packs each row's bits into
 * ceil(last / 8) bytes, bit c % 8 of byte c / 8 for element c, so the
 * bitmap's shape is the tensor's with that axis so packed. */
static int64_t row_len(const NnrtTensorInfo *t) { return t->rank ? t->dims[t->rank - 1] : 1; }
static int64_t bitmap_bytes(const NnrtTensorInfo *t) {
  int64_t n = nnrt_tensor_bytes(t) / t->elem_size, len = row_len(t);
  return len ? n / len * ((len + 7) / 8) : 0;
}

/* Whether element j of data is kept in the values: not zero (a zero of
 * either sign is left out, and comes back +0: a pruned weight is often
 * -0, the mask times a negative number). */
static bool kept_elem(const NnrtTensorInfo *t, const void *data, int64_t j) {
  return t->elem_size == 8 ? ((const double *)data)[j] != 0 : ((const float *)data)[j] != 0;
}

/* Tensor t's elements kept, or -1 when its two parts (and their header
 * entries, about 96 bytes) would not be smaller than the tensor whole. */
static int64_t sparse_count(const NnrtTensorInfo *t, const void *data) {
  int64_t n = nnrt_tensor_bytes(t) / t->elem_size, nz = 0;
  for (int64_t j = 0; j < n; j++) nz += kept_elem(t, data, j);
  return nz * t->elem_size + bitmap_bytes(t) + 96 < n * t->elem_size ? nz : -1;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes (nz[i] >= 0:
 * tensor i as its values and bitmap, the bitmaps after everything else, so
 * that every tensor's data is aligned to its element); NULL when memory
 * runs out. */
static char *save_header(const NnrtTensorInfo *tensors, int n, const int64_t *nz, const NnrtMeta *meta,
                         size_t *len_out) {
  size_t cap = 1024 + 32 * NNRT_MAX_PROGRESS, len = 0;
  for (int i = 0; i < n; i++) cap += 2 * strlen(tensors[i].name) + 256 + 24 * (size_t)tensors[i].rank;
  char *h = malloc(cap);
  if (!h) return NULL;
#define PUT(...) len += (size_t)snprintf(h + len, cap - len, __VA_ARGS__)
  PUT("{\"__metadata__\":{\"format\":\"nnc\",\"kind\":\"%s\"", meta->weights ? "weights" : "checkpoint");
  if (!meta->weights) {
    PUT(",\"step\":\"%lld\",\"epoch\":\"%lld\",\"position\":\"%lld\",\"seed\":\"%llu\"", (long long)meta->step,
        (long long)meta->epoch, (long long)meta->position, (unsigned long long)meta->seed);
    if (meta->nprogress > 0) {
      PUT(",\"progress\":\"");
      for (int i = 0; i < meta->nprogress && i < NNRT_MAX_PROGRESS; i++) PUT("%s%.17g", i ? "," : "", meta->progress[i]);
      PUT("\"");
    }
    if (meta->sparsity == meta->sparsity) PUT(",\"sparsity\":\"%.17g\"", meta->sparsity);
  }
  PUT("}");
  int64_t off = 0;
  for (int i = 0; i < n; i++) {
    const NnrtTensorInfo *t = &tensors[i];
    const char *dtype = t->elem_size == 8 ? "F64" : "F32";
    if (nz[i] >= 0) {
      PUT(",\"%s.values\":{\"dtype\":\"%s\",\"shape\":[%lld],\"data_offsets\":[%lld,%lld]}", t->name, dtype,
          (long long)nz[i], (long long)off, (long long)(off + nz[i] * t->elem_size));
      off += nz[i] * t->elem_size;
      continue;
    }
    PUT(",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, dtype);
    for (int d = 0; d < t->rank; d++) PUT("%s%lld", d ? "," : "", (long long)t->dims[d]);
    PUT("],\"data_offsets\":[%lld,%lld]}", (long long)off, (long long)(off + nnrt_tensor_bytes(t)));
    off += nnrt_tensor_bytes(t);
  }
  for (int i = 0; i < n; i++) {
    const NnrtTensorInfo *t = &tensors[i];
    int64_t bytes = bitmap_bytes(t);
    if (nz[i] < 0) continue;
    PUT(",\"%s.bitmap\":{\"dtype\":\"U8\",\"shape\":[", t->name);
    for (int d = 0; d < t->rank - 1; d++) PUT("%lld,", (long long)t->dims[d]);
    PUT("%lld],\"data_offsets\":[%lld,%lld]}", (long long)((row_len(t) + 7) / 8), (long long)off, (long long)(off + bytes));
    off += bytes;
  }
  PUT("}");
#undef PUT
  while (len % 8) h[len++] = ' ';
  *len_out = len;
  return h;
}

/* Tensor t's values (the elements kept) or, `bitmap`, its bitmap, to f. */
static bool write_sparse(FILE *f, const NnrtTensorInfo *t, const void *data, bool bitmap) {
  int64_t n = nnrt_tensor_bytes(t) / t->elem_size, len = row_len(t);
  unsigned char byte = 0;
  bool ok = true;
  for (int64_t j = 0; j < n && ok; j++) {
    bool kept = kept_elem(t, data, j);
    if (!bitmap && kept) ok = fwrite((const char *)data + j * t->elem_size, (size_t)t->elem_size, 1, f) == 1;
    int64_t c = j % len;
    byte |= (unsigned char)(kept << (c % 8));
    if (bitmap && (c % 8 == 7 || c == len - 1)) ok = fputc(byte, f) != EOF, byte = 0;
  }
  return ok;
}

NNRT_API bool nnrt_save(const char *path, const NnrtTensorInfo *tensors, void *const *data, int n,
                        const NnrtMeta *meta, char *err, size_t errlen) {
  size_t len = 0, plen = strlen(path) + 5;
  int64_t *nz = malloc(sizeof(int64_t) * (size_t)(n + 1));
  for (int i = 0; nz && i < n; i++) nz[i] = meta->weights && meta->sparse ? sparse_count(&tensors[i], data[i]) : -1;
  char *h = nz ? save_header(tensors, n, nz, meta, &len) : NULL, *tmp = malloc(plen);
  if (!h || !tmp) {
    free(h);
    free(tmp);
    free(nz);
    return nnrt_error(err, errlen, path, "cannot write the checkpoint: out of memory");
  }
  snprintf(tmp, plen, "%s.tmp", path);
  FILE *f = create_tmp(tmp);
  bool ok = f != NULL;
  unsigned char le[8];
  for (int b = 0; b < 8; b++) le[b] = (unsigned char)((uint64_t)len >> (8 * b));
  ok = ok && fwrite(le, 1, 8, f) == 8 && fwrite(h, 1, len, f) == len;
  for (int i = 0; ok && i < n; i++) /* little-endian, as x86-64 and aarch64 are */
    ok = nz[i] >= 0 ? write_sparse(f, &tensors[i], data[i], false)
                    : fwrite(data[i], 1, (size_t)nnrt_tensor_bytes(&tensors[i]), f) == (size_t)nnrt_tensor_bytes(&tensors[i]);
  for (int i = 0; ok && i < n; i++) ok = nz[i] < 0 || write_sparse(f, &tensors[i], data[i], true);
  ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (f && fclose(f) != 0) ok = false;
  if (ok && rename(tmp, path) != 0) ok = false;
  if (!ok) {
    nnrt_error(err, errlen, path, "cannot write the checkpoint: %s", strerror(errno));
    if (f) remove(tmp);
  } else { /* the rename itself to disk, as far as the directory allows */
    const char *slash = strrchr(path, '/');
    if (slash) tmp[slash > path ? slash - path : 1] = '\0'; /* tmp begins with path: now its directory */
    int fd = open(slash ? tmp : ".", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) fsync(fd), close(fd);
  }
  free(tmp);
  free(h);
  free(nz);
  return ok;
}

/* A small reader of the safetensors header's JSON. */
typedef struct Json {
  const char *p, *end, *start;
} Json;

static void ws(Json *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')) j->p++;
}

static bool eat(Json *j, char c) {
  ws(j);
  if (j->p < j->end && *j->p == c) {
    j->p++;
    return true;
  }
  return false;
}

/* A string without escapes into out (at most cap-1 bytes). */
static bool jstring(Json *j, char *out, size_t cap) {
  if (!eat(j, '"')) return false;
  size_t n = 0;
  while (j->p < j->end && *j->p != '"') {
    if (*j->p == '\\' || n + 1 >= cap) return false;
    out[n++] = *j->p++;
  }
  if (j->p >= j->end) return false;
  j->p++;
  out[n] = '\0';
  return true;
}

static bool jint(Json *j, int64_t *out) {
  ws(j);
  int64_t v = 0;
  const char *s = j->p;
  while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
    if (v > (INT64_MAX - 9) / 10) return false;
    v = v * 10 + (*j->p++ - '0');
  }
  *out = v;
  return j->p > s;
}

/* A count in a metadata string: decimal digits only, at most `most`. */
static bool meta_count(const char *s, uint64_t most, uint64_t *out) {
  uint64_t v = 0;
  if (!*s) return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (most - (uint64_t)(*s - '0')) / 10) return false;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return true;
}

/* One tensor entry of the header. */
typedef struct Entry {
  int index;             /* into the model's tensors; -1: another optimizer's slot, skipped */
  int part;              /* 1: the tensor whole; 2: its nonzero values, 4: its bitmap (NnrtMeta.sparse) */
  void *buf;             /* a part's bytes, read */
  char dtype[16];
  int64_t dims[8], rank, b0, b1;
} Entry;

static const char *shape_text(char *buf, size_t cap, const char *dtype, const int64_t *dims, int64_t rank) {
  size_t k = (size_t)snprintf(buf, cap, "%s[", dtype);
  for (int64_t d = 0; d < rank && d < 8 && k < cap; d++)
    k += (size_t)snprintf(buf + k, cap - k, "%s%lld", d ? ", " : "", (long long)dims[d]);
  if (k < cap) snprintf(buf + k, cap - k, "]");
  return buf;
}

/* The metadata's fields, checked: meta's counters, or false with err. */
static bool read_meta(Json *j, const char *path, NnrtMeta *meta, char *err, size_t errlen) {
  char key[64], val[1024], format[16] = "", kind[16] = "checkpoint";
  bool step = false, epoch = false;
  if (!eat(j, '{')) return nnrt_error(err, errlen, path, "malformed __metadata__ near byte %ld", 8 + (long)(j->p - j->start));
  if (eat(j, '}')) return nnrt_error(err, errlen, path, "__metadata__ has no \"format\": \"nnc\"");
  do {
    if (!jstring(j, key, sizeof key) || !eat(j, ':') || !jstring(j, val, sizeof val))
      return nnrt_error(err, errlen, path, "malformed __metadata__ near byte %ld (its values are strings)",
                     8 + (long)(j->p - j->start));
    uint64_t v;
    bool counter = !strcmp(key, "step") || !strcmp(key, "epoch") || !strcmp(key, "position");
    if (!strcmp(key, "format") || !strcmp(key, "kind")) {
      snprintf(!strcmp(key, "format") ? format : kind, sizeof format, "%.15s", val);
    } else if (counter || !strcmp(key, "seed")) {
      if (!meta_count(val, counter ? (uint64_t)INT64_MAX : UINT64_MAX, &v))
        return nnrt_error(err, errlen, path, "the metadata's %s \"%.40s\" is not a whole number from 0 to %s", key, val,
                       counter ? "2^63 - 1" : "2^64 - 1");
      if (key[0] == 's' && key[1] == 't') meta->step = (int64_t)v, step = true;
      else if (key[0] == 'e') meta->epoch = (int64_t)v, epoch = true;
      else if (key[0] == 'p') meta->position = (int64_t)v;
      else meta->seed = v, meta->has_seed = true;
    } else if (!strcmp(key, "progress")) {
      const char *s = val;
      for (meta->nprogress = 0; *s; meta->nprogress++) {
        char *end;
        double x = strtod(s, &end);
        if (end == s || !isfinite(x) || meta->nprogress == NNRT_MAX_PROGRESS || (*end && *end != ','))
          return nnrt_error(err, errlen, path, "the metadata's progress \"%.40s\" is not a list of at most %d finite numbers",
                         val, NNRT_MAX_PROGRESS);
        meta->progress[meta->nprogress] = x;
        s = *end ? end + 1 : end;
      }
    } else if (!strcmp(key, "sparsity")) {
      char *end;
      meta->sparsity = strtod(val, &end);
      if (end == val || *end || !(meta->sparsity >= 0 && meta->sparsity < 1))
        return nnrt_error(err, errlen, path, "the metadata's sparsity \"%.40s\" is not a number in [0, 1)", val);
    } /* other keys (a tool's notes) are left alone */
  } while (eat(j, ','));
  if (!eat(j, '}')) return nnrt_error(err, errlen, path, "malformed __metadata__ near byte %ld", 8 + (long)(j->p - j->start));
  if (strcmp(format, "nnc") != 0)
    return nnrt_error(err, errlen, path, "the metadata's format is \"%s\", not \"nnc\"", format);
  meta->weights = !strcmp(kind, "weights");
  if (!meta->weights && strcmp(kind, "checkpoint") != 0)
    return nnrt_error(err, errlen, path, "the metadata's kind \"%s\" is neither \"checkpoint\" nor \"weights\"", kind);
  if (!meta->weights && (!step || !epoch))
    return nnrt_error(err, errlen, path, "the checkpoint's metadata lacks its %s counter", step ? "epoch" : "step");
  return true;
}

/* The header's tensor entries (every one the model has, once each) into
 * e[0..*count); false with err. */
/* Whether `key` names an optimizer's slot of one of the model's own
 * tensors ("adam.m.dense1.W" of "dense1.W"): its name after a dot. */
static bool slot_of_model(const char *key, const NnrtTensorInfo *tensors, int own) {
  for (const char *s = strchr(key, '.'); s; s = strchr(s + 1, '.'))
    for (int i = 0; i < own; i++)
      if (!strcmp(s + 1, tensors[i].name)) return true;
  return false;
}

/* The header's entries; a model that keeps no optimizer state (slots 0:
 * inference only, or an optimizer without one) skips the slots a
 * checkpoint holds. */
static bool read_entries(Json *j, const char *path, const NnrtTensorInfo *tensors, int n, int slots, Entry *e,
                         int cap, int *count, char *seen, NnrtMeta *meta, bool *has_meta, char *err, size_t errlen) {
  char key[256], word[64];
  int next = 0; /* files list the tensors in the model's order: try the next one first */
  if (!eat(j, '{')) goto bad;
  if (eat(j, '}')) return true;
  do {
    if (!jstring(j, key, sizeof key) || !eat(j, ':')) goto bad;
    if (!strcmp(key, "__metadata__")) {
      if (*has_meta) return nnrt_error(err, errlen, path, "__metadata__ appears twice");
      *has_meta = true;
      if (!read_meta(j, path, meta, err, errlen)) return false;
      continue;
    }
    int i = next < n && !strcmp(tensors[next].name, key) ? next : 0, part = 1;
    while (i < n && strcmp(tensors[i].name, key) != 0) i++;
    char *dot = strrchr(key, '.');
    if (i == n && dot && (!strcmp(dot, ".values") || !strcmp(dot, ".bitmap"))) { /* a tensor in parts */
      part = dot[1] == 'v' ? 2 : 4;
      *dot = '\0';
      for (i = 0; i < n && strcmp(tensors[i].name, key) != 0; i++) {}
      if (i == n) *dot = '.';
    }
    if (i == n && !(slots == 0 && slot_of_model(key, tensors, n)))
      return nnrt_error(err, errlen, path, "tensor '%s' is not in this model", key);
    if (i < n && (seen[i] & part)) return nnrt_error(err, errlen, path, "tensor '%s%s' appears twice", key,
                                                     part == 1 ? "" : part == 2 ? ".values" : ".bitmap");
    if (i < n && seen[i] && (seen[i] == 1) != (part == 1))
      return nnrt_error(err, errlen, path, "tensor '%s' is there whole and as values and a bitmap", key);
    if (*count == cap) goto bad;
    if (i < n) seen[i] |= (char)part, next = i + 1;
    Entry *t = &e[(*count)++];
    memset(t, 0, sizeof *t);
    t->index = i < n ? i : -1;
    t->part = part;
    t->b0 = t->b1 = -1;
    if (!eat(j, '{')) goto bad;
    do {
      if (!jstring(j, word, sizeof word) || !eat(j, ':')) goto bad;
      if (!strcmp(word, "dtype")) {
        if (!jstring(j, t->dtype, sizeof t->dtype)) goto bad;
      } else if (!strcmp(word, "shape") || !strcmp(word, "data_offsets")) {
        bool shape = word[0] == 's';
        int64_t k = 0, v;
        if (!eat(j, '[')) goto bad;
        if (!eat(j, ']')) {
          do {
            if (!jint(j, &v)) goto bad;
            if (shape && k < 8) t->dims[k] = v;
            else if (!shape && k < 2) *(k ? &t->b1 : &t->b0) = v;
            k++;
          } while (eat(j, ','));
          if (!eat(j, ']')) goto bad;
        }
        if (shape) t->rank = k;
        else if (k != 2) goto bad;
      } else {
        goto bad;
      }
    } while (eat(j, ','));
    if (!eat(j, '}') || t->b0 < 0 || !t->dtype[0]) goto bad;
  } while (eat(j, ','));
  if (eat(j, '}')) return true;
bad:
  return nnrt_error(err, errlen, path, "malformed header near byte %ld", 8 + (long)(j->p - j->start));
}

/* A part of tensor t (its values or its bitmap): type, shape and size. */
static bool check_part(const char *path, const NnrtTensorInfo *t, const Entry *x, char *err, size_t errlen) {
  char a[160], b[160], c[160];
  int64_t n = nnrt_tensor_bytes(t) / t->elem_size, want[8], rank = t->rank ? t->rank : 1;
  bool values = x->part == 2;
  const char *dtype = values ? (t->elem_size == 8 ? "F64" : "F32") : "U8";
  for (int d = 0; d < t->rank; d++) want[d] = t->dims[d];
  want[rank - 1] = (row_len(t) + 7) / 8;
  bool same = !strcmp(x->dtype, dtype) && x->rank == (values ? 1 : rank);
  for (int d = 0; same && !values && d < rank; d++) same = x->dims[d] == want[d];
  if (values && same && x->dims[0] > n) same = false;
  if (!same && values)
    return nnrt_error(err, errlen, path, "tensor '%s.values' is %s; %s's kept elements are %s[count], count at most %lld",
                      t->name, shape_text(a, sizeof a, x->dtype, x->dims, x->rank),
                      shape_text(b, sizeof b, dtype, t->dims, t->rank), dtype, (long long)n);
  if (!same)
    return nnrt_error(err, errlen, path, "tensor '%s.bitmap' is %s; the bitmap of %s is %s", t->name,
                      shape_text(a, sizeof a, x->dtype, x->dims, x->rank),
                      shape_text(b, sizeof b, t->elem_size == 8 ? "F64" : "F32", t->dims, t->rank),
                      shape_text(c, sizeof c, "U8", want, rank));
  int64_t len = values ? x->dims[0] * t->elem_size : bitmap_bytes(t);
  if (x->b1 - x->b0 != len || x->b0 % (values ? t->elem_size : 1))
    return nnrt_error(err, errlen, path, "tensor '%s.%s': its data offsets [%lld, %lld] do not hold %lld aligned bytes",
                      t->name, values ? "values" : "bitmap", (long long)x->b0, (long long)x->b1, (long long)len);
  return true;
}

/* Tensor t from its values v and bitmap b into out; false with err when
 * they disagree. */
static bool expand(const char *path, const NnrtTensorInfo *t, const Entry *v, const Entry *b, void *out, char *err,
                   size_t errlen) {
  int64_t n = nnrt_tensor_bytes(t) / t->elem_size, len = row_len(t), bytes = (len + 7) / 8, count = v->dims[0], k = 0;
  const unsigned char *bits = b->buf;
  for (int64_t j = 0; j < n; j++) k += bits[j / len * bytes + j % len / 8] >> (j % len % 8) & 1;
  for (int64_t r = 0; len % 8 && r < n / len; r++)
    if (bits[r * bytes + bytes - 1] >> (len % 8))
      return nnrt_error(err, errlen, path, "tensor '%s.bitmap' has bits set past the %lld elements of row %lld", t->name,
                        (long long)len, (long long)r);
  if (k != count)
    return nnrt_error(err, errlen, path, "tensor '%s.bitmap' marks %lld elements; its values are %lld", t->name,
                      (long long)k, (long long)count);
  memset(out, 0, (size_t)nnrt_tensor_bytes(t));
  k = 0;
  for (int64_t j = 0; j < n; j++)
    if (bits[j / len * bytes + j % len / 8] >> (j % len % 8) & 1)
      memcpy((char *)out + j * t->elem_size, (const char *)v->buf + k++ * t->elem_size, (size_t)t->elem_size);
  return true;
}

/* Each entry's type and shape, and offsets that tile the data region
 * exactly, in order, each aligned to its element. */
static bool check_entries(const char *path, const NnrtTensorInfo *tensors, int n, int slots, const Entry *e,
                          int count, const char *seen, bool weights, int64_t data_bytes, int *order, char *err,
                          size_t errlen) {
  char a[160], b[160];
  for (int k = 0; k < count; k++) {
    order[k] = k;
    if (e[k].index < 0) { /* a slot skipped: its size and place only */
      int size = !strcmp(e[k].dtype, "F32") ? 4 : !strcmp(e[k].dtype, "F64") ? 8 : 0;
      int64_t count_of = 1;
      for (int d = 0; d < e[k].rank && d < 8; d++) count_of *= e[k].dims[d];
      if (!size || e[k].rank > 8 || e[k].b1 - e[k].b0 != count_of * size || e[k].b0 % size)
        return nnrt_error(err, errlen, path, "the optimizer's slot %s: its type, shape or data offsets do not agree",
                          shape_text(a, sizeof a, e[k].dtype, e[k].dims, e[k].rank));
      continue;
    }
    const NnrtTensorInfo *t = &tensors[e[k].index];
    const char *want = t->elem_size == 8 ? "F64" : "F32";
    if (weights && e[k].index >= n - slots)
      return nnrt_error(err, errlen, path, "tensor '%s' is an optimizer's slot, which a weights-only file does not hold",
                     t->name);
    if (e[k].part != 1) {
      if (!check_part(path, t, &e[k], err, errlen)) return false;
      continue;
    }
    bool same = e[k].rank == t->rank && !strcmp(e[k].dtype, want);
    for (int d = 0; same && d < t->rank; d++) same = e[k].dims[d] == t->dims[d];
    if (!same)
      return nnrt_error(err, errlen, path, "tensor '%s' is %s in the file; the model's is %s", t->name,
                     shape_text(a, sizeof a, e[k].dtype, e[k].dims, e[k].rank),
                     shape_text(b, sizeof b, want, t->dims, t->rank));
    if (e[k].b1 - e[k].b0 != nnrt_tensor_bytes(t))
      return nnrt_error(err, errlen, path, "tensor '%s': its data offsets [%lld, %lld] hold %lld bytes; %s needs %lld",
                     t->name, (long long)e[k].b0, (long long)e[k].b1, (long long)(e[k].b1 - e[k].b0),
                     shape_text(b, sizeof b, want, t->dims, t->rank), (long long)nnrt_tensor_bytes(t));
    if (e[k].b0 % t->elem_size)
      return nnrt_error(err, errlen, path, "tensor '%s': its data offset %lld is not a multiple of its element's %d bytes",
                     t->name, (long long)e[k].b0, t->elem_size);
  }
  for (int i = 0; i < n - (weights ? slots : 0); i++)
    if (!seen[i] || seen[i] == 2 || seen[i] == 4)
      return nnrt_error(err, errlen, path, seen[i] ? "tensor '%s' has its %s but not its %s" : "tensor '%s' is missing",
                        tensors[i].name, seen[i] == 2 ? "values" : "bitmap", seen[i] == 2 ? "bitmap" : "values");
  for (int k = 1; k < count; k++) { /* by offset: an insertion sort, quick on the usual order */
    int x = order[k], at = k;
    for (; at > 0 && e[order[at - 1]].b0 > e[x].b0; at--) order[at] = order[at - 1];
    order[at] = x;
  }
  int64_t at = 0;
  for (int k = 0; k < count; k++) {
    const Entry *x = &e[order[k]];
    if (x->b0 != at)
      return nnrt_error(err, errlen, path, "tensor '%s': its data starts at %lld, %s %lld",
                        x->index < 0 ? "(an optimizer's slot)" : tensors[x->index].name,
                     (long long)x->b0, x->b0 < at ? "inside the previous tensor's, which ends at" : "leaving a gap after",
                     (long long)at);
    at = x->b1;
  }
  if (at != data_bytes)
    return nnrt_error(err, errlen, path, "the tensors' data ends at byte %lld of the %lld bytes of data", (long long)at,
                   (long long)data_bytes);
  return true;
}

NNRT_API bool nnrt_load(const char *path, const NnrtTensorInfo *tensors, void *const *data, int n, int slots,
                        NnrtMeta *meta, char *err, size_t errlen) {
  memset(meta, 0, sizeof *meta);
  meta->sparsity = NAN;
  FILE *f = nnrt_open_regular(path, err, errlen);
  if (!f) return false;
  bool ok = false, has_meta = false;
  char *h = NULL;
  unsigned char le[8];
  Entry *e = NULL;
  int *order = NULL, count = 0, cap = n + 1;
  char *seen = calloc((size_t)n + 1, 1);
  struct stat st;
  if (!seen) {
    nnrt_error(err, errlen, path, "out of memory");
    goto done;
  }
  if (fstat(fileno(f), &st) != 0) goto io;
  int64_t size = (int64_t)st.st_size;
  if (size < 8 || fread(le, 1, 8, f) != 8) {
    nnrt_error(err, errlen, path, "too short for a safetensors file (%lld bytes)", (long long)size);
    goto done;
  }
  uint64_t hlen = 0;
  for (int b = 0; b < 8; b++) hlen |= (uint64_t)le[b] << (8 * b);
  if (hlen > (uint64_t)size - 8 || hlen > ((uint64_t)1 << 26)) {
    nnrt_error(err, errlen, path, "the header length %llu at byte 0 exceeds the file", (unsigned long long)hlen);
    goto done;
  }
  if (!(h = malloc(hlen + 1))) {
    nnrt_error(err, errlen, path, "out of memory");
    goto done;
  }
  if (fread(h, 1, hlen, f) != hlen) goto io;
  h[hlen] = '\0';
  for (const char *s = h; (s = strstr(s, "data_offsets")); s++) cap++; /* entries, at most */
  e = calloc((size_t)cap, sizeof *e), order = calloc((size_t)cap, sizeof *order);
  if (!e || !order) {
    nnrt_error(err, errlen, path, "out of memory");
    goto done;
  }
  Json j = {.p = h, .end = h + hlen, .start = h};
  if (!read_entries(&j, path, tensors, n, slots, e, cap, &count, seen, meta, &has_meta, err, errlen)) goto done;
  if (!has_meta) {
    nnrt_error(err, errlen, path, "no __metadata__ with \"format\": \"nnc\": not a checkpoint or weights file of nnc");
    goto done;
  }
  if (!check_entries(path, tensors, n, slots, e, count, seen, meta->weights, size - 8 - (int64_t)hlen, order, err,
                     errlen))
    goto done;
  /* everything checked: now read the data, in the file's order */
  for (int k = 0; k < count; k++) {
    Entry *x = &e[order[k]];
    size_t bytes = (size_t)(x->b1 - x->b0);
    if (x->part != 1 && !(x->buf = malloc(bytes ? bytes : 1))) {
      nnrt_error(err, errlen, path, "out of memory");
      goto done;
    }
    if (x->index < 0 ? fseek(f, (long)bytes, SEEK_CUR) != 0
                     : fread(x->part == 1 ? data[x->index] : x->buf, 1, bytes, f) != bytes)
      goto io;
  }
  for (int k = 0; k < count; k++) /* each tensor in parts: its values where its bitmap says */
    for (int v = 0; e[k].part == 4 && v < count; v++)
      if (e[v].part == 2 && e[v].index == e[k].index &&
          !expand(path, &tensors[e[k].index], &e[v], &e[k], data[e[k].index], err, errlen))
        goto done;
  ok = true;
  goto done;
io:
  nnrt_error(err, errlen, path, "cannot read: %s", ferror(f) ? strerror(errno) : "the file is cut short");
done:
  fclose(f);
  free(h);
  for (int k = 0; e && k < count; k++) free(e[k].buf);
  free(e);
  free(order);
  free(seen);
  return ok;
}
