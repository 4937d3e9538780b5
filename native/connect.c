/*
 * The probe's native connect loop (engine 'native', see src/probe/native.ts): the same rules as
 * the Node engine in src/probe/probe.ts, run on a thread of its own with blocking connect(), the
 * way the minimal C client (bench/connect.c) does it: per attempt socket(), one setsockopt (how long
 * connect() may wait) and connect(), which on a fast path returns with the handshake done. A Node
 * client cannot get there (bench/PERFORMANCE.md: libuv's non-blocking connect + epoll costs more
 * kernel time than the whole blocking loop).
 *
 * Rules (as the Node engine):
 * - attempt k goes to pair (k-1) mod pairs; every established connection is held (its fd kept
 *   here) until close();
 * - the run stops at the first failure, at `max` connections held, or when cancel() is called (a
 *   connect in flight is woken by shutdown());
 * - a pair with a source address binds to a local port the probe names, walking `localPorts`;
 *   a port the kernel refuses (bind EADDRINUSE, connect EADDRNOTAVAIL) is skipped, no SYN sent;
 *   the run fails when the pair's ports run out or after MAX_SKIPS_IN_A_ROW refusals in a row;
 * - an attempt not answered within timeoutMs fails as ETIMEDOUT (the socket is closed, so the
 *   kernel stops retransmitting the SYN).
 *
 * The result says what happened in numbers (errno, which syscall); the words are the caller's.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_SKIPS_IN_A_ROW 4096
/* How long connect() itself waits for the handshake; the rest of the timeout is poll()'s. */
#define FIRST_WAIT_MS 100

enum stop { RUNNING = 0, STOP_MAX, STOP_FAILURE, STOP_ABORTED };
/* Why the run failed: an errno from a syscall, or the probe's own local-port rules. */
enum reason { R_ERRNO = 0, R_PORTS_EXHAUSTED, R_BUSY_IN_A_ROW };
enum syscall_id { SC_NONE = 0, SC_SOCKET, SC_BIND, SC_CONNECT, SC_TIMEOUT };

typedef struct {
  struct sockaddr_storage src;
  socklen_t srclen;
  int has_src;
  struct sockaddr_storage dst;
  socklen_t dstlen;
  uint32_t next; /* next position in the local port list */
  double attempts, established, skipped;
} pair_t;

typedef struct {
  pair_t *pairs;
  uint32_t npairs;
  uint16_t *ports;
  uint32_t nports;
  uint32_t max;
  int timeout_ms;

  int *fds;
  uint32_t nfds, cap;

  _Atomic uint32_t attempts;
  _Atomic uint32_t held;
  _Atomic int cancel;
  pthread_mutex_t lock;
  int inflight; /* the socket whose connect() is in progress, under lock */

  int running;
  napi_async_work work;
  napi_deferred deferred;
  napi_ref self;

  /* outcome */
  int stop;
  int reason;
  int err;
  int syscall;
  uint32_t fail_attempt, fail_pair;
  double started_wall_ms, elapsed_ms;
  char local_addr[INET6_ADDRSTRLEN];
  int local_port;
  double skipped;
  uint32_t busy_in_a_row;
  int last_busy_err;
  double started_run_ms, duration_ms;
} engine_t;

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port) {
  if (ss->ss_family == AF_INET) ((struct sockaddr_in *)ss)->sin_port = htons(port);
  else ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/*
 * After a refusal the kernel has let go of the socket's source address (the port stays): the
 * address it chose is the one it chooses for the destination, asked of a UDP socket.
 */
static void source_for(engine_t *e, const pair_t *pair) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  e->local_addr[0] = 0;
  int u = socket(pair->dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (u < 0) return;
  if (connect(u, (const struct sockaddr *)&pair->dst, pair->dstlen) == 0 && getsockname(u, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, e->local_addr, sizeof e->local_addr);
    else inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, e->local_addr, sizeof e->local_addr);
  }
  close(u);
}

/* The local address and port of fd (port 0: none bound, e.g. after a refusal). */
static void record_local(engine_t *e, int fd, const pair_t *pair) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  e->local_addr[0] = 0;
  e->local_port = 0;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    e->local_port = ntohs(a->sin_port);
    inet_ntop(AF_INET, &a->sin_addr, e->local_addr, sizeof e->local_addr);
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    e->local_port = ntohs(a->sin6_port);
    inet_ntop(AF_INET6, &a->sin6_addr, e->local_addr, sizeof e->local_addr);
  }
  if (e->local_port == 0) { e->local_addr[0] = 0; return; }
  if (strcmp(e->local_addr, "0.0.0.0") == 0 || strcmp(e->local_addr, "::") == 0) source_for(e, pair);
}

