// Package probes holds the suite's measurements that need a [testing.TB]:
// the network namespaces of internal/netns (P3, silent peers), and the
// session hand-off helpers of session/sessiontest with a real Redis from
// internal/redistest (P8). They are benchmarks, so `go test` does not run
// them; the suite compiles this package's tests and runs them, passing
// -probes.out, where they write their samples (the JSON of the suite's internal/stats series).
//
// By hand (P3 needs root, iproute2 and iptables; P8 needs redis-server):
//
//	go test -run '^$' -bench 'SilentPeer|SessionHandoff' -benchtime 1x ./bench/internal/probes -args -probes.out /tmp/probes.json
//
// The flags:
//
//	-probes.out       file to write the samples to (none: only b.ReportMetric)
//	-probes.trials    silent-peer trials per setup (3)
//	-probes.cap       how long a silent-peer trial waits (12s)
//	-probes.handoffs  session hand-offs per store and round (500)
//	-probes.rounds    alternating rounds of hand-off and baseline (4)
package probes
