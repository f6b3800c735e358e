#!/bin/sh
# Serves the plugin with fcgi-host and asks it with fcgi-client, as a web
# server would. Usage: serve_test.sh FCGI_HOST FCGI_CLIENT PLUGINS_DIR
set -eu
host=$1 client=$2 plugins=$3
work=$(mktemp -d)
host_pid=
finish() {
  if [ -n "$host_pid" ]; then kill "$host_pid" 2>/dev/null || true; wait "$host_pid" || true; fi
  rm -rf "$work"
}
trap finish EXIT
fail() { echo "FAIL: $*" >&2; cat "$work/host.log" >&2; exit 1; }

cat > "$work/host.toml" <<CONFIG
listen = ["unix:$work/host.sock"]
plugins = "$plugins"
timeout = 10
[plugin.my_plugin]
greeting = "Bonjour"
CONFIG
"$host" --config "$work/host.toml" > "$work/host.log" 2>&1 &
host_pid=$!
tries=0
until [ -S "$work/host.sock" ]; do
  tries=$((tries + 1))
  [ "$tries" -le 200 ] || fail "fcgi-host did not listen within 10 s"
  kill -0 "$host_pid" 2>/dev/null || fail "fcgi-host exited"
  sleep 0.05
done

ask() { "$client" --connect "unix:$work/host.sock" --param SCRIPT_FILENAME=my_plugin.hello GET "$1"; }

answer=$(ask '/hello?name=Ada' | tr -d '\r')
expected=$(printf 'Status: 200 OK\nContent-Type: text/plain; charset=utf-8\n\nBonjour, Ada!')
[ "$answer" = "$expected" ] || fail "got: $answer"

answer=$(ask '/hello' | tr -d '\r')
case "$answer" in *"Bonjour, world!"*) ;; *) fail "got: $answer" ;; esac

long_name=$(printf '%0101d' 0)
answer=$(ask "/hello?name=$long_name" | tr -d '\r')
case "$answer" in "Status: 422"*) ;; *) fail "a name too long got: $answer" ;; esac
echo "my_plugin is served"
