# Shouwang: two commands on a fresh machine with Python 3.11 — `make run`, `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := server.wsgi

.PHONY: run test lint bench mobile worker install clean-instance ci reliability

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (Python 3.11)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# face-recognition declares a dependency on dlib, whose source build takes
# 8+ minutes; dlib-bin (the [face] extra) ships the same module prebuilt, so
# face-recognition itself is installed with --no-deps.
$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e '.[face,mobile,test,dev]'
	$(BIN)/pip install -q --no-deps 'face-recognition>=1.3'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	SHOUWANG_WORKER_THREAD=1 $(BIN)/flask run --host 127.0.0.1 --port 5000

# TEST_ARGS: extra pytest arguments (CI splits the suite between its two runs).
test: $(STAMP)
	$(BIN)/pytest -q $(TEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	@for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

# Crash (SIGKILLed gunicorn workers), Redis restart, PostgreSQL outage, idempotency:
# the long crash run (4 phones x 300 batches), its counts printed. Needs PostgreSQL on
# 127.0.0.1:5432 and redis-server; uses its own database test_rel and its own Redis.
reliability: $(STAMP)
	SHOUWANG_REL_FULL=1 $(BIN)/pytest -s -p no:cacheprovider tests/reliability

mobile: $(STAMP)
	$(BIN)/python -m mobile.main $(ARGS)

# A separate worker process (needs REDIS_URL: the in-process substitute is not shared).
worker: $(STAMP)
	$(BIN)/flask worker

ci:
	bash .ci/run
