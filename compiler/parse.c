/* parse.c — from source files to one list of declarations.
 *
 * parse_source runs the flex scanner and bison parser over one file.
 * load_program follows `import "file.nn"` (relative to the importing file),
 * parses each file once, puts imported declarations before the importer's,
 * and reports import cycles with the whole chain.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "nnc.h"
#include "parser.h"
#include "lexer.h"

/* A NUL byte: the file is binary, not a program; one error says where,
 * rather than one for every few bytes of it. */
static bool not_text(const SrcFile *src) {
  const char *nul = memchr(src->text, '\0', src->len);
  if (!nul) return false;
  Loc loc = {.first_line = 1, .first_column = 1, .file = src};
  for (const char *p = src->text, *nl; (nl = memchr(p, '\n', (size_t)(nul - p))) != NULL; p = nl + 1)
    loc.first_line++, loc.first_column = (int)(nul - nl);
  if (loc.first_line == 1) loc.first_column = (int)(nul - src->text) + 1;
  loc.last_line = loc.first_line, loc.last_column = loc.first_column;
  error_at(loc, "not a text file: a NUL byte at byte offset %zu", (size_t)(nul - src->text));
  return true;
}

Node *parse_source(const SrcFile *src) {
  if (not_text(src)) return NULL;
  ParseCtx ctx = {0};
  ctx.ls.src = src;
  ctx.ls.line = 1;
  ctx.ls.col = 1;
  ctx.ls.last = NEWLINE;
  yyscan_t scanner;
  if (yylex_init_extra(&ctx.ls, &scanner)) {
    error_plain("cannot start the scanner: %s", strerror(errno));
    return NULL;
  }
  YY_BUFFER_STATE buf = yy_scan_bytes(src->text, (int)src->len, scanner);
  yyparse(scanner, &ctx);
  yy_delete_buffer(buf, scanner);
  yylex_destroy(scanner);
  return node_reverse(ctx.decls);
}

typedef struct Loaded Loaded;
struct Loaded {
  Loaded *next;
  dev_t dev;
  ino_t ino;
  const SrcFile *src;
  const char *as;       /* an ONNX model's name (import "m.onnx" as NAME), or NULL */
  bool done;            /* false while its imports are being loaded: a cycle */
};

typedef struct Loader {
  Loaded *files;
  Node *out;            /* reversed */
  int nfiles;
} Loader;

static void load_file(Loader *ld, SrcFile *src, Loaded *self, int depth);

static void print_chain(Loc loc, const SrcFile *from, const char *again) {
  char *chain = arena_printf("'%s'", again);
  for (const SrcFile *f = from; f; f = f->importer) {
    chain = arena_printf("'%s' imports %s", f->path, chain);
    if (!strcmp(f->path, again) || f->importer == NULL) break;
  }
  error_at(loc, "import cycle: %s", chain);
}

static void load_import(Loader *ld, const SrcFile *from, Node *imp, int depth) {
  const char *path = imp->sval;
  if (path[0] != '/' && strcmp(from->dir, ".") != 0)
    path = arena_printf("%s/%s", from->dir, path);
  struct stat st;
  if (stat(path, &st) != 0) {
    error_at(imp->loc, "cannot import '%s': %s", imp->sval, strerror(errno));
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    error_at(imp->loc, "cannot import '%s': not a regular file", imp->sval);
    return;
  }
  const char *ext = strrchr(path, '.');
  bool onnx = ext && !strcmp(ext, ".onnx");
  if (imp->name && !onnx) {
    error_at(imp->name_loc, "'as' names the model of an imported .onnx file; a .nn file's declarations keep their names");
    return;
  }
  builtins_init();
  if (imp->name && builtin_find(imp->name)) {
    error_at(imp->name_loc, "'%s' is a built-in name; call the imported model something else", imp->name);
    return;
  }
  for (Loaded *l = ld->files; l; l = l->next) {
    if (l->dev != st.st_dev || l->ino != st.st_ino) continue;
    if (onnx && (l->as ? !imp->name || strcmp(l->as, imp->name) : imp->name != NULL)) continue; /* another model of it */
    if (!l->done) print_chain(imp->loc, from, l->src->path);
    return; /* already loaded: importing twice is harmless */
  }
  if (depth >= NN_MAX_IMPORT_DEPTH) {
    error_at(imp->loc, "imports nested too deeply (more than %d files)", NN_MAX_IMPORT_DEPTH);
    return;
  }
  SrcFile *src = onnx ? onnx_import(path, imp->name, 0) : read_source(path);
  if (!src) {
    if (onnx) note_at(imp->loc, "imported here");
    else error_at(imp->loc, "cannot import '%s': %s", imp->sval, errno == EFBIG ? "file too large" : strerror(errno));
    return;
  }
  src->importer = (SrcFile *)from;
  Loaded *l = arena_alloc(sizeof *l);
  l->dev = st.st_dev;
  l->ino = st.st_ino;
  l->src = src;
  l->as = imp->name;
  l->next = ld->files;
  ld->files = l;
  load_file(ld, src, l, depth + 1);
}

static void load_file(Loader *ld, SrcFile *src, Loaded *self, int depth) {
  ld->nfiles++;
  Node *decls = parse_source(src);
  for (Node *d = decls; d; d = d->next)
    if (d->kind == ND_IMPORT) load_import(ld, src, d, depth);
  if (self) self->done = true;
  for (Node *d = decls, *next; d; d = next) {
    next = d->next;
    d->next = ld->out;
    ld->out = d;
  }
}

Program *load_program(SrcFile *main_src) {
  Loader ld = {0};
  struct stat st;
  Loaded *self = NULL;
  if (strcmp(main_src->path, "<stdin>") != 0 && stat(main_src->path, &st) == 0) {
    self = arena_alloc(sizeof *self);
    self->dev = st.st_dev;
    self->ino = st.st_ino;
    self->src = main_src;
    ld.files = self;
  }
  load_file(&ld, main_src, self, 0);
  Program *p = arena_alloc(sizeof *p);
  p->decls = node_reverse(ld.out);
  p->nfiles = ld.nfiles;
  p->files = arena_alloc(sizeof(char *) * (size_t)(ld.nfiles + 1));
  int k = 0;
  p->files[k++] = main_src->path;
  for (Loaded *l = ld.files; l; l = l->next)
    if (l->src != main_src && k < ld.nfiles) p->files[k++] = l->src->path;
  return p;
}
