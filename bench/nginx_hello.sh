#!/usr/bin/env bash
# Hello world through one nginx with wrk: fcgi-host's hello.greet plugin beside
# libfcgi's C hello world, measured in the same run, on this machine.
# Usage: bench/nginx_hello.sh [SECONDS] [CONNECTIONS]   (after ./test.sh or ./run.sh built it)
seconds="${1:-10}"
connections="${2:-64}"
source "$(dirname "$0")/common.sh"

"$build/bin/fcgi-host" --listen "unix:$work/host.sock" --plugins "$build/lib" --log-level warn &
pids+=($!)
"$build/bench/libfcgi_hello" "$work/libfcgi.sock" &
pids+=($!)
wait_for_sockets "$work/host.sock" "$work/libfcgi.sock"
start_nginx "
  upstream host { server unix:$work/host.sock; keepalive 64; }
  upstream libfcgi { server unix:$work/libfcgi.sock; }
  server {
    listen 127.0.0.1:$port;
    location /host { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME hello.greet;
                     fastcgi_pass host; fastcgi_keep_conn on; }
    location /libfcgi { include /etc/nginx/fastcgi_params; fastcgi_pass libfcgi; }
    location / { return 204; }
  }"
expect_body "host?check" "Hello, check!"
expect_body "libfcgi?check" "Hello, check!"

host_rate=$(rate host)
libfcgi_rate=$(rate libfcgi)
print_header
print_row "fcgi-host hello.greet" "$host_rate" "$host_rate"
print_row "libfcgi C hello (1 process)" "$libfcgi_rate" "$host_rate"
