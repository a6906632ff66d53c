/* tools.c — the external programs nnc runs: the C compiler, the linker,
 * and the programs --check-c builds.
 *
 * Requires: nothing but util.c's arena and POSIX (posix_spawnp, waitpid,
 * mkdtemp). Guarantees: a program runs from a vector of words, never
 * through a shell, so a quote or a blank in a file name is just a byte of
 * it; nnc's buffered output is flushed first, so the program's output
 * comes after it; $CC (default cc) and $CFLAGS are split on blanks into
 * words, with no quoting; every C compiler command starts with $CC
 * -std=c11 -ffp-contract=off (no contraction into FMAs, so that every
 * compiler rounds the generated code alike).
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "nnc.h"

extern char **environ;

void argv_add(Argv *a, const char *word) {
  if (a->n + 2 > a->cap) {
    int cap = a->cap ? 2 * a->cap : 16;
    const char **v = arena_alloc(sizeof *v * (size_t)cap);
    if (a->n) memcpy(v, a->v, sizeof *v * (size_t)a->n);
    a->v = v, a->cap = cap;
  }
  a->v[a->n++] = word;
  a->v[a->n] = NULL;
}

void argv_add_words(Argv *a, const char *s) {
  static const char blanks[] = " \t\n\r\v\f";
  while (s && *(s += strspn(s, blanks))) {
    size_t n = strcspn(s, blanks);
    argv_add(a, arena_strndup(s, n));
    s += n;
  }
}

char *argv_string(const Argv *a) {
  size_t len = 1;
  for (int i = 0; i < a->n; i++) len += strlen(a->v[i]) + 1;
  char *s = arena_alloc(len), *p = s;
  for (int i = 0; i < a->n; i++) p += sprintf(p, "%s%s", i ? " " : "", a->v[i]);
  return s;
}

int run_tool(const Argv *a, const char *out, const char *err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (out) posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (err) posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  fflush(NULL);
  pid_t pid;
  int rc = posix_spawnp(&pid, a->v[0], &fa, NULL, (char *const *)a->v, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -rc;
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -errno;
  return WIFSIGNALED(status) ? 256 + WTERMSIG(status) : WEXITSTATUS(status);
}

const char *tool_outcome(int status) {
  if (status < 0) return arena_printf("could not start: %s", strerror(-status));
  if (status >= 256) return arena_printf("killed by signal %d", status - 256);
  return arena_printf("exit status %d", status);
}

Argv cc_command(void) {
  Argv a = {0};
  argv_add_words(&a, getenv("CC"));
  if (!a.n) argv_add(&a, "cc");
  argv_add(&a, "-std=c11");
  argv_add(&a, "-ffp-contract=off");
  return a;
}

void cc_add_cflags(Argv *a) { argv_add_words(a, getenv("CFLAGS")); }

/* Builds and links a file that includes omp.h and calls it, with $CC
 * -fopenmp alone ($CFLAGS left out: the question is the compiler's); says
 * so when the compiler rejects it. When the test cannot be written, or the
 * compiler does not start or crashes, OpenMP is taken to be there: the
 * real build then says what is wrong. */
static bool probe_openmp(void) {
  char dir[] = "/tmp/nnc-omp-XXXXXX";
  if (!mkdtemp(dir)) return true;
  char *src = arena_printf("%s/omp.c", dir), *exe = arena_printf("%s/omp", dir);
  FILE *f = fopen(src, "w");
  bool ok = true;
  bool written = f && fputs("#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n", f) >= 0;
  if (f && fclose(f) == 0 && written) {
    Argv a = cc_command();
    int ncc = a.n - 2; /* $CC's words */
    argv_add(&a, "-fopenmp"), argv_add(&a, "-o"), argv_add(&a, exe), argv_add(&a, src);
    int status = run_tool(&a, "/dev/null", "/dev/null"); /* a failure is the answer, not news */
    ok = status <= 0 || status >= 256; /* a compiler that does not start or crashes: the build says so */
    if (!ok) {
      a.v[ncc] = NULL, a.n = ncc;
      fprintf(stderr, "nnc: note: CC has no OpenMP (%s -fopenmp failed on a test file): the loops run serially\n",
              argv_string(&a));
    }
  }
  unlink(exe), unlink(src), rmdir(dir);
  return ok;
}

bool cc_has_openmp(void) {
  static int known = -1;
  if (known < 0) known = probe_openmp();
  return known;
}
