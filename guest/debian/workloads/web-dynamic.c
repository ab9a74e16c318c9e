/* The dynamic 30 % of the xen-2004 web-hosting workload (src/bench/web_mix.h), behind nginx:
 *
 *   web-dynamic PORT DIR [WORKERS]
 *
 *   POST /register      reads the urlencoded form, appends one line to DIR/registrations.log
 *   GET  /ad?banner=N   banner N of 3 (a few hundred bytes) and Set-Cookie: ad=N
 *   GET  /cookie        echoes the request's "user" cookie (a page under 1 KB), sets "visit"
 *   GET  /cgi-bin/page  a page generated per request: time, worker, counter
 *
 * HTTP/1.1 with keep-alive on 127.0.0.1:PORT. Every answer has a Content-Length; unknown paths
 * get 404, a known path with the wrong method 405, malformed requests 400 (and the connection is
 * closed). WORKERS (default: the number of CPUs) processes share the listening socket and each
 * multiplexes its connections with poll(): nginx keeps idle upstream connections open, so a
 * worker serving one connection at a time would leave the others waiting behind an idle one.
 * SIGTERM stops the workers and then the parent; a worker that dies takes the server down
 * (the load generator then sees errors rather than a quietly smaller server).
 *
 * Plain C with no dependencies, compiled by web-serve.sh on each target with its own gcc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_HEAD 16384
#define MAX_BODY 65536

struct conn {
  int fd;
  char* in; /* MAX_HEAD + MAX_BODY bytes */
  size_t in_len;
  char* out;
  size_t out_len, out_cap, out_sent;
  int closing; /* close once `out` is sent */
};

static volatile sig_atomic_t stopping;
static int log_fd = -1;
static unsigned long served;

static void on_term(int sig) {
  (void)sig;
  stopping = 1;
}

static void on_child(int sig) {
  (void)sig;
}

static void die(const char* what) {
  fprintf(stderr, "web-dynamic: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int out_append(struct conn* c, const char* data, size_t n) {
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + n) cap *= 2;
    char* grown = realloc(c->out, cap);
    if (!grown) return -1;
    c->out = grown;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, data, n);
  c->out_len += n;
  return 0;
}

static int respond(struct conn* c, int status, const char* reason, const char* cookie,
                   const char* body, size_t body_len) {
  char head[512];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n%s%s%s%s"
                   "\r\n",
                   status, reason, body_len, cookie ? "Set-Cookie: " : "", cookie ? cookie : "",
                   cookie ? "\r\n" : "", c->closing ? "Connection: close\r\n" : "");
  if (n < 0 || (size_t)n >= sizeof head) return -1;
  if (out_append(c, head, (size_t)n) != 0) return -1;
  return out_append(c, body, body_len);
}

static int respond_error(struct conn* c, int status, const char* reason) {
  char body[128];
  int n = snprintf(body, sizeof body, "<html><body><h1>%d %s</h1></body></html>\n", status, reason);
  return respond(c, status, reason, NULL, body, (size_t)n);
}

/* The value of header `name` in the header block [head, end), copied into `val` (at most
 * `cap` - 1 bytes); 0 if present. */
static int header(const char* head, const char* end, const char* name, char* val, size_t cap) {
  size_t name_len = strlen(name);
  const char* line = memchr(head, '\n', (size_t)(end - head)); /* skip the request line */
  while (line && line + 1 < end) {
    line++;
    const char* eol = memchr(line, '\n', (size_t)(end - line));
    if (!eol) eol = end;
    if ((size_t)(eol - line) > name_len && strncasecmp(line, name, name_len) == 0 &&
        line[name_len] == ':') {
      const char* v = line + name_len + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      const char* ve = eol;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      size_t n = (size_t)(ve - v) < cap - 1 ? (size_t)(ve - v) : cap - 1;
      memcpy(val, v, n);
      val[n] = '\0';
      return 0;
    }
    line = eol < end ? eol : NULL;
  }
  return -1;
}

/* Copies the value of `key` in a "k=v; k2=v2" or "k=v&k2=v2" list into `val`, keeping only
 * characters that are safe to echo into HTML; 0 if present. */
