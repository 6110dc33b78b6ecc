package rush

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// readAnswer reads what net/http writes, answer after answer on one
// keep-alive connection, as http.ReadResponse does on another.
func TestReadAnswerReadsWhatNetHTTPWrites(t *testing.T) {
	big := strings.Repeat("x", 5000) // over net/http's buffer: sent chunked
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ok":true}`)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) })
	mux.HandleFunc("/flushed", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		io.WriteString(w, "b")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/taken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "taken", http.StatusConflict) })
	mux.HandleFunc("/bye", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	paths := []string{"/json", "/chunked", "/flushed", "/empty", "/taken", "/nowhere", "/json", "/bye"}
	read := func(ours bool) (statuses []int, closes []bool) {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReaderSize(c, 2048)
		for _, p := range paths {
			if _, err := io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			var status int
			var close bool
			if ours {
				status, close, err = readAnswer(br)
			} else {
				var r *http.Response
				if r, err = http.ReadResponse(br, nil); err == nil {
					_, err = io.Copy(io.Discard, r.Body)
					status, close = r.StatusCode, r.Close
				}
			}
			if err != nil {
				t.Fatalf("%s (ours %v): %v", p, ours, err)
			}
			statuses, closes = append(statuses, status), append(closes, close)
		}
		return statuses, closes
	}
	gotS, gotC := read(true)
	wantS, wantC := read(false)
	for i, p := range paths {
		if gotS[i] != wantS[i] || gotC[i] != wantC[i] {
			t.Errorf("%s: status %d closes %v, net/http reads %d %v", p, gotS[i], gotC[i], wantS[i], wantC[i])
		}
	}
	if wantS[0] != 201 || wantS[3] != 204 || wantS[4] != 409 || !wantC[len(paths)-1] {
		t.Errorf("the test server answered %v %v", wantS, wantC)
	}
}

func TestReadAnswerRefusesWhatIsNotHTTP(t *testing.T) {
	for _, s := range []string{
		"SSH-2.0-OpenSSH\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	} {
		if _, _, err := readAnswer(bufio.NewReader(strings.NewReader(s))); err == nil {
			t.Errorf("%q: read as an answer", s)
		}
	}
}
