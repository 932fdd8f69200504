package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The session side of TestScaleOutOrders: the reference servers keep their
// sessions in one redis-server (-redis, session/redisstore), and
// /demo/session counts the visits of a session while it holds its lock.

// sessionCookie is the reference server's session cookie.
const sessionCookie = "lifeline_session"

// sessAnswer is the JSON answer of the reference server's /demo/session.
type sessAnswer struct {
	Visits     int       `json:"visits"`
	Waited     string    `json:"waited"`
	LockedAt   time.Time `json:"locked_at"`
	ReleasedAt time.Time `json:"released_at"`
}

// sessReply is what a client got for GET /demo/session.
type sessReply struct {
	code   int    // 0: no answer
	err    error  // why there was none
	body   string // the body of an answer other than 200
	cookie string // the session id the answer set, if any
	ans    sessAnswer
	waited time.Duration // ans.Waited, parsed
}

// sessGet sends GET /demo/session?q to base with the session id (none when
// id is empty) and reads the answer.
func sessGet(c *http.Client, base, id, q string) sessReply {
	req, err := http.NewRequest(http.MethodGet, base+"/demo/session?"+q, nil)
	if err != nil {
		return sessReply{err: err}
	}
	if id != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
	}
	resp, err := c.Do(req)
	if err != nil {
		return sessReply{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return sessReply{err: err}
	}
	r := sessReply{code: resp.StatusCode}
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			r.cookie = ck.Value
		}
	}
	if r.code != http.StatusOK {
		r.body = shortBody(body)
		return r
	}
	if err := json.Unmarshal(body, &r.ans); err != nil {
		r.code, r.err = 0, fmt.Errorf("%w in %q", err, shortBody(body))
		return r
	}
	if r.waited, err = time.ParseDuration(r.ans.Waited); err != nil {
		r.code, r.err = 0, err
	}
	return r
}

func (r sessReply) String() string {
	switch {
	case r.code == 0:
		return fmt.Sprintf("no answer (%v)", r.err)
	case r.code != http.StatusOK:
		return fmt.Sprintf("%d %s", r.code, r.body)
	}
	return fmt.Sprintf("200 visits %d, waited %v", r.ans.Visits, r.waited)
}

// newSession starts a session on base and returns its id.
func newSession(c *http.Client, base string) (string, error) {
	r := sessGet(c, base, "", "hold=0s")
	if r.code != http.StatusOK || r.cookie == "" || r.ans.Visits != 1 {
		return "", fmt.Errorf("new session on %s: %v, cookie %q", base, r, r.cookie)
	}
	return r.cookie, nil
}

// lockKey is the Redis key of session id's lock (session/redisstore with
// its default prefix).
func lockKey(id string) string { return "lifeline:session:{" + id + "}:lock" }

// waitLocked waits until session id's lock is held in Redis, at most 30s.
func waitLocked(rdb *redis.Client, id string) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := rdb.Exists(context.Background(), lockKey(id)).Result()
		if err == nil && n == 1 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("session %s: not locked in Redis after 30s (%v)", id[:8], err)
		}
		<-tick.C
	}
}

// sessionStorm is one session incremented by concurrent clients over
// the instances, as long as it runs.
type sessionStorm struct {
	id      string
	workers int

	mu      sync.Mutex // guards the fields below
	answers []stormAnswer
	lost    counter // per instance: no answer (the instance was killed)
	refused counter // per instance: an answer other than 200
	last    string  // the last refusal, for the failure message
}

// stormAnswer is one 200 of the storm.
type stormAnswer struct {
	inst  string
	after bool // sent after the kill
	sessAnswer
	waited time.Duration
}

