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
// long before the run ends, and the work is recorded when done. Over
// HTTP/1.1 the client sees the end of the answer then too; over HTTP/2 the
// stream only ends with the run, and Go's client, which waits for the end
// of the stream, has every byte early but the end of the answer only when
// the work is done: the recipe is not portable there, Finish is.
func TestCloseEarly(t *testing.T) {
	const work = 800 * time.Millisecond
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
		switch resp.ProtoMajor {
		case 1:
			if !resp.Close {
				t.Error("HTTP/1.1 answer without Connection: close")
			}
			if ended >= work/2 {
				t.Errorf("HTTP/1.1: the answer ended after %v, want far less than the work, %v", ended, work)
			}
		case 2:
			if ended < work {
				t.Errorf("HTTP/2: the stream ended after %v, before the run's work (%v) was done", ended, work)
			}
		}
		var j job
		eventually(t, 10*time.Second, "the close-early job to end", func() bool {
			list := jobList(t, ts)
			if len(list) == 0 {
				return false
			}
			j = list[0]
			return j.State != jobWorking
		})
		if j.Kind != "close-early" || j.State != jobDone || j.Ended.Sub(j.Started) < work {
			t.Errorf("job = %+v, want a close-early job done %v after it started", j, work)
		}
	})
}
