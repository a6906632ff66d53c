/* onnx_read.c — an ONNX ModelProto read from the protobuf wire format.
 *
 * A small reader of the wire format rather than protobuf-c: the subset of
 * onnx.proto that import needs is a dozen messages, every length is
 * checked against the bytes that remain (a declared size larger than the
 * file is an error, never an allocation), and the reader has no
 * dependency and a fuzz target of its own (tests/fuzz). Unknown fields
 * are skipped as protobuf says; groups (wire types 3 and 4, deprecated)
 * are refused. Tensors are converted as they are read: floating-point
 * ones (f16 and bf16 included) to float or double, integer and boolean
 * ones to int64. Errors name the file, the byte offset and the field.
 */
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "nnc.h"

typedef struct Rd {
  const uint8_t *base, *p, *end;
  const char *path;   /* for messages */
  const char *dir;    /* the model's folder, for external data */
  const char *hint;   /* added to a message while nothing says it is ONNX */
  bool failed;
} Rd;

static bool fail(Rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(Rd *r, const char *fmt, ...) {
  if (r->failed) return false;
  r->failed = true;
  va_list ap;
  va_start(ap, fmt);
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  error_plain("%s: byte %lld: %s%s", r->path, (long long)(r->p - r->base), msg, r->hint ? r->hint : "");
  return false;
}

static bool varint(Rd *r, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) return fail(r, "the file ends inside a number (truncated?)");
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return fail(r, "a number longer than 10 bytes (not a protobuf file?)");
}

/* A field's key; false at the end of the message. */
static bool key(Rd *r, int *field, int *wire) {
  if (r->p >= r->end || r->failed) return false;
  uint64_t k = 0;
  if (!varint(r, &k)) return false;
  *field = (int)(k >> 3), *wire = (int)(k & 7);
  if (*field == 0 || k >> 3 > INT_MAX) return fail(r, "field number 0 (corrupt file?)");
  return true;
}

/* The bytes of a length-delimited field as a reader of their own. */
static bool sub(Rd *r, int wire, Rd *out) {
  if (wire != 2) return fail(r, "expected a length-delimited field, found wire type %d", wire);
  uint64_t n = 0;
  if (!varint(r, &n)) return false;
  if (n > (uint64_t)(r->end - r->p))
    return fail(r, "a field declares %llu bytes but only %lld remain (truncated?)", (unsigned long long)n,
                (long long)(r->end - r->p));
  *out = *r;
  out->end = r->p + n;
  r->p += n;
  return true;
}

static bool skip(Rd *r, int wire) {
  uint64_t v = 0;
  Rd s;
  switch (wire) {
  case 0: return varint(r, &v);
  case 1:
  case 5: {
    int64_t n = wire == 1 ? 8 : 4;
    if (r->end - r->p < n) return fail(r, "the file ends inside a fixed-size field (truncated?)");
    r->p += n;
    return true;
  }
  case 2: return sub(r, wire, &s);
  default: return fail(r, "wire type %d is not supported (groups are deprecated; corrupt file?)", wire);
  }
}

static bool int_field(Rd *r, int wire, int64_t *out) {
  if (wire != 0) return fail(r, "expected an integer field, found wire type %d", wire);
  uint64_t v = 0;
  if (!varint(r, &v)) return false;
  *out = (int64_t)v;
  return true;
}

static bool str_field(Rd *r, int wire, const char **out) {
  Rd s;
  if (!sub(r, wire, &s)) return false;
  *out = arena_strndup((const char *)s.p, (size_t)(s.end - s.p));
  return true;
}

static bool float_field(Rd *r, int wire, float *out) {
  if (wire != 5 || r->end - r->p < 4) return fail(r, "expected a 4-byte float field");
  memcpy(out, r->p, 4);
  r->p += 4;
  return true;
}

/* Grows an arena array of n elements of size sz by one. */
static void *grow(void *a, int n, size_t sz) {
  if (n & (n - 1) && n) return a; /* capacity is the next power of two */
  void *b = arena_alloc(sz * (n ? 2 * (size_t)n : 1));
  if (n) memcpy(b, a, sz * (size_t)n);
  return b;
}
#define PUSH(arr, n, val) ((arr) = grow((arr), (n), sizeof *(arr)), (arr)[(n)++] = (val))

