#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, real peers,
# fuzzers). Extra arguments go to ctest, e.g. ./test.sh -L unit
set -euo pipefail
source "$(dirname "$0")/scripts/setup.sh"

fcgihost_install_packages
fcgihost_build
fcgihost_log "running the tests"
ctest --test-dir "$FCGIHOST_BUILD" --output-on-failure -j2 --timeout 900 "$@"
