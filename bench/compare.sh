#!/usr/bin/env bash
# The side-by-side benchmark: fcgi-host against libfcgi's C hello world (1 and
# 2 processes), php-fpm (a static pool of 2) and fcgiwrap, all started here on
# private sockets and measured in the same run on this machine: directly with
# fcgi-bench, then through one nginx with wrk. Each figure is the median of
# ROUNDS rounds; each ratio is to fcgi-host's row of the same scenario.
# Usage: bench/compare.sh [SECONDS_PER_ROUND] [ROUNDS]   (after ./test.sh or ./run.sh built it)
seconds="${1:-3}"
rounds="${2:-3}"
connections=64

# --- a work folder cleaned up on exit, one nginx in front of the peers -------
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${FCGIHOST_BUILD:-$root/build}"
work="$(mktemp -d)"
chmod 755 "$work"
pids=()
# Each peer and the children it forked (fcgiwrap's and php-fpm's workers).
# The children are listed first and killed after their parent: fcgiwrap's
# parent starts a new child for each one that dies, and those outlived runs.
cleanup() {
  local pid children
  for pid in "${pids[@]}"; do
    children="$(pgrep -P "$pid" || true)"
    kill "$pid" 2>/dev/null || true
    [ -n "$children" ] && kill $children 2>/dev/null || true
  done
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
  fastcgi_buffers 16 8k;  # a 64 KiB response stays in memory
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

fcgi_bench="$build/bin/fcgi-bench"
scripts="$root/examples/scripts"
php_fpm="$(command -v php-fpm8.2 || command -v php-fpm || echo /usr/sbin/php-fpm8.2)"

# --- the peers --------------------------------------------------------------
# The host in process (isolation = none) for the rows as they always were,
# and one beside it with its plugins in worker processes (the default).
"$build/bin/fcgi-host" --listen "unix:$work/host.sock" --plugins "$build/lib" --scripts "$scripts" \
    --isolation none --log-level warn --log-file "$work/host.log" &
host_pid=$!
"$build/bin/fcgi-host" --listen "unix:$work/isolated.sock" --plugins "$build/lib" \
    --log-level warn --log-file "$work/isolated.log" &
isolated_pid=$!
"$build/bench/libfcgi_hello" "$work/libfcgi1.sock" 1 &
libfcgi1_pid=$!
"$build/bench/libfcgi_hello" "$work/libfcgi2.sock" 2 &
libfcgi2_pid=$!
cat > "$work/php-fpm.conf" <<CONF
[global]
pid = $work/php-fpm.pid
error_log = $work/php-fpm.log
daemonize = no
[bench]
listen = $work/php.sock
listen.mode = 0660
pm = static
pm.max_children = 2
CONF
"$php_fpm" -y "$work/php-fpm.conf" -F $([ "$(id -u)" = 0 ] && echo -R) &
php_pid=$!
fcgiwrap -c 2 -s "unix:$work/fcgiwrap.sock" &
fcgiwrap_pid=$!
pids+=("$host_pid" "$isolated_pid" "$libfcgi1_pid" "$libfcgi2_pid" "$php_pid" "$fcgiwrap_pid")
wait_for_sockets "$work/host.sock" "$work/isolated.sock" "$work/libfcgi1.sock" "$work/libfcgi2.sock" "$work/php.sock" "$work/fcgiwrap.sock"

# --- measuring ----------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# median_of_rounds COMMAND...: COMMAND prints one number; its median over the rounds.
median_of_rounds() {
  local values=()
  for _ in $(seq "$rounds"); do values+=("$("$@")"); done
  printf '%s\n' "${values[@]}" | median
}
json_number() { sed -n "s/.*\"$1\":\([0-9.e+]*\).*/\1/p" <<< "$2"; }

# direct NAME ADDRESS FCGI-BENCH-ARGS...: "req/s p99_ms" (medians of the rounds);
# fcgi-bench runs under "${client_cpu[@]}" (nothing, or a taskset).
client_cpu=()
direct() {
  local address="$2"
  shift 2
  local rates=() p99s=() json
  for _ in $(seq "$rounds"); do
    json="$("${client_cpu[@]}" "$fcgi_bench" --connect "$address" --duration "$seconds" --json --quiet "$@" || true)"
    rates+=("$(json_number requests_per_second "$json")")
    p99s+=("$(json_number p99 "$json")")
    grep -q '"failed":0' <<< "$json" || echo "  (errors: $(sed -n 's/.*"errors":\({.*}}\).*/\1/p' <<< "$json"))" >&2
  done
  echo "$(printf '%s\n' "${rates[@]}" | median) $(printf '%s\n' "${p99s[@]}" | median | awk '{ printf "%.2f", $1 / 1000 }')"
}

# through_nginx PATH WRK-CONNECTIONS: "req/s p99_ms" (medians of the rounds)
through_nginx() {
  local rates=() p99s=() out
  for _ in $(seq "$rounds"); do
    out="$(wrk -t2 -c"$2" -d"${seconds}s" --latency "http://127.0.0.1:$port/$1")"
    rates+=("$(awk '/Requests\/sec/ { print $2 }' <<< "$out")")
    p99s+=("$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }' <<< "$out")")
    grep -q "Non-2xx" <<< "$out" && echo "  (non-2xx answers through nginx for /$1)" >&2
  done
  echo "$(printf '%s\n' "${rates[@]}" | median) $(printf '%s\n' "${p99s[@]}" | median)"
}

# Peak resident memory (VmHWM) of a process and its children, in MiB.
peak_rss_mib() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1"); do
    total=$((total + $(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  awk -v k="$total" 'BEGIN { printf "%.1f", k / 1024 }'
}

# CPU time (user + system, clock ticks) used so far by processes and their
# children: the live ones, and those that ended and were reaped (a recycled
# worker, a script).
cpu_ticks() {
  local pid ticks total=0
  for pid in "$@"; do
    # Fields after the command name, which may hold spaces: utime, stime,
    # cutime and cstime are the 12th to the 15th.
    ticks=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }')
    total=$((total + ${ticks:-0}))
    for child in $(pgrep -P "$pid"); do
      ticks=$(sed 's/.*) //' "/proc/$child/stat" 2>/dev/null | awk '{ print $12 + $13 }')
      total=$((total + ${ticks:-0}))
    done
  done
  echo "$total"
}

table_header() { printf '\n%s\n%-44s %11s %9s %7s\n' "$1" "peer" "req/s" "p99 ms" "ratio"; }
# row NAME "RATE P99" BASE_RATE
row() {
  read -r rate p99 <<< "$2"
  awk -v n="$1" -v r="$rate" -v p="$p99" -v b="$3" \
    'BEGIN { printf "%-44s %11.0f %9s %7.2f\n", n, r, p, (b > 0 ? r / b : 0) }'
}

echo "fcgi-bench and wrk, $rounds round(s) of $seconds s each; medians. $(nproc) cores."

# Every peer warmed for a second first (plugins loaded, workers started,
# php-fpm's opcache filled), so the first row is not measured on a cold start.
for warm in "host.sock hello.greet" "isolated.sock hello.greet" "libfcgi1.sock -" "libfcgi2.sock -" \
            "php.sock $root/bench/php/hello.php"; do
  read -r socket script <<< "$warm"
  "$fcgi_bench" --connect "unix:$work/$socket" --param SCRIPT_FILENAME="$script" --connections 16 --duration 1 \
      --quiet > /dev/null || true
done

table_header "tiny hello, direct with fcgi-bench, $connections requests in flight"
host=$(direct host "unix:$work/host.sock" --param SCRIPT_FILENAME=hello.greet --connections 4 --depth 16 --keep-conn)
base=${host%% *}
row "fcgi-host hello.greet (4 conns x depth 16)" "$host" "$base"
row "fcgi-host hello.greet (64 conns, 1 req each)" \
    "$(direct host "unix:$work/host.sock" --param SCRIPT_FILENAME=hello.greet --connections $connections)" "$base"
row "fcgi-host isolated (4 conns x depth 16)" "$(direct isolated "unix:$work/isolated.sock" \
    --param SCRIPT_FILENAME=hello.greet --connections 4 --depth 16 --keep-conn)" "$base"
row "fcgi-host isolated (64 conns, 1 req each)" "$(direct isolated "unix:$work/isolated.sock" \
    --param SCRIPT_FILENAME=hello.greet --connections $connections)" "$base"
row "libfcgi C hello, 1 process" "$(direct libfcgi1 "unix:$work/libfcgi1.sock" --connections $connections)" "$base"
row "libfcgi C hello, 2 processes" "$(direct libfcgi2 "unix:$work/libfcgi2.sock" --connections $connections)" "$base"
# libfcgi serves one connection at a time per process: its best is a
# keep-alive connection per process (more would wait behind it for ever),
# which is another load: 1 or 2 requests in flight. The host under that load
# beside it.
row "libfcgi, 1 proc, 1 in flight, keep-alive" \
    "$(direct libfcgi1 "unix:$work/libfcgi1.sock" --connections 1 --keep-conn)" "$base"
row "libfcgi, 2 procs, 2 in flight, keep-alive" \
    "$(direct libfcgi2 "unix:$work/libfcgi2.sock" --connections 2 --keep-conn)" "$base"
row "fcgi-host, 2 in flight, keep-alive" \
    "$(direct host "unix:$work/host.sock" --param SCRIPT_FILENAME=hello.greet --connections 2 --keep-conn)" "$base"
row "php-fpm hello.php, static pool of 2" "$(direct php "unix:$work/php.sock" \
    --param SCRIPT_FILENAME="$root/bench/php/hello.php" --connections $connections)" "$base"

table_header "64 KiB response, direct with fcgi-bench, $connections requests in flight"
host=$(direct host "unix:$work/host.sock" --param SCRIPT_FILENAME=echo.bytes --param QUERY_STRING=65536 \
    --connections 4 --depth 16 --keep-conn)
base=${host%% *}
row "fcgi-host echo.bytes (4 conns x depth 16)" "$host" "$base"
row "libfcgi C, 1 process" "$(direct libfcgi1 "unix:$work/libfcgi1.sock" --param QUERY_STRING=bytes=65536 \
    --connections $connections)" "$base"
row "php-fpm bytes.php, static pool of 2" "$(direct php "unix:$work/php.sock" \
    --param SCRIPT_FILENAME="$root/bench/php/bytes.php" --param QUERY_STRING=65536 --connections $connections)" "$base"

table_header "script hello (examples/scripts/hello.sh), direct, 16 in flight"
host=$(direct host "unix:$work/host.sock" --param SCRIPT_FILENAME="$scripts/hello.sh" --connections 16)
base=${host%% *}
row "fcgi-host --scripts" "$host" "$base"
row "fcgiwrap -c 2" "$(direct fcgiwrap "unix:$work/fcgiwrap.sock" \
    --param SCRIPT_FILENAME="$scripts/hello.sh" --connections 16)" "$base"

table_header "1 MiB POST echoed, direct, 8 in flight"
host=$(direct host "unix:$work/host.sock" --param SCRIPT_FILENAME=echo.body --body-size 1M --connections 8 --keep-conn)
base=${host%% *}
row "fcgi-host echo.body" "$host" "$base"
row "php-fpm echo.php, static pool of 2" "$(direct php "unix:$work/php.sock" \
    --param SCRIPT_FILENAME="$root/bench/php/echo.php" --body-size 1M --connections 8)" "$base"

start_nginx "
  upstream host { server unix:$work/host.sock; keepalive 64; }
  upstream isolated { server unix:$work/isolated.sock; keepalive 64; }
  upstream libfcgi1 { server unix:$work/libfcgi1.sock; }
  upstream libfcgi2 { server unix:$work/libfcgi2.sock; }
  upstream php { server unix:$work/php.sock; }
  upstream fcgiwrap { server unix:$work/fcgiwrap.sock; }
  server {
    listen 127.0.0.1:$port;
    # A location with a fastcgi_param of its own inherits none: each includes them all.
    location /host { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME hello.greet;
                     fastcgi_pass host; fastcgi_keep_conn on; }
    location /isolated { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME hello.greet;
                         fastcgi_pass isolated; fastcgi_keep_conn on; }
    location /libfcgi1 { include /etc/nginx/fastcgi_params; fastcgi_pass libfcgi1; }
    location /libfcgi2 { include /etc/nginx/fastcgi_params; fastcgi_pass libfcgi2; }
    location /php { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $root/bench/php/hello.php;
                    fastcgi_pass php; }
    location /host_bytes { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME echo.bytes;
                           fastcgi_pass host; fastcgi_keep_conn on; }
    location /php_bytes { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $root/bench/php/bytes.php;
                          fastcgi_pass php; }
    location /host_script { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $scripts/hello.sh;
                            fastcgi_pass host; fastcgi_keep_conn on; }
    location /fcgiwrap { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $scripts/hello.sh;
                         fastcgi_pass fcgiwrap; }
    location / { return 204; }
  }"
for path in host isolated libfcgi1 libfcgi2 php; do expect_body "$path" "Hello, world!"; done
for path in "host_bytes?65536" "libfcgi1?bytes=65536" "php_bytes?65536"; do
  [ "$(curl -sf "http://127.0.0.1:$port/$path" | wc -c)" = 65536 ] || { echo "/$path did not answer 64 KiB" >&2; exit 1; }
done
for path in host_script fcgiwrap; do expect_body "$path" "Hello from a shell script!"; done

# The hello through nginx at 1, 4, 32 and 64 connections, in alternating
# rounds (each round runs every peer once, so a slow minute of this VM falls
# on all of them alike), with the CPU each peer's processes (and their
# children: workers, php-fpm's pool) used per request. Ratios to the
# in-process host and to libfcgi with 2 processes.
wrk_once() {  # PATH CONNECTIONS PID...: "req/s p99_ms cpu_us_per_request"
  local path="$1" conns="$2" out before after
  shift 2
  before=$(cpu_ticks "$@")
  out="$(wrk -t"$((conns < 2 ? conns : 2))" -c"$conns" -d"${seconds}s" --latency "http://127.0.0.1:$port/$path")"
  after=$(cpu_ticks "$@")
  grep -q "Non-2xx" <<< "$out" && echo "  (non-2xx answers through nginx for /$path)" >&2
  awk -v before="$before" -v after="$after" -v hz="$(getconf CLK_TCK)" '
    /Requests\/sec/ { rate = $2 }
    / requests in / { requests = $1 }
    $1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) }
                  else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } p99 = v }
    END { printf "%s %s %.1f\n", rate, p99, (requests > 0 ? (after - before) / hz * 1e6 / requests : 0) }' <<< "$out"
}
hello_peers=("fcgi-host hello.greet, in process|host|$host_pid"
             "fcgi-host hello.greet, isolated (default)|isolated|$isolated_pid"
             "libfcgi C hello, 2 processes|libfcgi2|$libfcgi2_pid"
             "libfcgi C hello, 1 process|libfcgi1|$libfcgi1_pid"
             "php-fpm hello.php, static pool of 2|php|$php_pid")
