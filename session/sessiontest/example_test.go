package sessiontest_test

import (
	"testing"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/memstore"
	"github.com/lifeline-go/lifeline/session/sessiontest"
)

// ExampleRun shows a store's conformance test; it lives in the store's
// _test.go file as a Test function.
func ExampleRun() {
	_ = func(t *testing.T) {
		sessiontest.Run(t, func(t *testing.T) session.Store {
			s, err := memstore.New()
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	}
}
