# rushgate: build, run and test. `make help` lists the targets.

GO ?= go
BIN := bin/rushgate
SERVICES := bash scripts/dev/services.sh

# Where the local Redis and PostgreSQL listen; scripts/dev/services.sh starts
# them there when they do not answer.
REDIS_PORT ?= 6379
PG_PORT ?= 5432
export REDIS_PORT PG_PORT

# Settings of `make run`. The two secrets are demo values for a local machine
# only: set your own in the environment for anything else.
ADDR ?= :8080
REDIS_URL ?= redis://127.0.0.1:$(REDIS_PORT)/0
DATABASE_URL ?= postgres://postgres@127.0.0.1:$(PG_PORT)/rushgate?sslmode=disable
ADMIN_TOKEN ?= demo-admin-token
TOKEN_SECRET ?= demo-token-secret-not-for-production
RUN_ENV = ADDR='$(ADDR)' REDIS_URL='$(REDIS_URL)' DATABASE_URL='$(DATABASE_URL)' \
	ADMIN_TOKEN='$(ADMIN_TOKEN)' TOKEN_SECRET='$(TOKEN_SECRET)'

# The servers the integration tests use (each test takes its own key prefix
# or database on them).
TEST_REDIS_URL ?= redis://127.0.0.1:$(REDIS_PORT)/0
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:$(PG_PORT)/postgres?sslmode=disable

STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.9.0

.DEFAULT_GOAL := build
.PHONY: help build services run test vet lint vuln bench rules screenshots clean

help: ## list the targets
	@awk -F':.*## ' '/^[a-z]+:.*## / { printf "  make %-9s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

build: ## build the server binary into bin/rushgate
	$(GO) build -o $(BIN) ./cmd/rushgate

services: ## start local Redis and PostgreSQL unless they answer already
	@$(SERVICES)

run: services build ## start services, migrate, seed a demo concert, serve on :8080
	@echo "rushgate: demo settings (override in the environment):"
	@echo "  ADMIN_TOKEN=$(ADMIN_TOKEN)"
	@echo "  TOKEN_SECRET=$(TOKEN_SECRET)"
	$(RUN_ENV) $(BIN) migrate
	$(RUN_ENV) $(BIN) seed --dates 3 --seats 500 --price 10000
	exec env $(RUN_ENV) $(BIN) serve

test: ## run every test with the race detector, on real Redis and PostgreSQL, and the pages in headless Chromium
	@$(SERVICES) --cgo
	@bash scripts/dev/chromium.sh
	TEST_REDIS_URL='$(TEST_REDIS_URL)' TEST_DATABASE_URL='$(TEST_DATABASE_URL)' \
		$(GO) test -race -count=1 -timeout 20m ./...

vet: ## go vet
	$(GO) vet ./...

lint: ## gofmt and staticcheck (fetched through the module proxy)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') </dev/null); \
	if [ -n "$$unformatted" ]; then echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

vuln: ## govulncheck (needs its online database; not part of CI)
	$(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) ./...

bench: services ## measure hot paths, HTTP routes against bare baselines and a 20,000-user rush; write docs/benchmarks.md
	bash scripts/bench/run.sh

rules: ## check the Prometheus alert rules of deploy/monitoring and run their unit tests (promtool)
	bash scripts/ci/rules.sh

screenshots: ## run the fan pages' browser tests, saving their screenshots in docs/img
	@$(SERVICES) --cgo
	@bash scripts/dev/chromium.sh
	FAN_SCREENSHOTS=docs/img TEST_REDIS_URL='$(TEST_REDIS_URL)' TEST_DATABASE_URL='$(TEST_DATABASE_URL)' \
		$(GO) test -count=1 -timeout 20m ./web/fan/

clean: ## remove what the build made
	rm -rf bin
