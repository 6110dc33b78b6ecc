package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
)

// flatSeeds are bodies of every shape the fast decoder takes or leaves to
// encoding/json.
var flatSeeds = []string{
	`{"user_id":"u1","concert_id":1}`,
	`{"user_id":"fan-7","reservation_date":"2026-12-24","reservation_seat":12}`,
	" {\t\"a\" : -0 ,\n\"b\":true,\"c\":false,\"d\":null\r} ",
	`{}`, `{ }`, `{"a":1,"a":2}`, `{"a":"x","a":3}`,
	`{"a":1.5}`, `{"a":1e3}`, `{"a":01}`, `{"a":-}`, `{"a":+1}`, `{"a":"\u0041"}`,
	`{"a":"é"}`, "{\"a\":\"\xff\"}", `{"a":{"b":1}}`, `{"a":[1]}`, `{"a":1,}`, `{"a":1}x`,
	`{"a" 1}`, `{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{a:1}`, `[]`, `null`, `"x"`, ``, `{`,
	`{"a":1 "b":2}`, `{"a":"b\"c"}`, "{\"a\":\"\x01\"}", `{"a":99999999999999999999}`,
}

func TestDecodeFlatAgreesWithEncodingJSON(t *testing.T) {
	for _, body := range flatSeeds {
		checkDecodeFlat(t, []byte(body))
	}
	// The bodies of the hot routes take the fast path.
	for _, body := range flatSeeds[:7] {
		if _, ok := decodeFlat([]byte(body)); !ok {
			t.Errorf("decodeFlat(%q) left to encoding/json; want the fast path", body)
		}
	}
}

func FuzzDecodeFlat(f *testing.F) {
	for _, s := range flatSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecodeFlat(t, body) })
}

// checkDecodeFlat fails when decodeFlat takes a body and answers anything but
// what encoding/json answers for it, or when a string value's plain content
// differs from its decoded value.
func checkDecodeFlat(t *testing.T, body []byte) {
	t.Helper()
	got, ok := decodeFlat(body)
	var want fields
	err := json.Unmarshal(body, &want)
	if ok {
		if err != nil || want == nil {
			t.Fatalf("decodeFlat(%q) took a body encoding/json refuses (%v)", body, err)
		}
		if len(got) != len(want) {
			t.Fatalf("decodeFlat(%q) = %d keys, encoding/json %d", body, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("decodeFlat(%q)[%q] = %q, encoding/json %q", body, k, got[k], v)
			}
		}
	}
	for _, v := range want {
		s, plain := plainContent(v)
		if !plain {
			continue
		}
		var decoded string
		if err := json.Unmarshal(v, &decoded); err != nil || decoded != s {
			t.Fatalf("plainContent(%q) = %q, encoding/json %q (%v)", v, s, decoded, err)
		}
	}
}
