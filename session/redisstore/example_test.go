package redisstore_test

import (
	"errors"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/redisstore"
)

// ExampleNew needs a Redis server, so it is only compiled.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.WithPrefix("myapp:session:"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	m, err := session.New(store)
	if err != nil {
		panic(err)
	}
	http.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := m.Start(w, r)
		if errors.Is(err, session.ErrStoreUnavailable) {
			// Redis is down: never serve an empty session instead.
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer s.WriteClose(r.Context()) // outside a Lifeline run
		_ = s.Set("seen", true)
	}))
}

// ExampleStore_Close ends the store's Pub/Sub subscription; the client
// stays open for the caller.
func ExampleStore_Close() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()
	store, _ := redisstore.New(client)
	_ = store.Close()
}
