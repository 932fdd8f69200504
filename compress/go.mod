module github.com/lifeline-go/lifeline/compress

go 1.25.0

replace github.com/lifeline-go/lifeline => ../

require (
	github.com/andybalholm/brotli v1.2.8
	github.com/klauspost/compress v1.20.3
	github.com/lifeline-go/lifeline v0.0.0-00010101000000-000000000000
)

require golang.org/x/sys v0.47.0 // indirect
