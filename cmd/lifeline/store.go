package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The embedded databases live in the data directory (-data):
//
//   - orders.db holds the orders of /demo/order. Each order is written in one
//     write transaction that lasts the order's work, and bbolt has one writer
//     per file at a time, so orders are placed one after another (like a table
//     lock); keeping them in their own file spares everything else that wait.
//   - lifeline.db holds the jobs of /demo/finish and /demo/close-early, the
//     sessions of /demo/session and the idempotency keys of /demo/order, in
//     buckets of their own.
const (
	ordersFile = "orders.db"
	mainFile   = "lifeline.db"
)

// openTimeout bounds the wait for a bbolt file locked by another process.
const openTimeout = time.Second

var errDataDirBusy = errors.New("data directory in use by another process")

// defaultDataDir returns where the databases go when -data is not given: a
// directory under the user's cache directory, or under the temporary
// directory on a machine without one, so the server runs with no setup.
func defaultDataDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "lifeline")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("lifeline-%d", os.Getuid()))
}

// openDB creates dir if needed and opens the bbolt file name in it.
func openDB(dir, name string) (*bolt.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, name)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w (another lifeline running? use -data DIR)", path, errDataDirBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// createBuckets makes sure db has the named buckets.
func createBuckets(db *bolt.DB, names ...string) error {
	return db.Update(func(tx *bolt.Tx) error {
		for _, n := range names {
			if _, err := tx.CreateBucketIfNotExists([]byte(n)); err != nil {
				return fmt.Errorf("bucket %s: %w", n, err)
			}
		}
		return nil
	})
}
