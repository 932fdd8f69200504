package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/lifeline-go/lifeline"
)

// Variants: the same handler, bare and behind each of the three
// middlewares that give a request a time limit and catch its panics.
var variants = []string{"bare", "lifeline", "timeouthandler", "chi"}

// Workloads: what the handler does, the same code for every variant.
var workloads = []string{"hello", "4k", "1m", "cpu"}

// Protocols the servers speak.
var protos = []string{"h1", "h2c"}

// cpuTarget is how long the cpu handler computes before answering.
const cpuTarget = 50 * time.Microsecond

var (
	helloBody = []byte("Hello, world!\n")
	chunk41   = fill(41)       // 4k: 100 writes of 41 B
	chunk32K  = fill(32 << 10) // 1m: 32 writes of 32 KB
	body1K    = fill(1 << 10)  // cpu: the 1 KB body after the work
)

func fill(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	b[n-1] = '\n'
	return b
}

// bodyLen is the length of the body each workload answers with.
func bodyLen(workload string) int {
	switch workload {
	case "hello":
		return len(helloBody)
	case "4k":
		return 100 * len(chunk41)
	case "1m":
		return 32 * len(chunk32K)
	case "cpu":
		return len(body1K)
	}
	return -1
}

// spin runs n chained SHA-256 rounds over a 64-byte buffer.
func spin(n int) byte {
	var buf [sha256.Size * 2]byte
	sum := sha256.Sum256(buf[:])
	for range n {
		copy(buf[:], sum[:])
		sum = sha256.Sum256(buf[:])
	}
	return sum[0]
}

// sink keeps spin's result alive.
var sink byte

// calibrate returns the number of SHA-256 rounds that take about
// cpuTarget: the fastest of several timed batches.
func calibrate() int {
	const batch = 20000
	spin(batch) // warm up
	best := time.Duration(1 << 62)
	for range 7 {
		start := time.Now()
		sink ^= spin(batch)
		if d := time.Since(start); d < best {
			best = d
		}
	}
	n := int(float64(batch) * float64(cpuTarget) / float64(best))
	return max(n, 1)
}

// handler returns the workload's handler; cpuRounds is used by "cpu".
func handler(workload string, cpuRounds int) (http.Handler, error) {
	switch workload {
	case "hello":
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(helloBody)
		}), nil
	case "4k":
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			for range 100 {
				if _, err := w.Write(chunk41); err != nil {
					return
				}
			}
		}), nil
	case "1m":
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			for range 32 {
				if _, err := w.Write(chunk32K); err != nil {
					return
				}
			}
		}), nil
	case "cpu":
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_ = spin(cpuRounds)
			_, _ = w.Write(body1K)
		}), nil
	}
	return nil, fmt.Errorf("unknown workload %q", workload)
}

// newServer returns an http.Server for the variant, workload and protocol.
// Every variant gets the same http.Server settings; Lifeline's also has
// the pool's connection hooks (Pool.ConfigureServer), as its users set it
// up.
func newServer(variant, workload, proto string, cpuRounds int) (*http.Server, error) {
	h, err := handler(workload, cpuRounds)
	if err != nil {
		return nil, err
	}
	var p http.Protocols
	switch proto {
	case "h1":
		p.SetHTTP1(true)
	case "h2c":
		p.SetUnencryptedHTTP2(true)
	default:
		return nil, fmt.Errorf("unknown protocol %q", proto)
	}
	srv := &http.Server{Protocols: &p, ReadHeaderTimeout: 10 * time.Second}
	switch variant {
	case "bare":
		srv.Handler = h
	case "lifeline":
		pool, err := lifeline.NewPool()
		if err != nil {
			return nil, err
		}
		srv.Handler = pool.Middleware()(h)
		pool.ConfigureServer(srv)
	case "timeouthandler":
		srv.Handler = http.TimeoutHandler(h, 30*time.Second, "timeout")
	case "chi":
		r := chi.NewRouter()
		r.Use(middleware.Recoverer, middleware.Timeout(30*time.Second))
		r.Handle("/*", h)
		srv.Handler = r
	default:
		return nil, fmt.Errorf("unknown variant %q", variant)
	}
	return srv, nil
}

// serveMain is `driver serve`: it listens, prints "listening on ADDR" and
// serves until killed.
func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	variant := fs.String("variant", "bare", "one of "+strings.Join(variants, ", "))
	workload := fs.String("workload", "hello", "one of "+strings.Join(workloads, ", "))
	proto := fs.String("proto", "h1", "h1 or h2c")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	cpuRounds := fs.Int("cpurounds", 0, "SHA-256 rounds of the cpu workload (0: calibrate to ~50 µs at start)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file, ended by SIGTERM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() {
			<-term
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(0)
		}()
	}
	if *cpuRounds <= 0 && *workload == "cpu" {
		*cpuRounds = calibrate()
	}
	srv, err := newServer(*variant, *workload, *proto, *cpuRounds)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "listening on %s\n", ln.Addr())
	err = srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// calibrateMain is `driver calibrate`: it prints the rounds for ~50 µs.
func calibrateMain(w io.Writer) error {
	_, err := fmt.Fprintln(w, calibrate())
	return err
}
