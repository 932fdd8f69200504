package lifeline

import (
	"testing"
	"unsafe"
)

// TestRunSize keeps the Run, which holds the handler's copy of the request,
// within the allocator's 704-byte size class, with the 8-byte header an
// object of pointers over 512 bytes gets: one field more, or a field out of
// place, moves every run to the 768-byte class.
func TestRunSize(t *testing.T) {
	if n := unsafe.Sizeof(Run{}); n+8 > 704 {
		t.Errorf("a Run is %d bytes, want at most 696 (see the field order of Run)", n)
	}
}
