package httpapi

import "encoding/json"

// decodeFlat decodes the bodies a rush sends by the thousand a second
// ({"user_id":"u1","concert_id":1}, {"user_id":…,"reservation_date":…,
// "reservation_seat":12}) without reflection: a JSON object whose values are
// integers, true, false, null, or strings of printable ASCII with no escape.
// Each value is the slice of body that encoding/json would give as its
// json.RawMessage, and a repeated key keeps its last value, as encoding/json
// does. ok is false for anything else (nested values, escapes, fractions,
// exponents, bytes outside printable ASCII, malformed JSON): the caller then
// decodes the body with encoding/json, which also judges it. Reading the
// body through encoding/json cost a tenth of the gateway's CPU on the token
// issue and the hold.
func decodeFlat(body []byte) (f fields, ok bool) {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return nil, false
	}
	f = make(fields, 4)
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return f, skipSpace(body, i+1) == len(body)
	}
	for {
		end := plainString(body, i)
		if end < 0 {
			return nil, false
		}
		key := string(body[i+1 : end-1])
		i = skipSpace(body, end)
		if i == len(body) || body[i] != ':' {
			return nil, false
		}
		i = skipSpace(body, i+1)
		end = flatValue(body, i)
		if end < 0 {
			return nil, false
		}
		f[key] = json.RawMessage(body[i:end:end])
		i = skipSpace(body, end)
		if i == len(body) {
			return nil, false
		}
		switch body[i] {
		case ',':
			i = skipSpace(body, i+1)
		case '}':
			return f, skipSpace(body, i+1) == len(body)
		default:
			return nil, false
		}
	}
}

// skipSpace returns the index of the first byte from i on that is not JSON
// whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString returns the index just after the string starting at b[i] when
// it is a quoted run of printable ASCII other than '"' and '\\' (so its
// content is its bytes); -1 otherwise.
func plainString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1
		case c == '\\' || c < 0x20 || c > 0x7e:
			return -1
		}
	}
	return -1
}

// flatValue returns the index just after the value starting at b[i] when it
// is a plain string, an integer (JSON's grammar: no leading zero, no plus),
// true, false or null; -1 otherwise.
func flatValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return plainString(b, i)
	case c == '-' || (c >= '0' && c <= '9'):
		j := i
		if c == '-' {
			j++
		}
		if j < len(b) && b[j] == '0' {
			j++
		} else {
			start := j
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if j == start {
				return -1
			}
		}
		// A fraction or an exponent is left to encoding/json.
		if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E' || (b[j] >= '0' && b[j] <= '9')) {
			return -1
		}
		return j
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
			return i + len(lit)
		}
	}
	return -1
}

// plainContent returns the content of a JSON string value when it needs no
// decoding (see plainString); ok is false otherwise.
func plainContent(raw json.RawMessage) (string, bool) {
	if plainString(raw, 0) != len(raw) {
		return "", false
	}
	return string(raw[1 : len(raw)-1]), true
}
