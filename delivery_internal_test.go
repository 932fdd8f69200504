package lifeline

import (
	"encoding/binary"
	"testing"
)

func frameBytes(typ, flags byte, stream uint32, payload int) []byte {
	b := []byte{byte(payload >> 16), byte(payload >> 8), byte(payload), typ, flags}
	b = binary.BigEndian.AppendUint32(b, stream)
	return append(b, make([]byte, payload)...)
}

// scanAll feeds p to a frameScan in chunks of size n and returns the
// frames completed, with the index of the chunk that completed each.
func scanAll(p []byte, n int) (frames []frameHeader, chunks []int) {
	var s frameScan
	for i := 0; len(p) > 0; i++ {
		chunk := p[:min(n, len(p))]
		p = p[len(chunk):]
		for rest := chunk; len(rest) > 0; {
			var (
				f    frameHeader
				done bool
			)
			rest, f, done = s.next(rest)
			if done {
				frames = append(frames, f)
				chunks = append(chunks, i)
			}
		}
	}
	return frames, chunks
}

// TestFrameScan: frames are reported once complete, whatever the split of
// the byte stream, with their type, flags and stream (the reserved bit
// cleared); a zero-length frame completes with its header.
func TestFrameScan(t *testing.T) {
	var stream []byte
	stream = append(stream, frameBytes(frameHeaders, flagEndHeaders, 1, 20)...)
	stream = append(stream, frameBytes(frameData, 0, 1, 5000)...)
	stream = append(stream, frameBytes(frameData, flagEndStream, 1, 0)...)
	stream = append(stream, frameBytes(frameRSTStream, 0, 0x80000003, 4)...)
	want := []frameHeader{
		{20, frameHeaders, flagEndHeaders, 1},
		{5000, frameData, 0, 1},
		{0, frameData, flagEndStream, 1},
		{4, frameRSTStream, 0, 3},
	}
	for _, n := range []int{1, 2, 8, 9, 10, 29, 4096, len(stream)} {
		got, chunks := scanAll(stream, n)
		if len(got) != len(want) {
			t.Fatalf("chunks of %d: %d frames, want %d", n, len(got), len(want))
		}
		end := 0
		for i := range want {
			end += 9 + int(want[i].length)
			if got[i] != want[i] {
				t.Errorf("chunks of %d: frame %d = %+v, want %+v", n, i, got[i], want[i])
			}
			if wantChunk := (end - 1) / n; chunks[i] != wantChunk {
				t.Errorf("chunks of %d: frame %d completed in chunk %d, want %d (its last byte's)", n, i, chunks[i], wantChunk)
			}
		}
	}
}

// FuzzFrameScan: whatever a client sends, following it in any split gives
// the frames that following it whole gives.
func FuzzFrameScan(f *testing.F) {
	f.Add(frameBytes(frameRSTStream, 0, 1, 4), 3)
	f.Add(append(frameBytes(frameHeaders, flagEndStream, 5, 7), frameBytes(frameContinuation, flagEndHeaders, 5, 2)...), 1)
	f.Fuzz(func(t *testing.T, p []byte, n int) {
		if n <= 0 || n > len(p)+1 {
			n = len(p) + 1
		}
		whole, _ := scanAll(p, len(p)+1)
		split, _ := scanAll(p, n)
		if len(whole) != len(split) {
			t.Fatalf("%d frames whole, %d split in %d", len(whole), len(split), n)
		}
		for i := range whole {
			if whole[i] != split[i] {
				t.Fatalf("frame %d: %+v whole, %+v split", i, whole[i], split[i])
			}
		}
	})
}
