#!/usr/bin/env bash
# Reliability under load and faults (issue 10): runs the scenarios of
# reliability/ (R1 abort storm, R2 drain, R3 limits, R5 Redis faults, R6
# scale-out, R7 hostile clients) and R4, every Fuzz target of the module,
# then regenerates docs/RELIABILITY.md from the figures the tests wrote.
# reliability/ is a module of its own; the go commands run in its directory.
#
#   scripts/reliability.sh          full: LIFELINE_RELIABILITY=full (100,000-request
#                                   storms, 10,000 increments...), R1 again under
#                                   -race at the short scale, each Fuzz target for
#                                   1,000,000 executions; rewrites docs/RELIABILITY.md
#   scripts/reliability.sh short    the short scenarios under -race (what `make test`
#                                   runs) and each Fuzz target for 2,000 executions;
#                                   writes the document to $TMPDIR, not docs/
#   scripts/reliability.sh assemble DIR
#                                   only rewrites docs/RELIABILITY.md from the figures
#                                   a full run left in DIR (it prints where)
#
# FUZZTIME overrides the fuzzing budget (e.g. FUZZTIME=30s). Crashers that
# fuzzing finds are written by go test to <pkg>/testdata/fuzz/<FuzzX>/ and
# stay there as regression cases. Needs redis-server (scripts/deps.sh).
# Everything runs on loopback and stops by itself. Exit status: 0 when every
# step passed.
set -uo pipefail
# A missing redis-server fails the run instead of skipping (internal/testenv).
export LIFELINE_REQUIRE=${LIFELINE_REQUIRE-all}
cd "$(dirname "$0")/.."
GO=${GO:-go}
mode=${1:-full}
case "$mode" in
full) fuzztime=${FUZZTIME:-1000000x}; out=docs/RELIABILITY.md ;;
short) fuzztime=${FUZZTIME:-2000x}; out=${TMPDIR:-/tmp}/RELIABILITY.md ;;
assemble) out=docs/RELIABILITY.md ;;
*) echo "usage: $0 [full|short|assemble DIR]" >&2; exit 2 ;;
esac
status=0
if [ "$mode" = assemble ]; then
	reports=${2:?usage: $0 assemble DIR}
	# shellcheck disable=SC1091
	. "$reports/run.env"
	status=$run_status
	mode_run=$run_mode
else
	reports=$(mktemp -d "${TMPDIR:-/tmp}/lifeline-reliability-report.XXXXXX")
	mode_run=$mode
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)
	t0=$(date +%s)
fi

step() { echo; echo "== $*"; }

if [ "$mode" = assemble ]; then
	: # the figures are in $reports already
elif [ "$mode" = full ]; then
	step "scenarios, full scale (LIFELINE_RELIABILITY=full)"
	LIFELINE_RELIABILITY=full LIFELINE_RELIABILITY_REPORT="$reports" \
		(cd reliability && $GO test -count=1 -timeout 240m -v -run '^(TestR[0-9]|TestCrashMatrix|TestOrderExact|TestBoundedJobs|TestOrderThroughput|TestScaleOutOrders)' .) 2>&1 | tee "$reports/scenarios.log" | grep -E '^(=== RUN|--- |    --- |ok|FAIL|PASS)'
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
	step "R1 under the race detector (short scale)"
	LIFELINE_RELIABILITY_REPORT="$reports" \
		(cd reliability && $GO test -race -count=1 -timeout 30m -v -run '^TestR1' .) 2>&1 | tee "$reports/race.log" | grep -E '^(--- |ok|FAIL|PASS)'
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
else
	step "scenarios, short scale, -race (as make test)"
	LIFELINE_RELIABILITY_REPORT="$reports" \
		(cd reliability && $GO test -race -count=1 -timeout 30m -v ./...) 2>&1 | tee "$reports/scenarios.log" | grep -E '^(--- |    --- |ok|FAIL|PASS)'
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

