# Sourced by the farm tests, whose arguments are the build folder and the
# source folder: hosts on loopback behind a real load balancer, wrk through
# it, and faults. Sets $build, $source and $work (a scratch folder removed at
# exit with every process started here) and gives:
#   fail MESSAGE                    print the logs (and on_fail's output, if the test
#                                   defines it), fail the test
#   free_port                       a loopback port nothing listens on
#   start_host NAME ADDRESS [ARGS]  an fcgi-host (its pid in pid_NAME, its log $work/NAME.log)
#   stop_host NAME                  SIGTERM, and wait until it has exited
#   count_in FILE TEXT              how many lines of FILE have TEXT
#   wait_for_log FILE TEXT [COUNT]  until TEXT is in FILE COUNT times (10 s at most)
#   load SECONDS URL                wrk in the background (its report in $work/wrk.out)
#   finish_load                     wait for it; sets $requests, $failed and $rate
#   served NAME                     how many hellos host NAME has answered
#   start_nginx TEMPLATE [SED...]   nginx from examples/nginx/TEMPLATE, more placeholders
#                                   filled by the sed expressions; sets $url to its hello
#   wait_for_hello SERVER           until $url answers hello (10 s at most)
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
work=$(mktemp -d)
host_bin=${host_bin:-$build/bin/fcgi-host}
started=()
stop_all() {
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap stop_all EXIT

fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*.log "$work"/wrk.out; do [ -f "$log" ] && { echo "--- $log" >&2; tail -n 30 "$log" >&2; }; done
  # A test may print more of what it knows (define on_fail).
  if declare -F on_fail > /dev/null; then on_fail >&2; fi
  exit 1
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_host() {
  local name=$1 address=$2 before
  shift 2
  before=$(count_in "$work/$name.log" "fcgi-host listening on")
  "$host_bin" --listen "$address" --plugins "$build/lib" --scripts "$source/examples/scripts" \
      --timeout 5 --ping-path /ping "$@" >> "$work/$name.log" 2>&1 &
  printf -v "pid_$name" %s "$!"
  started+=("$!")
  wait_for_log "$work/$name.log" "fcgi-host listening on" $((before + 1))
}

stop_host() {
  local pid_var="pid_$1"
  local pid=${!pid_var}
  kill -TERM "$pid"
  wait "$pid" || fail "host $1 exited with status $? after SIGTERM"
}

count_in() { local n; n=$(grep -cF -- "$2" "$1" 2>/dev/null); echo "${n:-0}"; }

wait_for_log() {
  local file=$1 text=$2 count=${3:-1} tries=0
  until [ "$(count_in "$file" "$text")" -ge "$count" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 200 ] || fail "'$text' did not appear $count time(s) in $file within 10 s"
    sleep 0.05
  done
}

load_pid=
load() {
  wrk -t2 -c32 -d"$1"s "$2" > "$work/wrk.out" 2>&1 &
  load_pid=$!
}

finish_load() {
  wait "$load_pid" || fail "wrk failed"
  requests=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
  rate=$(awk '/Requests\/sec/ { print int($2) }' "$work/wrk.out")
  local non_2xx socket_errors
  non_2xx=$(awk '/Non-2xx or 3xx responses/ { print $NF }' "$work/wrk.out")
  # "  Socket errors: connect A, read B, write C, timeout D": the sum of the numbers.
  socket_errors=$(awk '/Socket errors/ { gsub(/[^0-9 ]/, " "); n = 0; for (i = 1; i <= NF; i++) n += $i; print n }' \
                    "$work/wrk.out")
  failed=$(( ${non_2xx:-0} + ${socket_errors:-0} ))
  [ "${requests:-0}" -gt 0 ] || fail "wrk made no request: $(cat "$work/wrk.out")"
}

served() { count_in "$work/$1.log" '"GET /fn/hello.greet?farm" 200'; }

start_nginx() {
  local template=$1 port
  shift
  port=$(free_port)
  mkdir -p "$work/nginx"
  sed -e "s|@PREFIX@|$work/nginx|g" -e "s|@LISTEN@|127.0.0.1:$port|" -e "s|@USER@|$(id -un)|" "$@" \
      "$source/examples/nginx/$template" > "$work/nginx/nginx.conf"
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2> "$work/nginx.log" &
  started+=("$!")
  url="http://127.0.0.1:$port/fn/hello.greet?farm"
  wait_for_hello nginx
}

# Waits (10 s at most) until $url says hello through SERVER.
wait_for_hello() {
  local tries=0
  until [ "$(curl -s "$url" || true)" = "Hello, farm!" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 200 ] || fail "$1 did not answer within 10 s"
    sleep 0.05
  done
}
