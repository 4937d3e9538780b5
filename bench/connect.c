/*
 * The baseline for the probe: a minimal sequential client. Blocking connect(), one at a time, each
 * connection kept open, stop at COUNT or at the first failure. Prints one JSON line, then holds the
 * connections until its standard input closes.
 *
 *   connect HOST PORT COUNT
 *
 * Compiled by bench/run.js: gcc -O2 -o connect bench/connect.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Resident set size in kB, from /proc/self/status. */
static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtol(line + 6, NULL, 10);
      break;
    }
  }
  fclose(f);
  return kb;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: connect HOST PORT COUNT\n");
    return 2;
  }
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    fprintf(stderr, "connect: bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  long count = atol(argv[3]);

  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }

  long rss_before = rss_kb();
  long established = 0;
  int error = 0;
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  double started = now_ms();
  while (established < count) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      error = errno;
      break;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
      error = errno;
      close(fd);
      break;
    }
    established++;
  }
  double elapsed = now_ms() - started;
  getrusage(RUSAGE_SELF, &ru1);
  double n = established > 0 ? established : 1;
  double user_us = ((ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1e6 + (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec)) / n;
  double sys_us = ((ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6 + (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec)) / n;
  long rss_after = rss_kb();
  printf("{\"established\":%ld,\"ms\":%.3f,\"ratePerSec\":%.1f,\"rssBeforeKb\":%ld,\"rssAfterKb\":%ld,\"userUsPerConn\":%.2f,\"sysUsPerConn\":%.2f,\"error\":\"%s\"}\n",
         established, elapsed, elapsed > 0 ? established * 1000.0 / elapsed : 0.0, rss_before, rss_after, user_us, sys_us,
         error ? strerror(error) : "");
  fflush(stdout);

  /* Hold until stdin closes; exiting closes every connection. */
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {
  }
  return 0;
}
