//go:build !amd64 || purego

package output

// fpWalk says that fpCallers walks frame pointers in this build.
const fpWalk = false

// fpCallers walks frame pointers only on amd64: elsewhere it records
// nothing, and the runtime's unwinder records the stack.
func fpCallers([]uintptr) int { return 0 }