for conns in 1 4 32 64; do
  printf '\n%s\n%-44s %11s %9s %7s %8s %9s\n' "tiny hello through nginx with wrk, $conns connection(s), $rounds alternating round(s)" \
      "peer" "req/s" "p99 ms" "ratio" "/libfcgi2" "CPU us/req"
  declare -A results=()
  column_median() { awk -v c="$2" 'NF { print $c }' <<< "${results[$1]}" | median; }
  for _ in $(seq "$rounds"); do
    for peer in "${hello_peers[@]}"; do
      IFS='|' read -r label path pid <<< "$peer"
      results[$path]+="$(wrk_once "$path" "$conns" "$pid")"$'\n'
    done
  done
  base=$(column_median host 1)
  libfcgi2=$(column_median libfcgi2 1)
  for peer in "${hello_peers[@]}"; do
    IFS='|' read -r label path pid <<< "$peer"
    awk -v n="$label" -v r="$(column_median "$path" 1)" -v p="$(column_median "$path" 2)" -v b="$base" \
        -v l="$libfcgi2" -v c="$(column_median "$path" 3)" \
      'BEGIN { printf "%-44s %11.0f %9s %7.2f %8.2f %9.1f\n", n, r, p, (b > 0 ? r / b : 0), (l > 0 ? r / l : 0), c }'
  done
  unset results
