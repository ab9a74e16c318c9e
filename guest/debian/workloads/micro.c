/* lmbench-style micro-benchmarks of the xen-2004 suite: null system call, context switch (pipe
 * ping-pong), fork+exit, fork+exec, mmap and page fault, in microseconds per operation.
 *
 *   micro [--scale F] [--only NAME] [--json | --result]
 *
 * Plain C with no dependencies, so each target (the host, a guest) compiles it with its own gcc:
 * the same source and flags everywhere. Paddock builds it as paddock-microbench too. A failed
 * benchmark prints FAILED (or an "error" in JSON) and makes the exit status 1, never a zero time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static char failure[256];

static int fail(const char* what) {
  snprintf(failure, sizeof failure, "%s: %s", what, strerror(errno));
  return -1;
}

static int null_syscall(int n, double* us) {
  double t0 = now_us();
  for (int i = 0; i < n; ++i) (void)syscall(SYS_getppid);
  *us = (now_us() - t0) / n;
  return 0;
}

static int context_switch(int n, double* us) {
  int there[2], back[2];
  if (pipe(there) != 0) return fail("pipe");
  if (pipe(back) != 0) return fail("pipe");
  pid_t pid = fork();
  if (pid < 0) return fail("fork");
  if (pid == 0) {
    char c;
    for (int i = 0; i < n; ++i)
      if (read(there[0], &c, 1) != 1 || write(back[1], &c, 1) != 1) _exit(1);
    _exit(0);
  }
  close(there[0]);
  close(back[1]);
  char c = 'x';
  int ok = 1;
  double t0 = now_us();
  for (int i = 0; i < n && ok; ++i) ok = write(there[1], &c, 1) == 1 && read(back[0], &c, 1) == 1;
  *us = (now_us() - t0) / n / 2; /* two switches per round trip */
  close(there[1]);
  close(back[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    snprintf(failure, sizeof failure, "the ping-pong partner failed");
    return -1;
  }
  return 0;
}

static int spawn_loop(int n, int exec_true, double* us) {
  double t0 = now_us();
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid < 0) return fail("fork");
    if (pid == 0) {
      if (exec_true) {
        char* argv[] = {"/bin/true", NULL};
        execv("/bin/true", argv);
        _exit(127);
      }
      _exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return fail("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      snprintf(failure, sizeof failure, "the child process failed (status %d)", status);
      return -1;
    }
  }
  *us = (now_us() - t0) / n;
  return 0;
}

static int fork_exit(int n, double* us) {
  return spawn_loop(n, 0, us);
}
static int fork_exec(int n, double* us) {
  return spawn_loop(n, 1, us);
}

static int map_unmap(int n, double* us) {
  const size_t bytes = 1 << 20;
  double t0 = now_us();
  for (int i = 0; i < n; ++i) {
    volatile char* p =
        mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return fail("mmap");
    p[0] = 1;
    munmap((void*)p, bytes);
  }
  *us = (now_us() - t0) / n;
  return 0;
}

static int page_fault(int n, double* us) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = 64 << 20;
  const int per_mapping = (int)(bytes / page);
  double total = 0;
  for (int done = 0; done < n;) {
    volatile char* p =
        mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return fail("mmap");
    int k = n - done < per_mapping ? n - done : per_mapping;
    double t0 = now_us();
    for (int i = 0; i < k; ++i) p[(size_t)i * page] = 1;
    total += now_us() - t0;
    munmap((void*)p, bytes);
    done += k;
  }
  *us = total / n;
  return 0;
}

struct bench {
  const char* name;
  int (*run)(int, double*);
  int iterations; /* at --scale 1 */
};

static const struct bench all[] = {
    {"null_syscall_us", null_syscall, 1000000},
    {"context_switch_us", context_switch, 20000},
    {"fork_exit_us", fork_exit, 1000},
    {"fork_exec_us", fork_exec, 500},
    {"mmap_us", map_unmap, 20000},
    {"page_fault_us", page_fault, 100000},
};

static void usage(const char* error) {
  if (error) fprintf(stderr, "paddock-microbench: %s\n", error);
  fprintf(stderr, "usage: paddock-microbench [--scale F] [--only NAME] [--json | --result]\n");
  exit(2);
}

int main(int argc, char** argv) {
  double scale = 1;
  const char* only = NULL;
  enum { table, json, result } format = table;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (!strcmp(a, "--scale") || !strcmp(a, "--only")) {
      if (i + 1 >= argc) usage("--scale and --only need a value");
      const char* v = argv[++i];
      if (a[2] == 'o') {
        only = v;
        continue;
      }
      char* end = NULL;
      scale = strtod(v, &end);
      if (end == v || *end || !(scale > 0) || scale > 100)
        usage("--scale must be a number above 0 and at most 100");
    } else if (!strcmp(a, "--json")) {
      format = json;
    } else if (!strcmp(a, "--result")) {
      format = result;
    } else {
      usage(strcmp(a, "--help") && strcmp(a, "-h") ? "unknown argument" : NULL);
    }
  }
  int found = 0, failed = 0;
  if (format == json) printf("{");
  for (size_t b = 0; b < sizeof all / sizeof all[0]; ++b) {
    if (only && strcmp(only, all[b].name)) continue;
    int n = (int)(all[b].iterations * scale);
    if (n < 1) n = 1;
    double us = 0;
    int rc = all[b].run(n, &us);
    if (rc == 0 && !(us > 0)) {
      snprintf(failure, sizeof failure, "measured no time (clock too coarse?)");
      rc = -1;
    }
    failed |= rc != 0;
    switch (format) {
      case json:
        if (rc)
          printf("%s\n  \"%s\": {\"error\": \"%s\"}", found ? "," : "", all[b].name, failure);
        else
          printf("%s\n  \"%s\": {\"us\": %.6f, \"iterations\": %d}", found ? "," : "", all[b].name,
                 us, n);
        break;
      case result:
        if (rc)
          fprintf(stderr, "%s FAILED: %s\n", all[b].name, failure);
        else
          printf("RESULT %s %.6f us lower\n", all[b].name, us);
        break;
      default:
        if (rc)
          printf("%-20s FAILED: %s\n", all[b].name, failure);
        else
          printf("%-20s %12.3f us  (%d iterations)\n", all[b].name, us, n);
    }
    found = 1;
  }
  if (!found) usage("--only: no benchmark of that name");
  if (format == json) printf("\n}\n");
  return failed ? 1 : 0;
}
