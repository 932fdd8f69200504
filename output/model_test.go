package output_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/lifeline-go/lifeline/output"
)

// model is an independent reference implementation of the output stack for
// FuzzStack, written from PHP-SEMANTICS §5 in the shape of main/output.c: a
// write walks the stack top down (php_output_stack_apply_op) instead of
// recursing level by level as Stack does.
type model struct {
	sink     *recSink
	header   http.Header
	code     int
	levels   []mlevel
	implicit bool
	sent     bool
	ending   bool
	pend     []byte
	written  int64
}

type mlevel struct {
	h        *fuzzHandler // nil: PHP's default output handler
	chunk    int
	flags    output.Flags
	buf      []byte
	started  bool
	disabled bool
}

// merr is an error the model expects: a sentinel, and for the ability
// errors the level it names (-1 when none).
type merr struct {
	kind  error
	level int
	code  int // for *output.CodeError
}

var errCode = fmt.Errorf("code error marker")

func newModel(sink *recSink) *model {
	return &model{sink: sink, header: make(http.Header)}
}

func (m *model) reset() {
	*m = model{sink: m.sink, header: make(http.Header)}
}

func (m *model) start(h *fuzzHandler, chunk int, flags output.Flags) *merr {
	if chunk < 0 {
		chunk = 0
	}
	m.levels = append(m.levels, mlevel{h: h, chunk: chunk, flags: flags & (output.Cleanable | output.Flushable | output.Removable)})
	return nil
}

func (m *model) write(p []byte) *merr {
	if len(p) == 0 {
		return nil
	}
	m.walk(len(m.levels)-1, p)
	return nil
}

// walk passes in down from level j: each enabled level appends it and, when
// its chunk size is reached, runs its handler, whose output goes on down; a
// level that keeps the data, or a handler that returns nothing, ends the walk.
func (m *model) walk(j int, in []byte) {
	for k := j; k >= 0; k-- {
		lv := &m.levels[k]
		if lv.disabled {
			continue
		}
		lv.buf = append(lv.buf, in...)
		if lv.chunk == 0 || len(lv.buf) < lv.chunk {
			return
		}
		in = m.run(k, output.OpWrite)
		if len(in) == 0 {
			return
		}
	}
	m.toSink(in, false)
}

// run calls level k's handler over its buffer and empties it, returning what
// is to be passed down.
func (m *model) run(k int, op output.Op) []byte {
	lv := &m.levels[k]
	out := append([]byte(nil), lv.buf...)
	if !lv.disabled && lv.h != nil {
		if !lv.started {
			op |= output.OpStart
		}
		res, err := lv.h.Handle(append([]byte(nil), lv.buf...), op)
		if err != nil {
			lv.disabled = true
		} else {
			out = append([]byte(nil), res...)
		}
	}
	lv.started = true
	lv.buf = nil
	return out
}

func (m *model) toSink(p []byte, flush bool) {
	if m.ending {
		m.pend = append(m.pend, p...)
		return
	}
	if !m.sent {
		if m.code == 0 {
			m.code = 200
		}
		m.sent = true
		_ = m.sink.WriteHeader(m.code, m.header)
	}
	if len(p) > 0 {
		_, _ = m.sink.Write(p)
		m.written += int64(len(p))
	}
	if flush || m.implicit {
		_ = m.sink.Flush()
	}
}

func (m *model) check(need output.Flags) (int, *merr) {
	i := len(m.levels) - 1
	if i < 0 {
		return 0, &merr{kind: output.ErrNoBuffer, level: -1}
	}
	if m.levels[i].flags&need == 0 {
		switch need {
		case output.Cleanable:
			return 0, &merr{kind: output.ErrNotCleanable, level: i}
		case output.Flushable:
			return 0, &merr{kind: output.ErrNotFlushable, level: i}
		}
		return 0, &merr{kind: output.ErrNotRemovable, level: i}
	}
	return i, nil
}

func (m *model) flush() *merr {
	i, err := m.check(output.Flushable)
	if err != nil {
		return err
	}
	m.pass(i, m.run(i, output.OpFlush))
	return nil
}

