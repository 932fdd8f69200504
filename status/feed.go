package status

import (
	"sync"

	"github.com/lifeline-go/lifeline"
)

// Feed hands the final [lifeline.Record] of every run of one pool, as the
// run ends, to the metrics and the record log of this package, so that they
// see every run exactly once instead of polling the pool's bounded ring of
// recent runs ([lifeline.Pool.Recent]), where records that leave the ring
// between two scrapes are missed. Create the Feed before the pool, give its
// RunEnded method to the pool, and the Feed to each consumer:
//
//	feed := status.NewFeed()
//	pool, err := lifeline.NewPool(lifeline.WithRunEnded(feed.RunEnded))
//	...
//	st, err := status.New(pool, status.WithFeed(feed))
//
// A consumer sees the runs that end after it was built: build them before
// the server accepts requests. A Feed belongs to one pool. It is safe for
// concurrent use.
type Feed struct {
	mu   sync.RWMutex // guards subs; RunEnded holds it for reading while it calls them
	subs map[*subscription]struct{}
}

// subscription is one consumer of a Feed; its address is its identity.
type subscription struct{ f func(lifeline.Record) }

// NewFeed returns a Feed with no consumer yet.
func NewFeed() *Feed { return &Feed{subs: make(map[*subscription]struct{})} }

// RunEnded passes rec to every consumer of the Feed, on the calling
// goroutine. Give it to [lifeline.WithRunEnded] (a pool takes several such
// functions, so a hook of your own can sit beside it). The consumers only
// count, observe or log, and never block on the network.
func (f *Feed) RunEnded(rec lifeline.Record) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for s := range f.subs {
		s.f(rec)
	}
}

// subscribe adds fn to the consumers and returns the function that removes
// it; once that returns, fn is not running and will not be called again.
func (f *Feed) subscribe(fn func(lifeline.Record)) (cancel func()) {
	s := &subscription{f: fn}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}
}

// WithFeed makes the metrics ([NewMetrics], [Handler.Metrics]) and
// [LogRecords] take the records of ended runs from feed, as the runs end,
// instead of polling [lifeline.Pool.Recent]: none is missed, whatever the
// size of the ring and the scrape or poll interval, and
// <namespace>_status_records_missed_total stays 0. Default none: polling,
// which needs no set-up when the pool is built. feed must be the one given
// to the pool's [lifeline.WithRunEnded].
func WithFeed(feed *Feed) Option {
	return optionFunc(func(o *options) {
		if feed == nil {
			o.errs = append(o.errs, errNilFeed)
			return
		}
		o.feed = feed
	})
}