static int keep(engine_t *e, int fd) {
  if (e->nfds == e->cap) {
    uint32_t cap = e->cap ? e->cap * 2 : 1024;
    int *fds = realloc(e->fds, cap * sizeof *fds);
    if (!fds) return -1;
    e->fds = fds;
    e->cap = cap;
  }
  e->fds[e->nfds++] = fd;
  return 0;
}

static void set_inflight(engine_t *e, int fd) {
  pthread_mutex_lock(&e->lock);
  e->inflight = fd;
  pthread_mutex_unlock(&e->lock);
}

/*
 * Waits for a connect() that returned before the handshake ended (the timeout of SO_SNDTIMEO
 * expired: EINPROGRESS; or a signal: EINTR) until timeout_ms after `started`. Returns 0 when
 * connected, an errno, or ETIMEDOUT with *timed_out set.
 */
static int finish_connect(engine_t *e, int fd, double started, int *timed_out) {
  for (;;) {
    double left = e->timeout_ms - (mono_ms() - started);
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int n = left > 0 ? poll(&p, 1, (int)(left + 0.999)) : 0;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) {
      if (mono_ms() - started < e->timeout_ms) continue;
      *timed_out = 1;
      return ETIMEDOUT;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
  }
}

/* Ends the run with a failure of the attempt started at `started` (monotonic ms). */
static void fail(engine_t *e, int reason, int err, int syscall, uint32_t pair, double started) {
  double elapsed = mono_ms() - started;
  e->stop = STOP_FAILURE;
  e->reason = reason;
  e->err = err;
  e->syscall = syscall;
  e->fail_attempt = atomic_load_explicit(&e->attempts, memory_order_relaxed);
  e->fail_pair = pair;
  /* The wall-clock start is read only now: nothing per attempt but the monotonic clock. */
  e->started_wall_ms = wall_ms() - elapsed;
  e->elapsed_ms = elapsed;
}

/*
 * Grows this process's file descriptor table once, to room for `max` more, before the loop. In a
 * process with several threads (Node always has) every time the kernel doubles the table it
 * waits for an RCU grace period: growing it 64 → 8192 one doubling at a time cost ~70 ms in the
 * first 5,000 connections (measured: bench/PERFORMANCE.md). Capped at the open-files limit.
 */
static void grow_fd_table(uint32_t max) {
  struct rlimit lim;
  int base = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (base < 0) return;
  long target = (long)base + (long)max + 64;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && target > (long)lim.rlim_cur - 1) target = (long)lim.rlim_cur - 1;
  if (target > base) {
    int hi = fcntl(base, F_DUPFD_CLOEXEC, (int)target);
    if (hi >= 0) close(hi);
  }
  close(base);
}

