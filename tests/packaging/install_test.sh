#!/bin/sh
# `cmake --install` into a fresh prefix, then what a plugin author does with
# it: build the installed plugin template out of tree with
# find_package(fcgihost) and run its test (the installed fcgi-host serving
# it to the installed fcgi-client); build a C plugin with pkg-config alone
# and serve it.
# Usage: install_test.sh BUILD_DIR
set -eu
. "$(dirname "$0")/steps.sh"

prefix=$work/prefix
install_into "$prefix"
for file in bin/fcgi-host bin/fcgi-client bin/fcgi-bench include/fcgihost/plugin.h include/fcgihost/plugin.hpp \
            include/fcgihost/form.hpp lib/cmake/fcgihost/fcgihostConfig.cmake \
            lib/cmake/fcgihost/fcgihostConfigVersion.cmake lib/cmake/fcgihost/FcgihostPlugin.cmake \
            lib/pkgconfig/fcgihost.pc share/fcgi-host/examples/fcgi-host.toml \
            share/fcgi-host/examples/plugin-template/CMakeLists.txt lib/fcgi-host/example-plugins/libhello.so \
            etc/fcgi-host/fcgi-host.toml share/doc/fcgi-host/README.md share/doc/fcgi-host/docs/settings.md lib/systemd/system/fcgi-host.service \
            lib/systemd/system/fcgi-host.socket lib/systemd/system/fcgi-host@.service lib/systemd/system/fcgi-host@.socket; do
  [ -e "$prefix/$file" ] || fail "cmake --install put no $file in place"
done
[ -d "$prefix/lib/fcgi-host/plugins" ] || fail "no empty plugins folder"
grep -q "^plugins = \"$prefix/lib/fcgi-host/plugins\"$" "$prefix/share/fcgi-host/examples/fcgi-host.toml" ||
  fail "the example config names another plugins folder: $(grep '^plugins' "$prefix/share/fcgi-host/examples/fcgi-host.toml")"
"$prefix/bin/fcgi-host" --help | grep -q "^usage: fcgi-host" || fail "the installed fcgi-host --help"
grep -q "^ExecStart=$prefix/bin/fcgi-host --config $prefix/etc/fcgi-host/fcgi-host.toml$" \
  "$prefix/lib/systemd/system/fcgi-host.service" || fail "the unit's ExecStart: $(grep ExecStart "$prefix/lib/systemd/system/fcgi-host.service")"

# The template, copied from the installation as an author would, built
# against it and tested by its own ctest.
build_template "$prefix"
# Its install puts it in the installation's plugins folder, where the host serves it.
cmake --install "$work/my_plugin/build" > /dev/null
serve "$prefix/bin/fcgi-host" "$prefix/bin/fcgi-client" "$prefix/lib/fcgi-host/plugins"
answer=$(ask my_plugin.hello '/hello?name=Ada')
[ "$answer" = "$(printf 'Status: 200 OK\nContent-Type: text/plain; charset=utf-8\n\nHello, Ada!')" ] ||
  fail "the installed template plugin answered: $answer"

# Without CMake: the compile line of fcgihost.pc.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[ "$(pkg-config --variable=abi_version fcgihost)" = "$(sed -n 's/^#define FCGIHOST_ABI_VERSION \([0-9]*\)$/\1/p' "$prefix/include/fcgihost/plugin.h")" ] ||
  fail "fcgihost.pc's abi_version"
mkdir "$work/by-hand"
# shellcheck disable=SC2046 # the flags are words
cc -fPIC -shared -fvisibility=hidden $(pkg-config --cflags fcgihost) \
   "$prefix/share/fcgi-host/examples/plugins/c_hello.c" -o "$work/by-hand/libc_hello.so" || fail "cc with pkg-config"
# shellcheck disable=SC2046
c++ -std=c++20 -fPIC -shared -fvisibility=hidden $(pkg-config --cflags fcgihost) \
   "$prefix/share/fcgi-host/examples/plugins/hello.cpp" -o "$work/by-hand/libhello.so" || fail "c++ with pkg-config"
serve "$prefix/bin/fcgi-host" "$prefix/bin/fcgi-client" "$work/by-hand"
answer=$(ask c_hello.greet '/greet?ada')
[ "$answer" = "$(printf 'Content-Type: text/plain\n\nHello, ada, from C!')" ] || fail "c_hello built by hand answered: $answer"
answer=$(ask hello.greet '/')
case "$answer" in *"Hello"*) ;; *) fail "hello built by hand answered: $answer" ;; esac

# A second install over the first fails nothing, and keeps the administrator's config.
echo "# edited by the administrator" >> "$prefix/etc/fcgi-host/fcgi-host.toml"
cmake --install "$build" --prefix "$prefix" > "$work/install.log" || fail "a second cmake --install"
grep -q "^# edited by the administrator$" "$prefix/etc/fcgi-host/fcgi-host.toml" || fail "a second install overwrote the config"
grep -q "^-- Kept: $prefix/etc/fcgi-host/fcgi-host.toml$" "$work/install.log" || fail "the install did not say it kept the config"
echo "installed, built against and served"
