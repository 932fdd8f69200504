#!/usr/bin/env bash
# Runs the PHP conformance suite alone (conformance/: every scenario as a PHP
# script under PHP-FPM behind nginx and as a Go handler under Lifeline) and
# regenerates docs/CONFORMANCE.md from what it observed. `make conformance`
# calls it; `make test` runs the same suite without rewriting the document.
# Needs php-fpm, php-cli and nginx (scripts/deps.sh installs them).
set -euo pipefail
# A missing php-fpm or nginx fails the run instead of skipping (internal/testenv).
export LIFELINE_REQUIRE=${LIFELINE_REQUIRE-all}
cd "$(dirname "$0")/.."
# conformance/ is a module of its own (github.com/lifeline-go/lifeline/conformance).
(cd conformance && LIFELINE_CONFORMANCE_WRITE=1 go test -count=1 -timeout 10m -run 'TestConformance$' . "$@")
echo "docs/CONFORMANCE.md regenerated"
