#!/usr/bin/env bash
# Runs Lifeline's benchmark suite (issue 9, bench/cmd/suite).
#
#   bash scripts/bench.sh           the full suite (about 12 minutes on 2 cores, bounded at 19; P1, the
#                                   peers tables run by benchpeers/cmd/driver, takes about 9):
#                                   writes docs/bench/suite.md and docs/bench/*.png
#   bash scripts/bench.sh --smoke   one round of everything with tiny counts (2-3 minutes),
#                                   into a temporary directory; for CI, so the suite cannot rot
#
# Other arguments go to the suite: -only P1,P5, -splice docs/BENCHMARKS.md, -md FILE, -out DIR
# (cd bench && go run ./cmd/suite -h; bench/ is a module of its own). The suite needs wrk, h2load, php-fpm, nginx, redis-server,
# valgrind, strace and taskset (make deps installs them), and root for the network namespaces of P3. It exits non-zero if a
# part could not be measured; a goal not met is a figure, not a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
args=()
for a in "$@"; do
  case "$a" in
    --smoke) smoke=1 ;;
    *) args+=("$a") ;;
  esac
done

missing=()
for tool in wrk h2load taskset nginx redis-server ip iptables valgrind callgrind_control strace; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
command -v php-fpm8.2 >/dev/null 2>&1 || command -v php-fpm >/dev/null 2>&1 || missing+=(php-fpm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench.sh: missing ${missing[*]}: run 'make deps' (scripts/deps.sh) first" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bench.sh: P3 (silent peers) creates network namespaces and needs root; run as root" >&2
  exit 1
fi

work=$(mktemp -d -t lifeline-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd bench && go build -o "$work/suite" ./cmd/suite) # bench/ is a module of its own; the suite runs from the root

if [ "$smoke" -eq 1 ]; then
  out=$(mktemp -d -t lifeline-bench-smoke.XXXXXX)
  "$work/suite" -smoke -out "$out" ${args[@]+"${args[@]}"}
  echo "bench.sh: smoke report in $out/suite.md"
else
  "$work/suite" ${args[@]+"${args[@]}"}
fi
