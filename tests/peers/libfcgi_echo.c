/* A responder on the FastCGI dev kit's C library (libfcgi), the reference peer
 * for the client tests: prints some params, echoes FCGI_STDIN, writes a line
 * to FCGI_STDERR and ends with the app status asked for in APP_STATUS.
 * Usage: libfcgi_echo SOCKET_PATH */
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>

static const char* param(FCGX_Request* request, const char* name) {
  const char* value = FCGX_GetParam(name, request->envp);
  return value ? value : "";
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SOCKET_PATH\n", argv[0]);
    return 2;
  }
  if (FCGX_Init() != 0) return 1;
  int listener = FCGX_OpenSocket(argv[1], 64);
  if (listener < 0) {
    fprintf(stderr, "cannot listen on %s\n", argv[1]);
    return 1;
  }
  FCGX_Request request;
  FCGX_InitRequest(&request, listener, 0);
  while (FCGX_Accept_r(&request) >= 0) {
    FCGX_FPrintF(request.out, "Content-Type: text/plain\r\n\r\n");
    FCGX_FPrintF(request.out, "method=%s\nquery=%s\nscript=%s\ncustom=%s\nbody=", param(&request, "REQUEST_METHOD"),
                 param(&request, "QUERY_STRING"), param(&request, "SCRIPT_FILENAME"),
                 param(&request, "HTTP_X_CUSTOM"));
    char buffer[65536];
    int n;
    while ((n = FCGX_GetStr(buffer, sizeof buffer, request.in)) > 0) FCGX_PutStr(buffer, n, request.out);
    FCGX_FPrintF(request.err, "libfcgi stderr for %s", param(&request, "REQUEST_METHOD"));
    FCGX_SetExitStatus(atoi(param(&request, "APP_STATUS")), request.out);
    FCGX_Finish_r(&request);
  }
  return 0;
}
