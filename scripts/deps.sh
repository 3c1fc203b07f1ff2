#!/usr/bin/env bash
# Installs the Debian packages tether needs to build, test and benchmark, when missing.
# Usage: scripts/deps.sh [build|test|bench]   (test implies build; bench implies test)
set -euo pipefail
what=${1:-build}
pkgs=(gcc make pkg-config libmicrohttpd-dev libjansson-dev libsodium-dev libcurl4-openssl-dev
      libsqlite3-dev libpq-dev)
case "$what" in
  test)  pkgs+=(nodejs npm valgrind clang libclang-rt-14-dev postgresql-15 chromium curl sqlite3) ;;
  bench) pkgs+=(nodejs npm clang postgresql-15 chromium curl wrk nginx-light) ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node/npm may come from outside Debian's packages; accept them when present.
if command -v node >/dev/null && command -v npm >/dev/null; then
  kept=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || kept+=("$p"); done
  missing=("${kept[@]}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
