package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// The manual recipe: the body arrives complete with its Content-Length
// long before the work is done, which runs as a durable job and completes.
// Over HTTP/1.1 the answer carries Connection: close.
func TestCloseEarly(t *testing.T) {
	const work = 2 * time.Second
	eachProtocol(t, func(t *testing.T, ts *testServer, c *http.Client) {
		start := time.Now()
		resp, err := c.Get(fmt.Sprintf("%s/demo/close-early?work=%v", ts.base, work))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		checkProto(t, c, resp)
		if cl := resp.Header.Get("Content-Length"); resp.StatusCode != http.StatusOK || cl != strconv.Itoa(len(finishMessage)) {
			t.Fatalf("answer: %s, Content-Length %q; want 200, %d", resp.Status, cl, len(finishMessage))
		}
		body := make([]byte, len(finishMessage))
		if _, err := io.ReadFull(resp.Body, body); err != nil || string(body) != finishMessage {
			t.Fatalf("body = %q, %v; want %q", body, err, finishMessage)
		}
		if got := time.Since(start); got >= work/2 {
			t.Errorf("the body arrived after %v, want far less than the work, %v", got, work)
		}
		if n, err := io.Copy(io.Discard, resp.Body); n != 0 || err != nil {
			t.Errorf("after the Content-Length: %d more bytes, %v", n, err)
		}
		ended := time.Since(start)
		if resp.ProtoMajor == 1 && !resp.Close {
			t.Error("HTTP/1.1 answer without Connection: close")
		}
		if ended >= work/2 {
			t.Errorf("the answer ended after %v, want far less than the work, %v", ended, work)
		}
		list := jobList(t, ts)
		if len(list) == 0 {
			t.Fatal("no job listed")
		}
		waitJobDone(t, ts, list[0].ID, "close-early", work)
	})
}
