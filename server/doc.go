// Package server runs an [http.Server] set up for Lifeline: it notices clients
// that vanished within seconds, whether the handler writes or not, and drains
// the pool's runs on shutdown.
//
// # Why
//
// A user note in PHP's manual on connection handling reads: "If the connection is
// stopped by network troubles the script doesn't know that the client is
// disconnected." Measured with PHP 8.2, a client that vanished behind nginx
// and PHP-FPM is never noticed (a 20 s script ran to its end and wrote 26 MB
// into nginx's buffers), and under Apache only when a 10 s write timeout
// fires. A TCP peer that disappears without a FIN or an RST looks, to the
// server's socket, exactly like a client that is thinking: nothing arrives.
// With Go's defaults a silent idle peer is noticed after about two and a half
// minutes (15 s idle, then nine probes 15 s apart), and while unacknowledged
// data waits keep-alive stays quiet and the kernel retransmits for about 15
// minutes (tcp_retries2).
//
// # What it sets up
//
//   - A dead-peer timeout, [WithDeadPeerTimeout] (4 s by default): a peer
//     that acknowledges nothing for it is aborted with
//     [lifeline.ErrSilentPeer] within about the timeout plus one check
//     interval (timeout/8), so within 5 s by default, whether the handler
//     writes or not, over HTTP/1 and HTTP/2. A slow or paused reader that
//     acknowledges (its receive window shut, its window probes answered) is
//     never taken for a silent peer. Three mechanisms share the work:
//     [lifeline.Pool.ConfigureServerWith] reads each busy connection's
//     TCP_INFO (Linux) and decides while data or probes are outstanding; TCP
//     keep-alive (the first probe after about 1 s of silence, then one a
//     second) drops a silent peer while nothing is; HTTP/2 PINGs
//     ([http.HTTP2Config] SendPingTimeout and PingTimeout,
//     [WithHTTP2PingTimeout]) follow the same schedule. TCP_USER_TIMEOUT is
//     not set: since Linux 5.11 it also cuts a live peer whose window stays
//     shut.
//   - The pool's socket watcher classifies what the kernel reports: a FIN
//     as [lifeline.ErrClientAborted], an RST as [lifeline.ErrPeerReset],
//     ETIMEDOUT and silence as [lifeline.ErrSilentPeer].
//   - ReadHeaderTimeout, IdleTimeout, MaxHeaderBytes and a request-body limit
//     with documented defaults; HTTP/1.1, HTTP/2 over TLS ([WithTLS],
//     [WithTLSConfig]) and h2c on request ([WithH2C]). WriteTimeout stays off:
//     a run may stream for as long as its time limit allows.
//   - A graceful drain when the context is done ([WithDrainTimeout]).
//
// # Shutdown
//
// Pass a context from [os/signal.NotifyContext]. When it is done, [Server.Serve]
// stops accepting, lets open responses complete and waits for every run,
// including runs still working after [lifeline.Run.Finish]. At the drain
// deadline, runs still working are cancelled with
// [lifeline.ErrServerShutdown] and logged one by one, and Serve returns an
// error matching [ErrDrainIncomplete], so that main can exit non-zero. The
// server shuts its pool down: a pool serves one Server.
//
// # Example
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	pool, err := lifeline.NewPool()
//	if err != nil { ... }
//	err = server.ListenAndServe(ctx, pool, pool.Middleware()(mux), server.WithAddr(":8080"))
//
// The package examples include a complete program and tests of the drain.
package server
