#!/bin/sh
# Installs what oncocds needs to build and test on Debian 12 (bookworm).
# Skips apt-get when every package is already installed, so it also runs as
# a non-root user on a prepared machine.
set -eu
PKGS="build-essential cmake pkg-config libevent-dev libyajl-dev libcunit1-dev curl ca-certificates"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
