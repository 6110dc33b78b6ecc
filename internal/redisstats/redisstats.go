// Package redisstats reads Redis's INFO commandstats: per command, how many
// calls it served and the microseconds spent inside them. The benchmarks
// take two readings and subtract them to see what a run cost Redis.
package redisstats

import (
	"strconv"
	"strings"
)

// Command is one line of INFO commandstats. The calls a script makes count
// under their own commands and, in time, under the script's as well.
type Command struct{ Calls, Usec float64 }

// Sub is what was added between reading b and reading a.
func (a Command) Sub(b Command) Command {
	return Command{Calls: a.Calls - b.Calls, Usec: a.Usec - b.Usec}
}

// ParseLine reads one line such as
// "cmdstat_get:calls=3,usec=10,usec_per_call=3.33,rejected_calls=0,failed_calls=0"
// into its command's name ("get") and figures; ok is false for any other line.
func ParseLine(line string) (name string, c Command, ok bool) {
	name, rest, found := strings.Cut(strings.TrimSpace(line), ":")
	if !found || !strings.HasPrefix(name, "cmdstat_") {
		return "", Command{}, false
	}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		switch k {
		case "calls":
			c.Calls = f
		case "usec":
			c.Usec = f
		}
	}
	return strings.TrimPrefix(name, "cmdstat_"), c, true
}

// Parse reads the whole answer of INFO commandstats, by command name.
func Parse(info string) map[string]Command {
	out := map[string]Command{}
	for _, line := range strings.Split(info, "\n") {
		if name, c, ok := ParseLine(line); ok {
			out[name] = c
		}
	}
	return out
}
