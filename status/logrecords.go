package status

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lifeline-go/lifeline"
)

// LogRecords logs the final record of every run of pool that ends, through
// logger (nil means [slog.Default]), until ctx is done. It polls
// [lifeline.Pool.Recent] every interval and logs the records that are new
// since the previous poll, oldest first, with the message "lifeline: run
// ended" and the attributes of the JSON's recent runs ([EndedRun]).
// Records of runs that went wrong (status other than 0, runaway, panic or a
// 5xx code) are logged at slog.LevelWarn when level is lower; the others at
// level. URIs lose their query string unless [WithQueryStrings] is given;
// the other options are ignored.
//
// The first poll also logs the records already in the ring. When ctx is
// done, LogRecords polls once more, so that the runs that ended before are
// logged, and returns nil. It returns an error wrapping [ErrNilPool] or
// [ErrInvalidOption] at once for bad arguments.
//
// With [WithFeed] every run is logged as it ends, on the goroutine that
// ends it, from the pool's ended-run hook; none is missed, interval is
// ignored (it may be 0), and when ctx is done LogRecords returns once no
// record is being logged. Without a Feed it polls: records evicted from the
// ring between two polls are not logged, and a warning with the number
// missed is logged instead ("status: run records left the ring before they
// were logged", missed=N; a lower bound, exact unless runs are ending during
// the poll); keep the ring ([lifeline.WithRecentRuns], 256 by default)
// larger than the runs that end in one interval.
//
// LogRecords blocks: run it on a goroutine that you own and wait for, for
// example with sync.WaitGroup.Go, and cancel ctx to stop it.
func LogRecords(ctx context.Context, pool *lifeline.Pool, logger *slog.Logger, level slog.Level, interval time.Duration, opts ...Option) error {
	if pool == nil {
		return ErrNilPool
	}
	o, err := newOptions(opts)
	if err != nil {
		return err
	}
	if interval <= 0 && o.feed == nil {
		return fmt.Errorf("%w: LogRecords interval %v: must be positive", ErrInvalidOption, interval)
	}
	if logger == nil {
		logger = slog.Default()
	}
	rl := recordLogger{follow: follower{pool: pool}, logger: logger, level: level, opts: &o}
	if o.feed != nil {
		cancel := o.feed.subscribe(func(rec lifeline.Record) { rl.log(context.WithoutCancel(ctx), rec) })
		<-ctx.Done()
		cancel()
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rl.poll(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			rl.poll(context.WithoutCancel(ctx))
			return nil
		}
	}
}

// recordLogger is the state of one LogRecords loop.
type recordLogger struct {
	follow follower
	logger *slog.Logger
	level  slog.Level
	opts   *options
}

func (rl *recordLogger) poll(ctx context.Context) {
	fresh, lost, _, _ := rl.follow.poll()
	if lost > 0 {
		rl.logger.LogAttrs(ctx, slog.LevelWarn, "status: run records left the ring before they were logged",
			slog.Uint64("missed", lost))
	}
	for _, rec := range fresh {
		rl.log(ctx, rec)
	}
}

// log logs one record; with a Feed, several goroutines call it at once.
func (rl *recordLogger) log(ctx context.Context, rec lifeline.Record) {
	lvl := rl.level
	if wentWrong(rec) && lvl < slog.LevelWarn {
		lvl = slog.LevelWarn
	}
	if !rl.logger.Enabled(ctx, lvl) {
		return
	}
	rl.logger.LogAttrs(ctx, lvl, "lifeline: run ended", recordAttrs(rec, rl.opts)...)
}

func wentWrong(rec lifeline.Record) bool {
	return rec.Status != lifeline.Normal || rec.Runaway || rec.Panicked || rec.Code >= 500
}

// recordAttrs returns the attributes of a record, named as in [EndedRun].
func recordAttrs(rec lifeline.Record, o *options) []slog.Attr {
	attrs := []slog.Attr{
		slog.Uint64("id", rec.ID),
		slog.String("route", rec.Route),
		slog.String("method", rec.Method),
		slog.String("uri", cleanURI(rec.URI, o.queryString)),
		slog.Int("status", int(rec.Status)),
		slog.String("status_text", rec.Status.String()),
		slog.String("cause", rec.Cause.String()),
		slog.Int("code", rec.Code),
		slog.Int64("bytes_sent", rec.BytesSent),
		slog.Duration("duration", rec.Duration),
		slog.Bool("finished", rec.Finished),
		slog.Duration("finished_after", rec.FinishedAfter),
		slog.Int("shutdown_funcs", rec.ShutdownFuncs),
		slog.Bool("runaway", rec.Runaway),
		slog.Bool("panicked", rec.Panicked),
		slog.Bool("ignore_user_abort", rec.IgnoreUserAbort),
	}
	if len(rec.Notes) > 0 {
		notes := make([]any, 0, 2*len(rec.Notes))
		for _, k := range sortedKeys(rec.Notes) {
			notes = append(notes, slog.String(k, rec.Notes[k]))
		}
		attrs = append(attrs, slog.Group("notes", notes...))
	}
	return attrs
}
