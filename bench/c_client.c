/* The yardstick for fcgi-bench's own overhead: the plainest blocking C
 * FastCGI client, one request at a time on one socket, either a new
 * connection per request or one keep-alive connection. It sends an empty
 * responder request and reads the answer to its END_REQUEST.
 * Usage: c_client SOCKET_PATH SECONDS [keep-conn] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t header(unsigned char* p, int type, int length) {
  const unsigned char h[8] = {1, (unsigned char)type, 0, 1, (unsigned char)(length >> 8), (unsigned char)length, 0, 0};
  memcpy(p, h, sizeof h);
  return sizeof h;
}

static int read_all(int fd, unsigned char* p, size_t n) {
  while (n > 0) {
    ssize_t got = read(fd, p, n);
    if (got <= 0) return -1;
    p += got;
    n -= (size_t)got;
  }
  return 0;
}

static int connect_to(const char* path) {
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  strncpy(address.sun_path, path, sizeof address.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr*)&address, sizeof address) != 0) {
    perror("connect");
    exit(1);
  }
  return fd;
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "keep-conn") != 0)) {
    fprintf(stderr, "usage: %s SOCKET_PATH SECONDS [keep-conn]\n", argv[0]);
    return 2;
  }
  const int keep = argc == 4;
  unsigned char request[32];
  size_t n = header(request, 1, 8);  /* BEGIN_REQUEST: responder, keep-conn or not */
  const unsigned char begin[8] = {0, 1, (unsigned char)keep, 0, 0, 0, 0, 0};
  memcpy(request + n, begin, sizeof begin);
  n += sizeof begin;
  n += header(request + n, 4, 0);  /* the end of PARAMS */
  n += header(request + n, 5, 0);  /* the end of STDIN */
  const double seconds = atof(argv[2]);
  const double end = now() + seconds;
  long done = 0;
  int fd = keep ? connect_to(argv[1]) : -1;
  static unsigned char content[65536 + 256];
  while (now() < end) {
    if (!keep) fd = connect_to(argv[1]);
    if (write(fd, request, n) != (ssize_t)n) {
      perror("write");
      return 1;
    }
    unsigned char h[8];
    do {  /* records up to END_REQUEST */
      if (read_all(fd, h, sizeof h) < 0 || read_all(fd, content, ((size_t)h[4] << 8 | h[5]) + h[6]) < 0) {
        fprintf(stderr, "the server closed the connection early\n");
        return 1;
      }
    } while (h[1] != 3);
    if (!keep) close(fd);
    ++done;
  }
  printf("%ld requests in %.0f s, %.1f/s\n", done, seconds, (double)done / seconds);
  return 0;
}
