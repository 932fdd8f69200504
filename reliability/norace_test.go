//go:build !race

package reliability

// raceEnabled is true when the tests run with the race detector: the
// scenarios then scale down, and the server binaries are built with -race.
const raceEnabled = false
