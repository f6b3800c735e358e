#!/usr/bin/env bash
# Installs what is missing, builds, and serves the example plugins and
# scripts (examples/scripts): fcgi-host on
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
scripts="$FCGIHOST_ROOT/examples/scripts"

cleanup() {
  # Each kill may find its process gone already; that must not stop the rest.
  if [ -n "${nginx_pid:-}" ]; then kill "$nginx_pid" 2>/dev/null || true; fi
  if [ -n "${host_pid:-}" ]; then kill "$host_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# A short timeout, so the 408 demo does not take long.
"$FCGIHOST_BUILD/bin/fcgi-host" --listen "unix:$socket" --plugins "$FCGIHOST_BUILD/lib" \
    --scripts "$scripts" --timeout 5 --status-path /fcgi-status --ping-path /ping &
host_pid=$!
for _ in $(seq 200); do [ -S "$socket" ] && break; sleep 0.05; done
[ -S "$socket" ] || { echo "fcgi-host did not start" >&2; exit 1; }

sed -e "s|@PREFIX@|$run_dir/nginx|g" -e "s|@SOCKET@|$socket|g" -e "s|@LISTEN@|127.0.0.1:$port|g" \
    -e "s|@SCRIPTS@|$scripts|g" \
    -e "s|@USER@|$(id -un)|g" "$FCGIHOST_ROOT/examples/nginx/fcgi-host.conf.in" > "$run_dir/nginx/nginx.conf"
nginx -p "$run_dir/nginx" -c "$run_dir/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
url="http://127.0.0.1:$port"
# Ready when our own greeting comes back through nginx (not some other server on the port).
greeting=""
for _ in $(seq 200); do
  greeting="$(curl -s "$url/fn/hello.greet?newcomer" || true)"
  [ "$greeting" = "Hello, newcomer!" ] && break
  kill -0 "$nginx_pid" 2>/dev/null || break
  sleep 0.05
done
if [ "$greeting" != "Hello, newcomer!" ]; then
  echo "nginx did not come up in front of fcgi-host on port $port (taken? try PORT=8081 ./run.sh)" >&2
  tail -n 5 "$run_dir/nginx/error.log" >&2 2>/dev/null || true
  exit 1
fi

fcgihost_log "fcgi-host serves $FCGIHOST_BUILD/lib and $scripts behind nginx at $url"
echo "$url/fn/hello.greet?newcomer says: $greeting"
cat <<TRY

Try (nginx's error log: $run_dir/nginx/error.log; fcgi-host logs here):
  curl '$url/fn/hello.greet?you'                          # a plugin handler
  curl --data-binary @/etc/os-release $url/fn/echo.body   # the body streamed back
  curl $url/fn/echo.params                                # every CGI param
  curl -i '$url/fn/slow.polite?30'                        # 408 after the 5 s timeout
  curl -i $url/fn/thrower.fail                            # 500, the exception in the log
  curl -i $url/fn/stderr_writer.warn                      # stderr to nginx's error log
  curl $url/cgi/hello.sh                                  # a shell script, CGI-style
  curl '$url/cgi/env.py/some/path?a=b'                    # the CGI environment (Python)
  curl --data-binary @/etc/os-release $url/cgi/upload.pl  # an upload's size and md5 (Perl)
  curl -i $url/cgi/grandchild.sh                          # 408; the script and its child killed
  curl $url/fcgi-status                                   # the host's status page (?json, ?openmetrics)
  curl $url/ping                                          # pong (503 while draining)
  build/bin/fcgi-client --connect unix:$socket --param SCRIPT_FILENAME=hello.greet
Drop your own plugin (see plugins/include/fcgihost/plugin.hpp) into $FCGIHOST_BUILD/lib
and call it as $url/fn/PLUGIN.HANDLER, or an executable script into $scripts
and call it as $url/cgi/NAME; no restart needed. Ctrl-C stops both.
TRY
wait "$host_pid"
