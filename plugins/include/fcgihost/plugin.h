/* The fcgi-host plugin ABI, in C: what crosses between the host and a
 * plugin. A plugin in any language that can export C data and call C
 * function pointers can serve requests; C++ authors include
 * <fcgihost/plugin.hpp>, a header-only layer over this one.
 *
 *   #include <fcgihost/plugin.h>
 *
 *   static int greet(const fcgihost_request_api* api, fcgihost_request* r) {
 *     static const char text[] = "Content-Type: text/plain\r\n\r\nHello from C\n";
 *     return api->write(r, FCGIHOST_STDOUT, text, sizeof text - 1) == 0 ? 0 : 1;
 *   }
 *   FCGIHOST_C_HANDLER(greet, "greet")
 *
 * Only C types cross: no C++ object, no allocation freed on the other side,
 * so the plugin may use any C or C++ runtime (libc++, a static libstdc++).
 *
 * Versions (FCGIHOST_ABI_VERSION): every exported record carries the version
 * of this header it was built with, and the host reads the records from the
 * file before it loads it, so a plugin of another version is refused before
 * any of its code (its static constructors included) runs. The version
 * changes when a record or an existing function changes meaning or place.
 * Functions are only ever added at the end of fcgihost_request_api; `size`
 * says how many the host gives, so a newer plugin can tell an older host
 * (FCGIHOST_API_HAS).
 */
#ifndef FCGIHOST_PLUGIN_H
#define FCGIHOST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FCGIHOST_ABI_VERSION 2

/* One request, owned by the host; valid until the handler returns. */
typedef struct fcgihost_request fcgihost_request;

/* Bytes owned by the host: not NUL-terminated. */
typedef struct fcgihost_bytes {
  const char* data;
  size_t size;
} fcgihost_bytes;

enum fcgihost_stream { FCGIHOST_STDOUT = 1, FCGIHOST_STDERR = 2 };

/* What the host offers a handler. Every function is called on the handler's
 * own thread, except stop_requested, which any thread may call. */
typedef struct fcgihost_request_api {
  uint32_t abi_version; /* FCGIHOST_ABI_VERSION of the host */
  uint32_t size;        /* sizeof the struct the host gives */

  /* A CGI parameter (QUERY_STRING, HTTP_COOKIE...); found: 1, else 0 and
   * `value` empty. Valid until the handler returns. */
  int (*param)(fcgihost_request* r, const char* name, size_t name_size, fcgihost_bytes* value);
  size_t (*param_count)(fcgihost_request* r);
  /* The index-th parameter, in the order the web server sent them; 0 past the end. */
  int (*param_at)(fcgihost_request* r, size_t index, fcgihost_bytes* name, fcgihost_bytes* value);

  /* The next bytes of FCGI_STDIN, waiting for them if need be; valid until
   * the next call. Empty at the end of the body, and once the request is over. */
  fcgihost_bytes (*read)(fcgihost_request* r);

  /* The output buffer of `stream` (FCGIHOST_STDOUT or FCGIHOST_STDERR), to
   * write into directly: `*space` bytes from the pointer returned. Then
   * commit(r, stream, used, flush) says how many were written there; with
   * `flush`, they are sent now, else when the buffer fills or the handler
   * returns. A full buffer is sent while the other fills, so a handler waits
   * only for a client that reads slower than it writes. Both return NULL / -1
   * once the request is over (timeout, abort, the client gone): stop.
   * Between output_space and its commit, write nothing else to that stream;
   * bytes never committed are not sent. */
  char* (*output_space)(fcgihost_request* r, int stream, size_t* space);
  int (*commit)(fcgihost_request* r, int stream, size_t used, int flush);
  /* Copies `size` bytes to `stream` (output_space and commit in one); 0 or -1. */
  int (*write)(fcgihost_request* r, int stream, const void* bytes, size_t size);
  /* The handler failed: the host answers 500 (if no output went out yet),
   * sends `message` to the web server's error log and logs it. The
   * handler returns after this; its return value is then ignored. */
  void (*fail)(fcgihost_request* r, const char* message, size_t size);

  /* 1 once the request should stop: timeout, ABORT_REQUEST, the client gone. */
  int (*stop_requested)(fcgihost_request* r);
  /* Waits until the request should stop, at most `nanoseconds` (< 0: no
   * limit); returns 1 if it should stop, 0 if the time ran out. */
  int (*wait_for_stop)(fcgihost_request* r, int64_t nanoseconds);
  /* Calls `on_stop(context)` once when the request should stop (at once if
   * it should already), on whichever thread stops it; NULL removes it. One
   * per request; removed before the handler returns, it is never called
   * after. */
  void (*set_stop_callback)(fcgihost_request* r, void (*on_stop)(void* context), void* context);
} fcgihost_request_api;

/* Whether the host's api has `member` (an older host has fewer functions). */
#define FCGIHOST_API_HAS(api, member) \
  ((api)->size >= offsetof(fcgihost_request_api, member) + sizeof((api)->member) && (api)->member != NULL)