done

table_header "64 KiB response through nginx with wrk, $connections connections"
host=$(through_nginx "host_bytes?65536" $connections)
base=${host%% *}
row "fcgi-host echo.bytes" "$host" "$base"
row "libfcgi C, 1 process" "$(through_nginx "libfcgi1?bytes=65536" $connections)" "$base"
row "php-fpm bytes.php, static pool of 2" "$(through_nginx "php_bytes?65536" $connections)" "$base"

table_header "script hello through nginx with wrk, 16 connections"
host=$(through_nginx host_script 16)
base=${host%% *}
row "fcgi-host --scripts" "$host" "$base"
row "fcgiwrap -c 2" "$(through_nginx fcgiwrap 16)" "$base"

# --- scenarios with a host of their own --------------------------------------
# start_host NAME ARGS...: a fresh fcgi-host on $work/NAME.sock; its pid in $started_pid.
start_host() {
  local name="$1"
  shift
  "$build/bin/fcgi-host" --listen "unix:$work/$name.sock" --plugins "$build/lib" --scripts "$scripts" \
      --log-level warn --log-file "$work/$name.log" "$@" &
  started_pid=$!
  pids+=("$started_pid")
  wait_for_sockets "$work/$name.sock"
}
# echo_rate TARGET: MiB/s of one 1 GiB echo through the host started for TARGET.
echo_rate() {
  local json
  json="$("$fcgi_bench" --connect "unix:$work/stream_${1##*/}.sock" --param SCRIPT_FILENAME="$1" \
      --body-size 1G --requests 1 --keep-conn --timeout 0 --json --quiet || true)"
  awk -v s="$(json_number seconds "$json")" 'BEGIN { printf "%.1f", (s > 0 ? 1024 / s : 0) }'
}

