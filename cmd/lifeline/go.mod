module github.com/lifeline-go/lifeline/cmd/lifeline

go 1.26.0

// The reference server is a module of its own, so that what only it needs
// (River, SQLite, the PostgreSQL driver) never reaches the library's go.mod.
replace (
	github.com/lifeline-go/lifeline => ../../
	github.com/lifeline-go/lifeline/idempotency/sqlstore => ../../idempotency/sqlstore
)

require (
	github.com/jackc/pgx/v5 v5.13.0
	github.com/lifeline-go/lifeline v0.0.0-00010101000000-000000000000
	github.com/lifeline-go/lifeline/idempotency/sqlstore v0.0.0-00010101000000-000000000000
	github.com/prometheus/client_golang v1.24.1
	github.com/riverqueue/river v0.51.2
	github.com/riverqueue/river/riverdriver v0.51.2
	github.com/riverqueue/river/riverdriver/riverdatabasesql v0.51.2
	github.com/riverqueue/river/riverdriver/riversqlite v0.51.2
	github.com/riverqueue/river/rivertype v0.51.2
	modernc.org/sqlite v1.62.0
)

require (
	github.com/andybalholm/brotli v1.2.8 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/lib/pq v1.12.3 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/prometheus/client_model v0.6.2 // indirect
	github.com/prometheus/common v0.71.0 // indirect
	github.com/prometheus/procfs v0.21.1 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/riverqueue/river/riverdriver/riverpgxv5 v0.51.2 // indirect
	github.com/riverqueue/river/rivershared v0.51.2 // indirect
	github.com/tidwall/gjson v1.20.0 // indirect
	github.com/tidwall/match v1.2.0 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
)

replace github.com/lifeline-go/lifeline/compress => ../../compress

require github.com/lifeline-go/lifeline/compress v0.0.0-00010101000000-000000000000

replace github.com/lifeline-go/lifeline/status => ../../status

require (
	github.com/lifeline-go/lifeline/session/redisstore v0.0.0-00010101000000-000000000000
	github.com/lifeline-go/lifeline/status v0.0.0-00010101000000-000000000000
	github.com/redis/go-redis/v9 v9.22.0
)

replace github.com/lifeline-go/lifeline/session/redisstore => ../../session/redisstore
