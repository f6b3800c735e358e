# What the nginx + wrk benchmarks share: a work folder cleaned up on exit, one
# nginx in front of several FastCGI peers, and a wrk run's requests/s.
# Sourced by bench/nginx_*.sh; they set `seconds` and `connections` first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FCGIHOST_BUILD:-$root/build}"
work="$(mktemp -d)"
chmod 755 "$work"
pids=()
# Each peer and the children it forked (fcgiwrap's and php-fpm's workers).
cleanup() {
  local pid
  for pid in "${pids[@]}"; do pkill -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port=18181

wait_for_sockets() {  # PATH...
  for _ in $(seq 200); do
    local missing=0
    for socket in "$@"; do [ -S "$socket" ] || missing=1; done
    [ "$missing" = 0 ] && return 0
    sleep 0.05
  done
  echo "a peer did not create its socket: $*" >&2
  exit 1
}

# start_nginx LOCATIONS: the server block's location lines (upstreams included).
start_nginx() {
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
  $1
}
CONF
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
  pids+=($!)
  for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0; sleep 0.05; done
  echo "nginx did not start: $(tail -n 3 "$work/nginx/error.log")" >&2
  exit 1
}

expect_body() {  # PATH TEXT: the peer answers through nginx
  curl -sf "http://127.0.0.1:$port/$1" | grep -q "$2" || { echo "/$1 did not answer '$2'" >&2; exit 1; }
}

rate() {  # PATH: requests/s of one wrk run
  wrk -t2 -c"$connections" -d"${seconds}s" "http://127.0.0.1:$port/$1" | awk '/Requests\/sec/ {print $2}'
}

print_header() { printf '%-34s %12s %8s\n' "peer (through nginx, wrk)" "req/s" "ratio"; }
print_row() {  # NAME RATE BASELINE_RATE
  awk -v n="$1" -v r="$2" -v b="$3" 'BEGIN { printf "%-34s %12s %8.2f\n", n, r, r / b }'
}