static int field(const char* list, const char* key, char sep, char* val, size_t cap) {
  size_t key_len = strlen(key);
  const char* p = list;
  while (p && *p) {
    while (*p == ' ' || *p == sep) p++;
    if (strncmp(p, key, key_len) == 0 && p[key_len] == '=') {
      const char* v = p + key_len + 1;
      size_t n = 0;
      while (*v && *v != sep && n + 1 < cap) {
        char ch = *v++;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '%')
          val[n++] = ch;
      }
      val[n] = '\0';
      return 0;
    }
    p = strchr(p, sep);
  }
  return -1;
}

static int do_register(struct conn* c, const char* body, size_t body_len) {
  char form[1024], name[128] = "", email[128] = "";
  size_t n = body_len < sizeof form - 1 ? body_len : sizeof form - 1;
  memcpy(form, body, n);
  form[n] = '\0';
  if (field(form, "name", '&', name, sizeof name) != 0 || name[0] == '\0')
    return respond_error(c, 400, "Bad Request");
  field(form, "email", '&', email, sizeof email);
  char line[320];
  int len =
      snprintf(line, sizeof line, "%ld %d %s %s\n", (long)time(NULL), (int)getpid(), name, email);
  if (write(log_fd, line, (size_t)len) != len) return respond_error(c, 500, "Internal Error");
  char page[512];
  len = snprintf(page, sizeof page,
                 "<html><head><title>Registered</title></head><body><h1>Welcome, %s</h1>"
                 "<p>Your registration (%s) was received.</p></body></html>\n",
                 name, email[0] ? email : "no e-mail");
  return respond(c, 200, "OK", NULL, page, (size_t)len);
}

static int do_ad(struct conn* c, const char* query) {
  static const char* const banners[3] = {"Fast disks for every guest",
                                         "Virtual networks without the wires",
                                         "Snapshots before breakfast"};
  char n_text[16] = "";
  if (!query || field(query, "banner", '&', n_text, sizeof n_text) != 0)
    return respond_error(c, 400, "Bad Request");
  char* end;
  long n = strtol(n_text, &end, 10);
  if (end == n_text || *end != '\0' || n < 0 || n > 2) return respond_error(c, 404, "Not Found");
  char page[768], cookie[32];
  int len = snprintf(page, sizeof page,
                     "<html><body><div class=\"banner\" id=\"banner%ld\"><a href=\"/ad?banner=%ld"
                     "&amp;click=1\"><img src=\"/static/class0_%ld\" alt=\"banner %ld\"/></a>"
                     "<h2>%s</h2><p>Banner %ld of 3 in the rotation, served by worker %d. "
                     "Ask your provider about it today.</p></div></body></html>\n",
                     n, n, n, n, banners[n], n + 1, (int)getpid());
  snprintf(cookie, sizeof cookie, "ad=%ld; Path=/", n);
  return respond(c, 200, "OK", cookie, page, (size_t)len);
}

static int do_cookie(struct conn* c, const char* cookies) {
  char user[64] = "anonymous";
  if (cookies) field(cookies, "user", ';', user, sizeof user);
  char page[768], cookie[96];
  int len = snprintf(page, sizeof page,
                     "<html><head><title>Hello</title></head><body><p>Welcome back, %s.</p>"
                     "<p>This is visit %lu to worker %d.</p></body></html>\n",
                     user, ++served, (int)getpid());
  snprintf(cookie, sizeof cookie, "visit=%lu; Path=/; Max-Age=3600", served);
  return respond(c, 200, "OK", cookie, page, (size_t)len);
}

static int do_cgi(struct conn* c) {
  char stamp[64], page[768];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
  unsigned long sum = 0; /* a little computation, as a CGI script would do */
  for (unsigned long i = 1; i <= 1000; ++i) sum += (i * (unsigned long)now.tv_nsec) % 97;
  int len =
      snprintf(page, sizeof page,
               "<html><head><title>Generated page</title></head><body><h1>Generated at %s.%09ld"
               " UTC</h1><p>Request %lu of worker %d; checksum %lu.</p></body></html>\n",
               stamp, now.tv_nsec, ++served, (int)getpid(), sum);
  return respond(c, 200, "OK", NULL, page, (size_t)len);
}

