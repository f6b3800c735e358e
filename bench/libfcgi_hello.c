/* The peer for benchmarks: libfcgi's classic C hello world on a socket.
 * Usage: libfcgi_hello SOCKET_PATH */
#include <fcgiapp.h>
#include <stdio.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SOCKET_PATH\n", argv[0]);
    return 2;
  }
  FCGX_Init();
  int listener = FCGX_OpenSocket(argv[1], 1024);
  if (listener < 0) return 1;
  FCGX_Request request;
  FCGX_InitRequest(&request, listener, 0);
  while (FCGX_Accept_r(&request) >= 0) {
    const char* query = FCGX_GetParam("QUERY_STRING", request.envp);
    FCGX_FPrintF(request.out, "Content-Type: text/plain\r\n\r\nHello, %s!\n", query && *query ? query : "world");
    FCGX_Finish_r(&request);
  }
  return 0;
}
