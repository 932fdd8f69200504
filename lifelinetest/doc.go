// Package lifelinetest helps test handlers that run under a
// [lifeline.Pool]: what they do when the client leaves, when the time
// limit hits, and after [lifeline.Run.Finish].
//
// [NewPool] makes a pool for one test. It keeps the final [lifeline.Record]
// of every run that ends ([lifeline.WithRunEnded]), so a test waits for a
// run's end, including work after Finish, without polling, and it shuts the
// pool down when the test ends. There are two ways to serve a request:
//
//   - [Pool.Do] serves it into an [net/http/httptest.ResponseRecorder],
//     with no network. Inside a testing/synctest bubble, time limits, grace
//     periods and sleeps then take no real time. The panic with which the
//     pool cuts a response short ([net/http.ErrAbortHandler]) is reported
//     as [lifeline.Outcome] Cut instead of ending the test.
//   - [Pool.NewServer] serves it with package server's set-up (abort
//     detection at socket level, dead-peer timeout, drain) on a loopback
//     port, over HTTP/1.1 or HTTP/2 ([WithHTTP2]). [Server.Leave] sends a
//     request from a client that leaves at a chosen [Point] ([BeforeHeader],
//     [AfterHeader], [AfterBytes], [When]) in a chosen way ([How]: a FIN, an
//     RST, a cancelled request or stream, or a peer that falls [Silent]).
//     [WithInMemoryNetwork] serves over in-memory connections instead, so
//     that the real net/http server and client work inside a synctest
//     bubble too; a silent peer needs a network namespace
//     ([WithSilentClients], Linux and root).
//
// Every [Result] and [Response] knows which run served it: Record waits
// for that run's end and returns its final record. [Pool.NextRecord] waits
// for the next run to end, whichever it is, and [Pool.WaitIdle] for every
// run to end.
//
// A test of a handler that must store an order even when its client leaves,
// and answer 503 when the time limit hits:
//
//	func TestOrder(t *testing.T) {
//		p := lifelinetest.NewPool(t, lifeline.WithTimeLimit(5*time.Second))
//		srv := p.NewServer(routes(p.Pool)) // the application's router
//		res := srv.Leave(httptest.NewRequest("POST", "/order", body),
//			lifelinetest.BeforeHeader(), lifelinetest.Reset)
//		if rec := res.Record(); rec.Status != lifeline.Aborted || rec.Notes["order"] == "" {
//			t.Errorf("record %+v: the order was not stored", rec)
//		}
//	}
//
// The package is part of the lifeline module and needs nothing but the
// standard library (and golang.org/x/sys, for network namespaces).
package lifelinetest
