package scale_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/scale"
)

func ExampleMeasure() {
	res, err := scale.Measure(context.Background(), scale.Settings{Mode: scale.ModeLifeline, Runs: 1000, Deadline: 30 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Held, res.InFlight, res.ShutdownRan)
	// Output: true 1000 1000
}

func ExampleResult_BytesPerRun() {
	r := scale.Result{InFlight: 100_000, RSSBefore: 7_000_000, RSSInFlight: 777_000_000}
	fmt.Printf("%.1f KB per run\n", r.BytesPerRun()/1000)
	// Output: 7.7 KB per run
}

func ExampleRSS() {
	fmt.Println(scale.RSS() > 0)
	// Output: true
}

func ExampleMain() {
	// The suite runs `suite child scale -mode lifeline -runs 100000` in a
	// fresh process and decodes the JSON Result it prints.
	_ = scale.Main(context.Background(), []string{"-mode", "goroutine", "-runs", "10"}, os.Stdout, os.Stderr)
}