/* Handles the requests complete in c->in; 0 if more input is needed or all are answered. */
static int handle_input(struct conn* c) {
  while (!c->closing) {
    char* end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) {
      if (c->in_len >= MAX_HEAD) {
        c->closing = 1;
        return respond_error(c, 400, "Bad Request");
      }
      return 0;
    }
    size_t head_len = (size_t)(end - c->in) + 4;
    char method[8], target[1024], version[16];
    char* line_end = memchr(c->in, '\r', head_len);
    size_t line_len = (size_t)(line_end - c->in);
    char line[1100];
    if (line_len >= sizeof line) line_len = sizeof line - 1;
    memcpy(line, c->in, line_len);
    line[line_len] = '\0';
    char extra;
    if (sscanf(line, "%7s %1023s %15s %c", method, target, version, &extra) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0 || target[0] != '/') {
      c->closing = 1;
      return respond_error(c, 400, "Bad Request");
    }
    char value[1024];
    size_t body_len = 0;
    if (header(c->in, end + 2, "Transfer-Encoding", value, sizeof value) == 0) {
      c->closing = 1;
      return respond_error(c, 501, "Not Implemented");
    }
    if (header(c->in, end + 2, "Content-Length", value, sizeof value) == 0) {
      char* num_end;
      unsigned long n = strtoul(value, &num_end, 10);
      if (num_end == value || *num_end != '\0' || n > MAX_BODY) {
        c->closing = 1;
        return respond_error(c, 400, "Bad Request");
      }
      body_len = n;
    }
    if (c->in_len < head_len + body_len) return 0;
    int keep = strcmp(version, "HTTP/1.1") == 0;
    if (header(c->in, end + 2, "Connection", value, sizeof value) == 0)
      keep = strcasecmp(value, "close") == 0 ? 0 : strcasecmp(value, "keep-alive") == 0 ? 1 : keep;
    c->closing = !keep;

    char* query = strchr(target, '?');
    if (query) *query++ = '\0';
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    int rc;
    if (strcmp(target, "/register") == 0)
      rc = post ? do_register(c, c->in + head_len, body_len) : respond_error(c, 405, "Not Allowed");
    else if (strcmp(target, "/ad") == 0)
      rc = get ? do_ad(c, query) : respond_error(c, 405, "Not Allowed");
    else if (strcmp(target, "/cookie") == 0)
      rc = get ? do_cookie(
                     c, header(c->in, end + 2, "Cookie", value, sizeof value) == 0 ? value : NULL)
               : respond_error(c, 405, "Not Allowed");
    else if (strcmp(target, "/cgi-bin/page") == 0)
      rc = get ? do_cgi(c) : respond_error(c, 405, "Not Allowed");
    else
      rc = respond_error(c, 404, "Not Found");
    if (rc != 0) return -1;
    memmove(c->in, c->in + head_len + body_len, c->in_len - head_len - body_len);
    c->in_len -= head_len + body_len;
  }
  return 0;
}

static void conn_close(struct conn* c) {
  close(c->fd);
  free(c->in);
  free(c->out);
  memset(c, 0, sizeof *c);
  c->fd = -1;
}