/* A repeated integer, packed or not. */
static bool ints_field(Rd *r, int wire, int64_t **a, int *n) {
  int64_t v = 0;
  if (wire != 2) {
    if (!int_field(r, wire, &v)) return false;
    if (*n >= (1 << 24)) return fail(r, "more than 2^24 integers in one list");
    PUSH(*a, *n, v);
    return true;
  }
  Rd s;
  if (!sub(r, wire, &s)) return false;
  while (s.p < s.end) {
    uint64_t u = 0;
    if (!varint(&s, &u)) return r->failed = true, false;
    if (*n >= (1 << 24)) return fail(r, "more than 2^24 integers in one list");
    PUSH(*a, *n, (int64_t)u);
  }
  return true;
}

/* ------------------------------------------------------------- tensors */

static double half_to_double(uint16_t h) {
  int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
  return h & 0x8000 ? -v : v;
}

static int onnx_elem_size(int t) {
  switch (t) {
  case OX_FLOAT: case OX_INT32: case OX_UINT32: return 4;
  case OX_DOUBLE: case OX_INT64: case OX_UINT64: return 8;
  case OX_FLOAT16: case OX_BFLOAT16: case OX_INT16: case OX_UINT16: return 2;
  case OX_INT8: case OX_UINT8: case OX_BOOL: return 1;
  default: return 0;
  }
}

const char *onnx_type_name(int t) {
  static const char *names[] = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64",
                                "string", "bool", "float16", "double", "uint32", "uint64", "complex64",
                                "complex128", "bfloat16"};
  return t >= 0 && t < (int)(sizeof names / sizeof *names) ? names[t] : "unknown";
}

/* Element i of little-endian raw bytes of type t, as a double or int64. */
static void raw_elem(const uint8_t *b, int t, int64_t i, double *f, int64_t *v) {
  uint8_t x[8];
  int sz = onnx_elem_size(t);
  memcpy(x, b + i * sz, (size_t)sz);
  float f32;
  uint16_t u16;
  uint32_t u32;
  switch (t) {
  case OX_FLOAT: memcpy(&f32, x, 4); *f = f32; break;
  case OX_DOUBLE: memcpy(f, x, 8); break;
  case OX_FLOAT16: memcpy(&u16, x, 2); *f = half_to_double(u16); break;
  case OX_BFLOAT16: memcpy(&u16, x, 2); u32 = (uint32_t)u16 << 16; memcpy(&f32, &u32, 4); *f = f32; break;
  case OX_INT8: *v = (int8_t)x[0]; break;
  case OX_UINT8: case OX_BOOL: *v = x[0]; break;
  case OX_INT16: { int16_t s; memcpy(&s, x, 2); *v = s; break; }
  case OX_UINT16: memcpy(&u16, x, 2); *v = u16; break;
  case OX_INT32: { int32_t s; memcpy(&s, x, 4); *v = s; break; }
  case OX_UINT32: memcpy(&u32, x, 4); *v = u32; break;
  default: memcpy(v, x, 8); break; /* int64, uint64 */
  }
}

bool onnx_is_float(int t) { return t == OX_FLOAT || t == OX_DOUBLE || t == OX_FLOAT16 || t == OX_BFLOAT16; }

/* Reads external data: location relative to the model's folder, never
 * outside it. */
