package outage_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHostileConnections sends the real binary what no HTTP client would:
// oversized headers and bodies, garbage request lines, a body longer than
// it says. Each is refused with a 4xx, nothing internal is shown, and the
// gateway goes on serving.
func TestHostileConnections(t *testing.T) {
	s := newStack(t, nil)
	gw := s.serve(nil)
	c := newClient(gw)

	// raw sends request on a connection of its own; with hangUp, it then
	// closes its sending side, so the server reads EOF where it expects more.
	raw := func(name, request string, hangUp bool) (int, string) {
		t.Helper()
		conn, err := net.Dial("tcp", gw.addr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		go func() { // the server may answer before reading it all
			io.WriteString(conn, request)
			if hangUp {
				conn.(*net.TCPConn).CloseWrite()
			}
		}()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no HTTP answer: %v", name, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, l := range leaks {
			if strings.Contains(string(body), l) {
				t.Errorf("%s: answer shows %q: %q", name, l, body)
			}
		}
		return resp.StatusCode, string(body)
	}
	host := "Host: " + gw.addr + "\r\n"
	for _, tc := range []struct {
		name    string
		request string
		status  int
		code    string // contract's code, when the router answers
	}{
		{"HeadersOver16KiB", "GET /healthz HTTP/1.1\r\n" + host + "X-Pad: " + strings.Repeat("a", 32<<10) + "\r\n\r\n", 431, ""},
		{"DeclaredBodyOver64KiB", "POST /api/tokens HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{", 413, "body_too_large"},
		{"ChunkedBodyOver64KiB", "POST /api/chargePay HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n{\"user_id\":\"u\",\"pad\":\"%s\"}\r\n0\r\n\r\n", 70<<10+23, strings.Repeat("x", 70<<10)), 413, "body_too_large"},
		{"GarbageRequestLine", "\x00\x01\x02 / HTTP/1.1\r\n\r\n", 400, ""},
		{"BadContentLength", "POST /api/tokens HTTP/1.1\r\n" + host + "Content-Length: -5\r\n\r\n", 400, ""},
		{"BothLengthAndChunked", "POST /api/tokens HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, ""},
		{"NULInPath", "GET /api/pay\x00?user_id=a HTTP/1.1\r\n" + host + "\r\n", 400, ""},
		{"BodyShorterThanDeclared", "POST /api/chargePay HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nContent-Length: 40\r\nConnection: close\r\n\r\n{\"user_id\": \"short\"", 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := raw(tc.name, tc.request, tc.name == "BodyShorterThanDeclared")
			if status != tc.status || (tc.code != "" && !strings.Contains(body, `"code":"`+tc.code+`"`)) {
				t.Errorf("%d %q, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
	if r := c.do("GET", "/healthz", nil); r.status != 200 {
		t.Errorf("healthz after the hostile requests: %s", r)
	}
	if r := c.do("GET", "/api/pay?user_id=short", nil); r.status != 404 {
		t.Errorf("a cut-off charge created the user: %s", r)
	}
	s.checkBooks()
}
