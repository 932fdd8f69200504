package memstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

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

// TestSweep: expired entries are removed by a later write once the sweep
// interval has passed, without a background goroutine.
func TestSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := memstore.New(memstore.WithCleanupInterval(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		save := func(id string, ttl time.Duration) {
			tok, _ := s.Lock(ctx, id, time.Minute)
			if err := s.Save(ctx, id, tok, []byte("x"), ttl); err != nil {
				t.Fatal(err)
			}
			_ = s.Unlock(ctx, id, tok)
		}
		old, fresh := sessiontest.ID(t), sessiontest.ID(t)
		save(old, time.Second)
		time.Sleep(2 * time.Second)
		if _, err := s.Load(ctx, old); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Load(expired) = %v, want ErrNotFound", err)
		}
		save(fresh, time.Hour)
		if s.Len() != 2 {
			t.Errorf("Len() = %d before the sweep interval, want 2", s.Len())
		}
		time.Sleep(time.Minute)
		save(fresh, time.Hour)
		if s.Len() != 1 {
			t.Errorf("Len() = %d after the sweep interval, want 1", s.Len())
		}
	})
}

func TestNewValidates(t *testing.T) {
	for name, opts := range map[string][]memstore.Option{
		"cleanup interval": {memstore.WithCleanupInterval(0)},
		"nil option":       {nil},
	} {
		_, err := memstore.New(opts...)
		if !errors.Is(err, session.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "memstore: ") {
			t.Errorf("New(%s) = %v, want \"memstore: ...\" wrapping session.ErrInvalidOption", name, err)
		}
	}
}