static const uint8_t *external(Rd *r, OnnxTensor *t, const char *loc, int64_t off, int64_t len, int64_t want) {
  if (!loc) return fail(r, "tensor '%s' is stored outside the model but names no location", t->name), NULL;
  bool up = !strcmp(loc, "..") || !strncmp(loc, "../", 3) || strstr(loc, "/../") ||
            (strlen(loc) >= 3 && !strcmp(loc + strlen(loc) - 3, "/.."));
  if (loc[0] == '/' || up) {
    fail(r, "tensor '%s': external data location '%s' is outside the model's folder (refused)", t->name, loc);
    return NULL;
  }
  const char *path = arena_printf("%s/%s", r->dir, loc);
  char *real_dir = realpath(r->dir, NULL), *real = realpath(path, NULL);
  bool inside = real_dir && real && !strncmp(real, real_dir, strlen(real_dir)) && real[strlen(real_dir)] == '/';
  free(real_dir), free(real);
  if (!inside) {
    fail(r, "tensor '%s': external data '%s': %s", t->name, loc,
         real ? "outside the model's folder (refused)" : strerror(errno));
    return NULL;
  }
  FILE *fp = fopen(path, "rb");
  struct stat st;
  if (!fp || fstat(fileno(fp), &st) != 0) {
    if (fp) fclose(fp);
    fail(r, "tensor '%s': cannot read external data '%s': %s", t->name, loc, strerror(errno));
    return NULL;
  }
  if (len < 0) len = want;
  if (off < 0 || len != want || off > st.st_size || st.st_size - off < len) {
    fclose(fp);
    fail(r, "tensor '%s': external data '%s' holds %lld bytes at offset %lld; the tensor needs %lld", t->name, loc,
         (long long)(st.st_size - (off < 0 ? 0 : off)), (long long)off, (long long)want);
    return NULL;
  }
  uint8_t *buf = arena_alloc((size_t)len + 1);
  bool ok = fseek(fp, (long)off, SEEK_SET) == 0 && fread(buf, 1, (size_t)len, fp) == (size_t)len;
  fclose(fp);
  if (!ok) fail(r, "tensor '%s': cannot read external data '%s'", t->name, loc);
  return ok ? buf : NULL;
}

static bool read_tensor(Rd *r, OnnxTensor *t) {
  int field, wire;
  int64_t *ints = NULL, *dims = NULL, v = 0;
  int nints = 0, ndims = 0, nfloats = 0, ndoubles = 0, nstrings = 0;
  float *floats = NULL;
  double *doubles = NULL;
  const uint8_t *raw = NULL;
  int64_t raw_len = 0, location = 0, ext_off = -1, ext_len = -1;
  const char *ext_loc = NULL;
  t->name = "";
  while (key(r, &field, &wire)) {
    Rd s;
    switch (field) {
    case 1:
      if (!ints_field(r, wire, &dims, &ndims)) return false;
      if (ndims > NN_MAX_RANK) return fail(r, "a tensor of rank %d (at most %d)", ndims, NN_MAX_RANK);
      if (ndims) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)ndims);
      t->rank = ndims;
      break;
    case 2:
      if (!int_field(r, wire, &v)) return false;
      t->type = (int)v;
      break;
    case 4: case 10: /* float_data, double_data: packed or not */
      if (wire == 2) {
        if (!sub(r, wire, &s)) return false;
        int64_t sz = field == 4 ? 4 : 8, n = (s.end - s.p) / sz;
        if ((s.end - s.p) % sz) return fail(r, "a packed list of %s is not a whole number of them",
                                            field == 4 ? "floats" : "doubles");
        if ((field == 4 ? nfloats : ndoubles) + n > NN_MAX_ELEMS) return fail(r, "more than 2^31 values in a tensor");
        for (int64_t j = 0; j < n; j++) { /* one by one: PUSH keeps the capacity a power of two */
          float f;
          double d;
          if (field == 4) memcpy(&f, s.p + 4 * j, 4), PUSH(floats, nfloats, f);
          else memcpy(&d, s.p + 8 * j, 8), PUSH(doubles, ndoubles, d);
        }
      } else if (field == 4) {
        float f;
        if (!float_field(r, wire, &f)) return false;
        PUSH(floats, nfloats, f);
      } else {
        if (wire != 1 || r->end - r->p < 8) return fail(r, "expected an 8-byte double");
        double d;
        memcpy(&d, r->p, 8);
        r->p += 8;
        PUSH(doubles, ndoubles, d);
      }
      break;
    case 5: case 7: case 11: /* int32_data, int64_data, uint64_data */
      if (!ints_field(r, wire, &ints, &nints)) return false;
      break;
    case 6: nstrings++; if (!skip(r, wire)) return false; break;
    case 8: if (!str_field(r, wire, &t->name)) return false; break;
    case 9:
      if (!sub(r, wire, &s)) return false;
      raw = s.p, raw_len = s.end - s.p;
      break;
    case 13: { /* external_data: key/value */
      const char *k = NULL, *val = NULL;
      if (!sub(r, wire, &s)) return false;
      int f2, w2;
      while (key(&s, &f2, &w2)) {
        if (f2 == 1 ? !str_field(&s, w2, &k) : f2 == 2 ? !str_field(&s, w2, &val) : !skip(&s, w2)) break;
      }
      if (s.failed) return r->failed = true, false;
      if (k && val && !strcmp(k, "location")) ext_loc = val;
      else if (k && val && !strcmp(k, "offset")) ext_off = strtoll(val, NULL, 10);
      else if (k && val && !strcmp(k, "length")) ext_len = strtoll(val, NULL, 10);
      break;
    }
    case 14: if (!int_field(r, wire, &location)) return false; break;
    default: if (!skip(r, wire)) return false;
    }
  }
  if (r->failed) return false;
  int64_t count = 1;
  for (int i = 0; i < t->rank; i++) {
    if (t->dims[i] < 0) return fail(r, "tensor '%s' has a negative dimension", t->name);
    if (t->dims[i] && count > NN_MAX_ELEMS / t->dims[i])
      return fail(r, "tensor '%s' has more than 2^31 elements", t->name);
    count *= t->dims[i];
  }
  t->count = count;
  int sz = onnx_elem_size(t->type);
  if (sz == 0 || nstrings)
    return fail(r, "tensor '%s' has elements of type %s, which nnc does not support", t->name,
                onnx_type_name(t->type));
  if (location == 1) {
    raw = external(r, t, ext_loc, ext_off, ext_len, count * sz);
    if (!raw) return false;
    raw_len = count * sz;
  }
  int64_t have = raw ? raw_len / sz : t->type == OX_FLOAT ? nfloats : t->type == OX_DOUBLE ? ndoubles : nints;
  if ((raw && raw_len % sz) || have != count)
    return fail(r, "tensor '%s' holds %lld values; its shape says %lld", t->name, (long long)have,
                (long long)count);
  bool fl = onnx_is_float(t->type);
  if (fl) t->f = arena_alloc(sizeof(double) * (size_t)(count + 1));
  else t->i = arena_alloc(sizeof(int64_t) * (size_t)(count + 1));
  for (int64_t i = 0; i < count; i++) {
    double f = 0;
    int64_t iv = 0;
    if (raw) raw_elem(raw, t->type, i, &f, &iv);
    else if (t->type == OX_FLOAT) f = floats[i];
    else if (t->type == OX_DOUBLE) f = doubles[i];
    else if (t->type == OX_FLOAT16) f = half_to_double((uint16_t)ints[i]);
    else if (t->type == OX_BFLOAT16) {
      uint32_t u = (uint32_t)(uint16_t)ints[i] << 16;
      float x;
      memcpy(&x, &u, 4);
      f = x;
    } else iv = t->type == OX_BOOL ? ints[i] != 0 : ints[i];
    if (fl) t->f[i] = f;
    else t->i[i] = iv;
  }
  return true;
}

