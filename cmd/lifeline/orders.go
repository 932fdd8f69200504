package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The states of an order, as GET /demo/orders shows them.
const (
	// statePlaced: the order's transaction committed; its shutdown function
	// has not run yet.
	statePlaced = "placed"
	// stateConfirmed: the client was still there when the run ended.
	stateConfirmed = "confirmed"
	// stateUnconfirmed: the client left while the order was processed; the
	// order is kept, to be presented again when the visitor comes back.
	stateUnconfirmed = "unconfirmed"
	// stateFailed: the transaction was rolled back (time limit, shutdown):
	// nothing of the order was written, and its ref may be used again.
	stateFailed = "failed"
)

// orderItems is how many items an order registers, one by one, during its
// work: the "process of registering the products" that must not stop half way.
const orderItems = 4

var ordersBucket = []byte("orders")

// errOrderExists is returned by orders.place for a ref already in use.
var errOrderExists = errors.New("order exists")

// order is one order of /demo/order, stored as JSON in orders.db.
type order struct {
	Ref     string    `json:"ref"`
	State   string    `json:"state"`
	Items   []string  `json:"items"`
	Work    string    `json:"work"`
	Run     uint64    `json:"run"`              // the run that placed it
	Status  string    `json:"status,omitempty"` // the run's connection status at its end
	Reason  string    `json:"reason,omitempty"` // why it failed
	Created time.Time `json:"created"`          // the request arrived
	Placed  time.Time `json:"placed,omitzero"`  // the transaction committed
	Updated time.Time `json:"updated"`
}

// orders is the order table in orders.db. It is safe for concurrent use.
type orders struct {
	db *bolt.DB
}

func newOrders(db *bolt.DB) (*orders, error) {
	if err := createBuckets(db, string(ordersBucket)); err != nil {
		return nil, err
	}
	return &orders{db: db}, nil
}

// place writes ord in one write transaction that registers its items one
// by one over work, and commits only when all are in. If ctx is cancelled
// first (the run's time limit or the server's drain deadline; a client that
// leaves does not cancel it under IgnoreUserAbort), the transaction is
// rolled back, nothing is written, and the cause is returned. A ref held by
// an order that did not fail returns errOrderExists and that order.
func (o *orders) place(ctx context.Context, ord *order, work time.Duration) (existing order, err error) {
	err = o.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(ordersBucket)
		if v := b.Get([]byte(ord.Ref)); v != nil {
			if err := json.Unmarshal(v, &existing); err != nil {
				return fmt.Errorf("order %s: %w", ord.Ref, err)
			}
			if existing.State != stateFailed {
				return errOrderExists
			}
		}
		for i := range orderItems {
			if err := pause(ctx, work/orderItems); err != nil {
				return err
			}
			ord.Items = append(ord.Items, fmt.Sprintf("item %d of %d", i+1, orderItems))
			if err := putOrder(b, ord); err != nil {
				return err
			}
		}
		ord.State, ord.Placed, ord.Updated = statePlaced, time.Now(), time.Now()
		return putOrder(b, ord)
	})
	if err != nil {
		ord.Items = nil
	}
	return existing, err
}

// settle records the end of ord's run: its new state, the run's connection
// status and, for a failed order, the reason. A failed order does not
// replace an order that did not fail.
func (o *orders) settle(ord *order, state, status, reason string) error {
	return o.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(ordersBucket)
		if state == stateFailed {
			if v := b.Get([]byte(ord.Ref)); v != nil {
				var cur order
				if err := json.Unmarshal(v, &cur); err == nil && cur.State != stateFailed {
					return nil
				}
			}
		}
		ord.State, ord.Status, ord.Reason, ord.Updated = state, status, reason, time.Now()
		return putOrder(b, ord)
	})
}

func putOrder(b *bolt.Bucket, ord *order) error {
	v, err := json.Marshal(ord)
	if err != nil {
		return fmt.Errorf("order %s: %w", ord.Ref, err)
	}
	return b.Put([]byte(ord.Ref), v)
}

// list returns every order, oldest first.
func (o *orders) list() ([]order, error) {
	out := []order{}
	err := o.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(ordersBucket).ForEach(func(k, v []byte) error {
			var ord order
			if err := json.Unmarshal(v, &ord); err != nil {
				return fmt.Errorf("order %s: %w", k, err)
			}
			out = append(out, ord)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}
