package browsertest_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rushgate/rushgate/internal/browsertest"
)

const page = `<!doctype html><title>t</title><meta name="viewport" content="width=device-width">
<button id="go">go</button><input id="name"><p id="out">idle</p>
<script>
document.getElementById('go').addEventListener('click', () => {
  document.getElementById('out').textContent = 'hello ' + document.getElementById('name').value;
  setTimeout(() => { console.error('late trouble'); window.done = true; }, 50);
});
</script>`

func TestDrivesAPageAndRecordsItsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(page))
	}))
	defer srv.Close()

	b := browsertest.New(t)
	tab := b.Tab(t, 390, 800)
	tab.Navigate(srv.URL)
	if got := browsertest.Eval[int](tab, "window.innerWidth"); got != 390 {
		t.Errorf("viewport width %d, want 390", got)
	}
	tab.Type("#name", "fan")
	tab.Click("#go")
	tab.WaitText("#out", "hello fan", 5*time.Second)
	tab.WaitFor(5*time.Second, "1", func(string) bool { return len(tab.Errors()) > 0 }, "the console error")
	if errs := tab.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "late trouble") {
		t.Fatalf("errors %q, want the one console.error", errs)
	}

	shot := filepath.Join(t.TempDir(), "shot.png")
	tab.Screenshot(shot)
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot is not a PNG (%d bytes, %v)", len(png), err)
	}
	// A second tab that allows the error before it happens records nothing.
	clean := b.Tab(t, 1280, 800)
	clean.Allow("late trouble")
	clean.Navigate(srv.URL)
	clean.Click("#go")
	clean.WaitText("#out", "hello", 5*time.Second)
	clean.WaitFor(5*time.Second, "window.done === true", func(v string) bool { return v == "true" }, "the late error")
	if errs := clean.Errors(); len(errs) != 0 {
		t.Errorf("allowed error recorded: %q", errs)
	}
	// The first tab's error was expected here; Forget clears it so the
	// tab's cleanup passes.
	tab.Forget()
}
