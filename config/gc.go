package config

import (
	"runtime/debug"
	"strconv"
)

// DefaultGCPercent is the garbage collector's target (GOGC) of a process
// whose environment sets none. A gateway's live heap is small (a few
// megabytes of caches) and almost everything it allocates dies with its
// request, so Go's default of 100 collects every few thousand requests and
// costs about a tenth of its CPU on the hot routes; at 400 the collector runs
// a quarter as often for a heap that stays a few megabytes larger. Peak RSS
// in a rush is measured by `make bench`.
const DefaultGCPercent = 400

// TuneGC sets the collector's target to DefaultGCPercent unless GOGC is set
// (then Go has applied it and it stands). It returns the target in force.
func TuneGC(getenv func(string) string) int {
	if v := getenv("GOGC"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		return -1 // "off", or a value the runtime ignores
	}
	debug.SetGCPercent(DefaultGCPercent)
	return DefaultGCPercent
}