/* --------------------------------------------------------- the messages */

static bool read_attr(Rd *r, OnnxAttr *a) {
  int field, wire;
  int64_t v = 0;
  Rd s;
  while (key(r, &field, &wire)) {
    switch (field) {
    case 1: if (!str_field(r, wire, &a->name)) return false; break;
    case 20: if (!int_field(r, wire, &v)) return false; a->type = (int)v; break;
    case 2: if (!float_field(r, wire, &a->f)) return false; break;
    case 3: if (!int_field(r, wire, &a->i)) return false; break;
    case 4:
      if (!sub(r, wire, &s)) return false;
      a->s = arena_strndup((const char *)s.p, (size_t)(s.end - s.p));
      break;
    case 5:
      if (!sub(r, wire, &s)) return false;
      a->t = arena_alloc(sizeof *a->t);
      if (!read_tensor(&s, a->t)) return r->failed = true, false;
      break;
    case 7:
      if (wire == 2) {
        if (!sub(r, wire, &s)) return false;
        if ((s.end - s.p) % 4) return fail(r, "a packed list of floats is not a whole number of them");
        for (; s.p < s.end; s.p += 4) {
          float f;
          memcpy(&f, s.p, 4);
          if (a->nfloats >= (1 << 24)) return fail(r, "more than 2^24 floats in one list");
          PUSH(a->floats, a->nfloats, f);
        }
      } else {
        float f;
        if (!float_field(r, wire, &f)) return false;
        PUSH(a->floats, a->nfloats, f);
      }
      break;
    case 8: if (!ints_field(r, wire, &a->ints, &a->nints)) return false; break;
    case 9: {
      const char *str;
      if (!str_field(r, wire, &str)) return false;
      if (a->nstrings >= 4096) return fail(r, "more than 4096 strings in one list");
      PUSH(a->strings, a->nstrings, str);
      break;
    }
    case 6: case 11: a->has_graph = true; if (!skip(r, wire)) return false; break;
    default: if (!skip(r, wire)) return false;
    }
  }
  return !r->failed;
}