static void run_loop(engine_t *e) {
  /*
   * connect() waits at most FIRST_WAIT_MS in the kernel (SO_SNDTIMEO), then the rest of the
   * timeout in poll(). The kernel's wait runs on the coarse timer wheel (up to 64 ms late at 4 s)
   * and starts after the SYN left, so a 4 s timeout would race the SYN retransmitted at 4 s and
   * often lose; poll's deadline is exact and counts from before the SYN, like the Node engine's
   * timer: a 4 s timeout sends 4 copies (0, 1, 2, 3 s) with both engines.
   */
  int first_ms = e->timeout_ms < FIRST_WAIT_MS ? e->timeout_ms : FIRST_WAIT_MS;
  struct timeval tv = { .tv_sec = first_ms / 1000, .tv_usec = (first_ms % 1000) * 1000 };
  const int one = 1;
  e->started_run_ms = mono_ms();
  grow_fd_table(e->max);
  for (;;) {
    if (e->nfds >= e->max) { e->stop = STOP_MAX; break; }
    if (atomic_load(&e->cancel)) { e->stop = STOP_ABORTED; break; }
    uint32_t attempt = atomic_load_explicit(&e->attempts, memory_order_relaxed);
    uint32_t pi = attempt % e->npairs;
    pair_t *pair = &e->pairs[pi];
    atomic_store_explicit(&e->attempts, attempt + 1, memory_order_relaxed);
    pair->attempts++;
    e->busy_in_a_row = 0;
  again:;
    double started = mono_ms();
    int fd = socket(pair->dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { fail(e, R_ERRNO, errno, SC_SOCKET, pi, started); break; }
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (pair->has_src) {
      if (pair->next >= e->nports) {
        close(fd);
        fail(e, R_PORTS_EXHAUSTED, EADDRNOTAVAIL, SC_NONE, pi, started);
        break;
      }
      uint16_t port = e->ports[pair->next++];
      set_port(&pair->src, port);
      /* As libuv does before bind(): a port left in TIME_WAIT by another 4-tuple can be named. */
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (bind(fd, (struct sockaddr *)&pair->src, pair->srclen) != 0) {
        int err = errno;
        close(fd);
        if (err == EADDRINUSE) { e->last_busy_err = err; goto busy; }
        fail(e, R_ERRNO, err, SC_BIND, pi, started);
        break;
      }
    }
    set_inflight(e, fd);
    if (atomic_load(&e->cancel)) {
      set_inflight(e, -1);
      close(fd);
      e->stop = STOP_ABORTED;
      break;
    }
    int err = 0, timed_out = 0;
    if (connect(fd, (struct sockaddr *)&pair->dst, pair->dstlen) != 0) {
      err = errno;
      if (err == EINPROGRESS || err == EINTR) err = finish_connect(e, fd, started, &timed_out);
    }
    set_inflight(e, -1);
    if (err == 0) {
      if (keep(e, fd) != 0) {
        close(fd);
        fail(e, R_ERRNO, ENOMEM, SC_CONNECT, pi, started);
        break;
      }
      pair->established++;
      atomic_store_explicit(&e->held, e->nfds, memory_order_relaxed);
      continue;
    }
    if (atomic_load(&e->cancel)) {
      /* Woken by cancel(): the attempt in flight still counts (its SYN may have left). */
      close(fd);
      e->stop = STOP_ABORTED;
      break;
    }
    if (pair->has_src && err == EADDRNOTAVAIL) {
      close(fd);
      e->last_busy_err = err;
      goto busy;
    }
    record_local(e, fd, pair);
    close(fd);
    fail(e, R_ERRNO, err, timed_out ? SC_TIMEOUT : SC_CONNECT, pi, started);
    break;
  busy:
    /* A local port named by the probe that the kernel refused: nothing was sent. */
    e->skipped++;
    pair->skipped++;
    if (++e->busy_in_a_row >= MAX_SKIPS_IN_A_ROW) {
      fail(e, R_BUSY_IN_A_ROW, e->last_busy_err, SC_NONE, pi, started);
      break;
    }
    goto again;
  }
  e->duration_ms = mono_ms() - e->started_run_ms;
}

/* ---- Node-API glue ---- */

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "synprobe native: " #call " failed"); return NULL; } } while (0)

static void close_all(engine_t *e) {
  for (uint32_t i = 0; i < e->nfds; i++) close(e->fds[i]);
  e->nfds = 0;
  atomic_store(&e->held, 0);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  engine_t *e = data;
  close_all(e);
  pthread_mutex_destroy(&e->lock);
  free(e->fds);
  free(e->pairs);
  free(e->ports);
  free(e);
}

static engine_t *unwrap(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, NULL, "synprobe native: not an engine");
    return NULL;
  }
  return data;
}

/* The engine given as a function's first argument (or NULL, with a JS exception pending). */
static engine_t *engine_arg(napi_env env, napi_callback_info info, napi_value *first) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "synprobe native: an engine is required");
    return NULL;
  }
  if (first) *first = argv[0];
  return unwrap(env, argv[0]);
}

static int get_prop(napi_env env, napi_value obj, const char *name, napi_value *out) {
  return napi_get_named_property(env, obj, name, out) == napi_ok;
}

static int parse_addr(const char *text, uint16_t port, struct sockaddr_storage *ss, socklen_t *len) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(text, NULL, &hints, &res) != 0 || !res) return -1;
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  set_port(ss, port);
  return 0;
}

