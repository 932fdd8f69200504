module github.com/lifeline-go/lifeline/benchpeers

go 1.26.0

replace github.com/lifeline-go/lifeline => ../

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/google/pprof v0.0.0-20261105003125-4bf881d7fb0b
	github.com/lifeline-go/lifeline v0.0.0-00010101000000-000000000000
)

require golang.org/x/sys v0.47.0 // indirect
