/* util.c — compiler memory, strings and source files.
 *
 * All compiler memory comes from one bump arena, freed at once by
 * arena_free_all (the fuzzer calls it between inputs); only the large
 * arrays a growing graph outgrows are given back before (arena_release). Running out of memory
 * is reported and exits with status 1 — it is never a crash.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "nnc.h"

typedef struct Chunk Chunk;
struct Chunk {
  Chunk *next;
  size_t used, size;
  bool alone;          /* one large block (arena_release may free it) */
  max_align_t data[];
};

static Chunk *chunks, *perm_chunks, **cur = &chunks;

/* Between these two calls allocations outlive arena_free_all (the built-in
 * table is made once per process). */
void arena_permanent(bool on) {
  cur = on ? &perm_chunks : &chunks;
}

enum { CHUNK = 1 << 20 };

static Chunk *new_chunk(size_t size) {
  Chunk *c = malloc(sizeof *c + size);
  if (!c) {
    fprintf(stderr, "nnc: error: out of memory\n");
    exit(1);
  }
  c->used = 0;
  c->size = size;
  c->alone = false;
  return c;
}

/* A block of more than an eighth of a chunk gets a chunk of its own,
 * linked behind the current one, so that the current one's free room is
 * not abandoned (a growing graph's arrays would leave most of a chunk
 * behind each time). */
void *arena_alloc(size_t n) {
  Chunk *chunks = *cur;
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  void *p;
  if (n > CHUNK / 8 && chunks) {
    Chunk *c = new_chunk(n);
    c->next = chunks->next;
    chunks->next = c;
    c->used = n;
    c->alone = true;
    p = c->data;
  } else {
    if (!chunks || chunks->size - chunks->used < n) {
      Chunk *c = new_chunk(n > CHUNK ? n : CHUNK);
      c->next = chunks;
      chunks = *cur = c;
    }
    p = (char *)chunks->data + chunks->used;
    chunks->used += n;
  }
  memset(p, 0, n);
  return p;
}

/* A large block is freed now (an outgrown array of a growing graph);
 * others stay until arena_free_all. The chunks are searched, which costs
 * little next to what a large block's copy cost. */
void arena_release(void *p) {
  for (Chunk **c = cur; p && *c; c = &(*c)->next)
    if ((*c)->alone && (void *)(*c)->data == p) {
      Chunk *dead = *c;
      *c = dead->next;
      free(dead);
      return;
    }
}

void arena_free_all(void) {
  while (chunks) {
    Chunk *next = chunks->next;
    free(chunks);
    chunks = next;
  }
}

char *arena_strndup(const char *s, size_t n) {
  char *p = arena_alloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *arena_strdup(const char *s) {
  return arena_strndup(s, strlen(s));
}

char *arena_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = arena_alloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

static const char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return ".";
  if (slash == path) return "/";
  return arena_strndup(path, (size_t)(slash - path));
}

SrcFile *source_from_memory(const char *path, const char *data, size_t len) {
  /* A UTF-8 byte-order mark (some Windows editors write one) is not part of
   * the program: dropped, so line 1's columns count from what follows it. */
  if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) data += 3, len -= 3;
  SrcFile *f = arena_alloc(sizeof *f);
  f->path = arena_strdup(path);
  f->dir = dir_of(path);
  f->text = arena_strndup(data, len);
  f->len = len;
  return f;
}

SrcFile *read_source(const char *path) {
  bool is_stdin = strcmp(path, "-") == 0;
  FILE *fp = is_stdin ? stdin : fopen(path, "rb");
  if (!fp) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) {
    errno = ENOMEM;
    goto fail;
  }
  for (;;) {
    if (len == cap) {
      cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) {
        errno = ENOMEM;
        goto fail;
      }
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len, fp);
    len += got;
    if (len > NN_MAX_SOURCE) {
      errno = EFBIG;
      goto fail;
    }
    if (got == 0) {
      if (ferror(fp)) goto fail;
      break;
    }
  }
  if (!is_stdin) fclose(fp);
  SrcFile *f = source_from_memory(is_stdin ? "<stdin>" : path, buf, len);
  if (is_stdin) f->dir = ".";
  free(buf);
  return f;
