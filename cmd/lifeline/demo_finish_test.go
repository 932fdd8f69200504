package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"
	"time"
)

// /demo/finish answers in far less than its work, compressed with the exact
// length, on a connection that stays usable; the job is recorded when done.
func TestFinish(t *testing.T) {
	const work = 2 * time.Second
	eachProtocol(t, func(t *testing.T, ts *testServer, c *http.Client) {
		resp := do(t, c, http.MethodGet, fmt.Sprintf("%s/demo/finish?work=%v&pad=4096", ts.base, work),
			http.Header{"Accept-Encoding": {"gzip"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("answer: %s %q", resp.Status, resp.body)
		}
		if resp.elapsed >= work/2 {
			t.Errorf("answered after %v, want far less than the work, %v", resp.elapsed, work)
		}
		if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
			t.Fatalf("Content-Encoding = %q, want gzip", ce)
		}
		if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(resp.body)) {
			t.Errorf("Content-Length = %q, body has %d bytes", cl, len(resp.body))
		}
		zr, err := gzip.NewReader(strings.NewReader(resp.body))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
		if !bytes.HasPrefix(plain, []byte(finishMessage)) || len(plain) <= 4096 {
			t.Errorf("body = %.80q... (%d bytes), want the message and 4096 bytes of filler", plain, len(plain))
		}
		var id int64
		if _, err := fmt.Sscanf(string(plain[len(finishMessage):]), "(job %d:", &id); err != nil {
			t.Fatalf("no job id in %q: %v", plain, err)
		}
		if _, ok := findJob(t, ts, id); !ok {
			t.Errorf("job %d is not listed when the answer arrived", id)
		}

		// The connection was not closed: the next request reuses it.
		reused := false
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
			http.MethodGet, ts.base+"/demo/finish?work=0s", nil)
		r2, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r2.Body)
		r2.Body.Close()
		if !reused {
			t.Error("the second request did not reuse the connection")
		}

		waitJobDone(t, ts, id, "finish", work)
	})
}

// Without Accept-Encoding, or with a short body, /demo/finish is sent as is,
// with its exact length.
func TestFinishUncompressed(t *testing.T) {
	ts := startServer(t)
	c := newClient(t, "HTTP/1.1")
	c.Transport.(*http.Transport).DisableCompression = true
	for _, tc := range []struct {
		name, url, accept string
	}{
		{"no Accept-Encoding", "/demo/finish?work=0s&pad=2048", ""},
		{"short body", "/demo/finish?work=0s", "gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr http.Header
			if tc.accept != "" {
				hdr = http.Header{"Accept-Encoding": {tc.accept}}
			}
			resp := do(t, c, http.MethodGet, ts.base+tc.url, hdr)
			if ce := resp.Header.Get("Content-Encoding"); ce != "" || !strings.HasPrefix(resp.body, finishMessage) {
				t.Errorf("Content-Encoding %q, body %.60q; want plain", ce, resp.body)
			}
			if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(resp.body)) {
				t.Errorf("Content-Length = %q, body has %d bytes", cl, len(resp.body))
			}
		})
	}
}
