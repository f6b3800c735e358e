#!/usr/bin/env bash
# A hello shell script (examples/scripts/hello.sh) through one nginx with wrk:
# fcgi-host's process runner beside fcgiwrap with 2 and 8 children, on the
# same script, in the same run, on this machine.
# Usage: bench/nginx_script_hello.sh [SECONDS] [CONNECTIONS]   (after ./test.sh or ./run.sh built it)
seconds="${1:-10}"
connections="${2:-16}"
source "$(dirname "$0")/common.sh"
scripts="$root/examples/scripts"

"$build/bin/fcgi-host" --listen "unix:$work/host.sock" --scripts "$scripts" --log-level warn &
pids+=($!)
for children in 2 8; do
  fcgiwrap -c "$children" -s "unix:$work/fcgiwrap$children.sock" &
  pids+=($!)
done
wait_for_sockets "$work/host.sock" "$work/fcgiwrap2.sock" "$work/fcgiwrap8.sock"
start_nginx "
  upstream host { server unix:$work/host.sock; keepalive 64; }
  upstream fcgiwrap2 { server unix:$work/fcgiwrap2.sock; }
  upstream fcgiwrap8 { server unix:$work/fcgiwrap8.sock; }
  server {
    listen 127.0.0.1:$port;
    include /etc/nginx/fastcgi_params;
    fastcgi_param SCRIPT_FILENAME $scripts/hello.sh;
    location /host { fastcgi_pass host; fastcgi_keep_conn on; }
    location /fcgiwrap2 { fastcgi_pass fcgiwrap2; }
    location /fcgiwrap8 { fastcgi_pass fcgiwrap8; }
    location / { return 204; }
  }"
for peer in host fcgiwrap2 fcgiwrap8; do expect_body "$peer" "Hello from a shell script!"; done

host_rate=$(rate host)
fcgiwrap2_rate=$(rate fcgiwrap2)
fcgiwrap8_rate=$(rate fcgiwrap8)
print_header
print_row "fcgi-host --scripts (hello.sh)" "$host_rate" "$host_rate"
print_row "fcgiwrap -c 2 (hello.sh)" "$fcgiwrap2_rate" "$host_rate"
print_row "fcgiwrap -c 8 (hello.sh)" "$fcgiwrap8_rate" "$host_rate"
