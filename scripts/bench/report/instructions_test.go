package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestWriteInstructionsTakesTheTableOfARunThatCounted(t *testing.T) {
	collect := func(dir string) string {
		var sb strings.Builder
		writeInstructions(func(f string, a ...any) { fmt.Fprintf(&sb, f+"\n", a...) }, dir)
		return sb.String()
	}
	dir := t.TempDir()
	if got := collect(dir); got != "" {
		t.Errorf("a run without the phase wrote %q", got)
	}
	// A count that failed leaves an empty file (the bench goes on).
	writeFile(t, dir, "instructions.md", "")
	if got := collect(dir); got != "" {
		t.Errorf("a failed count wrote %q", got)
	}
	table := "| Work | Instructions | × one EVALSHA |\n|---|---:|---:|\n| seat hold | 94908 | 5.33 |\n"
	writeFile(t, dir, "instructions.md", table)
	got := collect(dir)
	if !strings.HasPrefix(got, "## Redis instructions per hold, token issue and poll heartbeat\n") || !strings.Contains(got, table) {
		t.Errorf("section:\n%s\nwant its heading and the table\n%s", got, table)
	}
}