static bool read_node(Rd *r, OnnxNode *n) {
  int field, wire;
  const char *str;
  Rd s;
  n->name = n->domain = "";
  while (key(r, &field, &wire)) {
    switch (field) {
    case 1: case 2:
      if (!str_field(r, wire, &str)) return false;
      if (field == 1) PUSH(n->in, n->nin, str);
      else PUSH(n->out, n->nout, str);
      if (n->nin > 4096 || n->nout > 4096) return fail(r, "a node with more than 4096 inputs or outputs");
      break;
    case 3: if (!str_field(r, wire, &n->name)) return false; break;
    case 4: if (!str_field(r, wire, &n->op)) return false; break;
    case 7: if (!str_field(r, wire, &n->domain)) return false; break;
    case 5: {
      if (!sub(r, wire, &s)) return false;
      OnnxAttr a = {.name = ""};
      if (!read_attr(&s, &a)) return r->failed = true, false;
      PUSH(n->attrs, n->nattrs, a);
      break;
    }
    default: if (!skip(r, wire)) return false;
    }
  }
  if (!r->failed && !n->op) return fail(r, "node '%s' has no op_type", n->name);
  return !r->failed;
}

static bool read_value_info(Rd *r, OnnxValueInfo *vi) {
  int field, wire;
  Rd type, s, shape, dim;
  vi->name = "";
  while (key(r, &field, &wire)) {
    if (field == 1) {
      if (!str_field(r, wire, &vi->name)) return false;
      continue;
    }
    if (field != 2) {
      if (!skip(r, wire)) return false;
      continue;
    }
    if (!sub(r, wire, &type)) return false;
    int f2, w2;
    while (key(&type, &f2, &w2)) {
      if (f2 != 1) {
        if (f2 == 4 || f2 == 5 || f2 == 8 || f2 == 9) vi->not_tensor = true;
        if (!skip(&type, w2)) break;
        continue;
      }
      if (!sub(&type, w2, &s)) break;
      int f3, w3;
      int64_t v = 0;
      while (key(&s, &f3, &w3)) {
        if (f3 == 1) {
          if (!int_field(&s, w3, &v)) break;
          vi->type = (int)v;
        } else if (f3 == 2) {
          if (!sub(&s, w3, &shape)) break;
          vi->has_shape = true;
          int f4, w4;
          while (key(&shape, &f4, &w4)) {
            if (f4 != 1) {
              if (!skip(&shape, w4)) break;
              continue;
            }
            if (!sub(&shape, w4, &dim)) break;
            if (vi->rank >= NN_MAX_RANK) {
              fail(&shape, "value '%s' has more than %d dimensions", vi->name, NN_MAX_RANK);
              break;
            }
            int k = vi->rank++;
            vi->dims[k] = -1, vi->params[k] = NULL;
            int f5, w5;
            while (key(&dim, &f5, &w5)) {
              if (f5 == 1 ? !int_field(&dim, w5, &vi->dims[k]) : f5 == 2 ? !str_field(&dim, w5, &vi->params[k])
                                                                            : !skip(&dim, w5))
                break;
            }
            if (dim.failed) shape.failed = true;
          }
          if (shape.failed) s.failed = true;
        } else if (!skip(&s, w3)) break;
      }
      if (s.failed) type.failed = true;
    }
    if (type.failed) return r->failed = true, false;
  }
  return !r->failed;
}

