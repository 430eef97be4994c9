#!/bin/sh
# The whole test suite, as CI runs it: install dependencies, build everything
# with AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer
# (-fno-sanitize-recover), and run every test with ctest.
set -eu
cd "$(dirname "$0")/.."
sh deploy/install-deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DONCOCDS_SANITIZE=ON >/dev/null
cmake --build build-test -j"$(nproc)"
cd build-test
ctest --output-on-failure --no-tests=error --timeout 600
