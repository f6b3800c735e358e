# Sourced by the packaging tests: serve(HOST CLIENT PLUGINS_DIR) starts an
# fcgi-host on a unix socket in $work; ask(SCRIPT_FILENAME URI) asks it.
# Needs $work, and calls fail() (defined by the test) when the host does not
# come up.
host_pid=
stop_host() {
  if [ -n "$host_pid" ]; then kill "$host_pid" 2>/dev/null || true; wait "$host_pid" || true; fi
  host_pid=
}
serve() {
  stop_host
  served_client=$2
  rm -f "$work/host.sock"
  "$1" --listen "unix:$work/host.sock" --plugins "$3" --timeout 10 > "$work/host.log" 2>&1 &
  host_pid=$!
  tries=0
  until [ -S "$work/host.sock" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 200 ] || fail "fcgi-host did not listen within 10 s"
    kill -0 "$host_pid" 2>/dev/null || fail "fcgi-host exited: $(cat "$work/host.log")"
    sleep 0.05
  done
}
ask() { "$served_client" --connect "unix:$work/host.sock" --param "SCRIPT_FILENAME=$1" GET "$2" | tr -d '\r'; }
