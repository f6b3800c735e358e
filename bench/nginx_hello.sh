#!/usr/bin/env bash
# Hello world through one nginx with wrk: fcgi-host's hello.greet plugin beside
# libfcgi's C hello world, measured in the same run, on this machine.
# Usage: bench/nginx_hello.sh [SECONDS] [CONNECTIONS]   (after ./test.sh or ./run.sh built it)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${FCGIHOST_BUILD:-$root/build}"
seconds="${1:-10}"
connections="${2:-64}"
work="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$build/bin/fcgi-host" --listen "unix:$work/host.sock" --plugins "$build/lib" --log-level warn &
pids+=($!)
"$build/bench/libfcgi_hello" "$work/libfcgi.sock" &
pids+=($!)
for _ in $(seq 200); do [ -S "$work/host.sock" ] && [ -S "$work/libfcgi.sock" ] && break; sleep 0.05; done

port=18181
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
user $(id -un);
error_log $work/nginx/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  fastcgi_temp_path $work/nginx/fastcgi;
  proxy_temp_path $work/nginx/proxy;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream host { server unix:$work/host.sock; keepalive 64; }
  upstream libfcgi { server unix:$work/libfcgi.sock; }
  server {
    listen 127.0.0.1:$port;
    location /host { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME hello.greet;
                     fastcgi_pass host; fastcgi_keep_conn on; }
    location /libfcgi { include /etc/nginx/fastcgi_params; fastcgi_pass libfcgi; }
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/host" && break; sleep 0.05; done
curl -sf "http://127.0.0.1:$port/host?check" | grep -q "Hello, check!" || { echo "fcgi-host did not answer" >&2; exit 1; }
curl -sf "http://127.0.0.1:$port/libfcgi?check" | grep -q "Hello, check!" || { echo "libfcgi did not answer" >&2; exit 1; }

rate() {  # requests/s of one wrk run
  wrk -t2 -c"$connections" -d"${seconds}s" "http://127.0.0.1:$port/$1" | awk '/Requests\/sec/ {print $2}'
}
host_rate=$(rate host)
libfcgi_rate=$(rate libfcgi)
printf '%-28s %12s %8s\n' "peer (through nginx, wrk)" "req/s" "ratio"
printf '%-28s %12s %8s\n' "fcgi-host hello.greet" "$host_rate" "1.00"
awk -v h="$host_rate" -v l="$libfcgi_rate" 'BEGIN { printf "%-28s %12s %8.2f\n", "libfcgi C hello (1 process)", l, l / h }'
