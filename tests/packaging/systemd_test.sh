#!/bin/sh
# The systemd units as installed: `systemd-analyze verify` finds nothing to
# say about the service, its socket and an instance of the template; and
# the host started the way fcgi-host.socket starts it (systemd-socket-activate
# hands it the listening socket, LISTEN_FDS) serves with the installed config.
# Usage: systemd_test.sh BUILD_DIR
set -eu
. "$(dirname "$0")/steps.sh"

prefix=$work/usr
install_into "$prefix"
units=$prefix/lib/systemd/system
# An instance of the template, as systemctl would make of fcgi-host@shop.
mkdir "$work/instance"
cp "$units/fcgi-host@.service" "$work/instance/fcgi-host@shop.service"
cp "$units/fcgi-host@.socket" "$work/instance/fcgi-host@shop.socket"
for unit in "$units/fcgi-host.service" "$units/fcgi-host.socket" "$work/instance/fcgi-host@shop.service" \
            "$work/instance/fcgi-host@shop.socket"; do
  systemd-analyze verify --man=no "$unit" > "$work/verify.log" 2>&1 || fail "systemd-analyze verify $unit: $(cat "$work/verify.log")"
  [ ! -s "$work/verify.log" ] || fail "systemd-analyze verify $unit says: $(cat "$work/verify.log")"
done
# Each instance its own config and socket (systemd puts the instance name for %i).
grep -q "^ExecStart=.* --config $prefix/etc/fcgi-host/%i.toml$" "$units/fcgi-host@.service" ||
  fail "the template's config: $(grep ExecStart "$units/fcgi-host@.service")"
grep -q "^ListenStream=/run/fcgi-host/%i.sock$" "$units/fcgi-host@.socket" ||
  fail "the template's socket: $(grep ListenStream "$units/fcgi-host@.socket")"
# The service runs with the hardening it claims.
for setting in DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes Type=notify KillMode=mixed; do
  grep -q "^$setting$" "$units/fcgi-host.service" || fail "fcgi-host.service lacks $setting"
done

# Socket activation: the socket exists before the host; the first
# connection starts it, with the socket as fd 3.
rm -f "$work/host.sock"
systemd-socket-activate -l "$work/host.sock" "$prefix/bin/fcgi-host" --config "$prefix/etc/fcgi-host/fcgi-host.toml" \
  --plugins "$prefix/lib/fcgi-host/example-plugins" > "$work/host.log" 2>&1 &
host_pid=$!
served_client=$prefix/bin/fcgi-client
wait_for_socket "$work/host.sock"
answer=$(ask hello.greet '/greet?name=systemd')
case "$answer" in *"Hello, "*) ;; *) fail "the socket-activated host answered: $answer" ;; esac
answer=$(ask /ping '/ping')
case "$answer" in *pong*) ;; *) fail "the ping path of the installed config answered: $answer" ;; esac
grep -q "listening on systemd fd 3;" "$work/host.log" || fail "the host did not take systemd's socket"
echo "verified and socket-activated"
