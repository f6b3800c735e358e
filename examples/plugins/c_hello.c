/* A plugin in plain C, against the C ABI alone (<fcgihost/plugin.h>):
 *   c_hello.greet   GREETING, QUERY_STRING (or "world"); GREETING is "Hello"
 *                   or the host config's [plugin.c_hello] greeting = "..."
 *   c_hello.echo    the request body back, streamed through the host's buffer
 *   c_hello.wait    waits until the request is stopped (its timeout), or
 *                   the seconds in the query, and says which
 */
#include <fcgihost/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char greeting[64] = "Hello";

/* Runs once when the plugin is loaded, before any handler, with its
 * [plugin.c_hello] settings. A non-zero return (after fail()) makes every
 * request for the plugin a 500 with the message. */
static int start(const fcgihost_plugin_settings* settings, void (*fail)(void*, const char*, size_t), void* context) {
  for (size_t i = 0; i < settings->count; ++i) {
    const fcgihost_setting* setting = &settings->settings[i];
    if (setting->name.size != strlen("greeting") || memcmp(setting->name.data, "greeting", setting->name.size) != 0)
      continue;
    if (setting->value.size >= sizeof greeting) {
      static const char too_long[] = "greeting is longer than 63 bytes";
      fail(context, too_long, sizeof too_long - 1);
      return 1;
    }
    memcpy(greeting, setting->value.data, setting->value.size);
    greeting[setting->value.size] = '\0';
  }
  return 0;
}

static int write_text(const fcgihost_request_api* api, fcgihost_request* r, const char* text) {
  return api->write(r, FCGIHOST_STDOUT, text, strlen(text));
}

static int greet(const fcgihost_request_api* api, fcgihost_request* r) {
  fcgihost_bytes query;
  api->param(r, "QUERY_STRING", strlen("QUERY_STRING"), &query);
  char line[256];
  const int length = snprintf(line, sizeof line, "Content-Type: text/plain\r\n\r\n%s, %.*s, from C!\n", greeting,
                              query.size > 0 && query.size < 128 ? (int)query.size : 5,
                              query.size > 0 && query.size < 128 ? query.data : "world");
  return api->write(r, FCGIHOST_STDOUT, line, (size_t)length) == 0 ? 0 : 1;
}

static int echo(const fcgihost_request_api* api, fcgihost_request* r) {
  if (write_text(api, r, "Content-Type: application/octet-stream\r\n\r\n") != 0) return 1;
  for (fcgihost_bytes chunk = api->read(r); chunk.size > 0; chunk = api->read(r)) {
    /* Straight into the host's output buffer: one copy. */
    while (chunk.size > 0) {
      size_t space = 0;
      char* to = api->output_space(r, FCGIHOST_STDOUT, &space);
      if (!to) return 1; /* the request is over */
      const size_t now = chunk.size < space ? chunk.size : space;
      memcpy(to, chunk.data, now);
      if (api->commit(r, FCGIHOST_STDOUT, now, 0) != 0) return 1;
      chunk.data += now;
      chunk.size -= now;
    }
  }
  return 0;
}

static int wait(const fcgihost_request_api* api, fcgihost_request* r) {
  fcgihost_bytes query;
  char seconds_text[32] = "60";
  if (api->param(r, "QUERY_STRING", strlen("QUERY_STRING"), &query) && query.size > 0 &&
      query.size < sizeof seconds_text) {
    memcpy(seconds_text, query.data, query.size);
    seconds_text[query.size] = '\0';
  }
  const double seconds = atof(seconds_text);
  if (api->wait_for_stop(r, (int64_t)(seconds * 1e9))) {
    static const char note[] = "c_hello.wait: stopped before its time\n";
    api->write(r, FCGIHOST_STDERR, note, sizeof note - 1);
    return 2;
  }
  return write_text(api, r, "Content-Type: text/plain\r\n\r\nwaited\n") == 0 ? 0 : 1;
}

FCGIHOST_C_INIT(start)
FCGIHOST_C_HANDLER(greet, "greet")
FCGIHOST_C_HANDLER(echo, "echo")
FCGIHOST_C_HANDLER(wait, "wait")
