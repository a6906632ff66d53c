/* diag.c — diagnostics in the manner of a C compiler.
 *
 *   model.nn:4:3: error: unknown layer 'dens'; did you mean 'dense'?
 *       4 |   dens(10)
 *         |   ^~~~
 *
 * User errors (error_at) are counted and the run goes on where recovery is
 * sound; the same error at the same place is printed once (a layer body is
 * checked once per call). Compiler bugs (bug) are marked "internal compiler
 * error" and abort.
 */
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

Diag diag = {0};

static Map *seen; /* errors and warnings printed: "file:line:col:kind:message" */

/* The last source line show_line found: diagnostics mostly come in the
 * order of the text, so the next search goes on from there. */
static struct {
  const SrcFile *file;
  const char *at;
  int line;
} last_line;

void diag_reset(FILE *out) {
  diag = (Diag){.out = out};
  seen = NULL;
  last_line.file = NULL;
}

Diag diag_mute(void) {
  static FILE *null;
  Diag saved = diag;
  if (!null) null = fopen("/dev/null", "w");
  if (null) diag.out = null;
  return saved;
}

bool diag_unmute(Diag saved) {
  bool clean = diag.errors == saved.errors;
  diag = saved;
  return clean;
}

Loc loc_span(Loc a, Loc b) {
  Loc l = a;
  l.last_line = b.last_line;
  l.last_column = b.last_column;
  return l;
}

/* The start of line `line` of f, or NULL. */
static const char *line_start(const SrcFile *f, int line) {
  if (last_line.file != f || last_line.line > line)
    last_line.file = f, last_line.at = f->text, last_line.line = 1;
  const char *end = f->text + f->len;
  while (last_line.line < line) {
    const char *nl = memchr(last_line.at, '\n', (size_t)(end - last_line.at));
    if (!nl) return NULL;
    last_line.at = nl + 1, last_line.line++;
  }
  return last_line.at;
}

/* Bytes of a source line shown under a diagnostic at most: a longer line
 * (generated, minified, or not text at all) is cut to a window around the
 * column, and "..." marks each cut end. */
enum { EXCERPT = 100 };

/* Prints the source line of loc with a caret and tildes under the range. */
static void show_line(Loc loc) {
  const SrcFile *f = loc.file;
  if (!f || loc.first_line < 1) return;
  const char *p = line_start(f, loc.first_line), *end = f->text + f->len;
  if (!p) return;
  const char *eol = memchr(p, '\n', (size_t)(end - p));
  int width = (int)((eol ? eol : end) - p);
  if (width > 0 && p[width - 1] == '\r') width--;
  int first = loc.first_column - 1, last = loc.last_column - 1;
  if (loc.last_line != loc.first_line) last = width - 1;
  if (first > width) first = width;
  if (first < 0) first = 0;
  if (last < first) last = first;
  int from = 0, to = width;
  if (width > EXCERPT) {
    from = first > EXCERPT / 2 ? first - EXCERPT / 2 : 0;
    if (from > width - EXCERPT) from = width - EXCERPT;
    to = from + EXCERPT;
  }
  char buf[4 * EXCERPT], *q = buf; /* written at once: the stream may be unbuffered */
  q += sprintf(q, "%5d | %s", loc.first_line, from > 0 ? "..." : "");
  for (int i = from; i < to; i++) {
    unsigned char c = (unsigned char)p[i];
    *q++ = c == '\t' || (c >= 0x20 && c != 0x7f) ? (char)c : '?';
  }
  q += sprintf(q, "%s\n      | %s", to < width ? "..." : "", from > 0 ? "   " : "");
  for (int i = from; i < first; i++) *q++ = p[i] == '\t' ? '\t' : ' ';
  *q++ = '^';
  for (int i = first + 1; i <= last && i < to; i++) *q++ = '~';
  *q++ = '\n';
  fwrite(buf, 1, (size_t)(q - buf), diag.out);
}

static bool first_time(Loc loc, const char *kind, const char *msg) {
  char *key = arena_printf("%p:%d:%d:%s:%s", (const void *)loc.file, loc.first_line,
                           loc.first_column, kind, msg);
  if (!seen) seen = map_new();
  if (map_get(seen, key)) return false;
  map_put(seen, key, key);
  return true;
}

static bool last_printed; /* whether the last error/warning was printed (for its notes) */

static void report(Loc loc, const char *kind, const char *fmt, va_list ap) {
  if (!diag.out) diag.out = stderr;
  if (diag.too_many && strcmp(kind, "warning") != 0) { /* counted, no longer formatted */
    if (!strcmp(kind, "error")) diag.errors++;
    last_printed = false;
    return;
  }
  char *msg = arena_alloc(1024);
  vsnprintf(msg, 1024, fmt, ap);
  bool note = !strcmp(kind, "note");
  if (note) {
    if (!last_printed) return;
  } else {
    last_printed = false;
    if (!first_time(loc, kind, msg)) return;
    if (!strcmp(kind, "error")) {
      diag.errors++;
      if (diag.errors > NN_MAX_ERRORS) {
        if (!diag.too_many) fprintf(diag.out, "nnc: too many errors, stopping\n");
        diag.too_many = true;
        return;
      }
    } else {
      diag.warnings++;
    }
    last_printed = true;
  }
  if (loc.file)
    fprintf(diag.out, "%s:%d:%d: %s: %s\n", loc.file->path, loc.first_line, loc.first_column,
            kind, msg);
  else
    fprintf(diag.out, "nnc: %s: %s\n", kind, msg);
  show_line(loc);
}

void error_at(Loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(loc, "error", fmt, ap);
  va_end(ap);
}

void warn_at(Loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(loc, "warning", fmt, ap);
  va_end(ap);
}

void note_at(Loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(loc, "note", fmt, ap);
  va_end(ap);
}

void error_plain(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report((Loc){0}, "error", fmt, ap);
  va_end(ap);
}

void bug_at(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nnc: internal compiler error: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  at %s:%d\nThis is a bug in nnc, not in your program; please report it "
                  "with the input that caused it.\n", file, line);
  fflush(stderr);
  abort();
}
