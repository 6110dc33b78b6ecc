package booking

import "testing"

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want record
	}{
		{"held||1300000|10000|7|2030-01-02|ann", record{user: "ann", day: "2030-01-02", seat: 7, price: 10000, expires: 1300000}},
		{"claimed|1360000|1300000|10000|7|2030-01-02|ann", record{user: "ann", day: "2030-01-02", seat: 7, price: 10000, expires: 1300000}},
		{"paid||1300000|0|1|2030-01-02|a.b@c-d_e", record{user: "a.b@c-d_e", day: "2030-01-02", seat: 1, price: 0, expires: 1300000}},
		// The user id is last: whatever it holds, the fields before it
		// are split right.
		{"held||1300000|10000|7|2030-01-02|a|b||c", record{user: "a|b||c", day: "2030-01-02", seat: 7, price: 10000, expires: 1300000}},
	} {
		got, err := parseRecord(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseRecord(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"",
		"held|1300000|10000|7|2030-01-02|ann", // a field short
		"gone||1300000|10000|7|2030-01-02|ann",
		"held|1360000|1300000|10000|7|2030-01-02|ann", // a lease while held
		"paid|1360000|1300000|10000|7|2030-01-02|ann",
		"claimed||1300000|10000|7|2030-01-02|ann", // claimed without one
		"held||1.3e6|10000|7|2030-01-02|ann",
		"held||1300000|10000|seven|2030-01-02|ann",
		"held||1300000||7|2030-01-02|ann",
		"held||1300000|10000|7|2030-1-2|ann",
	} {
		if r, err := parseRecord(bad); err == nil {
			t.Errorf("parseRecord(%q) = %+v, want an error", bad, r)
		}
	}
}