/*
 * create({ host, pairs: [{ source: string|null, port }], localPorts: Uint16Array|null, max,
 *          timeoutMs }) → engine
 */
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) { napi_throw_type_error(env, NULL, "create(options)"); return NULL; }
  napi_value o = argv[0];
  char host[128];
  size_t hostlen = 0;
  if (!get_prop(env, o, "host", &v) || napi_get_value_string_utf8(env, v, host, sizeof host, &hostlen) != napi_ok) {
    napi_throw_type_error(env, NULL, "host must be a string");
    return NULL;
  }
  uint32_t max = 0, npairs = 0;
  int32_t timeout_ms = 0;
  if (!get_prop(env, o, "max", &v) || napi_get_value_uint32(env, v, &max) != napi_ok
      || !get_prop(env, o, "timeoutMs", &v) || napi_get_value_int32(env, v, &timeout_ms) != napi_ok || timeout_ms <= 0) {
    napi_throw_type_error(env, NULL, "max and timeoutMs must be positive integers");
    return NULL;
  }
  napi_value pairs;
  if (!get_prop(env, o, "pairs", &pairs) || napi_get_array_length(env, pairs, &npairs) != napi_ok || npairs == 0) {
    napi_throw_type_error(env, NULL, "pairs must be a non-empty array");
    return NULL;
  }
  engine_t *e = calloc(1, sizeof *e);
  if (!e) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  e->pairs = calloc(npairs, sizeof *e->pairs);
  e->npairs = npairs;
  e->max = max;
  e->timeout_ms = timeout_ms;
  e->inflight = -1;
  pthread_mutex_init(&e->lock, NULL);
  const char *bad = e->pairs ? NULL : "out of memory";
  int needs_ports = 0;
  for (uint32_t i = 0; i < npairs && !bad; i++) {
    napi_value p, s;
    napi_valuetype t;
    uint32_t port = 0;
    if (napi_get_element(env, pairs, i, &p) != napi_ok || !get_prop(env, p, "port", &v)
        || napi_get_value_uint32(env, v, &port) != napi_ok || port < 1 || port > 65535) { bad = "pair port must be 1-65535"; break; }
    if (parse_addr(host, (uint16_t)port, &e->pairs[i].dst, &e->pairs[i].dstlen) != 0) { bad = "host must be an IP address"; break; }
    if (!get_prop(env, p, "source", &s) || napi_typeof(env, s, &t) != napi_ok) { bad = "pair source missing"; break; }
    if (t == napi_string) {
      char src[128];
      size_t n = 0;
      napi_get_value_string_utf8(env, s, src, sizeof src, &n);
      if (parse_addr(src, 0, &e->pairs[i].src, &e->pairs[i].srclen) != 0) { bad = "source must be an IP address"; break; }
      if (e->pairs[i].src.ss_family != e->pairs[i].dst.ss_family) { bad = "source and host are of different families"; break; }
      e->pairs[i].has_src = 1;
      needs_ports = 1;
    }
  }
  if (!bad && needs_ports) {
    napi_value lp;
    bool is_ta = false;
    napi_typedarray_type tt;
    size_t n = 0;
    void *data = NULL;
    if (!get_prop(env, o, "localPorts", &lp) || napi_is_typedarray(env, lp, &is_ta) != napi_ok || !is_ta
        || napi_get_typedarray_info(env, lp, &tt, &n, &data, NULL, NULL) != napi_ok || tt != napi_uint16_array) {
      bad = "localPorts must be a Uint16Array when a pair has a source";
    } else {
      e->ports = malloc((n ? n : 1) * sizeof *e->ports);
      if (!e->ports) bad = "out of memory";
      else { memcpy(e->ports, data, n * sizeof *e->ports); e->nports = (uint32_t)n; }
    }
  }
  napi_value ext;
  if (napi_create_external(env, e, finalize, NULL, &ext) != napi_ok) {
    finalize(env, e, NULL);
    napi_throw_error(env, NULL, "synprobe native: cannot create engine");
    return NULL;
  }
  if (bad) { napi_throw_type_error(env, NULL, bad); return NULL; }
  return ext;
}

