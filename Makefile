# Lifeline: the two commands a new user needs are `make run` and `make test`.
GO ?= go

.PHONY: run test deps vet fmt-check test-go fuzz-short conformance bench bench-smoke reliability

## run: start the reference server on 127.0.0.1:8080 (embedded defaults, no external service)
run:
	$(GO) run ./cmd/lifeline

## deps: install the Debian packages the tests need (redis-server, php-fpm, nginx, chromium, ...)
deps:
	./scripts/deps.sh

## test: every test, race detector on, installing what it needs first
test: deps fmt-check mod-check vet test-go fuzz-short

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every module of the repository. The root is the library, whose go.mod lists
# only what its packages import; the suites and tools that need more (gonum/plot,
# chromedp, the frameworks) are modules of their own, each with
# `replace github.com/lifeline-go/lifeline => ../`. go.work joins them for
# development; the targets below set GOWORK=off and run each module under its
# own go.mod, as a user or a clean `go test` in that directory would.
MODULES := . compress status session/redisstore session/boltstore internal/stacktest cmd/lifeline conformance reliability bench status/browsertest frameworks benchpeers otel idempotency/sqlstore idempotency/redisstore idempotency/boltstore

# Under make, a test whose component (redis-server, PHP-FPM, nginx, Chromium, root
# for network namespaces, wrk, h2load) is missing fails; under a bare `go test ./...`
# it skips with one line naming it (internal/testenv). LIFELINE_REQUIRE= relaxes it.
export LIFELINE_REQUIRE ?= all

vet:
	@set -e; for m in $(MODULES); do echo "go vet ./... in $$m"; (cd $$m && GOWORK=off $(GO) vet ./...); done

test-go:
	@set -e; for m in $(MODULES); do echo "go test -race ./... in $$m"; (cd $$m && GOWORK=off $(GO) test -race -count=1 -timeout 30m ./...); done

## tidy: go mod tidy in every module
.PHONY: tidy mod-check
tidy:
	@set -e; for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) mod tidy); done

# Every go.mod and go.sum is tidy (part of make test, so the library's go.mod cannot
# collect requirements it does not use again).
mod-check:
	@set -e; for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) mod tidy -diff) || { echo "$$m: go.mod or go.sum not tidy: run make tidy"; exit 1; }; done

# A bounded fuzzing run of every Fuzz target (5000 executions each).
fuzz-short:
	./scripts/fuzz-short.sh

## conformance: the PHP-FPM + nginx side-by-side suite alone; regenerates docs/CONFORMANCE.md
conformance: deps
	./scripts/conformance.sh

## bench: the benchmark suite (about 12 minutes, bounded at 19): docs/bench/suite.md, docs/bench/*.png
## and the generated section of docs/BENCHMARKS.md
bench: deps
	bash scripts/bench.sh -splice docs/BENCHMARKS.md

## bench-smoke: one round of every part with tiny counts, into a temp dir (CI runs it so the suite cannot rot)
bench-smoke: deps
	bash scripts/bench.sh --smoke

## reliability: the load and fault scenarios at full scale, 1,000,000 fuzzing executions per target;
## regenerates docs/RELIABILITY.md
reliability: deps
	./scripts/reliability.sh full

## bench-peers: P1 against the peers (issue 16): bare net/http, Lifeline, http.TimeoutHandler and chi,
## four workloads over h1 (wrk) and h2c (h2load), CPU-pinned, 6 interleaved rounds (about 7 minutes);
## prints the table. PEERS_ARGS=-smoke for a one-minute check, PEERS_ARGS='-rounds 10 -v' for more.
.PHONY: bench-peers
bench-peers:
	cd benchpeers && $(GO) run ./cmd/driver $(PEERS_ARGS)

## bench-instr: P1's load-independent counts: the server's instructions per request under the same load
## (valgrind callgrind) and its syscalls per request (strace), every variant, workload and protocol
## (about 4 minutes); prints both tables. INSTR_ARGS=-smoke for a quick check, INSTR_ARGS='-n 8000' for more.
.PHONY: bench-instr
bench-instr: deps
	cd benchpeers && $(GO) run ./cmd/driver instr $(INSTR_ARGS)
