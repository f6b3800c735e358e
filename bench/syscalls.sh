#!/usr/bin/env bash
# System calls per request, one request in flight on a keep-alive connection:
# `strace -c` attached to the host (all its threads) and to each of its worker
# processes while fcgi-bench sends REQUESTS hellos, after a warm-up. Calls made
# on a clock rather than per request (the watchdog's futex, the sweep for
# stray children reading /proc) show up too: they shrink as REQUESTS grows.
# Usage: bench/syscalls.sh [isolated|in-process] [REQUESTS]   (after ./test.sh built it)
set -euo pipefail
mode="${1:-isolated}"
requests="${2:-5000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${FCGIHOST_BUILD:-$root/build}"
command -v strace > /dev/null || { echo "strace is needed (apt-get install strace)" >&2; exit 1; }
case "$mode" in
  isolated) isolation=process ;;
  in-process) isolation=none ;;
  *) echo "usage: $0 [isolated|in-process] [REQUESTS]" >&2; exit 2 ;;
esac

work="$(mktemp -d)"
tracers=()
cleanup() {
  kill "${tracers[@]}" 2>/dev/null || true
  [ -n "${host_pid:-}" ] && kill "$host_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$build/bin/fcgi-host" --listen "unix:$work/host.sock" --plugins "$build/lib" --isolation "$isolation" \
    --log-level warn --log-file "$work/host.log" &
host_pid=$!
for _ in $(seq 200); do [ -S "$work/host.sock" ] && break; sleep 0.05; done
hellos() {  # COUNT
  "$build/bin/fcgi-bench" --connect "unix:$work/host.sock" --param SCRIPT_FILENAME=hello.greet \
      --connections 1 --keep-conn --requests "$1" --quiet > /dev/null
}
hellos 2000  # plugin loaded, workers started and warm

for pid in "$host_pid" $(pgrep -P "$host_pid"); do
  strace -f -c -p "$pid" -o "$work/trace.$pid" 2> /dev/null &
  tracers+=($!)
done
sleep 1  # attached
hellos "$requests"
kill -INT "${tracers[@]}"
wait "${tracers[@]}" 2>/dev/null || true
tracers=()

echo "system calls per request, $mode, 1 in flight, keep-alive ($requests hellos)"
for trace in "$work"/trace.*; do
  pid="${trace##*.}"
  name="worker $pid"
  [ "$pid" = "$host_pid" ] && name="host"
  # strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall.
  awk -v n="$requests" -v name="$name" '
    $NF == "total" { next }
    $1 ~ /^[0-9.]+$/ && NF >= 5 { calls[$NF] = $4 }
    END {
      sum = 0
      for (call in calls) sum += calls[call]
      if (sum / n < 0.05) { printf "%s: idle\n", name; exit }
      printf "%s:", name
      for (call in calls) if (calls[call] / n >= 0.05) printf " %s %.2f", call, calls[call] / n
      printf "; all %.2f\n", sum / n
    }' "$trace"
done
