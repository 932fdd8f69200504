package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The stream's shutdown function records "aborted" when the client leaves
// mid-stream, and the run stops at its next line (seed: the STOP button).
func TestStreamClientLeaves(t *testing.T) {
	eachProtocol(t, func(t *testing.T, ts *testServer, c *http.Client) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.base+"/demo/stream?lines=100&every=20ms", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		checkProto(t, c, resp)
		br := bufio.NewReader(resp.Body)
		for i := 1; i <= 2; i++ { // each line arrives on its own: it was flushed
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("line %d: %v", i, err)
			}
			if want := fmt.Sprintf("line %d of 100 at ", i); !strings.HasPrefix(line, want) {
				t.Fatalf("line %d = %q, want prefix %q", i, line, want)
			}
		}
		cancel() // the STOP button
		resp.Body.Close()

		rec := waitRecord(t, ts, "stream", func(runJSON) bool { return true })
		if rec.Notes["final-status"] != "aborted" || rec.Status != "aborted" || rec.StatusCode != 1 {
			t.Errorf("record: status %q (%d), shutdown note %q; want aborted (1) for both",
				rec.Status, rec.StatusCode, rec.Notes["final-status"])
		}
		sent, _, _ := strings.Cut(rec.Notes["lines-sent"], "/")
		if n, err := strconv.Atoi(sent); err != nil || n < 2 || n >= 100 {
			t.Errorf("lines-sent note = %q, want between 2 and 99 of 100", rec.Notes["lines-sent"])
		}
		if rec.ShutdownFuncs != 1 {
			t.Errorf("shutdown functions run = %d, want 1", rec.ShutdownFuncs)
		}
	})
}

// A stream the client reads to its end ends normal, every line flushed.
func TestStreamComplete(t *testing.T) {
	eachProtocol(t, func(t *testing.T, ts *testServer, c *http.Client) {
		resp := get(t, c, ts.base+"/demo/stream?lines=3&every=10ms")
		if resp.StatusCode != http.StatusOK || strings.Count(resp.body, "\n") != 3 {
			t.Fatalf("answer: %s, %q; want 200 with 3 lines", resp.Status, resp.body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		rec := waitRecord(t, ts, "stream", func(runJSON) bool { return true })
		if rec.Notes["final-status"] != "normal" || rec.Notes["lines-sent"] != "3/3" {
			t.Errorf("notes = %v, want final-status normal, lines-sent 3/3", rec.Notes)
		}
	})
}
