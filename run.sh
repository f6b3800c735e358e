#!/usr/bin/env bash
# Installs what is missing, builds, and shows fcgi-client talking FastCGI to a
# real server: php-fpm, started on a private socket with examples/php.
# (Once fcgi-host serves, this starts it behind nginx instead.)
set -euo pipefail
source "$(dirname "$0")/scripts/setup.sh"

fcgihost_install_packages
fcgihost_build

run_dir="$FCGIHOST_BUILD/run"
mkdir -p "$run_dir"
socket="$run_dir/php-fpm.sock"
php_fpm="$(command -v php-fpm || ls /usr/sbin/php-fpm* | head -n 1)"
cat > "$run_dir/php-fpm.conf" <<CONF
[global]
error_log = $run_dir/php-fpm.log
daemonize = no
[demo]
listen = $socket
pm = static
pm.max_children = 2
CONF
"$php_fpm" -n -R -F -y "$run_dir/php-fpm.conf" &
php_pid=$!
trap 'kill $php_pid 2>/dev/null; wait $php_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done

client="$FCGIHOST_BUILD/bin/fcgi-client"
root="$FCGIHOST_ROOT/examples/php"
fcgihost_log "$client --connect unix:$socket --get-values"
"$client" --connect "unix:$socket" --get-values
fcgihost_log "echo hello | $client --connect unix:$socket --root $root --stdin - --status POST '/echo.php?from=run.sh'"
echo hello | "$client" --connect "unix:$socket" --root "$root" --stdin - --status POST '/echo.php?from=run.sh'
echo
fcgihost_log "fcgi-client works. Try it yourself while php-fpm runs (Ctrl-C to stop):"
echo "  $client --connect unix:$socket --root $root GET '/echo.php?a=1'"
wait $php_pid
