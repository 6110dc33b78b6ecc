package redisconn

import "testing"

func TestVersionIn(t *testing.T) {
	for _, tc := range []struct {
		info string
		want [2]int
		ok   bool
	}{
		{"# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n", [2]int{7, 0}, true},
		{"# Server\r\nredis_version:6.2.14\r\n", [2]int{6, 2}, true},
		{"redis_version:10.1\n", [2]int{10, 1}, true},
		{"# Server\r\nredis_mode:standalone\r\n", [2]int{}, false},
		{"redis_version:seven\r\n", [2]int{}, false},
		{"redis_version:7\r\n", [2]int{}, false},
	} {
		got, ok := versionIn(tc.info)
		if got != tc.want || ok != tc.ok {
			t.Errorf("versionIn(%q) = %v, %v; want %v, %v", tc.info, got, ok, tc.want, tc.ok)
		}
	}
}
