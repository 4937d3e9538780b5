/*
 * The event-loop floor for the probe: bench/connect.c's loop done the way libuv (so Node) does it,
 * with nothing else: non-blocking socket, connect() (EINPROGRESS), epoll_ctl ADD, epoll_wait,
 * getsockopt(SO_ERROR), epoll_ctl DEL; one at a time, every connection kept. Same output as
 * bench/connect.c. What no Node client can beat on the same path.
 *
 *   connect-epoll HOST PORT COUNT        (gcc -O2 -o connect-epoll bench/connect-epoll.c)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: connect-epoll HOST PORT COUNT\n"); return 2; }
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) { fprintf(stderr, "bad IPv4 address %s\n", argv[1]); return 2; }
  long count = atol(argv[3]);
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) { limit.rlim_cur = limit.rlim_max; setrlimit(RLIMIT_NOFILE, &limit); }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  long established = 0;
  int error = 0;
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  double started = now_ms();
  while (established < count) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { error = errno; break; }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS) { error = errno; close(fd); break; }
    struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    struct epoll_event got;
    while (epoll_wait(ep, &got, 1, -1) < 0 && errno == EINTR) {}
    int soerr = 0;
    socklen_t len = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, &ev);
    if (soerr != 0) { error = soerr; close(fd); break; }
    established++;
  }
  double elapsed = now_ms() - started;
  getrusage(RUSAGE_SELF, &ru1);
  double n = established > 0 ? established : 1;
  double user_us = ((ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1e6 + (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec)) / n;
  double sys_us = ((ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6 + (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec)) / n;
  printf("{\"established\":%ld,\"ms\":%.3f,\"ratePerSec\":%.1f,\"userUsPerConn\":%.2f,\"sysUsPerConn\":%.2f,\"error\":\"%s\"}\n",
         established, elapsed, elapsed > 0 ? established * 1000.0 / elapsed : 0.0, user_us, sys_us, error ? strerror(error) : "");
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {}
  return 0;
}
