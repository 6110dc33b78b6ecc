package gcbudget

import (
	"context"
	"runtime/debug"
	"testing"
)

func TestPercentGivesSmallHeapsTheHeadroomAndLargeOnesGosDefault(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, MaxPercent},
		{1 << 20, MaxPercent},   // 48 MiB over 1 MiB: capped
		{6 << 20, 800},          // 48 MiB over 6 MiB
		{16 << 20, 300},         // 48 MiB over 16 MiB
		{48 << 20, MinPercent},  // headroom equals the heap
		{400 << 20, MinPercent}, // a large heap keeps Go's default
	} {
		if got := Percent(c.live, Headroom); got != c.want {
			t.Errorf("Percent(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

func TestStartKeepsAnOperatorsGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if Start(ctx, func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	}) {
		t.Fatal("Start paced the collector although GOGC was set")
	}
	if prev := debug.SetGCPercent(100); prev != 100 {
		t.Fatalf("target %d, want the untouched 100", prev)
	}
	if !Start(ctx, func(string) string { return "" }) {
		t.Fatal("Start did not pace the collector with GOGC unset")
	}
	want := Percent(Live(), Headroom)
	if got := debug.SetGCPercent(100); got != want {
		t.Fatalf("target %d after Start, want %d for a live heap of %d bytes", got, want, Live())
	}
}
