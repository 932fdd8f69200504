package memstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/memstore"
)

func ExampleNew() {
	store, err := memstore.New(memstore.WithCleanupInterval(5 * time.Minute))
	if err != nil {
		panic(err)
	}
	m, err := session.New(store)
	if err != nil {
		panic(err)
	}
	s, _ := m.Start(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	_ = s.Set("user", "ann")
	_ = s.WriteClose(context.Background())
	fmt.Println(store.Len())
	// Output: 1
}
