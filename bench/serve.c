/*
 * A minimal listener for bench/probe-rate.js --server c: accepts and holds connections (epoll),
 * closes one when the peer closes. Prints {"listening":...}; for each line "held" on stdin
 * prints {"held":N}. Exits when stdin closes.
 *
 *   serve PORT        (gcc -O2 -o serve bench/serve.c)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: serve PORT\n"); return 2; }
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) { limit.rlim_cur = limit.rlim_max; setrlimit(RLIMIT_NOFILE, &limit); }
  int lfd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int zero = 0, one = 1;
  setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in6 a; memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6; a.sin6_port = htons((unsigned short)atoi(argv[1])); a.sin6_addr = in6addr_any;
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4096) != 0) { perror("serve"); return 1; }
  int ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.fd = 0; epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  printf("{\"listening\":{\"ports\":[%s],\"bind\":\"::\"}}\n", argv[1]); fflush(stdout);
  long held = 0; char buf[4096]; struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0) { if (errno == EINTR) continue; return 1; }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
          if (c < 0) break;
          struct epoll_event ce = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = c };
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce); held++;
        }
      } else if (fd == 0) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r <= 0) return 0;
        for (ssize_t j = 0; j < r; j++) if (buf[j] == '\n') { printf("{\"held\":%ld}\n", held); fflush(stdout); }
      } else {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EAGAIN)) { close(fd); held--; }
      }
    }
  }
}
