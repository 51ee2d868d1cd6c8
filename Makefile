# Build, test, fuzz and benchmark the proxy. `make test` is what CI runs.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.Version=$(VERSION)
# A count budget: duration budgets can fail spuriously on go1.26 (a race in
# the fuzz coordinator, golang/go#75804).
FUZZTIME ?= 200000x

.PHONY: build test test-short vet fuzz bench bench-tcp bench-rpc clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/mosn ./cmd/mosn
	$(GO) build -trimpath -o bin/mosnload ./cmd/mosnload

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# The unit and integration tests (the integration tests build the real
# binary and run it as a subprocess), with the race detector.
test: vet
	$(GO) test -race -timeout 15m ./...

test-short:
	$(GO) test -short ./...

# Runs every fuzz target for FUZZTIME each (inputs, or a duration like 30s).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Micro-benchmarks of hot code, then the whole-proxy benchmarks.
bench: bench-tcp bench-rpc
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-tcp: build
	./bench/tcp.sh

bench-rpc: build
	./bench/rpc.sh

clean:
	rm -rf bin
