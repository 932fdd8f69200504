module github.com/lifeline-go/lifeline/conformance

go 1.25.0

replace github.com/lifeline-go/lifeline => ../

require github.com/lifeline-go/lifeline v0.0.0-00010101000000-000000000000

require (
	github.com/andybalholm/brotli v1.2.8 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace github.com/lifeline-go/lifeline/compress => ../compress

require github.com/lifeline-go/lifeline/compress v0.0.0-00010101000000-000000000000
