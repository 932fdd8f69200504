package conformance

import "testing"

// sessionService is what session scenarios need from the Go side.
type sessionService interface{}

// startServices prepares the optional services of the Go side and returns
// a function saying why a scenario needing a package cannot run ("" if it
// can).
func (e *goEnv) startServices(t *testing.T) (func(needs string) string, error) {
	t.Helper()
	return func(needs string) string {
		return "package " + needs + " does not build yet"
	}, nil
}
