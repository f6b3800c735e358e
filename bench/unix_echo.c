/* The reference for the streamed echo scenario: BYTES through a plain unix
 * socket to an echo thread and back, written and read at the same time (as
 * fcgi-bench does through fcgi-host). Prints the seconds and MiB/s each way.
 * Usage: unix_echo [MIB]   (1024 by default) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { chunk = 64 * 1024 };
static long long total;

static int write_all(int fd, const char* bytes, size_t size) {
  while (size > 0) {
    ssize_t written = write(fd, bytes, size);
    if (written <= 0) return -1;
    bytes += written;
    size -= (size_t)written;
  }
  return 0;
}

static void* echo(void* arg) {
  int fd = *(int*)arg;
  static char buffer[chunk];
  ssize_t got;
  while ((got = read(fd, buffer, sizeof buffer)) > 0)
    if (write_all(fd, buffer, (size_t)got) < 0) break;
  close(fd);
  return NULL;
}

static void* send_body(void* arg) {
  int fd = *(int*)arg;
  static char block[chunk];
  for (long long sent = 0; sent < total; sent += chunk)
    if (write_all(fd, block, chunk) < 0) break;
  shutdown(fd, SHUT_WR);
  return NULL;
}

int main(int argc, char** argv) {
  total = (argc > 1 ? atoll(argv[1]) : 1024) * 1024 * 1024;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 1;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pthread_t echo_thread, send_thread;
  pthread_create(&echo_thread, NULL, echo, &fds[1]);
  pthread_create(&send_thread, NULL, send_body, &fds[0]);
  static char buffer[chunk];
  long long received = 0;
  ssize_t got;
  while (received < total && (got = read(fds[0], buffer, sizeof buffer)) > 0) received += got;
  clock_gettime(CLOCK_MONOTONIC, &end);
  pthread_join(send_thread, NULL);
  close(fds[0]);
  pthread_join(echo_thread, NULL);
  const double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
  printf("%.3f s, %.1f MiB/s each way\n", seconds, (double)received / 1048576.0 / seconds);
  return received == total ? 0 : 1;
}
