package redisstats_test

import (
	"testing"

	"github.com/rushgate/rushgate/internal/redisstats"
)

func TestParseReadsEveryCommandAndSkipsTheRest(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_evalsha:calls=5223,usec=2263139,usec_per_call=433.30,rejected_calls=0,failed_calls=1\r\n" +
		"cmdstat_set:calls=172810,usec=398468,usec_per_call=2.31,rejected_calls=0,failed_calls=0\r\n" +
		"used_cpu_sys:1.5\r\n\r\n"
	got := redisstats.Parse(info)
	want := map[string]redisstats.Command{
		"evalsha": {Calls: 5223, Usec: 2263139},
		"set":     {Calls: 172810, Usec: 398468},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %v, want %v", got, want)
	}
	for name, c := range want {
		if got[name] != c {
			t.Errorf("%s: %+v, want %+v", name, got[name], c)
		}
	}
	if d := got["set"].Sub(redisstats.Command{Calls: 10, Usec: 8}); d != (redisstats.Command{Calls: 172800, Usec: 398460}) {
		t.Errorf("Sub = %+v", d)
	}
}

func TestParseLineRefusesOtherLines(t *testing.T) {
	for _, line := range []string{"", "# Commandstats", "used_cpu_sys:1.5", "gateway_ticks=12", "cmdstat_get"} {
		if name, _, ok := redisstats.ParseLine(line); ok {
			t.Errorf("%q read as command %q", line, name)
		}
	}
}
