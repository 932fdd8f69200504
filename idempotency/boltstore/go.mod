module github.com/lifeline-go/lifeline/idempotency/boltstore

go 1.25.0

replace github.com/lifeline-go/lifeline => ../../

require (
	github.com/lifeline-go/lifeline v0.0.0-00010101000000-000000000000
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.47.0 // indirect
