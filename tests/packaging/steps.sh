# Sourced by the packaging tests, whose first argument is the build folder:
# sets $build and $work (a scratch folder, removed at exit with any host
# still running), and gives fail(MESSAGE), install_into(PREFIX) (cmake
# --install), serve(HOST CLIENT PLUGINS_DIR) (an fcgi-host on a unix socket
# in $work), ask(SCRIPT_FILENAME URI), and build_template(PREFIX) (the plugin
# template installed under PREFIX, built against it as an author would, its
# own test run).
build=$(cd "$1" && pwd)
work=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; [ -f "$work/host.log" ] && cat "$work/host.log" >&2; exit 1; }
trap 'stop_host; rm -rf "$work"' EXIT

install_into() {
  cmake --install "$build" --prefix "$1" > "$work/install.log" || fail "cmake --install: $(cat "$work/install.log")"
}
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
  wait_for_socket "$work/host.sock"
}
# Waits (10 s at most) for SOCKET to exist while $host_pid runs.
wait_for_socket() {
  tries=0
  until [ -S "$1" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 200 ] || fail "nothing listened on $1 within 10 s"
    kill -0 "$host_pid" 2>/dev/null || fail "it exited: $(cat "$work/host.log")"
    sleep 0.05
  done
}
ask() { "$served_client" --connect "unix:$work/host.sock" --param "SCRIPT_FILENAME=$1" GET "$2" | tr -d '\r'; }

build_template() {
  local prefix=$1
  rm -rf "$work/my_plugin"
  cp -R "$prefix/share/fcgi-host/examples/plugin-template" "$work/my_plugin"
  cmake -S "$work/my_plugin" -B "$work/my_plugin/build" -DCMAKE_PREFIX_PATH="$prefix" > "$work/configure.log" 2>&1 ||
    fail "configuring the template against $prefix: $(cat "$work/configure.log")"
  cmake --build "$work/my_plugin/build" > "$work/build.log" 2>&1 || fail "building the template: $(cat "$work/build.log")"
  ctest --test-dir "$work/my_plugin/build" --output-on-failure > "$work/ctest.log" 2>&1 ||
    fail "the template's own test against $prefix: $(cat "$work/ctest.log")"
  grep -q "100% tests passed, 0 tests failed out of 1$" "$work/ctest.log" ||
    fail "the template's test did not run: $(cat "$work/ctest.log")"
  grep -q "$prefix/bin/fcgi-host" "$work/my_plugin/build/CTestTestfile.cmake" ||
    fail "the template's test used another fcgi-host than $prefix's"
}
