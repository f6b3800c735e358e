#!/bin/bash
# A response cut by the timeout after output started never looks whole
# behind HAProxy (examples/haproxy/fcgi-host-farm.cfg.in: keep-conn and
# multiplexed connections): curl sees an incomplete transfer, HAProxy logs a
# server abort (SD). The host's marker before its close (a record of
# version 0 and type 0) must not read as an end of STDOUT there.
set -euo pipefail
source "$(dirname "$0")/../farm/steps.sh"

port=$(free_port)
start_host host "tcp:127.0.0.1:$port" --timeout 1
haproxy_port=$(free_port)
sed -e "s|@SCRIPTS@|$source/examples/scripts|g" -e "s|@LISTEN@|127.0.0.1:$haproxy_port|" \
    "$source/examples/haproxy/fcgi-host-farm.cfg.in" |
  awk -v port="$port" '$0 == "@SERVERS@" { print "    server host1 127.0.0.1:" port; next } { print }' \
    > "$work/haproxy.cfg"
haproxy -db -f "$work/haproxy.cfg" >> "$work/haproxy.log" 2>&1 &
started+=("$!")
url="http://127.0.0.1:$haproxy_port/fn/hello.greet?farm"
wait_for_hello haproxy

status=0
curl -sS --max-time 20 "http://127.0.0.1:$haproxy_port/fn/slow.stream?30" > "$work/cut.out" 2> "$work/curl.log" ||
  status=$?
[ "$status" -ne 0 ] || fail "curl took a cut response for a whole one: $(head -c 200 "$work/cut.out")"
grep -q "^line 0$" "$work/cut.out" || fail "the start of the response did not arrive"
wait_for_log "$work/haproxy.log" '"GET /fn/slow.stream?30 HTTP/1.1"'
grep -F '"GET /fn/slow.stream?30 HTTP/1.1"' "$work/haproxy.log" | grep -q " SD-- " ||
  fail "HAProxy did not log a server abort: $(grep -F slow.stream "$work/haproxy.log")"
[ "$(curl -s "$url")" = "Hello, farm!" ] || fail "nothing serves after the cut"
echo "a cut behind HAProxy: curl exit $status, HAProxy logged SD--"