/* A handler: its return value is the app status in END_REQUEST (0: fine). */
typedef int (*fcgihost_handler_fn)(const fcgihost_request_api* api, fcgihost_request* r);

/* The plugin's own settings: the [plugin.NAME] table of the host's config,
 * every value as text. Valid during the init call only. */
typedef struct fcgihost_setting {
  fcgihost_bytes name;
  fcgihost_bytes value;
} fcgihost_setting;

typedef struct fcgihost_plugin_settings {
  fcgihost_bytes plugin; /* its name */
  const fcgihost_setting* settings;
  size_t count;
} fcgihost_plugin_settings;

/* Called once when the plugin is loaded (in the host, or in each of its
 * worker processes), before any handler: open a database connection, read a
 * file. Returns 0 when ready; otherwise calls fail(context, message, size)
 * first (at most 4 KiB of it are kept), and every request for the plugin is
 * answered 500 with the message
 * until its file or its settings change (the host's SIGHUP); the init is not
 * run again for each request. A plugin whose settings change on SIGHUP is
 * loaded anew, as a new version: the new one's init runs, the old one's
 * shutdown once its last request is done. */
typedef int (*fcgihost_init_fn)(const fcgihost_plugin_settings* settings,
                                void (*fail)(void* context, const char* message, size_t size), void* context);
/* Called once before the plugin is unloaded (a newer file replaced it, its
 * worker leaves, the host stops) after its last handler has returned, on a
 * thread of its own (no request waits for it). A worker gets the host's
 * kill grace for it when it leaves, 1 s when the host stops; the host in
 * process waits 1 s for it at its exit. Not called when init failed, in a
 * worker that is killed (it crashed, or its handler would not stop), nor
 * when the host leaves past such a handler. */
typedef void (*fcgihost_shutdown_fn)(void);

enum fcgihost_export_kind { FCGIHOST_EXPORT_HANDLER = 1, FCGIHOST_EXPORT_INIT = 2, FCGIHOST_EXPORT_SHUTDOWN = 3 };

typedef union fcgihost_export_entry {
  fcgihost_handler_fn handler;   /* FCGIHOST_EXPORT_HANDLER */
  fcgihost_init_fn init;         /* FCGIHOST_EXPORT_INIT: at most one per plugin */
  fcgihost_shutdown_fn shutdown; /* FCGIHOST_EXPORT_SHUTDOWN: at most one per plugin */
} fcgihost_export_entry;

/* What a plugin exports: records in the ELF section "fcgihost", which the
 * host lists (and checks, before loading the file) to find its handlers.
 * 32 bytes and aligned to 32 (FCGIHOST_EXPORT_ALIGN), so that the records
 * lie end to end in the section whatever alignment a compiler would give. */
typedef struct fcgihost_export {
  uint32_t abi_version; /* FCGIHOST_ABI_VERSION; first, at offset 0, in every version */
  uint32_t kind;        /* fcgihost_export_kind */
  const char* name;     /* the handler's name: letters, digits, '_' and '-'; NULL for init and shutdown */
  fcgihost_export_entry entry;
  const void* reserved; /* NULL */
} fcgihost_export;

#define FCGIHOST_EXPORT_ALIGN 32

#define FCGIHOST_DETAIL_C_CONCAT_(a, b) a##b
#define FCGIHOST_DETAIL_C_CONCAT(a, b) FCGIHOST_DETAIL_C_CONCAT_(a, b)

#ifdef __cplusplus
#define FCGIHOST_DETAIL_EXPORT_LINKAGE extern "C"
#else
#define FCGIHOST_DETAIL_EXPORT_LINKAGE
#endif

#define FCGIHOST_DETAIL_EXPORT(kind, name, member, function)                                                 \
  FCGIHOST_DETAIL_EXPORT_LINKAGE __attribute__((visibility("default"), used, section("fcgihost"),           \
                                                 aligned(FCGIHOST_EXPORT_ALIGN)))                              \
  const fcgihost_export FCGIHOST_DETAIL_C_CONCAT(fcgihost_export_, __COUNTER__) = {                          \
      FCGIHOST_ABI_VERSION, kind, name, {.member = function}, NULL};

/* Exports `function` (an fcgihost_handler_fn) as the handler `name`. */
#define FCGIHOST_C_HANDLER(function, name) FCGIHOST_DETAIL_EXPORT(FCGIHOST_EXPORT_HANDLER, name, handler, function)
/* Exports the plugin's init (an fcgihost_init_fn) and shutdown (an fcgihost_shutdown_fn). */
#define FCGIHOST_C_INIT(function) FCGIHOST_DETAIL_EXPORT(FCGIHOST_EXPORT_INIT, NULL, init, function)
#define FCGIHOST_C_SHUTDOWN(function) FCGIHOST_DETAIL_EXPORT(FCGIHOST_EXPORT_SHUTDOWN, NULL, shutdown, function)

#ifdef __cplusplus
}
#endif

#endif /* FCGIHOST_PLUGIN_H */
