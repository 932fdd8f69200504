package serve_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/serve"
)

func ExampleNew() {
	s, err := serve.New(serve.Hello, true, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- s.Serve(ctx, ln, time.Second) }()
	res, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	cancel()
	fmt.Printf("%q %v\n", body, <-done)
	// Output: "Hello, world!\n" <nil>
}

func ExampleServer_Serve() {
	s, _ := serve.New(serve.Finish, true, slog.New(slog.DiscardHandler))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve nothing: shut down at once
	fmt.Println(s.Serve(ctx, ln, time.Second))
	// Output: <nil>
}

func ExampleMain() {
	// The suite runs `suite child serve -handler hello -lifeline`, reads
	// "listening on ADDR" from its stdout, and closes its stdin to stop it.
	stdin, stop := io.Pipe()
	go func() { time.Sleep(10 * time.Millisecond); stop.Close() }()
	err := serve.Main(context.Background(), []string{"-handler", serve.Hello}, stdin, io.Discard, io.Discard)
	fmt.Println(err)
	// Output: <nil>
}
