# StudyLab operator. `make help` lists the targets.
# The two commands a new user types (see README.md):
#   make run    - build the local control plane if needed, start it, install the CRD, run the operator
#   make test   - lint, typecheck, stale-CRD check, unit, integration and end-to-end tests

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

NODE_MODULES := node_modules/.package-lock.json

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: $(NODE_MODULES) ## Install the npm dependencies (npm ci).

.PHONY: testenv-build
testenv-build: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok into ~/.cache/studylab (once).
	hack/testenv/build.sh

.PHONY: generate
generate: deps ## Regenerate crds/ from src/api/.
	npm run --silent generate

.PHONY: build
build: deps ## Compile TypeScript to dist/.
	npm run --silent build

.PHONY: lint
lint: deps ## ESLint and Prettier.
	npm run --silent lint

.PHONY: verify
verify: deps ## Lint, typecheck, and fail when the committed CRD is stale.
	npm run --silent lint
	npm run --silent typecheck
	npm run --silent verify:generated

.PHONY: test-unit
test-unit: deps ## Unit tests (no cluster).
	npm run --silent test:unit

.PHONY: test-integration
test-integration: deps testenv-build ## Integration tests against the local control plane (or STUDYLAB_KUBECONFIG).
	npm run --silent test:integration

.PHONY: test-e2e
test-e2e: deps testenv-build ## End-to-end tests: the operator as a process against the full local plane.
	npm run --silent test:e2e

.PHONY: test-reliability
test-reliability: deps testenv-build ## Fault injection against the local plane: API server and etcd restarts, 410s, silent watches, failover, fights, bad input.
	npm run --silent test:reliability

.PHONY: chromium
chromium: ## Find the headless Chromium the browser test drives, or install Debian's (as root); fail saying what to install.
	hack/chromium.sh

.PHONY: test-browser
test-browser: deps testenv-build chromium ## The live page in a headless Chromium (playwright-core) against the local plane; screenshots in test-artifacts/.
	npm run --silent test:browser

.PHONY: test
test: verify test-unit test-integration test-e2e test-browser test-reliability ## Everything CI runs.

.PHONY: testenv-up
testenv-up: deps testenv-build ## Start the local control plane in the background; prints what to export.
	npx tsx hack/testenv/cli.ts up

.PHONY: testenv-down
testenv-down: deps ## Stop the local control plane started by testenv-up.
	npx tsx hack/testenv/cli.ts down

.PHONY: run
run: deps testenv-build ## Run the operator against the local control plane (or KUBECONFIG with STUDYLAB_KUBECONFIG=...).
	ARGS="$(ARGS)" npx tsx hack/run.ts

.PHONY: kind-e2e
kind-e2e: deps ## With Docker: kind cluster, build and load the image, apply deploy/, run the e2e suites on it.
	hack/kind.sh e2e

.PHONY: kind-down
kind-down: ## Delete the kind cluster made by kind-e2e.
	hack/kind.sh down

# Benchmark sizes (see bench/README.md). Not part of `make test`.
SIZES ?= 100,1000
MEMORY_SIZES ?= 1000,5000
EDITS ?= 200
OPERATORS ?= peer,ours

.PHONY: bench
bench: deps testenv-build ## Benchmarks: ours vs a Go controller-runtime peer vs the raw write ceiling (QUICK=1 for a small run).
	npx tsx bench/run.ts --sizes=$(SIZES) --memory-sizes=$(MEMORY_SIZES) --edits=$(EDITS) --operators=$(OPERATORS) $(if $(QUICK),--quick,)

.PHONY: clean
clean: ## Remove build output (not the binary cache).
	rm -rf dist coverage