fail: {
  int e = errno;
  free(buf);
  if (!is_stdin) fclose(fp);
  errno = e ? e : EIO;
  return NULL;
}
}

/* Names a Keras or PyTorch user writes for ours: arguments, then train
 * settings. A typed name listed here suggests its counterpart whenever that
 * counterpart is a candidate, before any misspelling. */
static const struct {
  const char *theirs, *ours;
} aliases[] = {
  {"learning_rate", "lr"}, {"beta_1", "beta1"}, {"beta_2", "beta2"}, {"eps", "epsilon"},
  {"alpha", "rho"}, {"initial_accumulator_value", "initial_accumulator"},
  {"clipnorm", "clip_norm"}, {"clipvalue", "clip_value"}, {"max_norm", "clip_norm"},
  {"out_features", "units"}, {"out_channels", "filters"}, {"kernel_size", "kernel"},
  {"strides", "stride"}, {"pool_size", "size"}, {"dilation_rate", "dilation"},
  {"kernel_initializer", "kernel_init"}, {"bias_initializer", "bias_init"},
  {"recurrent_initializer", "recurrent_init"}, {"embeddings_initializer", "init"},
  {"bias", "use_bias"}, {"num_heads", "heads"}, {"nhead", "heads"}, {"dim_feedforward", "ff"},
  {"input_dim", "vocab"}, {"num_embeddings", "vocab"}, {"output_dim", "dim"},
  {"embedding_dim", "dim"}, {"go_backwards", "reverse"},
  {"p", "rate"}, {"dim", "axis"}, {"keepdim", "keepdims"}, {"ignore_index", "ignore_label"},
  {"gamma", "factor"}, {"step_size", "every"}, {"decay_steps", "every"}, {"decay_rate", "rate"},
  {"T_max", "epochs"}, {"eta_min", "min_lr"}, {"sep", "delimiter"},
  {"batch_size", "batch"}, {"validation_split", "validation"}, {"validation_data", "validation"},
  {"num_epochs", "epochs"}, {"n_epochs", "epochs"}, {"max_epochs", "epochs"},
  {"nb_epoch", "epochs"}, {"criterion", "loss"}, {"loss_fn", "loss"}, {"optim", "optimizer"},
  {"scheduler", "schedule"}, {"lr_scheduler", "schedule"}, {"lr_schedule", "schedule"},
  {"restore_best_weights", "restore_best"}, {"EarlyStopping", "plateau"}, {"ReduceLROnPlateau", "plateau"},
  {"ModelCheckpoint", "best"}, {"val_acc", "val_accuracy"},
  {"random_seed", "seed"}, {"manual_seed", "seed"}, {"early_stopping", "stop"},
  {"dataset", "data"}, {"train_data", "data"}, {"augmentation", "augment"},
  /* layers, functions, losses, metrics, schedules and initializers by
   * their Keras class or PyTorch module name (a name equal to ours but for
   * case and '_', such as Conv2D, MaxPool2d or LeakyReLU, needs no row) */
  {"Linear", "dense"}, {"MaxPooling2D", "max_pool2d"}, {"AveragePooling2D", "avg_pool2d"},
  {"GlobalAveragePooling2D", "global_avg_pool2d"}, {"BatchNormalization", "batch_norm"},
  {"BatchNorm1d", "batch_norm"}, {"BatchNorm2d", "batch_norm"},
  {"LayerNormalization", "layer_norm"}, {"MultiHeadAttention", "attention"},
  {"MultiheadAttention", "attention"}, {"TransformerEncoderLayer", "transformer_encoder"},
  {"TransformerDecoderLayer", "transformer_decoder"}, {"Concatenate", "concat"},
  {"cat", "concat"}, {"CrossEntropyLoss", "sparse_categorical_crossentropy"},
  {"MSELoss", "mse"}, {"MeanSquaredError", "mse"}, {"L1Loss", "mae"},
  {"MeanAbsoluteError", "mae"}, {"BCELoss", "binary_crossentropy"},
  {"BCEWithLogitsLoss", "binary_crossentropy"}, {"HuberLoss", "huber"},
  {"SmoothL1Loss", "huber"}, {"acc", "accuracy"}, {"StepLR", "step"},
  {"ExponentialLR", "exponential"}, {"ExponentialDecay", "exponential"},
  {"CosineAnnealingLR", "cosine"}, {"CosineDecay", "cosine"}, {"xavier_uniform", "glorot_uniform"},
  {"xavier_normal", "glorot_normal"}, {"kaiming_uniform", "he_uniform"},
  {"kaiming_normal", "he_normal"}, {"RandomUniform", "uniform"}, {"RandomNormal", "normal"},
};

