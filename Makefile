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
test: deps fmt-check vet test-go fuzz-short

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	cd frameworks && $(GO) vet ./...

test-go:
	$(GO) test -race -count=1 -timeout 30m ./...
	cd frameworks && $(GO) test -race -count=1 -timeout 10m ./...

# A bounded fuzzing run of every Fuzz target (5000 executions each).
fuzz-short:
	./scripts/fuzz-short.sh

## conformance: the PHP-FPM + nginx side-by-side suite alone; regenerates docs/CONFORMANCE.md
conformance: deps
	./scripts/conformance.sh

## bench: the benchmark suite (about 5 minutes, bounded at 19): docs/bench/suite.md, docs/bench/*.png
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