printf '\n%s\n%-44s %11s %9s %7s\n' "1 GiB streamed echo (written and read at once), full duplex" \
    "peer" "MiB/s" "peak MiB" "ratio"
reference=$("$build/bench/unix_echo" 1024 | awk '{ print $3 }')
for target in echo.body isolated:echo.body "$scripts/echo.sh"; do
  isolation=none
  if [[ "$target" == isolated:* ]]; then isolation=process; target=${target#isolated:}; fi
  start_host "stream_${target##*/}" --full-duplex true --timeout 0 --isolation "$isolation"
  rate=$(median_of_rounds echo_rate "$target")
  label="fcgi-host ${target##*/}"
  [ "$isolation" = process ] && label="fcgi-host ${target##*/}, isolated"
  awk -v n="$label" -v r="$rate" -v m="$(peak_rss_mib "$started_pid")" -v b="$reference" \
    'BEGIN { printf "%-44s %11.1f %9s %7.2f\n", n, r, m, r / b }'
  kill "$started_pid"
  wait "$started_pid" 2>/dev/null || true
done
awk -v r="$reference" 'BEGIN { printf "%-44s %11.1f %9s %7.2f\n", "plain unix socket copy (bench/unix_echo)", r, "-", 1 }'

printf '\n%s\n' "10000 idle keep-alive connections held while a light load runs"
start_host idle --max-connections 20000 --isolation none
"$fcgi_bench" --connect "unix:$work/idle.sock" --param SCRIPT_FILENAME=hello.greet --idle-connections 10000 \
    --connections 1 --keep-conn --duration "$((seconds + 2))" --quiet --json > "$work/idle.json" &
idle_bench=$!
sleep "$((seconds + 1))"
idle_rss=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$started_pid/status")
wait "$idle_bench" || true
printf '%-44s %11s MiB RSS (%s connections held, %s requests served meanwhile)\n' "fcgi-host" "$idle_rss" \
    "$(json_number idle_connections "$(cat "$work/idle.json")")" "$(json_number requests "$(cat "$work/idle.json")")"
kill "$started_pid"

printf '\n%s\n' "timeout precision: 100 requests that outlive a 1 s timeout, under a hello load"
start_host timeout --timeout 1 --isolation none
"$fcgi_bench" --connect "unix:$work/timeout.sock" --param SCRIPT_FILENAME=hello.greet --connections 4 --depth 16 \
    --keep-conn --duration "$((seconds + 6))" --quiet > /dev/null &
load_bench=$!
json="$("$fcgi_bench" --connect "unix:$work/timeout.sock" --param SCRIPT_FILENAME=slow.polite --param QUERY_STRING=5 \
    --requests 100 --connections 20 --timeout 0 --json --quiet || true)"
wait "$load_bench" || true
awk -v p50="$(json_number p50 "$json")" -v p99="$(json_number p99 "$json")" -v max="$(json_number max "$json")" \
  'BEGIN { printf "%-44s 408 after +%.1f ms (p50), +%.1f ms (p99), +%.1f ms (max)\n", "fcgi-host", \
           p50 / 1000 - 1000, p99 / 1000 - 1000, max / 1000 - 1000 }'
grep -q '"status":{"408":100}' <<< "$json" || echo "  (not every answer was a 408: $json)" >&2
kill "$started_pid"

# One request at a time, a client's own cost per request is most of what is
# measured. Where the scheduler puts client and server on 2 cores moves either
# client by up to 1.5x between runs, so here both sit on fixed cores: a libfcgi
# of their own on CPU 0, the clients on CPU 1.
overhead_server=()
if [ "$(nproc)" -ge 2 ]; then overhead_server=(taskset -c 0); client_cpu=(taskset -c 1); fi
"${overhead_server[@]}" "$build/bench/libfcgi_hello" "$work/overhead.sock" 1 &
pids+=($!)
wait_for_sockets "$work/overhead.sock"
printf '\n%s\n%-44s %11s %9s %7s\n' \
    "fcgi-bench's own overhead: libfcgi (1 process), one request at a time${client_cpu:+, server on CPU 0, clients on CPU 1}" \
    "client" "req/s" "" "ratio"
c_client_rate() {
  "${client_cpu[@]}" "$build/bench/c_client" "$work/overhead.sock" "$seconds" "$@" | awk '{ print $NF }' | tr -d /s
}
for mode in "" keep-conn; do
  c_rate=$(median_of_rounds c_client_rate $mode)
  label=$([ -n "$mode" ] && echo "one keep-alive conn" || echo "a conn per request")
  row "C client (c_client.c), $label" "$c_rate -" "$c_rate"
  for engine in blocking events; do
    row "fcgi-bench $engine, $label" \
        "$(direct overhead "unix:$work/overhead.sock" --connections 1 --engine $engine ${mode:+--keep-conn})" "$c_rate"
  done
done
client_cpu=()

printf '\n%-44s %11s\n' "peak RSS over the whole run" "MiB"
printf '%-44s %11s\n' "fcgi-host" "$(peak_rss_mib "$host_pid")"
printf '%-44s %11s\n' "fcgi-host isolated (host and workers)" "$(peak_rss_mib "$isolated_pid")"
printf '%-44s %11s\n' "libfcgi C hello, 1 process" "$(peak_rss_mib "$libfcgi1_pid")"
printf '%-44s %11s\n' "libfcgi C hello, 2 processes" "$(peak_rss_mib "$libfcgi2_pid")"
printf '%-44s %11s\n' "php-fpm (master and 2 workers)" "$(peak_rss_mib "$php_pid")"
printf '%-44s %11s\n' "fcgiwrap (2 processes)" "$(peak_rss_mib "$fcgiwrap_pid")"
