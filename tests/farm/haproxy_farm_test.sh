#!/bin/bash
# Three fcgi-hosts behind HAProxy 2.6 (examples/haproxy/fcgi-host-farm.cfg.in)
# under wrk load: requests spread over the three; one SIGKILLed, restarted and
# back; a rolling restart; a SIGHUP to all. Prints the figures it measured.
set -euo pipefail
source "$(dirname "$0")/steps.sh"

ports=($(free_port) $(free_port) $(free_port))
# HAProxy with these hosts (NAME:PORT ...) on a port of its own; its log in $work/haproxy.log.
start_haproxy() {
  local servers="" entry
  for entry in "$@"; do servers+="    server ${entry%%:*} 127.0.0.1:${entry#*:}"$'\n'; done
  haproxy_port=$(free_port)
  sed -e "s|@SCRIPTS@|$source/examples/scripts|g" -e "s|@LISTEN@|127.0.0.1:$haproxy_port|" \
      "$source/examples/haproxy/fcgi-host-farm.cfg.in" |
    awk -v servers="$servers" '$0 == "@SERVERS@" { printf "%s", servers; next } { print }' > "$work/haproxy.cfg"
  haproxy -c -q -f "$work/haproxy.cfg" || fail "haproxy -c: the config is not valid"
  haproxy -db -f "$work/haproxy.cfg" >> "$work/haproxy.log" 2>&1 &
  haproxy_pid=$!
  started+=("$haproxy_pid")
  url="http://127.0.0.1:$haproxy_port/fn/hello.greet?farm"
  wait_for_hello HAProxy
}
stop_haproxy() { kill "$haproxy_pid"; wait "$haproxy_pid" || true; }
# Waits until HAProxy's health checks say host NAME is UP or DOWN (the COUNTth time).
wait_for_state() { wait_for_log "$work/haproxy.log" "fcgi_hosts/$1 is $2" "${3:-1}"; }
# The request lines crowd the states out of the log's tail.
on_fail() { echo "--- HAProxy's health-check states"; grep -E "fcgi_hosts/host[0-9] is (UP|DOWN)" "$work/haproxy.log" || true; }
expect_no_failures() {
  [ "$failed" -eq 0 ] || fail "$1: $failed of $requests requests failed"
  echo "$1: $requests requests, 0 failed ($rate req/s)"
}

# One host behind HAProxy, for the figure.
start_host host1 "tcp:127.0.0.1:${ports[0]}"
start_haproxy "host1:${ports[0]}"
load 4 "$url"; finish_load
expect_no_failures "one host"
one_host_rate=$rate
stop_haproxy

# Three: requests spread over them.
start_host host2 "tcp:127.0.0.1:${ports[1]}"
start_host host3 "tcp:127.0.0.1:${ports[2]}"
start_haproxy "host1:${ports[0]}" "host2:${ports[1]}" "host3:${ports[2]}"
before=($(served host1) $(served host2) $(served host3))
load 4 "$url"; finish_load
expect_no_failures "three hosts"
for i in 1 2 3; do
  share=$(( $(served host$i) - before[i - 1] ))
  # Round robin: each about a third; at least a fifth.
  [ $((share * 5)) -ge "$requests" ] || fail "host$i answered $share of $requests requests"
  echo "  host$i answered $share"
done
echo "req/s through HAProxy: one host $one_host_rate, three hosts $rate (2 cores for HAProxy, wrk and the hosts)"
grep -q "something to log" "$work/haproxy.log" && fail "stderr seen before any was sent"
curl -s "http://127.0.0.1:$haproxy_port/fn/stderr_writer.warn" > /dev/null
wait_for_log "$work/haproxy.log" "stderr_writer: something to log for /fn/stderr_writer.warn"
echo "  a handler's stderr reaches HAProxy's log (log-stderr)"

# SIGKILL one under load: HAProxy retries what it had in flight elsewhere;
# the host is started again and rejoins.
load 10 "$url"
sleep 2
kill -KILL "$pid_host2"
wait "$pid_host2" || true
wait_for_state host2 DOWN
start_host host2 "tcp:127.0.0.1:${ports[1]}"
wait_for_state host2 UP
back_at=$(served host2)
finish_load
[ "$failed" -le 32 ] || fail "SIGKILL: $failed of $requests requests failed, more than the 32 in flight"
[ "$(served host2)" -gt "$back_at" ] || fail "host2 answered nothing after it came back"
echo "SIGKILL of one host: $requests requests, $failed failed; it came back and answered $(( $(served host2) - back_at ))"

# A rolling restart: each in turn stopped (SIGTERM: it drains), seen DOWN by
# HAProxy, and started again. (A host that drains in less than the check
# interval can be back before any check saw it gone: then no DOWN or UP is
# logged, so the test waits for the DOWN first, as an operator would.)
load 12 "$url"
for i in 1 2 3; do
  sleep 1
  ups=$(count_in "$work/haproxy.log" "fcgi_hosts/host$i is UP")
  downs=$(count_in "$work/haproxy.log" "fcgi_hosts/host$i is DOWN")
  stop_host host$i
  wait_for_state host$i DOWN $((downs + 1))
  start_host host$i "tcp:127.0.0.1:${ports[i - 1]}"
  wait_for_state host$i UP $((ups + 1))
done
finish_load
expect_no_failures "rolling restart"

# SIGHUP to all three under load.
load 4 "$url"
sleep 1
for i in 1 2 3; do
  reloads=$(count_in "$work/host$i.log" "configuration reloaded")
  pid_var="pid_host$i"; kill -HUP "${!pid_var}"
done
for i in 1 2 3; do wait_for_log "$work/host$i.log" "configuration reloaded"; done
finish_load
expect_no_failures "SIGHUP to all three"
for i in 1 2 3; do pid_var="pid_host$i"; kill -0 "${!pid_var}" || fail "host$i is gone"; done
