package reliability

import (
	"testing"

	"github.com/lifeline-go/lifeline/internal/redistest"
)

// redisServer is what the Redis-fault scenarios need of a redis-server:
// a redistest.Server, without or with persistence.
type redisServer interface {
	Addr() string
	Kill()
	Restart()
}

// startAOFRedis starts a persistent redis-server (an append-only file synced
// on every write, so a SIGKILL loses nothing it acknowledged) on a free
// loopback port for the duration of tb. Its data lives in dataDir, in memory
// (/dev/shm) when the machine has it: that survives the process, not the
// machine.
func startAOFRedis(tb testing.TB) redisServer {
	tb.Helper()
	return redistest.Start(tb, redistest.WithAppendOnly(), redistest.WithDir(dataDir(tb)))
}
