# StudyLab operator. `make help` lists the targets.
# The two commands a new user types (see README.md):
#   make run    - build the local control plane if needed, start it, install the CRD, run the operator
#   make test   - lint, typecheck, stale-CRD/RBAC/chart check, unit, chart and alert checks, integration and end-to-end tests

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

.PHONY: tools-build
tools-build: ## Build helm and promtool (hack/tools/versions.env) into ~/.cache/studylab (once).
	hack/tools/build.sh

.PHONY: generate
generate: deps ## Regenerate crds/ from src/api/, deploy/'s RBAC, and the Helm chart from deploy/.
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

.PHONY: helm-lint
helm-lint: tools-build ## helm lint --strict on charts/studylab-operator.
	"$$(hack/tools/build.sh --print-path helm)" lint --strict charts/studylab-operator --namespace studylab-system

.PHONY: helm-template
helm-template: tools-build ## Render the chart with default values (what `helm install studylab-operator` applies).
	"$$(hack/tools/build.sh --print-path helm)" template studylab-operator charts/studylab-operator --namespace studylab-system --include-crds

.PHONY: promtool-check
promtool-check: deps tools-build ## promtool check rules and test rules on deploy/monitoring/ (via the test suite).
	npx mocha --timeout 600000 'test/monitoring/**/*.test.ts'

.PHONY: test-chart
test-chart: deps tools-build helm-lint ## The chart (lint, render equals deploy/, values), alerts (promtool check/test rules) and dashboard checks.
	npm run --silent test:chart

.PHONY: test-integration
test-integration: deps testenv-build ## Integration tests against the local control plane (or STUDYLAB_KUBECONFIG).
	npm run --silent test:integration

.PHONY: test-e2e
test-e2e: deps testenv-build tools-build ## End-to-end tests: the operator as a process against the full local plane.
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

.PHONY: docker-engine
docker-engine: ## Make sure a Docker engine answers (as root on Debian: install docker.io, start dockerd).
	hack/docker-engine.sh

.PHONY: image
image: ## Build the operator image (studylab-operator:dev) from the Dockerfile; offline stand-in bases if the real ones are absent.
	hack/build-image.sh studylab-operator:dev

# Needs a Docker engine. `make test` runs it where one answers; without one it says so loudly and goes
# on, except in CI (CI=true), where .ci/run has prepared an engine and its absence is a failure.
# `make docker-engine` sets one up as root on Debian. `make test-image` alone always needs one.
.PHONY: test-image
test-image: deps testenv-build ## The image built and run as containers against the local plane (needs Docker).
	@hack/docker-engine.sh --check 2>/dev/null || { \
	  echo 'make test-image needs a Docker engine, and none answers (`docker info` fails).' >&2; \
	  echo 'As root on Debian, `make docker-engine` installs docker.io and starts dockerd; elsewhere start Docker.' >&2; \
	  exit 1; }
	hack/build-image.sh studylab-operator:dev
	STUDYLAB_IMAGE=studylab-operator:dev npm run --silent test:image

.PHONY: test-image-if-engine
test-image-if-engine:
	@if hack/docker-engine.sh --check >/dev/null 2>&1 || [ "$${CI:-}" = true ]; then \
	  $(MAKE) --no-print-directory test-image; \
	else \
	  echo '*** NOT RUN: the image tests (make test-image) need a Docker engine, and none answers.' >&2; \
	  echo '*** As root on Debian, `make docker-engine` starts one (CI does); then `make test-image`.' >&2; \
	fi

.PHONY: test
test: verify test-unit test-chart test-integration test-e2e test-browser test-reliability test-image-if-engine ## Everything CI runs (the image tests where a Docker engine answers, and always in CI).

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
MEMORY_SIZES ?= 1000,5000,10000
EDITS ?= 200
OPERATORS ?= peer,ours

.PHONY: bench
bench: deps testenv-build ## Benchmarks: ours vs a Go controller-runtime peer vs the raw write ceiling (QUICK=1 for a small run).
	npx tsx bench/run.ts --sizes=$(SIZES) --memory-sizes=$(MEMORY_SIZES) --edits=$(EDITS) --operators=$(OPERATORS) $(if $(QUICK),--quick,)

.PHONY: clean
clean: ## Remove build output (not the binary cache).
	rm -rf dist coverage
