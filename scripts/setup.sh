# Shared by ./run.sh and ./test.sh: install what is missing, configure, build.
# Sourced, not run. Idempotent: a second call installs nothing and rebuilds
# only what changed.

FCGIHOST_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FCGIHOST_BUILD="${FCGIHOST_BUILD:-$FCGIHOST_ROOT/build}"

# Debian packages the build, the tests and the examples use.
FCGIHOST_PACKAGES=(
  g++ cmake make ccache pkg-config git dpkg-dev file procps
  libboost1.81-all-dev libspdlog-dev libgtest-dev libtomlplusplus-dev libsystemd-dev
  clang libclang-rt-14-dev libc++-dev libc++abi-dev
  libfcgi-dev php-fpm nginx-light lighttpd apache2 haproxy fcgiwrap spawn-fcgi wrk curl systemd prometheus
)

fcgihost_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

fcgihost_install_packages() {
  local missing=()
  local package
  for package in "${FCGIHOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  fcgihost_log "installing ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  # Never let a package's postinst start a service (nginx, lighttpd, apache2,
  # php-fpm: three of them want port 80) on the machine: RUNLEVEL=1 for
  # sysvinit's invoke-rc.d, and a policy-rc.d that says no (exit 101) for a
  # machine that runs systemd, unless the machine has a policy of its own.
  local policy=/usr/sbin/policy-rc.d made_policy=0 status=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || status=$?
  if [ "$made_policy" = 1 ]; then "${sudo[@]}" rm -f "$policy"; fi
  return "$status"
}

fcgihost_build() {
  local werror=OFF
  [ "${CI:-}" = "true" ] && werror=ON
  fcgihost_log "configuring and building in $FCGIHOST_BUILD"
  cmake -S "$FCGIHOST_ROOT" -B "$FCGIHOST_BUILD" -DFCGIHOST_WERROR="$werror" "$@" >/dev/null
  cmake --build "$FCGIHOST_BUILD" -j2
}
