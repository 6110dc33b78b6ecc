// Package gcbudget paces Go's garbage collector by a headroom of bytes, not
// a ratio of the live heap.
//
// A gateway's live heap is small when few clients are connected (a few
// megabytes of caches) and grows with its connections (each holds about
// 8 KiB of buffers), while nearly everything it allocates dies with its
// request. Go's default target (GOGC=100: collect when the heap has doubled)
// then collects every few megabytes allocated, a tenth of the CPU of the hot
// routes, and a fixed higher ratio would multiply a heap of many connections
// (GOGC=400 let a gateway holding 4,096 connections, 43 MB live, grow to a
// 248 MB goal). Pacing by headroom gives a small heap room to allocate
// Headroom bytes between collections and leaves a large one at Go's default.
package gcbudget

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Defaults of Start.
const (
	// Headroom is the allocation allowed between collections while the
	// live heap is small.
	Headroom = 48 << 20
	// MinPercent and MaxPercent bound the target: never below Go's default,
	// and never so high that a nearly empty heap goes unswept for long.
	MinPercent = 100
	MaxPercent = 1600
	// Every is how often the target follows the live heap.
	Every = time.Second
)

// Percent is the collector target that allows headroom bytes of new
// allocation over a live heap of live bytes, within [MinPercent, MaxPercent].
func Percent(live, headroom uint64) int {
	if live == 0 {
		return MaxPercent
	}
	p := headroom * 100 / live
	return int(min(max(p, MinPercent), MaxPercent))
}

const liveMetric = "/gc/heap/live:bytes"

// Live is the heap's live bytes as of the last collection.
func Live() uint64 {
	s := []metrics.Sample{{Name: liveMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Start sets the target from the live heap now and then every Every until
// ctx ends, unless getenv("GOGC") is set: an operator's GOGC stands. It
// returns whether it paces the collector.
func Start(ctx context.Context, getenv func(string) string) bool {
	if getenv("GOGC") != "" {
		return false
	}
	debug.SetGCPercent(Percent(Live(), Headroom))
	go func() {
		t := time.NewTicker(Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				debug.SetGCPercent(Percent(Live(), Headroom))
			}
		}
	}()
	return true
}
