//go:build !linux

package lifeline

func (cw *connWatch) ackedBytes() (int64, sockState) { return -1, sockGone }
func (cw *connWatch) position() (int64, bool)        { return 0, false }
