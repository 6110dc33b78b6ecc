package httpapi_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// storeDrivers are the import paths (a path ending in "/" names all below
// it) of Redis and SQL
// clients and drivers. The HTTP layer reaches the stores only through the
// domain packages and matches their sentinel errors; a driver import here
// means a handler started talking to a store, or classifying its errors.
var storeDrivers = []string{
	"github.com/redis/",
	"github.com/go-redis/",
	"github.com/gomodule/redigo",
	"github.com/mediocregopher/radix",
	"github.com/alicebob/miniredis",
	"github.com/lib/pq",
	"github.com/jackc/",
	"github.com/jmoiron/sqlx",
	"github.com/go-sql-driver/",
	"github.com/mattn/go-sqlite3",
	"modernc.org/sqlite",
	"database/sql",
}

func TestHTTPLayerImportsNoStoreDriver(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	parsed := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		parsed++
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			for _, driver := range storeDrivers {
				root := strings.TrimSuffix(driver, "/")
				if path == root || strings.HasPrefix(path, root+"/") {
					t.Errorf("%s imports %s: the HTTP layer must go through the domain packages", name, path)
				}
			}
		}
	}
	if parsed == 0 {
		t.Fatal("no non-test Go file of httpapi found: the guard checks nothing")
	}
}
