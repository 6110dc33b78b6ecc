package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/rushgate/rushgate/config"
)

// Flags beyond the catalogue's limits are refused by name before any store
// is opened (the config here points at none).
func TestSeedRefusesFlagsBeyondTheCatalogue(t *testing.T) {
	for _, args := range [][]string{
		{"--seats", "100001"},
		{"--seats", "0"},
		{"--dates", "11", "--seats", "100000"}, // 1,100,000 seats in all
		{"--dates", "0"},
		{"--price", "100000001"},
	} {
		err := seed(context.Background(), config.Config{}, args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--seats 1…100000") {
			t.Errorf("seed %v: %v; want the flags' limits", args, err)
		}
	}
}
