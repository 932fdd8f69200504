package suite_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/suite"
)

func ExampleRun() {
	exe, _ := os.Executable()
	cfg := suite.Config{
		Repo:       ".",
		OutDir:     "docs/bench",
		Markdown:   "docs/bench/suite.md",
		Only:       []string{"P2", "P4"},
		Timeout:    19 * time.Minute,
		Executable: exe, // a program that runs suite children, as cmd/suite does
		Command:    "go run ./bench/cmd/suite -only P2,P4",
	}
	doc, err := suite.Run(context.Background(), cfg, os.Stderr)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range doc.Sections {
		for _, v := range s.Verdicts {
			fmt.Println(s.ID, v.Measurement, v.Figure, v.Outcome)
		}
	}
}