/* Whether `typed` is what a Keras or PyTorch user writes for our `ours`: a
 * row of aliases, or the same name but for case and underscores. */
bool name_alias(const char *typed, const char *ours) {
  for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
    if (!strcmp(aliases[i].theirs, typed) && !strcmp(aliases[i].ours, ours)) return true;
  const char *a = typed, *b = ours;
  for (;;) {
    while (*a == '_') a++;
    while (*b == '_') b++;
    if (!*a || !*b) return !*a && !*b;
    char ca = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
    if (ca != *b) return false;
    a++, b++;
  }
}

/* Keeps the candidate closest to sg->name, if it is close enough to be a
 * likely misspelling (a third of the name's length, plus one); a known
 * alias (above) beats any misspelling. */
void consider(Suggest *sg, const char *cand) {
  if (strcmp(sg->name, cand) != 0 && name_alias(sg->name, cand)) {
    sg->best_d = -1, sg->best = cand;
    return;
  }
  if (sg->best_d < 0) return;
  int d = edit_distance(sg->name, cand);
  int limit = (int)strlen(sg->name) / 3 + 1;
  if (d <= limit && d < sg->best_d) sg->best_d = d, sg->best = cand;
}

/* Levenshtein distance, for "did you mean"; names are short. */
int edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 1000;
  int row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* ------------------------------------------------------------- hash map */

typedef struct Entry {
  const char *key;
  void *val;
  int order;
} Entry;

struct Map {
  Entry *slots;
  int cap, len;
};

Map *map_new(void) {
  Map *m = arena_alloc(sizeof *m);
  m->cap = 16;
  m->slots = arena_alloc(sizeof(Entry) * (size_t)m->cap);
  return m;
}

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

static Entry *find_slot(Entry *slots, int cap, const char *key) {
  for (uint64_t i = hash_str(key);; i++) {
    Entry *e = &slots[i & (uint64_t)(cap - 1)];
    if (!e->key || !strcmp(e->key, key)) return e;
  }
}

void *map_get(Map *m, const char *key) {
  Entry *e = find_slot(m->slots, m->cap, key);
  return e->key ? e->val : NULL;
}

void map_put(Map *m, const char *key, void *val) {
  if (2 * (m->len + 1) > m->cap) {
    int cap = m->cap * 2;
    Entry *slots = arena_alloc(sizeof(Entry) * (size_t)cap);
    for (int i = 0; i < m->cap; i++)
      if (m->slots[i].key) *find_slot(slots, cap, m->slots[i].key) = m->slots[i];
    m->slots = slots;
    m->cap = cap;
  }
  Entry *e = find_slot(m->slots, m->cap, key);
  if (!e->key) {
    e->key = key;
    e->order = m->len++;
  }
  e->val = val;
}

void map_each(Map *m, void (*fn)(const char *key, void *val, void *ctx), void *ctx) {
  Entry **order = arena_alloc(sizeof(Entry *) * (size_t)(m->len + 1));
  for (int i = 0; i < m->cap; i++)
    if (m->slots[i].key) order[m->slots[i].order] = &m->slots[i];
  for (int i = 0; i < m->len; i++) fn(order[i]->key, order[i]->val, ctx);
}

char *path_stem(const char *path) {
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  return arena_strndup(path, dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path));
}
