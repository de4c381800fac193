# The README's two commands are `make run` and `make test`.
GO ?= go
FUZZTIME ?= 5000x
# Targets whose every input runs a SQLite transaction: fewer inputs.
FUZZTIME_SLOW ?= 300x
SLOW_FUZZ = FuzzApply

.PHONY: run test deps build vet fuzz bench

run:
	scripts/quickstart.sh

# Every test: installs what is missing, then the whole suite with the race
# detector, then each fuzz target for a bounded time.
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) fuzz

deps:
	scripts/install-deps.sh test

build:
	$(GO) build -o bin/janustap ./cmd/janustap

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    n=$(FUZZTIME); case " $(SLOW_FUZZ) " in *" $$f "*) n=$(FUZZTIME_SLOW);; esac; \
	    echo "fuzz $$pkg $$f ($$n)"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $$n -fuzzminimizetime 2s $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
