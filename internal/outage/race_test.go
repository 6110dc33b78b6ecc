//go:build race

package outage_test

// raceEnabled: the tests run with -race, so the binary they start is built
// with it too.
const raceEnabled = true
