package reliability

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/compress"
)

// r3Shapes are the output shapes of R3's routes: how much a run has sent
// when its time limit hits, and so what its client must get.
var r3Shapes = []struct {
	name      string
	sentFirst bool // headers go out before the limit: the client must see a truncated body
	runaway   bool // the handler ignores the limit: the connection side answers after the grace period
	finish    bool // the response is complete at Finish, before the limit
}{
	{name: "silent"},                                         // sleeps with the run context, sends nothing
	{name: "spin"},                                           // computes, calling Check
	{name: "buffered"},                                       // writes less than the base buffer, then sleeps
	{name: "stream", sentFirst: true},                        // writes and flushes a line at a time
	{name: "big", sentFirst: true},                           // writes more than the base buffer, then sleeps
	{name: "gzip", sentFirst: true},                          // a compressed stream, flushed a line at a time
	{name: "runaway", runaway: true},                         // ignores the limit, sends nothing
	{name: "runaway-output", sentFirst: true, runaway: true}, // ignores the limit after sending
	{name: "finish", finish: true},                           // answers with Finish, then works past the limit
}

// r3Body is the complete answer of an R3 route that stays within its limit.
func r3Body(shape string, lines int) string {
	switch shape {
	case "buffered":
		return strings.Repeat("b", 100) + "done\n"
	case "big":
		return strings.Repeat("B", 10000) + "done\n"
	case "stream", "gzip":
		return streamBody(lines)
	case "runaway-output":
		return "start\ndone\n"
	}
	return "done\n"
}

// r3Routes mounts /r3/{shape}?limit=D&busy=D&lines=N on the storm server.
func r3Routes(mux *http.ServeMux, s *stormServer) {
	comp, err := compress.New(compress.WithMinSize(1))
	if err != nil {
		panic(err) // the options are constant
	}
	for _, sh := range r3Shapes {
		var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { r3Handle(sh.name, w, r) })
		if sh.name == "gzip" {
			h = comp.Handler(h)
		}
		mux.Handle("GET /r3/"+sh.name, s.tagged(sh.name, h))
	}
}

func r3Handle(shape string, w http.ResponseWriter, r *http.Request) {
	rn, _ := lifeline.FromContext(r.Context())
	rn.SetTimeLimit(qDur(r, "limit"))
	busy := qDur(r, "busy")
	ctx := rn.Context()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch shape {
	case "silent":
		_ = sleepCtx(ctx, busy)
		rn.Check()
	case "spin":
		for start := time.Now(); time.Since(start) < busy; {
			rn.Check()
		}
	case "buffered":
		io.WriteString(w, strings.Repeat("b", 100))
		_ = sleepCtx(ctx, busy)
		rn.Check()
	case "big":
		io.WriteString(w, strings.Repeat("B", 10000))
		_ = sleepCtx(ctx, busy)
		rn.Check()
	case "stream", "gzip":
		lines := qInt(r, "lines")
		for i := 1; i <= lines; i++ {
			if i > 1 {
				_ = sleepCtx(ctx, busy/time.Duration(lines))
			}
			fmt.Fprintf(w, "line %d of %d\n", i, lines)
			_ = rc.Flush()
		}
		return
	case "runaway":
		time.Sleep(busy) // deaf to the run context, never calls Check
	case "runaway-output":
		io.WriteString(w, "start\n")
		_ = rc.Flush()
		time.Sleep(busy)
	case "finish":
		io.WriteString(w, "done\n")
		_ = rn.Finish()
		_ = sleepCtx(ctx, busy)
		return
	}
	io.WriteString(w, "done\n")
}
