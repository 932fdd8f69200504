package output

// Op is the set of operation bits passed to a [Handler]: PHP's
// PHP_OUTPUT_HANDLER_* bits, which PHP's manual calls the handler's $phase
// argument. A plain write is 0, and the others combine. (The lifecycle of a
// run, in package lifeline, is its Phase: a different thing.)
type Op uint8

// The operation bits, with PHP's values.
const (
	OpWrite Op = 0 // a write reached the buffer's chunk size
	OpStart Op = 1 // first call of this handler
	OpClean Op = 2 // the buffer is being discarded (Clean, EndClean)
	OpFlush Op = 4 // Flush (ob_flush)
	OpFinal Op = 8 // last call: End, Finish or the end of the run
)

// String lists the bits, for logs and the status listing: "start|flush".
func (op Op) String() string {
	if op == 0 {
		return "write"
	}
	s := ""
	for _, b := range [...]struct {
		bit  Op
		name string
	}{{OpStart, "start"}, {OpClean, "clean"}, {OpFlush, "flush"}, {OpFinal, "final"}} {
		if op&b.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += b.name
		}
	}
	return s
}

// Handler processes the contents of one output buffer, like the callback of
// PHP's ob_start.
//
// Handle is called on the run's goroutine with the buffer's whole contents
// and the operation bits; the buffer is emptied afterwards. The returned bytes are
// passed down to the next level (or the client) before Handle is called
// again, so a handler may reuse the memory it returns. Returning an error
// (conventionally [ErrDecline]) disables the handler, as PHP's false: the raw
// buffer is passed down instead and later writes bypass the handler, which is
// never called again.
//
// If Handle panics, the panic reaches the caller of the Stack method, and
// the handler is disabled as if it had returned an error: its buffer passes
// through raw and the Stack stays usable.
//
// A handler may read and change the response header (through the [Stack] it
// was started on) until the first byte reaches the client. It must not call
// the Stack's buffer operations: they return [ErrInHandler].
type Handler interface {
	Handle(buf []byte, op Op) ([]byte, error)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(buf []byte, op Op) ([]byte, error)

// Handle calls f(buf, op).
func (f HandlerFunc) Handle(buf []byte, op Op) ([]byte, error) { return f(buf, op) }

// Flags are a buffer's abilities, PHP's PHP_OUTPUT_HANDLER_CLEANABLE,
// FLUSHABLE and REMOVABLE. PHP's ob_start default is [StdFlags]; a buffer
// started with 0 can be neither cleaned, flushed nor removed by the handler's
// code, but is still flushed at the end of the run.
type Flags uint16

// The ability flags, with PHP's values.
const (
	Cleanable Flags = 0x10
	Flushable Flags = 0x20
	Removable Flags = 0x40
	StdFlags        = Cleanable | Flushable | Removable
)
