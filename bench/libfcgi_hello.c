/* The peer for benchmarks: libfcgi's classic C hello world on a socket, in
 * one process or several accepting on the same socket (prefork). With the
 * query "bytes=N" it answers N bytes instead (the large response scenario).
 * Usage: libfcgi_hello SOCKET_PATH [PROCESSES] */
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int serve(int listener) {
  FCGX_Request request;
  FCGX_InitRequest(&request, listener, 0);
  while (FCGX_Accept_r(&request) >= 0) {
    const char* query = FCGX_GetParam("QUERY_STRING", request.envp);
    if (query && strncmp(query, "bytes=", 6) == 0) {
      long left = atol(query + 6);
      static char block[4096];
      memset(block, 'x', sizeof block);
      FCGX_FPrintF(request.out, "Content-Type: application/octet-stream\r\nContent-Length: %ld\r\n\r\n", left);
      for (; left > 0; left -= (long)sizeof block)
        FCGX_PutStr(block, left < (long)sizeof block ? (int)left : (int)sizeof block, request.out);
    } else {
      FCGX_FPrintF(request.out, "Content-Type: text/plain\r\n\r\nHello, %s!\n", query && *query ? query : "world");
    }
    FCGX_Finish_r(&request);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s SOCKET_PATH [PROCESSES]\n", argv[0]);
    return 2;
  }
  const int processes = argc == 3 ? atoi(argv[2]) : 1;
  if (processes < 1 || processes > 64) {
    fprintf(stderr, "%s: PROCESSES is 1 to 64\n", argv[0]);
    return 2;
  }
  FCGX_Init();
  int listener = FCGX_OpenSocket(argv[1], 1024);
  if (listener < 0) return 1;
  for (int i = 1; i < processes; ++i)
    if (fork() == 0) return serve(listener);
  serve(listener);
  while (wait(NULL) > 0) {
  }
  return 0;
}
