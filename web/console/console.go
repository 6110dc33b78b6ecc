// Package console is the operator's console: plain HTML, ES modules and CSS,
// with uPlot vendored for the live chart, embedded in the binary and served
// at /admin/ by the gateway (see package web). It needs no build step.
package console

import (
	"embed"

	"github.com/rushgate/rushgate/web"
)

//go:embed index.html *.js *.css vendor
var files embed.FS

// Site returns the console's files ready to serve.
func Site() (*web.Site, error) {
	return web.NewSite(files)
}