fuzzrows=$reports/fuzz.md
if [ "$mode" != assemble ]; then
step "R4 fuzzing: every Fuzz target, -fuzztime=$fuzztime"
{
	echo "| Package | Target | Executions | Time | New corpus entries | Result |"
	echo "| --- | --- | --- | --- | --- | --- |"
} >"$fuzzrows"
# Every FuzzX in a _test.go file of every module, by package directory; each
# runs in its package's directory, under the go.mod of its own module.
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
	dir=$(dirname "$file")
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //' | while read -r target; do
		echo "-- $dir $target"
		log=$reports/fuzz-$(echo "$dir" | tr '/.' '__')-$target.log
		start=$(date +%s)
		if (cd "$dir" && $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" .) >"$log" 2>&1; then
			result=pass
		else
			result="**FAIL** (crasher kept in $dir/testdata/fuzz/$target/)"
			echo "FAIL" >>"$reports/fuzz.failed"
			tail -30 "$log"
		fi
		secs=$(($(date +%s) - start))
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		newi=$(grep -o 'new interesting: [0-9]*' "$log" | tail -1 | cut -d' ' -f3)
		echo "| \`${dir#./}\` | $target | ${execs:-?} | ${secs}s | ${newi:-0} | $result |" >>"$fuzzrows"
		echo "   ${execs:-?} executions in ${secs}s: $result"
	done
done
[ -e "$reports/fuzz.failed" ] && status=1
minutes=$((($(date +%s) - t0) / 60))
printf 'started=%q\nload_before=%q\nminutes=%q\nrun_status=%q\nfuzztime=%q\nrun_mode=%q\n' \
	"$started" "$load_before" "$minutes" "$status" "$fuzztime" "$mode" >"$reports/run.env"
fi

step "writing $out"
fragment() { [ -e "$reports/$1.md" ] && cat "$reports/$1.md"; }
{
	cat reliability/testdata/RELIABILITY.head.md
	echo
	echo "## The run these figures come from"
	echo
	echo "- Command: \`scripts/reliability.sh $mode_run\` (\`make reliability\`), started $started, took $minutes min"
	echo "- Machine: $(nproc) cores, $(uname -sr), $($GO version | cut -d' ' -f3-), load average at the start $load_before (the cores are shared with other work)"
	echo "- Result: $([ $status -eq 0 ] && echo 'every step passed' || echo '**some steps failed**: see the FAIL marks and the findings below')"
	[ -n "${run_note:-}" ] && echo "- Note: $run_note"
	echo
	echo "## R1 abort storm"
	echo
	for f in R1-reference R1-inprocess R1-halfclose R1-slow-readers R1-reference-race R1-inprocess-race R1-halfclose-race R1-slow-readers-race; do fragment $f; done
	echo "## R2 drain"
	echo
	for f in R2-complete R2-cut; do fragment $f; done
	echo "## R3 limits under load"
	echo
	for f in R3-reference R3-inprocess R3-zero-window-time-limit R3-zero-window-stall; do fragment $f; done
	echo "## R4 fuzzing"
	echo
	echo "Every \`Fuzz\` target of the module, each run alone with \`go test -run '^\$' -fuzz '^Target\$' -fuzztime $fuzztime <package>\`. New corpus entries stay in the Go build cache; a crasher would be written to the package's \`testdata/fuzz/<Target>/\` and kept there as a regression case."
	echo
	cat "$fuzzrows"
	echo
	echo "## R5 Redis faults"
	echo
	for f in R5-volatile R5-aof R5-locks-no-persistence R5-locks-aof R5-auto-save; do fragment $f; done
	echo "## R6 scale-out"
	echo
	for f in R6-session R6-idempotency; do fragment $f; done
	echo "## Crash-safe orders and durable jobs"
	echo
	for f in crash-sqlite crash-postgres orders-exact-sqlite orders-exact-postgres bounded-jobs order-throughput-sqlite order-throughput-postgres scaleout-orders; do fragment $f; done
	echo "## R7 hostile clients"
	echo
	for f in R7-slowloris R7-huge-header R7-endless-body R7-huge-length R7-slow-body R7-never-reads R7-recoverer; do fragment $f; done
	for f in forwarded host query-strings token csrf disk-full strict-params two-cookies; do fragment R7-security-$f; done
	cat reliability/testdata/RELIABILITY.tail.md
} >"$out"
echo "wrote $out (figures kept in $reports)"
exit $status
