#!/bin/bash
# In-place upgrades (SIGUSR2) of the one fcgi-host behind nginx
# (examples/nginx/fcgi-host.conf.in) under wrk load: three new builds take
# over and a broken one is refused, and no request fails.
set -euo pipefail
host_bin=$(mktemp -d)/fcgi-host  # the host runs from here, where the "new builds" go
source "$(dirname "$0")/steps.sh"
trap 'stop_all; rm -rf "$(dirname "$host_bin")"' EXIT
cp "$build/bin/fcgi-host" "$host_bin"

# Puts a new build (or a script) at the host's path, as an install does.
install_build() {
  if [ $# -eq 0 ]; then cp "$build/bin/fcgi-host" "$host_bin.next"; else printf '%s' "$1" > "$host_bin.next"; fi
  chmod 755 "$host_bin.next"
  mv "$host_bin.next" "$host_bin"
}
# The process serving on the socket now: the newest fcgi-host running from $host_bin.
serving_pid() { pgrep -n -f "^$host_bin --listen" ; }

start_host host "unix:$work/host.sock"
start_nginx fcgi-host.conf.in -e "s|@SOCKET@|$work/host.sock|" -e "s|@SCRIPTS@|$source/examples/scripts|g"

load 10 "$url"
pids=("$pid_host")
for round in 1 2 3 4; do
  sleep 1.5
  old=$(serving_pid)
  if [ "$round" = 2 ]; then
    # A broken build: refused, the running one goes on.
    install_build $'#!/bin/sh\necho "broken build" >&2\nexit 3\n'
    kill -USR2 "$old"
    wait_for_log "$work/host.log" "the upgrade failed: process" 1
    [ "$(serving_pid)" = "$old" ] || fail "a broken build replaced the host"
    continue
  fi
  install_build
  handovers=$(count_in "$work/host.log" "serves on these sockets now")
  kill -USR2 "$old"
  wait_for_log "$work/host.log" "serves on these sockets now" $((handovers + 1))
  new=$(serving_pid)
  [ "$new" != "$old" ] || fail "round $round: no new process"
  [ "$(readlink "/proc/$new/exe")" = "$host_bin" ] || fail "round $round: the new process does not run the new file"
  pids+=("$new")
  started+=("$new")
done
finish_load
[ "$failed" -eq 0 ] || fail "upgrades behind nginx: $failed of $requests requests failed"
# Every replaced process has exited; the last one serves.
for pid in "${pids[@]:0:${#pids[@]}-1}"; do
  tries=0
  while kill -0 "$pid" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
    tries=$((tries + 1))
    [ "$tries" -le 200 ] || fail "process $pid did not exit after it was replaced"
    sleep 0.05
  done
done
[ "$(curl -s "$url")" = "Hello, farm!" ] || fail "nothing serves after the upgrades"
echo "3 upgrades and 1 broken build behind nginx: $requests requests, 0 failed ($rate req/s); processes ${pids[*]}"
