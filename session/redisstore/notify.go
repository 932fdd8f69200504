package redisstore

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// notifyState is the Store's single Pub/Sub subscription to the release
// channel, started at the first contended Lock. Its goroutine is owned by
// the Store: [Store.Close] stops it and waits.
type notifyState struct {
	mu      sync.Mutex // guards the fields below
	ps      *redis.PubSub
	done    chan struct{} // closed when dispatch returns
	closed  bool
	retryAt time.Time // after a failed subscribe, poll until then
	waiters map[string][]chan struct{}
}

// subscribe registers a wake-up channel for releases of id, starting the
// subscription if needed. It returns nil when no subscription is possible
// (Redis unreachable, store closed): the caller polls.
func (s *Store) subscribe(ctx context.Context, id string) <-chan struct{} {
	n := &s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || time.Now().Before(n.retryAt) {
		return nil
	}
	if n.ps == nil {
		ps := s.client.Subscribe(ctx, s.channel)
		if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
			_ = ps.Close()
			n.retryAt = time.Now().Add(time.Second)
			return nil
		}
		n.ps, n.done = ps, make(chan struct{})
		n.waiters = make(map[string][]chan struct{})
		go n.dispatch(ps.Channel(), n.done)
	}
	ch := make(chan struct{}, 1)
	n.waiters[id] = append(n.waiters[id], ch)
	return ch
}

// unsubscribe drops the wake-up channel ch of id.
func (s *Store) unsubscribe(id string, ch <-chan struct{}) {
	n := &s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	list := n.waiters[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(n.waiters, id)
	} else {
		n.waiters[id] = list
	}
}

// dispatch wakes the waiters of each released id until msgs is closed.
func (n *notifyState) dispatch(msgs <-chan *redis.Message, done chan struct{}) {
	defer close(done)
	for msg := range msgs {
		n.mu.Lock()
		for _, ch := range n.waiters[msg.Payload] {
			select {
			case ch <- struct{}{}:
			default: // already woken
			}
		}
		n.mu.Unlock()
	}
}

func (n *notifyState) close() error {
	n.mu.Lock()
	n.closed = true
	ps, done := n.ps, n.done
	n.ps = nil
	n.mu.Unlock()
	if ps == nil {
		return nil
	}
	err := ps.Close()
	<-done
	return err
}
