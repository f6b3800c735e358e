#!/bin/sh
# `cpack -G DEB`, then the package as a user gets it: its fields and
# contents, unpacked (dpkg -x) into a root, its fcgi-host --help and a
# request served from its example plugins, its SDK building the plugin
# template; and, when run as root, dpkg's own dry run of installing it on
# this machine (are its dependencies what Debian has?).
# Usage: deb_test.sh BUILD_DIR
set -eu
. "$(dirname "$0")/steps.sh"

(cd "$work" && cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/out") > "$work/cpack.log" 2>&1 ||
  fail "cpack: $(cat "$work/cpack.log")"
deb=$(ls "$work"/out/fcgi-host_*.deb)
[ -f "$deb" ] || fail "no package: $(ls "$work/out")"
ls "$work"/out/fcgi-host-dbgsym_*.ddeb > /dev/null 2>&1 || fail "no debug symbols package: $(ls "$work/out")"

[ "$(dpkg-deb -f "$deb" Package)" = fcgi-host ] || fail "Package: $(dpkg-deb -f "$deb" Package)"
depends=$(dpkg-deb -f "$deb" Depends)
for library in libboost-filesystem1.81 libspdlog libc6 libsystemd0 libstdc++6 libtomlplusplus3; do
  case "$depends" in *"$library"*) ;; *) fail "Depends lacks $library: $depends" ;; esac
done
# A server package pulls in no second C++ runtime (the libc++ example plugin stays out).
case "$depends" in *libc++*) fail "Depends names libc++: $depends" ;; esac
contents=$(dpkg-deb -c "$deb")
for file in ./usr/bin/fcgi-host ./usr/bin/fcgi-client ./usr/include/fcgihost/plugin.h \
            ./usr/lib/cmake/fcgihost/fcgihostConfig.cmake ./usr/lib/pkgconfig/fcgihost.pc \
            ./usr/share/fcgi-host/examples/fcgi-host.toml ./usr/lib/fcgi-host/example-plugins/libhello.so \
            ./etc/fcgi-host/fcgi-host.toml ./usr/lib/systemd/system/fcgi-host.service \
            ./usr/lib/systemd/system/fcgi-host.socket ./usr/lib/systemd/system/fcgi-host@.service; do
  echo "$contents" | grep -q " $file\$" || fail "the package has no $file"
done

# dpkg keeps an edited config across upgrades.
dpkg-deb -I "$deb" conffiles | grep -q "^/etc/fcgi-host/fcgi-host.toml$" || fail "conffiles: $(dpkg-deb -I "$deb" conffiles)"

root=$work/root
dpkg -x "$deb" "$root"
grep -q "^ExecStart=/usr/bin/fcgi-host --config /etc/fcgi-host/fcgi-host.toml$" "$root/usr/lib/systemd/system/fcgi-host.service" ||
  fail "the packaged unit's ExecStart: $(grep ExecStart "$root/usr/lib/systemd/system/fcgi-host.service")"
grep -q '^plugins = "/usr/lib/fcgi-host/plugins"$' "$root/usr/share/fcgi-host/examples/fcgi-host.toml" ||
  fail "the example config: $(grep '^plugins' "$root/usr/share/fcgi-host/examples/fcgi-host.toml")"
# Stripped (its debug information is in the dbgsym package): small.
size=$(stat -c %s "$root/usr/bin/fcgi-host")
[ "$size" -lt 20000000 ] || fail "the packaged fcgi-host is $size bytes: not stripped?"
"$root/usr/bin/fcgi-host" --help | grep -q "^usage: fcgi-host" || fail "the packaged fcgi-host --help"
serve "$root/usr/bin/fcgi-host" "$root/usr/bin/fcgi-client" "$root/usr/lib/fcgi-host/example-plugins"
answer=$(ask hello.greet '/greet?name=Deb')
case "$answer" in *"Hello, "*) ;; *) fail "the packaged host and plugin answered: $answer" ;; esac
answer=$(ask c_hello.greet '/greet?deb')
[ "$answer" = "$(printf 'Content-Type: text/plain\n\nHello, deb, from C!')" ] || fail "c_hello answered: $answer"
stop_host

# The package's SDK, found where dpkg -x put it (the CMake package is relocatable).
build_template "$root/usr"

if [ "$(id -u)" = 0 ]; then
  dpkg --dry-run -i "$deb" > "$work/dpkg.log" 2>&1 || fail "dpkg -i would fail here: $(cat "$work/dpkg.log")"
fi
echo "packaged, unpacked and served"
