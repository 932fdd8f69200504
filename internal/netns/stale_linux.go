//go:build linux

package netns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// namespaces returns the names of the existing network namespaces.
func namespaces() (map[string]struct{}, error) {
	out, err := run("ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	names := make(map[string]struct{})
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// Lines look like "name" or "name (id: 3)".
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			names[f[0]] = struct{}{}
		}
	}
	return names, nil
}

// usedBlocks returns the /30 blocks of 10.213.0.0/16 that an address or a
// route of the host namespace touches.
func usedBlocks() (map[int]bool, error) {
	var all []byte
	for _, args := range [][]string{{"-4", "-o", "addr", "show"}, {"-4", "route", "show", "table", "all"}} {
		out, err := run("ip", args...)
		if err != nil {
			return nil, err
		}
		all = append(all, out...)
		all = append(all, '\n')
	}
	return blocksIn(all), nil
}

// blocksIn parses the output of `ip addr` and `ip route` for prefixes and
// addresses inside 10.213.0.0/16 and returns the /30 blocks they overlap.
func blocksIn(out []byte) map[int]bool {
	supernet := netip.MustParsePrefix(subnetBase + "/16")
	used := make(map[int]bool)
	for _, word := range strings.Fields(string(out)) {
		pfx, err := netip.ParsePrefix(word)
		if err != nil {
			a, err := netip.ParseAddr(word)
			if err != nil {
				continue
			}
			pfx = netip.PrefixFrom(a, 32)
		}
		if !pfx.Addr().Is4() || !supernet.Overlaps(pfx) {
			continue
		}
		if pfx.Bits() < 16 {
			// A route covering the whole /16: nothing in it is free.
			for b := range subnetCount {
				used[b] = true
			}
			return used
		}
		a := pfx.Masked().Addr().As4()
		first := (int(a[2])<<8 | int(a[3])) / subnetBlock
		n := max(1, (1<<(32-pfx.Bits()))/subnetBlock)
		for b := first; b < first+n && b < subnetCount; b++ {
			used[b] = true
		}
	}
	return used
}

// removeStale deletes the namespaces (and their veth links) left behind by
// test processes that no longer exist, e.g. killed by a timeout before their
// Cleanup ran. The caller holds the allocation lock. Errors are ignored: a
// leftover is harmless, as names and addresses are chosen around it.
func removeStale() {
	names, err := namespaces()
	if err != nil {
		return
	}
	for name := range names {
		pid, n, ok := parseName(name)
		if !ok || processExists(pid) {
			continue
		}
		_, _ = run("ip", "link", "del", fmt.Sprintf("%s%dh%d", linkPrefix, pid, n))
		_, _ = run("ip", "netns", "del", name)
	}
}

// parseName splits lifeline-<pid>-<n>.
func parseName(name string) (pid, n int, ok bool) {
	rest, found := strings.CutPrefix(name, namePrefix)
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, "-")
	if !found {
		return 0, 0, false
	}
	pid, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || pid <= 0 || n < 0 {
		return 0, 0, false
	}
	return pid, n, true
}

// processExists reports whether a process with this ID exists.
func processExists(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
