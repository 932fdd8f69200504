//go:build linux

package netns

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/testenv"
	"golang.org/x/sys/unix"
)

// Names and addresses. A namespace is called lifeline-<pid>-<n>, its veth
// ends ll<pid>h<n> (host side) and ll<pid>p<n> (namespace side), at most 15
// bytes as Linux requires. Each pair gets its own /30 inside 10.213.0.0/16.
const (
	namePrefix  = "lifeline-"
	linkPrefix  = "ll"
	maxSuffix   = 100000 // n < maxSuffix keeps link names within 15 bytes
	subnetBase  = "10.213.0.0"
	subnetBlock = 4     // addresses in a /30
	subnetCount = 16384 // /30 blocks in the /16
	cmdTimeout  = 10 * time.Second
)

// Pair is one network namespace joined to the host namespace by a veth link.
// Its fields are set by [New] and must not be changed. Its methods may be
// called from any goroutine.
type Pair struct {
	// Name is the namespace's name, as `ip netns list` shows it.
	Name string
	// HostLink and PeerLink are the veth ends, in the host namespace and in
	// the namespace.
	HostLink, PeerLink string
	// HostAddr is the host end's address: servers under test listen on it.
	HostAddr netip.Addr
	// PeerAddr is the namespace end's address: connections made with
	// [Pair.DialContext] come from it.
	PeerAddr netip.Addr

	tb testing.TB
}

// New creates a namespace and its veth link for the duration of tb. When the
// test does not run as root or `ip` or `iptables` is missing, it skips tb,
// or fails it under `make test` (LIFELINE_REQUIRE=all, package
// internal/testenv). Everything it creates is removed in tb's Cleanup,
// even when the test fails.
func New(tb testing.TB) *Pair {
	tb.Helper()
	if err := checkTools(); err != nil {
		testenv.Missing(tb, testenv.Netns, "%v", err)
	}
	unlock, err := lockAllocation()
	if err != nil {
		tb.Fatal(err)
	}
	defer unlock()
	removeStale()
	p, err := allocate(tb)
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.create(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Cut drops every packet entering or leaving the namespace (iptables DROP on
// its INPUT and OUTPUT chains, installed at once by one iptables-restore), so
// its connections go silent without a FIN or an RST: the peer has vanished.
// The rules live in the namespace and go with it. Any goroutine may call Cut.
func (p *Pair) Cut() error {
	const rules = "*filter\n-A INPUT -j DROP\n-A OUTPUT -j DROP\nCOMMIT\n"
	_, err := runInput(rules, "ip", "netns", "exec", p.Name, "iptables-restore", "-w", "5")
	return err
}

// Exec runs a command inside the namespace and returns its combined output,
// for diagnostics such as `ss -tin`.
func (p *Pair) Exec(name string, args ...string) ([]byte, error) {
	return run("ip", append([]string{"netns", "exec", p.Name, name}, args...)...)
}

// checkTools reports what the tests need and do not have.
func checkTools() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("network-namespace tests need root (euid %d); run them as root", os.Geteuid())
	}
	for _, tool := range []string{"ip", "iptables", "iptables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found (%w); install it with `apt-get install -y iproute2 iptables`", tool, err)
		}
	}
	return nil
}

// lockAllocation serialises the choice of names and addresses across test
// processes with an flock on a file in the temporary directory.
func lockAllocation() (unlock func(), err error) {
	path := filepath.Join(os.TempDir(), "lifeline-netns.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("netns: open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("netns: lock %s: %w", path, err)
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// allocate picks a name suffix and a /30 that nothing in the host namespace
// uses. The caller holds the allocation lock.
func allocate(tb testing.TB) (*Pair, error) {
	used, err := usedBlocks()
	if err != nil {
		return nil, err
	}
	names, err := namespaces()
	if err != nil {
		return nil, err
	}
	pid := os.Getpid()
	var p *Pair
	for range 100 {
		n := rand.IntN(maxSuffix)
		name := fmt.Sprintf("%s%d-%d", namePrefix, pid, n)
		if _, ok := names[name]; ok {
			continue
		}
		p = &Pair{
			Name:     name,
			HostLink: fmt.Sprintf("%s%dh%d", linkPrefix, pid, n),
			PeerLink: fmt.Sprintf("%s%dp%d", linkPrefix, pid, n),
			tb:       tb,
		}
		if _, err := os.Stat(filepath.Join("/sys/class/net", p.HostLink)); err == nil {
			continue
		}
		break
	}
	if p == nil {
		return nil, fmt.Errorf("netns: no free name for process %d", pid)
	}
	base := netip.MustParseAddr(subnetBase).As4()
	start := rand.IntN(subnetCount)
	for i := range subnetCount {
		block := (start + i) % subnetCount
		if block == 0 || used[block] {
			continue
		}
		off := block * subnetBlock
		a := base
		a[2], a[3] = byte(off>>8), byte(off)
		p.HostAddr = netip.AddrFrom4(a).Next()
		p.PeerAddr = p.HostAddr.Next()
		return p, nil
	}
	return nil, fmt.Errorf("netns: every /30 in %s/16 is in use", subnetBase)
}

// create makes the namespace, the veth link and the addresses, registering
// their removal first so that a failure half-way leaves nothing behind.
func (p *Pair) create() error {
	if _, err := run("ip", "netns", "add", p.Name); err != nil {
		return err
	}
	p.tb.Cleanup(func() {
		if _, err := run("ip", "netns", "del", p.Name); err != nil {
			p.tb.Errorf("netns: cleanup: %v", err)
		}
	})
	if _, err := run("ip", "link", "add", p.HostLink, "type", "veth", "peer", "name", p.PeerLink, "netns", p.Name); err != nil {
		return err
	}
	p.tb.Cleanup(func() {
		// Removing one end removes both; the namespace's deletion would
		// too, but only once no socket holds the namespace any more.
		if out, err := run("ip", "link", "del", p.HostLink); err != nil && !bytes.Contains(out, []byte("Cannot find device")) {
			p.tb.Errorf("netns: cleanup: %v", err)
		}
	})
	steps := [][]string{
		{"ip", "addr", "add", p.HostAddr.String() + "/30", "dev", p.HostLink},
		{"ip", "link", "set", p.HostLink, "up"},
		{"ip", "-n", p.Name, "addr", "add", p.PeerAddr.String() + "/30", "dev", p.PeerLink},
		{"ip", "-n", p.Name, "link", "set", p.PeerLink, "up"},
		{"ip", "-n", p.Name, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if _, err := run(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// run runs a command with a timeout and returns its combined output; the
// error quotes the command and its output.
func run(name string, args ...string) ([]byte, error) {
	return runInput("", name, args...)
}

// runInput is run with stdin.
func runInput(stdin, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("netns: %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}
