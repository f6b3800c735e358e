#!/usr/bin/env bash
# Installs what is missing, builds, and serves the example plugins: fcgi-host on
# a unix socket behind a local nginx (examples/nginx/fcgi-host.conf.in) on
# 127.0.0.1:8080 (PORT=... to change). Ctrl-C stops both.
set -euo pipefail
source "$(dirname "$0")/scripts/setup.sh"

fcgihost_install_packages
fcgihost_build

port="${PORT:-8080}"
run_dir="$FCGIHOST_BUILD/run"
mkdir -p "$run_dir/nginx"
socket="$run_dir/fcgi-host.sock"

cleanup() {
  [ -n "${nginx_pid:-}" ] && kill "$nginx_pid" 2>/dev/null
  [ -n "${host_pid:-}" ] && kill "$host_pid" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# A short timeout, so the 408 demo does not take long.
"$FCGIHOST_BUILD/bin/fcgi-host" --listen "unix:$socket" --plugins "$FCGIHOST_BUILD/lib" --timeout 5 &
host_pid=$!
for _ in $(seq 200); do [ -S "$socket" ] && break; sleep 0.05; done
[ -S "$socket" ] || { echo "fcgi-host did not start" >&2; exit 1; }

sed -e "s|@PREFIX@|$run_dir/nginx|g" -e "s|@SOCKET@|$socket|g" -e "s|@LISTEN@|127.0.0.1:$port|g" \
    -e "s|@USER@|$(id -un)|g" "$FCGIHOST_ROOT/examples/nginx/fcgi-host.conf.in" > "$run_dir/nginx/nginx.conf"
nginx -p "$run_dir/nginx" -c "$run_dir/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done

url="http://127.0.0.1:$port"
fcgihost_log "fcgi-host serves $FCGIHOST_BUILD/lib behind nginx at $url"
printf '%s says: ' "$url/fn/hello.greet?newcomer"
curl -s "$url/fn/hello.greet?newcomer"
cat <<TRY

Try (nginx's error log: $run_dir/nginx/error.log; fcgi-host logs here):
  curl '$url/fn/hello.greet?you'                          # a plugin handler
  curl --data-binary @/etc/os-release $url/fn/echo.body   # the body streamed back
  curl $url/fn/echo.params                                # every CGI param
  curl -i '$url/fn/slow.polite?30'                        # 408 after the 5 s timeout
  curl -i $url/fn/thrower.fail                            # 500, the exception in the log
  curl -i $url/fn/stderr_writer.warn                      # stderr to nginx's error log
  build/bin/fcgi-client --connect unix:$socket --param SCRIPT_FILENAME=hello.greet
Drop your own plugin (see plugins/include/fcgihost/plugin.hpp) into $FCGIHOST_BUILD/lib
and call it as $url/fn/PLUGIN.HANDLER, no restart needed. Ctrl-C stops both.
TRY
wait "$host_pid"
