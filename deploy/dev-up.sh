#!/bin/sh
# First run on a fresh Debian 12 machine: install the build dependencies,
# build oncocds, and start it in the foreground on 127.0.0.1:8080 with the
# bundled rules.  Stop it with Ctrl-C; reload the rules with SIGHUP.
set -eu
cd "$(dirname "$0")/.."
sh deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DONCOCDS_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec ./build/oncocds --listen "${ONCOCDS_LISTEN:-127.0.0.1:8080}" --rules rules "$@"
