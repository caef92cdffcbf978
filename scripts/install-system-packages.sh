#!/bin/sh
# Install the Debian packages listed in $1 (one per line, # comments) when running as root on a
# Debian-like system; otherwise say which ones are needed and carry on (tests that need them skip
# with a reason).
set -e
list="$1"
pkgs=$(sed 's/#.*//' "$list" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
[ -z "$pkgs" ] && exit 0
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "note: not root (or no apt-get): please install these system packages:$missing" >&2
fi
