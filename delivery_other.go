//go:build !linux

package lifeline

// Outside Linux no connection is watched (see detector): these are never
// called on a live watch.

func (cw *connWatch) ackedBytes() (int64, sockState) { return -1, sockGone }
func (cw *connWatch) position() (int64, bool)        { return 0, false }
func (cw *connWatch) holdFD()                        {}
func (cw *connWatch) releaseFD() bool                { return false }
func (cw *connWatch) keepClosed() bool               { return false }