/* Reads and answers what the connection has; -1 when it is to be closed. */
static int conn_readable(struct conn* c) {
  for (;;) {
    size_t room = MAX_HEAD + MAX_BODY - c->in_len;
    if (room == 0) return -1; /* a peer that sends without reading our answers */
    ssize_t got = read(c->fd, c->in + c->in_len, room);
    if (got == 0) return -1;
    if (got < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    c->in_len += (size_t)got;
    if (handle_input(c) != 0) return -1;
  }
}

static int conn_writable(struct conn* c) {
  while (c->out_sent < c->out_len) {
    ssize_t put = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
    if (put < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    c->out_sent += (size_t)put;
  }
  c->out_len = c->out_sent = 0;
  return c->closing ? -1 : 0;
}

static void worker(int listener) {
  static struct conn conns[MAX_CONNS];
  static struct pollfd fds[MAX_CONNS + 1];
  for (int i = 0; i < MAX_CONNS; ++i) conns[i].fd = -1;
  /* SIGTERM is only let in while waiting in ppoll(), so it cannot slip in between the check of
   * `stopping` and the wait. */
  sigset_t term_set, waiting;
  sigemptyset(&term_set);
  sigaddset(&term_set, SIGTERM);
  sigaddset(&term_set, SIGINT);
  sigprocmask(SIG_BLOCK, &term_set, &waiting);
  sigdelset(&waiting, SIGTERM);
  sigdelset(&waiting, SIGINT);
  int open = 0;
  while (!stopping) {
    int n = 0;
    if (open < MAX_CONNS) fds[n++] = (struct pollfd){listener, POLLIN, 0};
    int first_conn = n;
    int index[MAX_CONNS];
    for (int i = 0; i < MAX_CONNS; ++i)
      if (conns[i].fd >= 0) {
        index[n - first_conn] = i;
        fds[n++] = (struct pollfd){conns[i].fd,
                                   conns[i].out_len > conns[i].out_sent ? POLLOUT : POLLIN, 0};
      }
    if (ppoll(fds, (nfds_t)n, NULL, &waiting) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    for (int k = first_conn; k < n; ++k) {
      struct conn* c = &conns[index[k - first_conn]];
      if (!fds[k].revents) continue;
      int rc = 0;
      if (fds[k].revents & POLLOUT) rc = conn_writable(c);
      if (rc == 0 && (fds[k].revents & (POLLIN | POLLHUP | POLLERR))) rc = conn_readable(c);
      if (rc == 0 && c->out_len > c->out_sent) rc = conn_writable(c);
      if (rc != 0) {
        conn_close(c);
        --open;
      }
    }
    if (first_conn == 1 && (fds[0].revents & POLLIN)) {
      /* Another worker may have taken it: accept4 then fails with EAGAIN. */
      int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        for (int i = 0; i < MAX_CONNS; ++i)
          if (conns[i].fd < 0) {
            conns[i].fd = fd;
            conns[i].in = malloc(MAX_HEAD + MAX_BODY);
            if (!conns[i].in) die("malloc");
            ++open;
            break;
          }
      }
    }
  }
  exit(0);
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: web-dynamic PORT DIR [WORKERS]\n");
    return 2;
  }
  char* end;
  long port = strtol(argv[1], &end, 10);
  if (*end || port < 1 || port > 65535) {
    fprintf(stderr, "web-dynamic: bad port %s\n", argv[1]);
    return 2;
  }
  long workers = argc == 4 ? strtol(argv[3], &end, 10) : sysconf(_SC_NPROCESSORS_ONLN);
  if ((argc == 4 && *end) || workers < 1 || workers > 256) {
    fprintf(stderr, "web-dynamic: bad worker count %s\n", argc == 4 ? argv[3] : "(nproc)");
    return 2;
  }
  char log_path[4096];
  snprintf(log_path, sizeof log_path, "%s/registrations.log", argv[2]);
  log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) die(log_path);

  signal(SIGPIPE, SIG_IGN);
  struct sigaction term = {0};
  term.sa_handler = on_term; /* no SA_RESTART: poll() returns and the loop sees `stopping` */
  sigaction(SIGTERM, &term, NULL);
  sigaction(SIGINT, &term, NULL);
  /* A session of its own, as nginx's daemon: the shell that started it (a guest console) may
   * end and hang up its group. web-serve.sh stops it through its pid file. */
  setsid();

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) != 0) die("bind");
  if (listen(listener, 1024) != 0) die("listen");

  /* The parent sleeps in sigsuspend() until a signal: SIGTERM or a worker's end. Blocked until
   * then, so that neither can come between a check and the sleep. */
  struct sigaction child = {0};
  child.sa_handler = on_child;
  sigaction(SIGCHLD, &child, NULL);
  sigset_t wake, asleep;
  sigemptyset(&wake);
  sigaddset(&wake, SIGTERM);
  sigaddset(&wake, SIGINT);
  sigaddset(&wake, SIGCHLD);
  sigprocmask(SIG_BLOCK, &wake, &asleep);

  pid_t parent = getpid();
  pid_t pids[256];
  for (long i = 0; i < workers; ++i) {
    pids[i] = fork();
    if (pids[i] < 0) die("fork");
    if (pids[i] == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) exit(0);
      worker(listener);
    }
  }
  long alive = workers;
  int failed = 0, told = 0;
  for (;;) {
    int status;
    while (waitpid(-1, &status, WNOHANG) > 0) {
      --alive;
      if (!stopping) failed = 1;
    }
    if ((stopping || failed) && !told) {
      for (long i = 0; i < workers; ++i) kill(pids[i], SIGTERM);
      told = 1;
    }
    if (alive == 0) break;
    sigsuspend(&asleep);
  }
  if (failed) fprintf(stderr, "web-dynamic: a worker died; stopping\n");
  return failed ? 1 : 0;
}
