// Package netns gives tests a peer they can silence: a throw-away network
// namespace joined to the host namespace by a veth link.
//
// The seed of issue 4 ends with "If the connection is stopped by network
// troubles the script doesn't know that the client is disconnected". To test
// that for real, a test needs a client whose packets stop without a FIN or an
// RST, as when a laptop lid closes or a mobile link drops. [New] creates a
// namespace with one veth end inside it (a private 10.213.x.y/30 link, nothing
// else is ever addressed), [Pair.DialContext] opens TCP connections from inside
// the namespace, and [Pair.Cut] drops every packet entering or leaving it with
// iptables (both rules at once, with iptables-restore; tc netem would do too
// but needs the sch_netem module, which not every kernel ships). The server
// under test listens on [Pair.HostAddr] in the host namespace and sees its
// client fall silent.
//
// Everything a [Pair] creates is removed in the test's Cleanup, even when the
// test fails; names carry the process ID so parallel test binaries do not
// clash, and leftovers of killed test processes are removed by the next [New]
// (or by scripts/netns-cleanup.sh).
//
// The package works on Linux only and needs root, iproute2 (`ip`) and
// iptables. When one is missing, [New] skips the test with one line naming
// it, or fails it under `make test`, which installs them (LIFELINE_REQUIRE=all,
// package internal/testenv).
package netns
