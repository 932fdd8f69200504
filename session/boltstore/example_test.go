package boltstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/boltstore"
)

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "sessions")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sessions.db")

	// One process per file: a second Open waits for the file lock, here
	// at most one second.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		panic(err)
	}
	store, err := boltstore.New(db)
	if err != nil {
		panic(err)
	}
	m, _ := session.New(store)
	rec := httptest.NewRecorder()
	s, _ := m.Start(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	_ = s.Set("user", "ann")
	_ = s.WriteClose(context.Background())
	_ = db.Close()

	// After a restart the session is still there.
	db, _ = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	defer db.Close()
	store, _ = boltstore.New(db)
	m, _ = session.New(store)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(rec.Result().Cookies()[0])
	s, _ = m.StartReadOnly(r)
	user, _, _ := session.Value[string](s, "user")
	fmt.Println(user)
	// Output: ann
}
