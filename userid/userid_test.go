package userid_test

import (
	"strings"
	"testing"

	"github.com/rushgate/rushgate/userid"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"test1234", true},
		{"a", true},
		{"A.b_c@d-e", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"with space", false},
		{"semi;colon", false},
		{"quote'", false},
		{"한글", false},
		{"colon:user", false},
		{"brace{c:1}", false},
		{"nul\x00", false},
	} {
		if got := userid.Valid(tc.id); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
