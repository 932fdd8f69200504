package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The states of a job, as GET /demo/jobs shows them.
const (
	jobWorking     = "working"     // the client has its answer; the work goes on
	jobDone        = "done"        // the work completed
	jobInterrupted = "interrupted" // the time limit or the drain deadline cut the work short
)

// maxJobsListed bounds GET /demo/jobs.
const maxJobsListed = 100

var jobsBucket = []byte("jobs")

// job is the background work of one /demo/finish or /demo/close-early run,
// stored as JSON in lifeline.db when the client has its answer and again
// when the work ends.
type job struct {
	ID            uint64    `json:"id"`
	Kind          string    `json:"kind"` // "finish" or "close-early"
	Run           uint64    `json:"run"`
	Work          string    `json:"work"`
	State         string    `json:"state"`
	Reason        string    `json:"reason,omitempty"` // why it was interrupted
	Status        string    `json:"status,omitempty"` // the run's connection status at its end
	Started       time.Time `json:"started"`
	AnsweredAfter string    `json:"answered_after,omitempty"` // from the request to the client's answer
	Ended         time.Time `json:"ended,omitzero"`
}

// jobStore keeps the jobs: *jobs in lifeline.db, or a failing store in the
// tests of the error paths (a full disk).
type jobStore interface {
	save(j *job) error
	list() ([]job, error)
}

// jobs is the job table in lifeline.db. It is safe for concurrent use.
type jobs struct {
	db *bolt.DB
}

func newJobs(db *bolt.DB) (*jobs, error) {
	if err := createBuckets(db, string(jobsBucket)); err != nil {
		return nil, err
	}
	return &jobs{db: db}, nil
}

// save stores j, giving it an ID first if it has none.
func (s *jobs) save(j *job) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(jobsBucket)
		if j.ID == 0 {
			id, err := b.NextSequence()
			if err != nil {
				return fmt.Errorf("job id: %w", err)
			}
			j.ID = id
		}
		v, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("job %d: %w", j.ID, err)
		}
		return b.Put(jobKey(j.ID), v)
	})
}

func jobKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, id)
}

// list returns the latest jobs, newest first.
func (s *jobs) list() ([]job, error) {
	out := []job{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(jobsBucket).Cursor()
		for k, v := c.Last(); k != nil && len(out) < maxJobsListed; k, v = c.Prev() {
			var j job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("job %x: %w", k, err)
			}
			out = append(out, j)
		}
		return nil
	})
	return out, err
}
