# withbowwow backend. `make run` starts everything; `make test` runs the suite.
# Both install what they need first (.venv, packages; embedded Postgres/Redis when none answers).

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The spec linter (Redocly CLI, pinned in tools/speclint/package-lock.json), run on Node.js.
SPECLINT_DIR   := tools/speclint
SPECLINT       := $(SPECLINT_DIR)/node_modules/.bin/redocly
SPECLINT_STAMP := $(SPECLINT_DIR)/node_modules/.installed
# The typed-client check: TypeScript types generated from docs/openapi.yaml by openapi-typescript,
# and tools/specclient/client_check.ts (what a client must write without a cast) type-checked
# against them by tsc; openapi-typescript, openapi-fetch and typescript pinned in its lock.
SPECCLIENT_DIR   := tools/specclient
SPECCLIENT_BIN   := $(SPECCLIENT_DIR)/node_modules/.bin
SPECCLIENT_STAMP := $(SPECCLIENT_DIR)/node_modules/.installed
SPECS          := docs/openapi.yaml docs/asyncapi.yaml
# The gateway benches' load generator (`ws` with `bufferutil`, pinned in its package-lock.json).
WS_LOAD_DIR    := bench/ws_load_node
WS_LOAD_STAMP  := $(WS_LOAD_DIR)/node_modules/.installed
# The gateway's peer (Socket.IO 4 with its Redis adapter) and its socket.io-client load generator,
# each pinned in its package-lock.json (bench/peers.py; the seed note's handler installs itself).
SIO_PEER_DIR   := bench/socketio_peer
SIO_LOAD_DIR   := bench/sio_load_node
PEER_STAMPS    := $(SIO_PEER_DIR)/node_modules/.installed $(SIO_LOAD_DIR)/node_modules/.installed

.PHONY: install lock run migrate test lint bench bench-gateway bench-api bench-push bench-zones bench-export bench-filtering bench-cluster bench-pubsub push-dead clean

install: $(STAMP)

# Exactly the lock (every file checked against its hash, nothing resolved), then the project
# itself, editable, with the locked setuptools. Reruns only when the lock or pyproject changes.
$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-resolve the lock from pyproject.toml (PyPI only, ignoring any local pip configuration):
# requirements.txt is what the images run, requirements-dev.txt the same pins plus dev tools.
# `make lock UPGRADE=--upgrade` moves every pin to the newest release allowed.
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --all-build-deps \
	--no-emit-index-url --no-emit-find-links $(UPGRADE)
LOCK_ENV := env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND='make lock'
lock: install
	$(LOCK_ENV) $(VENV)/bin/pip-compile $(LOCK_FLAGS) \
		-o requirements.txt pyproject.toml
	$(LOCK_ENV) $(VENV)/bin/pip-compile $(LOCK_FLAGS) \
		--extra dev -c requirements.txt -o requirements-dev.txt pyproject.toml

run: install
	$(PY) -m tools.devstack run

migrate: install
	$(PY) -m tools.devstack migrate

# The browser tests drive Debian's Chromium (tools/browser.sh installs it where it is missing).
test: install
	bash tools/browser.sh
	$(PY) -m pytest $(PYTEST_ARGS)

$(SPECLINT_STAMP): $(SPECLINT_DIR)/package-lock.json
	npm ci --prefix $(SPECLINT_DIR) --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(SPECLINT_STAMP)

$(SPECCLIENT_STAMP): $(SPECCLIENT_DIR)/package-lock.json
	npm ci --prefix $(SPECCLIENT_DIR) --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(SPECCLIENT_STAMP)

lint: install $(SPECLINT_STAMP) $(SPECCLIENT_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(SPECLINT) lint --format=stylish $(SPECS)
	$(SPECCLIENT_BIN)/openapi-typescript docs/openapi.yaml -o $(SPECCLIENT_DIR)/generated/openapi.d.ts
	$(SPECCLIENT_BIN)/tsc -p $(SPECCLIENT_DIR)

# Push jobs the worker gave up on (newest first).
push-dead: install
	$(PY) -m tools.devstack push-dead

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache $(SPECLINT_DIR)/node_modules \
		$(SPECCLIENT_DIR)/node_modules $(SPECCLIENT_DIR)/generated $(WS_LOAD_DIR)/node_modules \
		$(SIO_PEER_DIR)/node_modules $(SIO_LOAD_DIR)/node_modules

# Benchmarks (bench/): figures go to bench/results/*.json and bench/RESULTS.md; CI does not run them.
# BENCH_ARGS="--repeat 1" or "--quick" (a smoke run of the harness) are passed through.
# The gateway benches run their load on bench/ws_load.py; BENCH_LOAD=node runs its Node.js port
# (bench/ws_load_node, bufferutil's prebuilt binary ships in its package), which costs the same
# CPU a frame. `make bench-gateway` measures the peers beside the gateway (the gateway_peers
# figures); BENCH_ARGS=--no-peers skips them.
$(WS_LOAD_STAMP): $(WS_LOAD_DIR)/package-lock.json
	npm ci --prefix $(WS_LOAD_DIR) --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(WS_LOAD_STAMP)

bench/%/node_modules/.installed: bench/%/package-lock.json
	npm ci --prefix bench/$* --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

bench: install $(WS_LOAD_STAMP) $(PEER_STAMPS)
	$(PY) -m bench.runner all $(BENCH_ARGS)

bench-gateway: install $(WS_LOAD_STAMP) $(PEER_STAMPS)
	$(PY) -m bench.runner gateway $(BENCH_ARGS)

bench-api: install
	$(PY) -m bench.runner api $(BENCH_ARGS)

bench-cluster: install $(WS_LOAD_STAMP)
	$(PY) -m bench.runner cluster $(BENCH_ARGS)

# Sharded pub/sub on a local cluster: the gateway's links against redis-py's (bench/pubsub_clients.py).
bench-pubsub: install
	$(PY) -m bench.pubsub_clients $(BENCH_ARGS)

bench-push: install
	$(PY) -m bench.runner push $(BENCH_ARGS)

bench-zones: install
	$(PY) -m bench.runner zones $(BENCH_ARGS)

bench-export: install
	$(PY) -m bench.runner export $(BENCH_ARGS)

bench-filtering: install
	$(PY) -m bench.runner filtering $(BENCH_ARGS)
