#!/usr/bin/env bash
# A bounded fuzzing run of every Fuzz target in every module of the
# repository (the root module and the nested ones: issue 10, R4's
# short version, part of `make test`): FUZZTIME executions each (default
# 5000x), on top of the seed corpora that `go test` always runs. Crashers go
# to <pkg>/testdata/fuzz/<FuzzX>/ and stay there as regression cases.
# `make reliability` runs the same targets for 1,000,000 executions each.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5000x}
fail=0
while read -r file; do
	dir=$(dirname "$file")
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
		# Run in the package's directory, so that the go command uses the
		# go.mod of the module the package belongs to (reliability/ is one).
		if out=$(cd "$dir" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" . 2>&1); then
			echo "ok   $dir $target ($fuzztime)"
		else
			echo "FAIL $dir $target"
			echo "$out" | tail -30
			fail=1
		fi
	done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sort)
exit $fail
