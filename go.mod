module github.com/lifeline-go/lifeline

go 1.25.0

require (
	github.com/redis/go-redis/v9 v9.22.0
	go.etcd.io/bbolt v1.5.0
	golang.org/x/sys v0.47.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
)
