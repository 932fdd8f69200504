package node_test

import (
	"log/slog"
	"net/http"

	"github.com/lifeline-go/lifeline/reliability/node"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// ExampleNew serves a node whose sessions and idempotency keys live in the
// Redis at 127.0.0.1:6379. It needs a running Redis, so it is compiled,
// not run.
func ExampleNew() {
	n, err := node.New(node.Config{Name: "a", RedisAddr: "127.0.0.1:6379"})
	if err != nil {
		panic(err)
	}
	defer n.Close()
	_ = http.ListenAndServe("127.0.0.1:8081", n.Handler())
}

// ExampleNode_Pool drains the node's runs with package server.
func ExampleNode_Pool() {
	n, err := node.New(node.Config{RedisAddr: "127.0.0.1:6379"})
	if err != nil {
		panic(err)
	}
	_ = n.Pool() // server.New(n.Pool(), n.Handler(), ...) drains it on shutdown
	_ = n.Close()
}

// ExampleNode_Handler mounts the node's routes under a prefix.
func ExampleNode_Handler() {
	n, err := node.New(node.Config{RedisAddr: "127.0.0.1:6379"})
	if err != nil {
		panic(err)
	}
	defer n.Close()
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app", n.Handler()))
}

// ExampleNode_Close releases the node once its server has drained.
func ExampleNode_Close() {
	n, err := node.New(node.Config{RedisAddr: "127.0.0.1:6379"})
	if err != nil {
		panic(err)
	}
	if err := n.Close(); err != nil {
		slog.Error("close", "err", err)
	}
}
