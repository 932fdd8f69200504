// Package reliability proves, under load and faults, that nothing is lost
// when clients leave, limits hit and servers stop (issue 10). It holds no
// library code: its tests are the proof, and docs/RELIABILITY.md has the
// figures of their full run.
//
// Every scenario runs on loopback, bounded in count and time, and stops by
// itself:
//
//   - R1 abort storm: requests against the reference server (cmd/lifeline,
//     built and run as a process) and against an instrumented in-process
//     server built from the same packages, with a random mix of routes, abort
//     policies and client behaviours (finish, close with FIN, reset with RST,
//     stall, leave before the request is complete); and slow readers that
//     pause past the dead-peer timeout, which must get every byte.
//   - R2 drain: SIGTERM to the reference server while 1,000 runs work after
//     Finish.
//   - R3 limits under load: concurrent runs, half past their time limit;
//     and an HTTP/2 client that never opens its flow-control window, bounded
//     by the time limit, or without one by the stall bound.
//   - R4 fuzzing: every Fuzz target of the module, run by
//     scripts/reliability.sh, plus the end-to-end targets of this package.
//   - R5 Redis faults: redis-server killed and restarted under load.
//   - R6 scale-out: three server processes sharing one Redis.
//   - R7 hostile clients: slowloris headers, an endless body, a huge header
//     block, a client that never reads its response; and a recover
//     middleware inside the run that swallows the termination.
//
// And the reference server's crash safety and delivery truth (issues 14,
// 15), on SQLite and on PostgreSQL (internal/pgtest):
//
//   - Crash matrix: kill -9 before the order's commit, after the commit
//     before the answer, after the answer before the email job, during the
//     job; restart and retry with the same Idempotency-Key: no order lost or
//     doubled, one email each, no job lost, no key blocked past its lease.
//   - Orders exact by delivery: a transaction holding the store while a
//     client gives up at 3s, and orders with random client timeouts: an
//     order is confirmed exactly when its client read the whole 201.
//   - Bounded jobs, order throughput with and without the durable job, and
//     three servers on one PostgreSQL with one killed under load.
//
// `go test ./reliability/...` runs the short version of each scenario.
// LIFELINE_RELIABILITY=full runs the full one (scripts/reliability.sh sets
// it, and regenerates docs/RELIABILITY.md from the figures the tests write
// to the directory named by LIFELINE_RELIABILITY_REPORT).
//
// R5 and R6 need a server whose sessions and idempotency keys live in Redis,
// which the reference server does not offer: package node (and its command,
// reliability/cmd/lifeline-node) is that server, built from session/redisstore,
// idempotency/redisstore, the root package and package server.
package reliability
