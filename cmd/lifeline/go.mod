module github.com/lifeline-go/lifeline/cmd/lifeline

go 1.25.0

// The reference server is a module of its own, so that what only it needs
// (River, SQLite, the PostgreSQL driver) never reaches the library's go.mod.
replace github.com/lifeline-go/lifeline => ../../

require (
	github.com/lifeline-go/lifeline v0.0.0-00010101000000-000000000000
	go.etcd.io/bbolt v1.5.0
)

require (
	github.com/andybalholm/brotli v1.2.8 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_golang v1.24.1 // indirect
	github.com/prometheus/client_model v0.6.2 // indirect
	github.com/prometheus/common v0.71.0 // indirect
	github.com/prometheus/procfs v0.21.1 // indirect
	golang.org/x/sys v0.47.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/lifeline-go/lifeline/compress => ../../compress

require github.com/lifeline-go/lifeline/compress v0.0.0-00010101000000-000000000000

replace github.com/lifeline-go/lifeline/status => ../../status

require github.com/lifeline-go/lifeline/status v0.0.0-00010101000000-000000000000

replace github.com/lifeline-go/lifeline/session/boltstore => ../../session/boltstore

require github.com/lifeline-go/lifeline/session/boltstore v0.0.0-00010101000000-000000000000

replace github.com/lifeline-go/lifeline/idempotency/boltstore => ../../idempotency/boltstore

require github.com/lifeline-go/lifeline/idempotency/boltstore v0.0.0-00010101000000-000000000000
