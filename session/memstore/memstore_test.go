package memstore_test

import (
	"testing"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/memstore"
	"github.com/lifeline-go/lifeline/session/sessiontest"
)

func TestConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) session.Store {
		s, err := memstore.New()
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
