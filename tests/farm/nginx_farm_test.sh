#!/bin/bash
# Two fcgi-hosts in an nginx upstream (examples/nginx/fcgi-host-farm.conf.in)
# under wrk load: both answer, and a rolling restart fails no request.
set -euo pipefail
source "$(dirname "$0")/steps.sh"

start_host host1 "unix:$work/host1.sock"
start_host host2 "unix:$work/host2.sock"
start_nginx fcgi-host-farm.conf.in -e "s|@HOST1@|unix:$work/host1.sock|" -e "s|@HOST2@|unix:$work/host2.sock|"

before=($(served host1) $(served host2))
load 10 "$url"
for i in 1 2; do
  sleep 2
  stop_host host$i
  start_host host$i "unix:$work/host$i.sock"
done
sleep 1
finish_load
[ "$failed" -eq 0 ] || fail "rolling restart behind nginx: $failed of $requests requests failed"
for i in 1 2; do
  share=$(( $(served host$i) - before[i - 1] ))
  [ $((share * 4)) -ge "$requests" ] || fail "host$i answered $share of $requests requests"
done
echo "rolling restart behind nginx: $requests requests, 0 failed ($rate req/s); host1 $(( $(served host1) - before[0] )), host2 $(( $(served host2) - before[1] ))"