func (m *model) clean() *merr {
	i, err := m.check(output.Cleanable)
	if err != nil {
		return err
	}
	m.run(i, output.OpClean)
	return nil
}

func (m *model) endFlush() *merr {
	i, err := m.check(output.Removable)
	if err != nil {
		return err
	}
	m.pass(i, m.run(i, output.OpFinal))
	m.levels = m.levels[:i]
	return nil
}

func (m *model) endClean() *merr {
	i, err := m.check(output.Removable)
	if err != nil {
		return err
	}
	m.run(i, output.OpClean|output.OpFinal)
	m.levels = m.levels[:i]
	return nil
}

// pass sends what level i's handler returned to the level below it.
func (m *model) pass(i int, out []byte) {
	if len(out) > 0 {
		m.walk(i-1, out)
	}
}

func (m *model) getClean() ([]byte, *merr) {
	if len(m.levels) == 0 {
		return nil, &merr{kind: output.ErrNoBuffer, level: -1}
	}
	c := append([]byte{}, m.levels[len(m.levels)-1].buf...)
	return c, m.endClean()
}

func (m *model) getFlush() ([]byte, *merr) {
	if len(m.levels) == 0 {
		return nil, &merr{kind: output.ErrNoBuffer, level: -1}
	}
	c := append([]byte{}, m.levels[len(m.levels)-1].buf...)
	return c, m.endFlush()
}

func (m *model) flushClient() *merr {
	m.toSink(nil, true)
	return nil
}

func (m *model) flushAll() *merr {
	for i := len(m.levels) - 1; i >= 0; i-- {
		if m.levels[i].flags&output.Flushable == 0 {
			return &merr{kind: output.ErrNotFlushable, level: i}
		}
		m.pass(i, m.run(i, output.OpFlush))
	}
	m.toSink(nil, true)
	return nil
}

func (m *model) writeHeader(code int) *merr {
	switch {
	case code < 100 || code > 999:
		return &merr{kind: errCode, level: -1, code: code}
	case m.sent:
		return &merr{kind: output.ErrHeadersSent, level: -1}
	case code < 200:
		_ = m.sink.WriteHeader(code, m.header)
	case m.code == 0:
		m.code = code
	}
	return nil
}

func (m *model) setHeader(k, v string) *merr {
	if m.sent {
		return &merr{kind: output.ErrHeadersSent, level: -1}
	}
	m.header.Set(k, v)
	return nil
}

func (m *model) endAll() *merr {
	wasSent := m.sent
	m.ending = true
	for i := len(m.levels) - 1; i >= 0; i-- {
		m.pass(i, m.run(i, output.OpFinal))
		m.levels = m.levels[:i]
	}
	m.ending = false
	if !wasSent {
		if m.code == 0 {
			m.code = 200
		}
		noBody := m.code == 204 || m.code == 304
		chunked := m.header.Get("Transfer-Encoding") != ""
		for k := range m.header {
			if k == "Trailer" || strings.HasPrefix(k, "Trailer:") {
				chunked = true
			}
		}
		if !noBody && !chunked {
			m.header.Set("Content-Length", fmt.Sprint(len(m.pend)))
		}
		m.sent = true
		_ = m.sink.WriteHeader(m.code, m.header)
	}
	if len(m.pend) > 0 {
		_, _ = m.sink.Write(m.pend)
		m.written += int64(len(m.pend))
		m.pend = nil
	}
	return nil
}

func (m *model) contents() ([]byte, bool) {
	if len(m.levels) == 0 {
		return nil, false
	}
	return m.levels[len(m.levels)-1].buf, true
}

func (m *model) status() []output.LevelStatus {
	st := make([]output.LevelStatus, len(m.levels))
	for i, lv := range m.levels {
		name := "default output handler"
		if lv.h != nil {
			name = lv.h.Name()
		}
		st[i] = output.LevelStatus{
			Name: name, Level: i, ChunkSize: lv.chunk, Flags: lv.flags,
			Used: len(lv.buf), Started: lv.started, Disabled: lv.disabled,
		}
	}
	return st
}
