package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunExitStatus(t *testing.T) {
	getenv := func(string) string { return "" }
	for _, tc := range []struct {
		name string
		args []string
		want int
		says string
	}{
		{"bad flag is usage", []string{"-no-such-flag"}, exitUsage, "flag provided but not defined"},
		{"stray argument is usage", []string{"extra"}, exitUsage, "bad arguments"},
		{"zero users is usage", []string{"-users", "0"}, exitUsage, "bad arguments"},
		{"a gateway that does not answer", []string{"-url", "http://127.0.0.1:1", "-users", "1"}, exitUsage, "does not answer"},
		{"tokens from a gateway that does not answer", []string{"tokens", "-url", "http://127.0.0.1:1", "-users", "1"}, exitUsage, "does not answer"},
		{"open of an unknown route", []string{"open", "-route", "pay"}, exitUsage, "bad open-loop options"},
		{"open of a gateway that does not answer", []string{"open", "-url", "http://127.0.0.1:1", "-route", "tokens", "-conns", "2"}, exitUsage, "does not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(context.Background(), tc.args, getenv, &stdout, &stderr); got != tc.want {
				t.Errorf("exit = %d, want %d; stderr %q", got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.says) {
				t.Errorf("stderr = %q, want it to say %q", stderr.String(), tc.says)
			}
		})
	}
}
