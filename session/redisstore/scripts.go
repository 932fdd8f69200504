package redisstore

import "github.com/redis/go-redis/v9"

// The scripts run atomically in Redis. KEYS[1] is the lock key, KEYS[2]
// the data key: a hash with the session data in field d and the last fence
// granted in field f, so the fence lives exactly as long as the data.
// Both keys share the hash tag {id}, so they are in one cluster slot.
//
// Every change compares the lock's value with the caller's token first:
// a holder whose lock expired (and was perhaps taken over) changes nothing.
var (
	// lockScript: ARGV nonce, ttl ms. Returns {1, fence} when granted, or
	// {0, pttl of the current lock}.
	lockScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('PTTL', KEYS[1])}
end
local f = redis.call('HINCRBY', KEYS[2], 'f', 1)
redis.call('SET', KEYS[1], string.format('%d:%s', f, ARGV[1]), 'PX', ARGV[2])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return {1, f}
`)

	// saveScript: ARGV token, data, ttl ms. Returns 1, or 0 if not the holder.
	saveScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`)

	// touchScript: ARGV token, ttl ms. Returns 1, 0 if there is no data,
	// -1 if not the holder.
	touchScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('HEXISTS', KEYS[2], 'd') == 0 then return 0 end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`)

	// deleteScript: ARGV token. Returns 1, or 0 if not the holder.
	deleteScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
return 1
`)

	// refreshScript: ARGV token, ttl ms. Returns 1, or 0 if not the
	// holder. The data key (and its fence) is kept at least as long.
	refreshScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local pttl = redis.call('PTTL', KEYS[2])
if pttl ~= -2 and pttl < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
`)

	// unlockScript (compare-and-delete): ARGV token, channel, id. Returns 1,
	// or 0 if not the holder. Publishes id on channel for waiters.
	unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
`)
)
