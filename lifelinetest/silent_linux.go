package lifelinetest

import (
	"testing"

	"github.com/lifeline-go/lifeline/internal/netns"
)

// silentNet is a network namespace whose clients can be silenced.
type silentNet struct {
	hostAddr string // the host end's address: the server listens there
	dial     dialFunc
	cut      func() error
}

// newSilentNet creates the namespace for the duration of tb, or skips tb
// (fails it under `make test`) when root, iproute2 or iptables is missing.
func newSilentNet(tb testing.TB) *silentNet {
	tb.Helper()
	p := netns.New(tb)
	return &silentNet{hostAddr: p.HostAddr.String(), dial: p.DialContext, cut: p.Cut}
}
