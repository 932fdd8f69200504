//go:build amd64 && !purego

package output

// fpWalk says that fpCallers walks frame pointers in this build.
const fpWalk = true

// fpCallers fills pcs with return addresses found by following the frame
// pointers from its caller's frame outwards, and returns how many it
// filled. It reads only the running goroutine's stack (its bounds are
// checked at every step), so a frame pointer that is not one ends the walk
// instead of faulting; the caller checks that the addresses belong to known
// functions (ownAt) before trusting them. The Go toolchain keeps frame
// pointers on amd64, and the runtime's execution tracer unwinds the same
// way.
//
//go:noescape
func fpCallers(pcs []uintptr) int
