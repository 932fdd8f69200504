// Command driver measures P1 against the peers (issue 16): the same
// handlers served bare by net/http, through Lifeline, behind
// http.TimeoutHandler and behind chi's Timeout and Recoverer middlewares,
// for four workloads over HTTP/1.1 (wrk) and h2c (h2load).
//
// Usage:
//
//	driver [-rounds 6] [-dur 2s] [-smoke]      measure and print the table
//	driver serve -variant V -workload W -proto P [-addr 127.0.0.1:0]
//	driver calibrate                           print the SHA-256 rounds for ~50 µs
//	driver instr [-n 4000] [-warm 300] [-smoke] [-json FILE]
//	                                           instructions and syscalls per request
//
// The four variant servers of one workload and protocol run at once, each
// a process of its own pinned with `taskset -c 0`; the load tool is pinned
// with `taskset -c 1`. After one warm-up run per server, every round runs
// each variant once, the order rotating and reversing every other round;
// a cell is the median (min–max) of the per-round ratios variant ÷ bare.
//
// driver instr serves the same servers, one at a time, a fixed count of
// requests under the same load and counts the server's user-space
// instructions with valgrind's callgrind and its syscalls with strace;
// these counts do not move with the machine's load (see instr.go).
package main

import (
	"fmt"
	"os"
)

func main() {
	var err error
	args := os.Args[1:]
	switch {
	case len(args) > 0 && args[0] == "serve":
		err = serveMain(args[1:])
	case len(args) > 0 && args[0] == "instr":
		err = instrMain(args[1:])
	case len(args) > 0 && args[0] == "calibrate":
		err = calibrateMain(os.Stdout)
	default:
		err = driveMain(args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		os.Exit(1)
	}
}
