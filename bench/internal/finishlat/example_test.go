package finishlat_test

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/finishlat"
)

func ExampleMeasure() {
	res, err := finishlat.Measure(context.Background(), finishlat.Settings{Requests: 10, Work: 10 * time.Millisecond, BodySize: 3000})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Reuse["lifeline/plain"].Fraction(), res.Reuse["recipe/plain"].Fraction())
	// Output: 1 0
}

func ExampleBody() {
	fmt.Printf("%q\n", finishlat.Body(30))
	// Output: "<!doctype html><html><head><ti"
}

func ExampleReuse_Fraction() {
	fmt.Println(finishlat.Reuse{Requests: 1000, Reused: 999}.Fraction())
	// Output: 1
}