static void execute(napi_env env, void *data) {
  (void)env;
  run_loop(data);
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static void set_num(napi_env env, napi_value o, const char *name, double d) {
  napi_set_named_property(env, o, name, num(env, d));
}

static const char *syscall_name(int s) {
  switch (s) {
    case SC_SOCKET: return "socket";
    case SC_BIND: return "bind";
    case SC_CONNECT: return "connect";
    case SC_TIMEOUT: return "timeout";
    default: return "";
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  engine_t *e = data;
  e->running = 0;
  napi_value r, pa, pe, ps, s;
  napi_create_object(env, &r);
  static const char *stops[] = { "running", "max", "failure", "aborted" };
  static const char *reasons[] = { "errno", "ports-exhausted", "busy-in-a-row" };
  napi_create_string_utf8(env, stops[e->stop], NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, r, "stop", s);
  set_num(env, r, "attempts", atomic_load(&e->attempts));
  set_num(env, r, "established", e->nfds);
  set_num(env, r, "skipped", e->skipped);
  set_num(env, r, "durationMs", e->duration_ms);
  napi_create_array_with_length(env, e->npairs, &pa);
  napi_create_array_with_length(env, e->npairs, &pe);
  napi_create_array_with_length(env, e->npairs, &ps);
  for (uint32_t i = 0; i < e->npairs; i++) {
    napi_set_element(env, pa, i, num(env, e->pairs[i].attempts));
    napi_set_element(env, pe, i, num(env, e->pairs[i].established));
    napi_set_element(env, ps, i, num(env, e->pairs[i].skipped));
  }
  napi_set_named_property(env, r, "pairAttempts", pa);
  napi_set_named_property(env, r, "pairEstablished", pe);
  napi_set_named_property(env, r, "pairSkipped", ps);
  if (e->stop == STOP_FAILURE) {
    napi_value f;
    napi_create_object(env, &f);
    napi_create_string_utf8(env, reasons[e->reason], NAPI_AUTO_LENGTH, &s);
    napi_set_named_property(env, f, "reason", s);
    set_num(env, f, "errno", e->err);
    napi_create_string_utf8(env, syscall_name(e->syscall), NAPI_AUTO_LENGTH, &s);
    napi_set_named_property(env, f, "syscall", s);
    set_num(env, f, "attempt", e->fail_attempt);
    set_num(env, f, "pair", e->fail_pair);
    set_num(env, f, "startedWallMs", e->started_wall_ms);
    set_num(env, f, "elapsedMs", e->elapsed_ms);
    if (e->local_port > 0) {
      napi_create_string_utf8(env, e->local_addr, NAPI_AUTO_LENGTH, &s);
      napi_set_named_property(env, f, "localAddress", s);
      set_num(env, f, "localPort", e->local_port);
    }
    napi_set_named_property(env, r, "failure", f);
  }
  if (status == napi_ok) napi_resolve_deferred(env, e->deferred, r);
  else {
    napi_value msg, err;
    napi_create_string_utf8(env, "synprobe native: the connect loop did not run", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, e->deferred, err);
  }
  napi_delete_async_work(env, e->work);
  napi_delete_reference(env, e->self);
}

/* run(engine) → Promise<result>: the loop on a thread of the pool until it stops. */
static napi_value run(napi_env env, napi_callback_info info) {
  napi_value self, promise, name;
  engine_t *e = engine_arg(env, info, &self);
  if (!e) return NULL;
  if (e->running || e->stop != RUNNING) { napi_throw_error(env, NULL, "synprobe native: an engine runs once"); return NULL; }
  CHECK(napi_create_promise(env, &e->deferred, &promise));
  CHECK(napi_create_reference(env, self, 1, &e->self));
  CHECK(napi_create_string_utf8(env, "synprobe.connect", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, execute, complete, e, &e->work));
  CHECK(napi_queue_async_work(env, e->work));
  e->running = 1;
  return promise;
}

/* cancel(engine): stop after the attempt in flight, which is woken now. */
static napi_value cancel(napi_env env, napi_callback_info info) {
  engine_t *e = engine_arg(env, info, NULL);
  if (!e) return NULL;
  atomic_store(&e->cancel, 1);
  pthread_mutex_lock(&e->lock);
  if (e->inflight >= 0) shutdown(e->inflight, SHUT_RDWR);
  pthread_mutex_unlock(&e->lock);
  return NULL;
}

/* progress(engine) → [held, attempts], read while the loop runs. */
static napi_value progress(napi_env env, napi_callback_info info) {
  napi_value arr;
  engine_t *e = engine_arg(env, info, NULL);
  if (!e) return NULL;
  CHECK(napi_create_array_with_length(env, 2, &arr));
  napi_set_element(env, arr, 0, num(env, atomic_load_explicit(&e->held, memory_order_relaxed)));
  napi_set_element(env, arr, 1, num(env, atomic_load_explicit(&e->attempts, memory_order_relaxed)));
  return arr;
}

/* closeAll(engine): closes every held connection (after the run). */
static napi_value close_all_js(napi_env env, napi_callback_info info) {
  engine_t *e = engine_arg(env, info, NULL);
  if (!e) return NULL;
  if (e->running) { napi_throw_error(env, NULL, "synprobe native: closeAll while the loop runs"); return NULL; }
  close_all(e);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "create", NULL, create, NULL, NULL, NULL, napi_default, NULL },
    { "run", NULL, run, NULL, NULL, NULL, napi_default, NULL },
    { "cancel", NULL, cancel, NULL, NULL, NULL, napi_default, NULL },
    { "progress", NULL, progress, NULL, NULL, NULL, napi_default, NULL },
    { "closeAll", NULL, close_all_js, NULL, NULL, NULL, napi_default, NULL },
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
