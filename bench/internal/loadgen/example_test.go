package loadgen_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/loadgen"
)

func ExampleParseWrk() {
	res, _ := loadgen.ParseWrk("  3000 requests in 1.00s, 1MB read\nRequests/sec: 3000.00\n")
	fmt.Println(res.Requests, res.RPS)
	// Output: 3000 3000
}

func ExampleParseH2load() {
	out := "finished in 2.00s, 500.00 req/s, 1MB/s\n" +
		"requests: 1000 total, 1000 started, 1000 done, 1000 succeeded, 0 failed, 0 errored, 0 timeout\n" +
		"status codes: 1000 2xx, 0 3xx, 0 4xx, 0 5xx\n"
	res, _ := loadgen.ParseH2load(out)
	fmt.Println(res.Requests, res.RPS)
	// Output: 1000 500
}

func ExampleWrkArgs() {
	l := loadgen.Load{Conns: 64, Threads: 1, Duration: 5 * time.Second, Timeout: 10 * time.Second}
	fmt.Println(strings.Join(loadgen.WrkArgs("http://127.0.0.1:8080/", l), " "))
	// Output: -t 1 -c 64 -d 5s --timeout 10s http://127.0.0.1:8080/
}

func ExampleH2loadArgs() {
	l := loadgen.Load{Conns: 10, Streams: 10, Threads: 1, Duration: 3 * time.Second}
	fmt.Println(strings.Join(loadgen.H2loadArgs("http://127.0.0.1:8080/", l), " "))
	// Output: -t 1 -c 10 -m 10 -D 3s http://127.0.0.1:8080/
}

func ExampleWrk() {
	res, err := loadgen.Wrk(context.Background(), "http://127.0.0.1:8080/", loadgen.Load{Conns: 50, Threads: 1, Duration: 3 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.0f requests/s\n", res.RPS)
}

func ExampleH2load() {
	res, err := loadgen.H2load(context.Background(), "http://127.0.0.1:8080/", loadgen.Load{Conns: 10, Streams: 10, Threads: 1, Duration: 3 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.0f requests/s\n", res.RPS)
}
