module github.com/lifeline-go/lifeline/bench

go 1.25.0

replace github.com/lifeline-go/lifeline => ../

replace github.com/lifeline-go/lifeline/conformance => ../conformance

require (
	github.com/lifeline-go/lifeline v0.0.0-00010101000000-000000000000
	github.com/lifeline-go/lifeline/conformance v0.0.0-00010101000000-000000000000
	github.com/redis/go-redis/v9 v9.22.0
	gonum.org/v1/plot v0.17.0
)

require (
	codeberg.org/go-fonts/liberation v0.5.0 // indirect
	codeberg.org/go-latex/latex v0.2.0 // indirect
	codeberg.org/go-pdf/fpdf v0.11.1 // indirect
	git.sr.ht/~sbinet/gg v0.7.0 // indirect
	github.com/ajstarks/svgo v0.0.0-20211024235047-1546f124cd8b // indirect
	github.com/andybalholm/brotli v1.2.8 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/golang/freetype v0.0.0-20170609003504-e2365dfdc4a0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/image v0.30.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

replace github.com/lifeline-go/lifeline/compress => ../compress

require github.com/lifeline-go/lifeline/compress v0.0.0-00010101000000-000000000000

replace github.com/lifeline-go/lifeline/session/redisstore => ../session/redisstore

require github.com/lifeline-go/lifeline/session/redisstore v0.0.0-00010101000000-000000000000

replace github.com/lifeline-go/lifeline/status => ../status

replace github.com/lifeline-go/lifeline/session/boltstore => ../session/boltstore