// run sends GET /demo/session?hold=0s&close=1 with the session, round-robin
// over the instances that target returns, from s.workers clients at once,
// until stop is closed.
func (s *sessionStorm) run(c *http.Client, target func(i int) (name, base string), killed, stop chan struct{}) {
	var wg sync.WaitGroup
	for w := range s.workers {
		wg.Go(func() {
			for i := w; !chanClosed(stop); i += s.workers {
				name, base := target(i)
				after := chanClosed(killed)
				r := sessGet(c, base, s.id, "hold=0s&close=1")
				s.mu.Lock()
				switch {
				case r.code == http.StatusOK:
					s.answers = append(s.answers, stormAnswer{inst: name, after: after, sessAnswer: r.ans, waited: r.waited})
				case r.code == 0:
					s.lost[name]++
				default:
					s.refused[name]++
					s.last = name + ": " + r.String()
				}
				s.mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// check verifies that the increments were serialised: each value was
// answered at most once, the values follow the order in which the
// instances took the lock, and the final value counts every acknowledged
// increment, plus at most those whose answer was lost or refused (the
// write of a request whose instance died before it answered may have
// landed). It records the figures.
func (s *sessionStorm) check(rp *report, fail *failures, final int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byLock := slices.Clone(s.answers)
	sort.Slice(byLock, func(i, j int) bool { return byLock[i].LockedAt.Before(byLock[j].LockedAt) })
	seen := map[int]string{}
	disorders := 0
	for i, a := range byLock {
		if prev, dup := seen[a.Visits]; dup {
			fail.add("session storm: value %d answered twice (%s and %s)", a.Visits, prev, a.inst)
		}
		seen[a.Visits] = a.inst
		if i > 0 && a.Visits <= byLock[i-1].Visits {
			disorders++
			if disorders <= 3 {
				fail.add("session storm: %s locked at %v and answered %d, after %s locked at %v and answered %d",
					a.inst, a.LockedAt.Format(time.StampMicro), a.Visits, byLock[i-1].inst,
					byLock[i-1].LockedAt.Format(time.StampMicro), byLock[i-1].Visits)
			}
		}
	}
	acked := len(s.answers)
	unknown := 0
	for _, n := range s.lost {
		unknown += n
	}
	for _, n := range s.refused {
		unknown += n
	}
	if final-1 < acked || final-1 > acked+unknown {
		fail.add("session storm: final value %d: %d increments, want %d acknowledged + at most %d lost or refused",
			final, final-1, acked, unknown)
	}
	per := map[string]*struct {
		before, after int
		waited        []time.Duration
	}{}
	for _, a := range s.answers {
		p := per[a.inst]
		if p == nil {
			p = &struct {
				before, after int
				waited        []time.Duration
			}{}
			per[a.inst] = p
		}
		if a.after {
			p.after++
		} else {
			p.before++
		}
		p.waited = append(p.waited, a.waited)
	}
	var insts []string
	for name := range per {
		insts = append(insts, name)
	}
	sort.Strings(insts)
	var incr, waits []string
	for _, name := range insts {
		p := per[name]
		incr = append(incr, fmt.Sprintf("%s %d + %d", name, p.before, p.after))
		waits = append(waits, fmt.Sprintf("%s: %s", name, latencies(p.waited)))
	}
	rp.Figure("session storm: increments answered 200, by instance (before + after the kill)", "%s; %d in all", strings.Join(incr, ", "), acked)
	rp.Figure("session storm: no answer (instance killed) / refused, by instance", "%s / %s", orNone(s.lost), orNone(s.refused))
	rp.Figure("session storm: final value of the counter", "%d = 1 (the request that created it) + %d increments (%d acknowledged + %d whose answer was lost)", final, final-1, acked, final-1-acked)
	rp.Figure("session storm: wait for the lock, by instance", "%s", strings.Join(waits, "; "))
	rp.Figure("session storm: values answered twice / out of lock order", "%d / %d", acked-len(seen), disorders)
	if s.last != "" {
		rp.Figure("session storm: last refusal", "%s", s.last)
	}
}

// orNone formats c, or "none" when it is empty.
func orNone(c counter) string {
	if len(c) == 0 {
		return "none"
	}
	return c.String()
}

// lockPair holds a session on one instance for hold while another
// instance asks for it: the second must wait until the first's work ended.
// It returns how long the second waited.
func lockPair(fail *failures, c *http.Client, rdb *redis.Client, holder, waiter *proc, hold time.Duration) time.Duration {
	id, err := newSession(c, holder.base)
	if err != nil {
		fail.add("lock pair: %v", err)
		return 0
	}
	first := make(chan sessReply, 1)
	go func() { first <- sessGet(c, holder.base, id, fmt.Sprintf("hold=%v", hold)) }()
	if err := waitLocked(rdb, id); err != nil {
		fail.add("lock pair: %v", err)
	}
	second := sessGet(c, waiter.base, id, "hold=0s")
	a := <-first
	if a.code != http.StatusOK || second.code != http.StatusOK {
		fail.add("lock pair %s→%s: %v; %v", holder.name, waiter.name, a, second)
		return 0
	}
	if end := a.ans.LockedAt.Add(hold); second.ans.LockedAt.Before(end) {
		fail.add("lock pair %s→%s: %s locked at %v, before %s's work ended at %v", holder.name, waiter.name,
			waiter.name, second.ans.LockedAt.Format(time.StampMicro), holder.name, end.Format(time.StampMicro))
	}
	if a.ans.Visits != 2 || second.ans.Visits != 3 {
		fail.add("lock pair %s→%s: visits %d then %d, want 2 then 3", holder.name, waiter.name, a.ans.Visits, second.ans.Visits)
	}
	return second.waited
}

// ttlSlack is how much later than its TTL an expired lock may be taken by
// a waiter: the waiter's poll interval (100ms) and the scheduling of a
// loaded machine.
const ttlSlack = 2 * time.Second

// killedHolder is the session whose lock an instance holds when it is
// killed.
type killedHolder struct {
	id    string
	held  chan sessReply // the holder's answer: none, it is killed
	proc  *proc
	start time.Time // the kill
}

// holdThenKill starts a request on p that holds a new session for a
// minute, and kills p with SIGKILL once the lock is taken in Redis.
func holdThenKill(t *testing.T, c *http.Client, rdb *redis.Client, p, creator *proc) *killedHolder {
	t.Helper()
	id, err := newSession(c, creator.base)
	if err != nil {
		t.Fatal(err)
	}
	k := &killedHolder{id: id, held: make(chan sessReply, 1), proc: p}
	go func() { k.held <- sessGet(c, p.base, k.id, "hold=60s") }()
	if err := waitLocked(rdb, k.id); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Kill()
	k.start = time.Now()
	return k
}

// after asks for the killed holder's session on p: the lock is released by
// its TTL, within ttl of the kill (the holder refreshed it every third of
// ttl), and the holder's increment, never written, is not counted.
func (k *killedHolder) after(rp *report, fail *failures, c *http.Client, p *proc, ttl time.Duration) {
	r := sessGet(c, p.base, k.id, "hold=0s")
	if h := <-k.held; h.code != 0 {
		fail.add("killed holder %s answered: %v", k.proc.name, h)
	}
	if r.code != http.StatusOK {
		fail.add("session held by the killed %s, then asked on %s: %v", k.proc.name, p.name, r)
		return
	}
	got := r.ans.LockedAt.Sub(k.start)
	rp.Figure(fmt.Sprintf("lock held by %s when it was killed: taken by %s", k.proc.name, p.name),
		"%v after the kill (%s waited %v; lock TTL %v, refreshed every %v); visits %d", got.Round(time.Millisecond),
		p.name, r.waited.Round(time.Millisecond), ttl, (ttl / 3).Round(time.Millisecond), r.ans.Visits)
	if got > ttl+ttlSlack {
		fail.add("the lock of the killed %s was taken %v after the kill, more than its TTL %v + %v", k.proc.name, got, ttl, ttlSlack)
	}
	if r.ans.Visits != 2 {
		fail.add("session held by the killed %s: visits %d on %s, want 2 (the killed holder's increment was never written)", k.proc.name, r.ans.Visits, p.name)
	}
}

// fencedHolder suspends the instance stopped (SIGSTOP) while it holds a
// session, for longer than the lock's TTL: the other instance gets the
// lock after the TTL and increments the session twice; the stopped one,
// continued (SIGCONT), has its write refused with 503, and the session
// keeps the other's value.
func fencedHolder(rp *report, fail *failures, c *http.Client, rdb *redis.Client, stopped, other *proc, ttl time.Duration) {
	id, err := newSession(c, other.base)
	if err != nil {
		fail.add("fenced holder: %v", err)
		return
	}
	held := make(chan sessReply, 1)
	go func() { held <- sessGet(c, stopped.base, id, "hold=200ms") }()
	if err := waitLocked(rdb, id); err != nil {
		fail.add("fenced holder: %v", err)
		return
	}
	if err := stopped.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		fail.add("fenced holder: SIGSTOP %s: %v", stopped.name, err)
		return
	}
	start := time.Now()
	cont := sync.OnceFunc(func() { _ = stopped.cmd.Process.Signal(syscall.SIGCONT) })
	defer cont()
	r1 := sessGet(c, other.base, id, "hold=0s")
	r2 := sessGet(c, other.base, id, "hold=0s")
	cont()
	h := <-held
	final := sessGet(c, other.base, id, "hold=0s")
	if r1.code != http.StatusOK || r2.code != http.StatusOK || final.code != http.StatusOK {
		fail.add("fenced holder: %s while %s was stopped: %v, %v; then %v", other.name, stopped.name, r1, r2, final)
		return
	}
	got := r1.ans.LockedAt.Sub(start)
	rp.Figure(fmt.Sprintf("lock held by %s, stopped (SIGSTOP) past the TTL: taken by %s", stopped.name, other.name),
		"%v after the stop (lock TTL %v); %s continued: its write %s; the session's value %d (want 4: %s's two increments kept)",
		got.Round(time.Millisecond), ttl, stopped.name, h, final.ans.Visits, other.name)
	if got > ttl+ttlSlack {
		fail.add("fenced holder: the lock of the stopped %s was taken %v after the stop, more than its TTL %v + %v", stopped.name, got, ttl, ttlSlack)
	}
	if h.code != http.StatusServiceUnavailable || !strings.Contains(h.body, "session could not be saved") {
		fail.add("fenced holder: the stopped %s answered %v, want 503 session could not be saved", stopped.name, h)
	}
	if r1.ans.Visits != 2 || r2.ans.Visits != 3 || final.ans.Visits != 4 {
		fail.add("fenced holder: visits on %s %d, %d, then %d; want 2, 3, 4 (the fenced write refused)", other.name,
			r1.ans.Visits, r2.ans.Visits, final.ans.Visits)
	}
}
