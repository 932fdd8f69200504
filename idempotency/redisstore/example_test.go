package redisstore_test

import (
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/redisstore"
)

// ExampleNew shares keys between every instance of an application through
// one Redis. It needs a Redis server, so it is compiled but not run.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.WithPrefix("shop:idempotency:"))
	if err != nil {
		log.Fatal(err)
	}
	idem, err := idempotency.New(store)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /orders", idem.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})))
	log.Fatal(http.ListenAndServe("localhost:8080", mux))
}
