//go:build !linux

package lifelinetest

import "testing"

// silentNet is a network namespace whose clients can be silenced: Linux
// only.
type silentNet struct {
	hostAddr string
	dial     dialFunc
	cut      func() error
}

// newSilentNet skips tb: network namespaces need Linux.
func newSilentNet(tb testing.TB) *silentNet {
	tb.Helper()
	tb.Skip("lifelinetest: WithSilentClients needs Linux network namespaces")
	return nil
}
