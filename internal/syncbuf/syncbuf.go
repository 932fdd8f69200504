// Package syncbuf holds a text buffer that many goroutines may write to
// while a test reads it: the log of a pool, a server or a child process. It
// imports only the standard library, so that both the library's test kit
// (lifelinetest) and the tests of every module can use it.
package syncbuf

import (
	"strings"
	"sync"
)

// Buffer collects what is written to it. Its zero value is empty and ready
// to use. Any goroutine may call its methods.
type Buffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

// Write appends p; it never fails.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
