package reliability

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// result is one call with what its client saw.
type result struct {
	call *call
	rep  reply
	// origin is the first attempt when call is a retry, else nil.
	origin *call
}

// runStorm runs calls on workers concurrent clients, each with its own
// keep-alive connection. After each call, next may return a follow-up call
// (a retry) that the same worker runs at once. It returns every call's
// result, follow-ups included, in no particular order.
func runStorm(d *dialer, workers int, calls []*call, next func(c *call, rep reply) *call) []result {
	work := make(chan *call)
	var (
		mu  sync.Mutex
		out = make([]result, 0, len(calls)+len(calls)/4)
		wg  sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			var cc *clientConn
			defer func() {
				if cc != nil {
					cc.c.Close()
				}
			}()
			for c := range work {
				var origin *call
				for c != nil {
					rep := d.do(&cc, c)
					mu.Lock()
					out = append(out, result{call: c, rep: rep, origin: origin})
					mu.Unlock()
					var follow *call
					if next != nil {
						follow = next(c, rep)
					}
					if follow != nil && origin == nil {
						origin = c
					}
					c = follow
				}
			}
		})
	}
	for _, c := range calls {
		work <- c
	}
	close(work)
	wg.Wait()
	d.bg.Wait()
	return out
}

// weighted picks an index with the given weights.
func weighted(rng *rand.Rand, weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := rng.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

// durBetween returns a random duration in [lo, hi].
func durBetween(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// acceptEncodings are the Accept-Encoding values the storm sends.
var acceptEncodings = []string{"", "gzip", "br", "zstd", "gzip;q=0.5, br", "identity", "zstd, gzip;q=0.1", "*;q=0"}

// decodeBody undoes the response's Content-Encoding.
func decodeBody(resp *http.Response, body []byte) ([]byte, error) {
	var r io.Reader
	switch enc := resp.Header.Get("Content-Encoding"); enc {
	case "":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("unknown Content-Encoding %q", enc)
	}
	return io.ReadAll(r)
}

// checkLength checks that a declared Content-Length is the body's length.
func checkLength(resp *http.Response, body []byte) error {
	if n := atoiHeader(resp.Header, "Content-Length"); n >= 0 && n != len(body) {
		return fmt.Errorf("Content-Length %d, body %d bytes", n, len(body))
	}
	return nil
}

// latencies summarises durations as "p50 / p99 / max".
func latencies(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n/a"
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return fmt.Sprintf("p50 %v / p99 %v / max %v", r(q(0.5)), r(q(0.99)), r(ds[len(ds)-1]))
}

// counter counts strings and formats them sorted.
type counter map[string]int

func (c counter) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, c[k])
	}
	return b.String()
}

// failures collects problems up to a limit, counting the rest.
type failures struct {
	mu    sync.Mutex
	list  []string
	extra int
}

func (f *failures) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.list) < 30 {
		f.list = append(f.list, fmt.Sprintf(format, args...))
		return
	}
	f.extra++
}

func (f *failures) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.list) + f.extra
}

func (f *failures) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b bytes.Buffer
	for _, s := range f.list {
		b.WriteString("\n  " + s)
	}
	if f.extra > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", f.extra)
	}
	return b.String()
}
