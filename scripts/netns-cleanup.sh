#!/usr/bin/env bash
# Removes the network namespaces and veth links that the server tests
# (internal/netns) leave behind when a test process is killed before its
# Cleanup runs. Only names of the form lifeline-<pid>-<n> whose process is gone
# are touched; tests also do this themselves on start. Needs root.
set -euo pipefail
ip netns list | awk '{print $1}' | while read -r ns; do
  [[ $ns =~ ^lifeline-([0-9]+)-([0-9]+)$ ]] || continue
  pid=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]}
  if kill -0 "$pid" 2>/dev/null; then continue; fi
  ip link del "ll${pid}h${n}" 2>/dev/null || true
  ip netns del "$ns"
  echo "removed $ns"
done
