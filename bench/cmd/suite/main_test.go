package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"bad flag", []string{"-bogus"}, "flag provided but not defined"},
		{"unknown part", []string{"-only", "P9", "-out", "OUT"}, "unknown part"},
		{"child without role", []string{"child"}, "want a role"},
		{"unknown child role", []string{"child", "nope"}, "unknown role"},
		{"serve usage", []string{"child", "serve", "-bogus"}, "invalid arguments"},
		{"scale usage", []string{"child", "scale", "-mode", "nope"}, "invalid settings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "OUT", t.TempDir())
			}
			if args[0] != "child" {
				args = append(args, "-repo", "../../..")
			}
			err := run(context.Background(), args, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestRunSmokeInProcess runs the in-process parts with smoke sizes, as
// `bash scripts/bench.sh --smoke` runs all of them.
func TestRunSmokeInProcess(t *testing.T) {
	out := t.TempDir()
	err := run(context.Background(), []string{"-smoke", "-only", "P4", "-out", out, "-repo", "../../.."}, strings.NewReader(""), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, "suite.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "### P4 ") {
		t.Errorf("report lacks P4:\n%s", md)
	}
}
