package abortlat_test

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/abortlat"
)

func ExampleMeasure() {
	series, err := abortlat.Measure(context.Background(), abortlat.Settings{Trials: 5, Cap: 200 * time.Millisecond, MaxMisses: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range series {
		fmt.Println(s.Name, len(s.Samples)+s.Missed > 0)
	}
	// Output:
	// lifeline/fin true
	// nethttp/fin true
	// lifeline/rst true
	// nethttp/rst true
	// lifeline/unread-post-fin true
	// nethttp/unread-post-fin true
	// lifeline/h2-reset true
	// nethttp/h2-reset true
}
