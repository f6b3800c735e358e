/* The yardstick for fcgi-bench's own overhead: the plainest blocking C
 * FastCGI client, one request at a time on one socket, either a new
 * connection per request or one keep-alive connection. It sends the request
 * fcgi-bench sends by default (the same PARAMS, byte for byte) and reads the
 * answer to its END_REQUEST.
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

/* What came from the server and is not taken yet: each read asks for as
 * much as the socket holds, as a careful client does (one read per answer
 * when the server writes it at once). */
static unsigned char input[1 << 17];
static size_t input_start, input_end;

/* Makes `n` bytes available at input + input_start; -1 when the server
 * closed first. */
static int have(int fd, size_t n) {
  if (input_end - input_start >= n) return 0;
  memmove(input, input + input_start, input_end - input_start);
  input_end -= input_start;
  input_start = 0;
  while (input_end < n) {
    ssize_t got = read(fd, input + input_end, sizeof input - input_end);
    if (got <= 0) return -1;
    input_end += (size_t)got;
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

/* fcgi-bench's default PARAMS, in its order; every length is under 128. */
static const char* const params[][2] = {
    {"REQUEST_METHOD", "GET"},       {"SERVER_PROTOCOL", "HTTP/1.1"}, {"GATEWAY_INTERFACE", "CGI/1.1"},
    {"SERVER_SOFTWARE", "fcgi-bench"}, {"REQUEST_URI", "/"},           {"QUERY_STRING", ""},
    {"REMOTE_ADDR", "127.0.0.1"}};

/* One PARAMS record holding every pair, padded to 8 bytes; returns its size. */
static size_t params_record(unsigned char* p) {
  unsigned char content[512];
  size_t length = 0;
  for (size_t i = 0; i < sizeof params / sizeof params[0]; ++i) {
    const size_t name = strlen(params[i][0]), value = strlen(params[i][1]);
    content[length++] = (unsigned char)name;
    content[length++] = (unsigned char)value;
    memcpy(content + length, params[i][0], name);
    memcpy(content + length + name, params[i][1], value);
    length += name + value;
  }
  const size_t padding = (8 - length % 8) % 8;
  size_t n = header(p, 4, (int)length);
  p[6] = (unsigned char)padding;
  memcpy(p + n, content, length);
  memset(p + n + length, 0, padding);
  return n + length + padding;
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "keep-conn") != 0)) {
    fprintf(stderr, "usage: %s SOCKET_PATH SECONDS [keep-conn]\n", argv[0]);
    return 2;
  }
  const int keep = argc == 4;
  unsigned char request[640];
  size_t n = header(request, 1, 8);  /* BEGIN_REQUEST: responder, keep-conn or not */
  const unsigned char begin[8] = {0, 1, (unsigned char)keep, 0, 0, 0, 0, 0};
  memcpy(request + n, begin, sizeof begin);
  n += sizeof begin;
  n += params_record(request + n);
  n += header(request + n, 4, 0);  /* the end of PARAMS */
  n += header(request + n, 5, 0);  /* the end of STDIN */
  const double seconds = atof(argv[2]);
  const double end = now() + seconds;
  long done = 0;
  int fd = keep ? connect_to(argv[1]) : -1;
  while (now() < end) {
    if (!keep) {
      fd = connect_to(argv[1]);
      input_start = input_end = 0;
    }
    if (write(fd, request, n) != (ssize_t)n) {
      perror("write");
      return 1;
    }
    int type = 0;
    while (type != 3) { /* records up to END_REQUEST */
      if (have(fd, 8) < 0) break;
      const unsigned char* h = input + input_start;
      const size_t size = 8 + ((size_t)h[4] << 8 | h[5]) + h[6];
      type = h[1];
      if (have(fd, size) < 0) {
        type = 0;
        break;
      }
      input_start += size;
    }
    if (type != 3) {
      fprintf(stderr, "the server closed the connection early\n");
      return 1;
    }
    if (!keep) close(fd);
    ++done;
  }
  printf("%ld requests in %.0f s, %.1f/s\n", done, seconds, (double)done / seconds);
  return 0;
}