static bool read_graph(Rd *r, OnnxGraph *g) {
  int field, wire;
  Rd s;
  while (key(r, &field, &wire)) {
    switch (field) {
    case 1: {
      if (!sub(r, wire, &s)) return false;
      OnnxNode n = {0};
      if (!read_node(&s, &n)) return r->failed = true, false;
      PUSH(g->nodes, g->nnodes, n);
      break;
    }
    case 2: if (!str_field(r, wire, &g->name)) return false; break;
    case 5: {
      if (!sub(r, wire, &s)) return false;
      OnnxTensor t = {0};
      if (!read_tensor(&s, &t)) return r->failed = true, false;
      PUSH(g->inits, g->ninits, t);
      break;
    }
    case 11: case 12: case 13: {
      if (!sub(r, wire, &s)) return false;
      OnnxValueInfo vi = {0};
      if (!read_value_info(&s, &vi)) return r->failed = true, false;
      if (field == 11) PUSH(g->inputs, g->ninputs, vi);
      else if (field == 12) PUSH(g->outputs, g->noutputs, vi);
      else PUSH(g->infos, g->ninfos, vi);
      break;
    }
    case 15: g->sparse = true; if (!skip(r, wire)) return false; break;
    default: if (!skip(r, wire)) return false;
    }
  }
  return !r->failed;
}

static bool read_model(Rd *r, OnnxModel *m) {
  int field, wire;
  Rd s;
  bool has_graph = false;
  m->opset = -1;
  r->hint = " (this does not look like an ONNX model)";
  while (key(r, &field, &wire)) {
    switch (field) {
    case 1:
      if (!int_field(r, wire, &m->ir_version)) return false;
      if (m->ir_version > 0 && m->ir_version < 100) r->hint = NULL;
      break;
    case 2: if (!str_field(r, wire, &m->producer)) return false; break;
    case 7:
      if (!sub(r, wire, &s)) return false;
      if (!read_graph(&s, &m->graph)) return r->failed = true, false;
      has_graph = true;
      break;
    case 8: {
      if (!sub(r, wire, &s)) return false;
      const char *domain = "";
      int64_t version = 0;
      int f2, w2;
      while (key(&s, &f2, &w2))
        if (f2 == 1 ? !str_field(&s, w2, &domain) : f2 == 2 ? !int_field(&s, w2, &version) : !skip(&s, w2)) break;
      if (s.failed) return r->failed = true, false;
      if (!*domain || !strcmp(domain, "ai.onnx")) m->opset = version;
      /* another domain's opset: its nodes are refused one by one */
      break;
    }
    default: if (!skip(r, wire)) return false;
    }
  }
  if (r->failed) return false;
  if (!has_graph) return fail(r, "no graph: not an ONNX model (ModelProto.graph is missing)");
  if (m->ir_version <= 0) return fail(r, "no ir_version: not an ONNX model");
  if (m->opset < 0) m->opset = 1; /* ir_version 1 and 2 models had no opset_import */
  return true;
}

OnnxModel *onnx_parse(const char *path, const void *data, size_t len) {
  Rd r = {.base = data, .p = data, .end = (const uint8_t *)data + len, .path = path};
  char *slash = strrchr(path, '/');
  r.dir = slash ? arena_strndup(path, (size_t)(slash - path)) : ".";
  if (!*r.dir) r.dir = "/";
  OnnxModel *m = arena_alloc(sizeof *m);
  m->path = path;
  if (!read_model(&r, m)) return NULL;
  return m;
}

OnnxModel *onnx_read(const char *path) {
  FILE *fp = fopen(path, "rb");
  struct stat st;
  if (!fp || fstat(fileno(fp), &st) != 0) {
    error_plain("cannot read '%s': %s", path, strerror(errno));
    if (fp) fclose(fp);
    return NULL;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > INT_MAX) {
    error_plain("cannot read '%s': %s", path,
                S_ISREG(st.st_mode) ? "larger than 2 GiB, protobuf's limit (store the weights as external data)"
                                    : "not a regular file");
    fclose(fp);
    return NULL;
  }
  size_t len = (size_t)st.st_size;
  uint8_t *buf = malloc(len + 1);
  bool ok = buf && fread(buf, 1, len, fp) == len;
  fclose(fp);
  if (!ok) {
    error_plain("cannot read '%s': %s", path, buf ? "read error" : "out of memory");
    free(buf);
    return NULL;
  }
  OnnxModel *m = onnx_parse(path, buf, len);
  free(buf);
  return m;
}
