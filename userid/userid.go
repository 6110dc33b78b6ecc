// Package userid defines what a user id is: 1 to 64 characters of
// [A-Za-z0-9._@-]. Every entry point checks ids with Valid, so keys and SQL
// never see anything else.
package userid

// MaxLen is the longest user id accepted.
const MaxLen = 64

// Valid reports whether s is a well-formed user id.
func Valid(s string) bool {
	if len(s) == 0 || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '@', c == '-':
		default:
			return false
		}
	}
	return true
}
