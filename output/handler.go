package output

// Phase is the set of operation bits passed to a [Handler], PHP's
// PHP_OUTPUT_HANDLER_* op bits: a plain write is 0, and the others combine.
type Phase uint8

// The phase bits, with PHP's values.
const (
	PhaseWrite Phase = 0 // a write reached the buffer's chunk size
	PhaseStart Phase = 1 // first call of this handler
	PhaseClean Phase = 2 // the buffer is being discarded (Clean, EndClean)
	PhaseFlush Phase = 4 // Flush (ob_flush)
	PhaseFinal Phase = 8 // last call: End, Finish or the end of the run
)

// String lists the bits, for logs and the status listing: "start|flush".
func (p Phase) String() string {
	if p == 0 {
		return "write"
	}
	s := ""
	for _, b := range [...]struct {
		bit  Phase
		name string
	}{{PhaseStart, "start"}, {PhaseClean, "clean"}, {PhaseFlush, "flush"}, {PhaseFinal, "final"}} {
		if p&b.bit != 0 {
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
// and the phase bits; the buffer is emptied afterwards. The returned bytes are
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
	Handle(buf []byte, phase Phase) ([]byte, error)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(buf []byte, phase Phase) ([]byte, error)

// Handle calls f(buf, phase).
func (f HandlerFunc) Handle(buf []byte, phase Phase) ([]byte, error) { return f(buf, phase) }

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
