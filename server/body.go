package server

import (
	"net/http"
	"strconv"
)

// limitBody bounds request bodies to n bytes (see [WithMaxBodyBytes]); n == 0
// returns h unchanged.
//
// A body announced larger than n is refused with 413 on the connection
// goroutine, before h runs, as nginx's client_max_body_size does. Other
// bodies are wrapped in [http.MaxBytesReader] with a nil ResponseWriter: the
// body is read on the run goroutine, which must never touch the connection's
// writer (STYLE B6.5), so the reader cannot mark the connection for closing
// itself. net/http closes it anyway when more than 256 KiB of the body is
// left unread after the response.
func limitBody(h http.Handler, n int64) http.Handler {
	if n == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			if r.ProtoMajor == 1 {
				w.Header().Set("Connection", "close")
			}
			http.Error(w, "request body larger than "+strconv.FormatInt(n, 10)+" bytes", http.StatusRequestEntityTooLarge)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(nil, r.Body, n)
		}
		h.ServeHTTP(w, r)
	})
}
