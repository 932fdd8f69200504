// Command suite runs Lifeline's benchmark suite (issue 9) and writes its
// report: Markdown with one row per goal and a section per part, and a
// PNG per latency distribution.
//
//	go run ./bench/cmd/suite                       # everything, report in docs/bench/suite.md
//	go run ./bench/cmd/suite -only P2,P4           # some parts, report in a new temporary directory
//	go run ./bench/cmd/suite -smoke                # one round of everything, tiny counts, ditto
//	go run ./bench/cmd/suite -splice docs/BENCHMARKS.md   # also replace the marked section there
//
// Run it from the module's root. It starts child processes of itself
// ("suite child ..."): servers under load and scale measurements.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/scale"
	"github.com/lifeline-go/lifeline/bench/internal/serve"
	"github.com/lifeline-go/lifeline/bench/internal/suite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "suite:", err)
		stop()
		os.Exit(1)
	}
}

// run is the program without its process-wide effects.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == suite.ChildArg {
		return child(ctx, args[1:], stdin, stdout, stderr)
	}
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "docs/bench", "directory for the plots (and the report, unless -md is given); "+
		"with -only or -smoke the default is a new temporary directory, so that docs/ keeps the full run")
	md := fs.String("md", "", "the report's Markdown file (default: suite.md in -out)")
	splice := fs.String("splice", "", "also replace the suite's section, between its markers, in this Markdown file")
	smoke := fs.Bool("smoke", false, "one round of everything with tiny counts, to check the suite works")
	only := fs.String("only", "", "comma-separated parts to run, such as P1,P5 (default: all)")
	timeout := fs.Duration("timeout", 0, "bound on the whole run (default 19m, 5m with -smoke)")
	repo := fs.String("repo", ".", "the module's root directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("run the suite from the module's root or pass -repo: %w", err)
	}
	outDir := abs(root, *out)
	if (*only != "" || *smoke) && !isSet(fs, "out") {
		if outDir, err = os.MkdirTemp("", "lifeline-bench-"); err != nil {
			return err
		}
	}
	cfg := suite.Config{
		Repo:       root,
		OutDir:     outDir,
		Smoke:      *smoke,
		Timeout:    *timeout,
		Executable: exe,
		Command:    strings.TrimSpace("go run ./bench/cmd/suite " + strings.Join(args, " ")),
	}
	cfg.Markdown = filepath.Join(cfg.OutDir, "suite.md")
	if *md != "" {
		cfg.Markdown = abs(root, *md)
	}
	if *splice != "" {
		cfg.Splice = abs(root, *splice)
	}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 19 * time.Minute
		if cfg.Smoke {
			cfg.Timeout = 5 * time.Minute
		}
	}
	_, err = suite.Run(ctx, cfg, stderr)
	return err
}

// child runs one of the suite's child roles.
func child(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("child: want a role: serve or scale")
	}
	switch args[0] {
	case "serve":
		return serve.Main(ctx, args[1:], stdin, stdout, stderr)
	case "scale":
		return scale.Main(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("child: unknown role %q", args[0])
}

// isSet reports whether the flag called name was given.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func abs(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}
