#!/bin/bash
# Twenty in-place upgrades (SIGUSR2) 300 ms apart, of the one fcgi-host
# behind nginx under wrk load: no request accepted by either process may be
# lost at a hand-over. NGINX_TEMPLATE picks the config of examples/nginx:
# fcgi-host.conf.in (keep-alive connections, the default) or
# fcgi-host-minimal.conf.in (a connection per request: the old process had
# closed a connection whose END_REQUEST was still being written, and lost
# 9 to 19 requests a run).
set -euo pipefail
host_bin=$(mktemp -d)/fcgi-host
source "$(dirname "$0")/steps.sh"
trap 'stop_all; rm -rf "$(dirname "$host_bin")"' EXIT
cp "$build/bin/fcgi-host" "$host_bin"
serving_pid() { pgrep -n -f "^$host_bin --listen" ; }
on_fail() { grep -E "upstream|connect\(\)" "$work/nginx/error.log" 2>/dev/null | tail -n 20; }

start_host host "unix:$work/host.sock"
start_nginx "${NGINX_TEMPLATE:-fcgi-host.conf.in}" -e "s|@SOCKET@|$work/host.sock|" -e "s|@SCRIPTS@|$source/examples/scripts|g"

load 9 "$url"
sleep 1
pids=()
for round in $(seq 20); do
  old=$(serving_pid)
  handovers=$(count_in "$work/host.log" "serves on these sockets now")
  kill -USR2 "$old"
  wait_for_log "$work/host.log" "serves on these sockets now" $((handovers + 1))
  pids+=("$old")
  started+=("$(serving_pid)")
  sleep 0.3
done
finish_load
[ "$failed" -eq 0 ] || fail "20 upgrades 300 ms apart behind nginx (${NGINX_TEMPLATE:-fcgi-host.conf.in}): $failed of $requests requests failed"
[ "$(curl -s "$url")" = "Hello, farm!" ] || fail "nothing serves after the upgrades"
echo "20 upgrades 300 ms apart behind nginx (${NGINX_TEMPLATE:-fcgi-host.conf.in}): $requests requests, 0 failed ($rate req/s)"
