#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: set up, build, run unit and integration tests
# (real paddockd, real QEMU guests under TCG). Prints ctest's summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
cd "${PADDOCK_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j2 --timeout 600 "$@"
