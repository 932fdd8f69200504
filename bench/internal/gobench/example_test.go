package gobench_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/lifeline-go/lifeline/bench/internal/gobench"
)

func ExampleParse() {
	out := "BenchmarkOverhead/bare-2   20000   38.8 ns/op   16 B/op   1 allocs/op\nPASS\n"
	res, _ := gobench.Parse(strings.NewReader(out), 2)
	fmt.Println(res[0].Name, res[0].N, res[0].Metrics["ns/op"], res[0].Metrics["allocs/op"])
	// Output: BenchmarkOverhead/bare 20000 38.8 1
}

func ExampleFind() {
	res := []gobench.Result{{Name: "BenchmarkA", N: 1}, {Name: "BenchmarkB", N: 2}}
	r, ok := gobench.Find(res, "BenchmarkB")
	fmt.Println(r.N, ok)
	// Output: 2 true
}

func ExampleCommand() {
	fmt.Println(gobench.Command(".", "^BenchmarkOverhead$", "-test.benchtime=20000x", "-test.benchmem"))
	// Output: go test -run '^$' -bench '^BenchmarkOverhead$' -benchtime=20000x -benchmem .
}

func ExampleBuild() {
	ctx := context.Background()
	bin, err := gobench.Build(ctx, ".", "./compress", "/tmp/compress.test", 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, _, err := bin.Run(ctx, "^BenchmarkGzipSpeedup$", "-test.benchtime=100x")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := gobench.Find(res, "BenchmarkGzipSpeedup/level-5/html-64K")
	fmt.Printf("%.2f×\n", r.Metrics["speedup"])
}

func ExampleBinary_Run() {
	bin := &gobench.Binary{Path: "/tmp/lifeline.test", Dir: ".", Procs: 2}
	res, _, err := bin.Run(context.Background(), "^BenchmarkOverhead$", "-test.benchtime=20000x")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(res))
}
