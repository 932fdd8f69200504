package node

import (
	"errors"
	"net/http"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/session"
)

// incrAnswer is the answer of GET /incr.
type incrAnswer struct {
	Node string `json:"node"`
	N    int    `json:"n"`
}

// incr is GET /incr?hold=D&mode=explicit|auto.
func (n *Node) incr(w http.ResponseWriter, r *http.Request) {
	rn, _ := lifeline.FromContext(r.Context())
	s, err := n.sessions.Start(w, r)
	switch {
	case errors.Is(err, session.ErrStoreUnavailable):
		unavailable(w, "session store unavailable", err)
		return
	case errors.Is(err, session.ErrLockTimeout):
		unavailable(w, "session busy", err)
		return
	case err != nil:
		rn.Check() // the client left or the time limit hit while waiting
		answer(w, http.StatusInternalServerError, map[string]string{"error": "session: " + err.Error()})
		return
	}
	v, _, err := session.Value[int](s, "n")
	if err != nil {
		answer(w, http.StatusInternalServerError, map[string]string{"error": "session value: " + err.Error()})
		return
	}
	v++
	if err := s.Set("n", v); err != nil {
		answer(w, http.StatusInternalServerError, map[string]string{"error": "session set: " + err.Error()})
		return
	}
	if err := sleep(rn.Context(), duration(r, "hold")); err != nil {
		rn.Check()
	}
	if r.URL.Query().Get("mode") == "auto" {
		// The session is saved at the end of the run, after the answer is
		// written but before it is released; a failure there is only logged.
		answer(w, http.StatusOK, incrAnswer{Node: n.cfg.Name, N: v})
		return
	}
	switch err := s.WriteClose(r.Context()); {
	case errors.Is(err, session.ErrStoreUnavailable):
		// The data may have been saved and the unlock failed: WriteClose
		// does not say which.
		unavailable(w, "session save not confirmed, store unavailable", err)
	case errors.Is(err, session.ErrLockLost):
		answer(w, http.StatusConflict, map[string]string{"error": "session not saved, its lock was lost: " + err.Error()})
	case err != nil:
		answer(w, http.StatusInternalServerError, map[string]string{"error": "session not saved: " + err.Error()})
	default:
		answer(w, http.StatusOK, incrAnswer{Node: n.cfg.Name, N: v})
	}
}

// orderAnswer is the answer of POST /order.
type orderAnswer struct {
	Node   string `json:"node"`
	Key    string `json:"key"`
	Effect int    `json:"effect"` // how many times this process performed the key's side effect
	Run    uint64 `json:"run"`
}

// order is POST /order?work=D, behind the idempotency middleware (which
// makes the run ignore user aborts).
func (n *Node) order(w http.ResponseWriter, r *http.Request) {
	rn, _ := lifeline.FromContext(r.Context())
	if err := sleep(rn.Context(), duration(r, "work")); err != nil {
		rn.Check()
		answer(w, http.StatusServiceUnavailable, map[string]string{"error": "order not placed: " + err.Error()})
		return
	}
	key := r.Header.Get("Idempotency-Key")
	answer(w, http.StatusCreated, orderAnswer{Node: n.cfg.Name, Key: key, Effect: n.effect(key), Run: rn.ID()})
}
