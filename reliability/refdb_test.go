package reliability

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// refOrder is an order of the reference server as stored in orders.db
// (cmd/lifeline/orders.go).
type refOrder struct {
	Ref    string   `json:"ref"`
	State  string   `json:"state"`
	Items  []string `json:"items"`
	Run    uint64   `json:"run"`
	Status string   `json:"status"`
	Reason string   `json:"reason"`
}

// refJob is a job of the reference server as stored in lifeline.db
// (cmd/lifeline/jobs.go).
type refJob struct {
	ID     uint64    `json:"id"`
	Kind   string    `json:"kind"`
	Run    uint64    `json:"run"`
	Work   string    `json:"work"`
	State  string    `json:"state"`
	Reason string    `json:"reason"`
	Status string    `json:"status"`
	Ended  time.Time `json:"ended"`
}

// readBucket decodes every value of bucket in the bbolt file, which the
// stopped server no longer holds.
func readBucket[T any](path, bucket string) ([]T, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	var out []T
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var x T
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("%s %x: %w", bucket, k, err)
			}
			out = append(out, x)
			return nil
		})
	})
	return out, err
}

// refOrders reads the reference server's orders from its data directory.
func refOrders(dir string) ([]refOrder, error) {
	return readBucket[refOrder](filepath.Join(dir, "orders.db"), "orders")
}

// refJobs reads the reference server's jobs from its data directory.
func refJobs(dir string) ([]refJob, error) {
	return readBucket[refJob](filepath.Join(dir, "lifeline.db"), "jobs")
}

// statusSnapshot is the part of the status page's JSON (/status?json) the
// scenarios compare with their own counts.
type statusSnapshot struct {
	AcceptedRuns  uint64            `json:"accepted_runs"`
	ActiveRuns    int               `json:"active_runs"`
	FinishedRuns  int               `json:"finished_runs"`
	EndedRuns     uint64            `json:"ended_runs"`
	EndedByStatus map[string]uint64 `json:"ended_by_status"`
	AbortsByCause map[string]uint64 `json:"aborts_by_cause"`
	TimeLimitHits uint64            `json:"time_limit_hits"`
	RunawayTotal  uint64            `json:"runaway_total"`
	HandlerPanics uint64            `json:"handler_panics"`
	MaxActiveRuns int               `json:"max_active_runs"`
}
