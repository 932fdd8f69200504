//go:build linux

package netns

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// DialContext connects to address from inside the namespace, with the
// signature of [net.Dialer.DialContext], so it fits [http.Transport].
// Any goroutine may call it.
//
// A socket belongs to the namespace of the thread that created it, for its
// whole life. DialContext therefore creates the socket on a fresh goroutine
// locked to its OS thread, moved into the namespace with setns(2) and moved
// back before it is unlocked (a thread that cannot move back is left locked,
// so the Go runtime discards it when the goroutine ends).
func (p *Pair) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		c, back, err := p.dialInside(ctx, network, address)
		if back {
			runtime.UnlockOSThread()
		}
		done <- result{c, err}
	}()
	res := <-done
	return res.c, res.err
}

// dialInside runs on a locked thread; back reports whether the thread is in
// its original namespace again.
func (p *Pair) dialInside(ctx context.Context, network, address string) (c net.Conn, back bool, err error) {
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, true, fmt.Errorf("netns: open own namespace: %w", err)
	}
	defer unix.Close(self)
	target, err := unix.Open(filepath.Join("/run/netns", p.Name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, true, fmt.Errorf("netns: open namespace %s: %w", p.Name, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("netns: enter namespace %s: %w", p.Name, err)
	}
	var d net.Dialer
	c, err = d.DialContext(ctx, network, address)
	if err != nil {
		err = fmt.Errorf("netns: dial %s from %s: %w", address, p.Name, err)
	}
	if serr := unix.Setns(self, unix.CLONE_NEWNET); serr != nil {
		return c, false, err
	}
	return c, true, err
}
