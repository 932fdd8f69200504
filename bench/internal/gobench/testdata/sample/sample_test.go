// Package sample is a tiny benchmark the gobench tests compile and run.
package sample

import "testing"

func BenchmarkSample(b *testing.B) {
	for b.Loop() {
	}
	b.ReportMetric(42, "answers")
}
