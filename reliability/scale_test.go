package reliability

import (
	"os"
	"testing"
)

// fullEnv is the environment variable that selects the full scenarios
// (scripts/reliability.sh sets it to "full").
const fullEnv = "LIFELINE_RELIABILITY"

// full reports whether the full scenarios were asked for. The default, and
// -short, run the short ones (make test).
func full() bool {
	return os.Getenv(fullEnv) == "full" && !testing.Short()
}

// pick returns the count for the current mode: short, short under the race
// detector (a fifth of it, at least 1), or full.
func pick(short, fullN int) int {
	switch {
	case full():
		return fullN
	case raceEnabled:
		return max(1, short/5)
	}
	return short
}

// mode names the current mode for reports.
func mode() string {
	switch {
	case full() && raceEnabled:
		return "full, -race"
	case full():
		return "full"
	case raceEnabled:
		return "short, -race"
	}
	return "short"
}
