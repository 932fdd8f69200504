package lifeline_test

import (
	"crypto/tls"
	"net"
)

func tlsDialer(addr string, cfg *tls.Config) (net.Conn, error) {
	return tls.Dial("tcp", addr, cfg)
}
