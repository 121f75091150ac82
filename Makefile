# Fedgate: a Dex-compatible OpenID Connect issuer in Swift.
#
#   make run      install missing system packages, build, serve connector-configs/quickstart.yaml
#   make test     install, build, Swift unit tests, then the pytest end-to-end suite
#
# Everything runs unattended (root, no stdin, CI=true is fine).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

SWIFT   ?= swift
CONFIG  ?= connector-configs/quickstart.yaml
BIN     := .build/debug/fedgate

.PHONY: help deps build release run test unit e2e venv validate clean distclean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## Install missing Debian packages (apt-get update only if something is missing)
	@scripts/install-deps.sh

build: deps ## Debug build of everything
	$(SWIFT) build

release: deps ## Optimised, statically linked CLI (.build/release/fedgate; see scripts/build/release.sh)
	scripts/build/release.sh

run: build ## Serve $(CONFIG) on http://127.0.0.1:5556/dex (Ctrl-C to stop)
	@mkdir -p var
	exec $(BIN) serve $(CONFIG)

test: deps ## Build, swift test, then the e2e suite; the last line is pytest's summary
	@scripts/test.sh

unit: deps ## Swift unit tests only
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

venv: ## Create or reuse .venv for the e2e suite
	@scripts/venv.sh

e2e: venv ## The e2e suite only, against the binary already built
	@test -x $(BIN) || { echo "$(BIN) missing: run make build first" >&2; exit 1; }
	FEDGATE_BIN=$(CURDIR)/$(BIN) .venv/bin/python -m pytest Tests/e2e -q

validate: ## Validate every example config with the built binary
	@for f in connector-configs/*.yaml; do $(BIN) validate "$$f"; done

clean: ## Remove build products and the e2e venv (keeps resolved package checkouts)
	$(SWIFT) package clean
	rm -rf .venv Tests/e2e/__pycache__ Tests/e2e/e2e_support/__pycache__

distclean: clean ## Also remove .build entirely and the quickstart database in var/
	rm -rf .build var
