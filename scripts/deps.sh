#!/usr/bin/env bash
# Installs what the tests and the benchmarks need on a fresh Debian machine:
# redis-server (session and idempotency stores), postgresql (the SQL stores,
# internal/pgtest), php-fpm, php-cli and nginx
# (conformance against PHP), chromium (status page browser test), wrk and
# h2load (benchmarks), valgrind and strace (P1's instruction and syscall
# counts per request), iproute2 and iptables (silent-peer tests in network
# namespaces), gcc and libc6-dev (a test that builds a cgo program).
# Already-installed packages are left alone.
set -euo pipefail
pkgs=(redis-server postgresql php-fpm php-cli nginx chromium wrk nghttp2-client valgrind strace iproute2 iptables procps gcc libc6-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
