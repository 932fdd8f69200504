package server

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
)

// TestHTTPServerSettings checks what New puts in the http.Server.
func TestHTTPServerSettings(t *testing.T) {
	pool, err := lifeline.NewPool(lifeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		readHeader, idle time.Duration
		headerBytes      int
		h2c              bool
		pingSend, pingAt time.Duration
	}
	tests := []struct {
		name string
		opts []Option
		want want
	}{
		{name: "defaults", want: want{
			readHeader: 10 * time.Second, idle: 75 * time.Second, headerBytes: 64 << 10,
			pingSend: 1600 * time.Millisecond, pingAt: 2400 * time.Millisecond, // 2/5 and 3/5 of the 4 s default
		}},
		{name: "options", opts: []Option{
			WithReadHeaderTimeout(time.Second), WithKeepAliveTimeout(0), WithMaxHeaderBytes(1000),
			WithH2C(true), WithDeadPeerTimeout(10 * time.Second),
		}, want: want{
			readHeader: time.Second, headerBytes: 1000, h2c: true,
			pingSend: 4 * time.Second, pingAt: 6 * time.Second,
		}},
		{name: "PING apart", opts: []Option{WithDeadPeerTimeout(0), WithHTTP2PingTimeout(time.Second)}, want: want{
			readHeader: 10 * time.Second, idle: 75 * time.Second, headerBytes: 64 << 10,
			pingSend: 400 * time.Millisecond, pingAt: 600 * time.Millisecond,
		}},
		{name: "PING off", opts: []Option{WithHTTP2PingTimeout(0)}, want: want{
			readHeader: 10 * time.Second, idle: 75 * time.Second, headerBytes: 64 << 10,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(pool, http.NotFoundHandler(), tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			srv := s.srv
			got := want{
				readHeader: srv.ReadHeaderTimeout, idle: srv.IdleTimeout, headerBytes: srv.MaxHeaderBytes,
				h2c: srv.Protocols.UnencryptedHTTP2(), pingSend: srv.HTTP2.SendPingTimeout, pingAt: srv.HTTP2.PingTimeout,
			}
			if got != tt.want {
				t.Errorf("http.Server settings = %+v, want %+v", got, tt.want)
			}
			if !srv.Protocols.HTTP1() || !srv.Protocols.HTTP2() {
				t.Errorf("Protocols = %v, want HTTP1 and HTTP2 (over TLS)", srv.Protocols)
			}
			if srv.WriteTimeout != 0 || srv.ReadTimeout != 0 {
				t.Errorf("WriteTimeout, ReadTimeout = %v, %v; want 0, 0 (runs may stream for their whole time limit)", srv.WriteTimeout, srv.ReadTimeout)
			}
			if srv.ConnContext == nil || srv.ConnState == nil {
				t.Error("ConnContext or ConnState not set: Pool.ConfigureServer was not called")
			}
		})
	}
}
