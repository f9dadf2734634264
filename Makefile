# Accord's everyday commands. `make run` and `make test` work on a fresh machine
# with only Python 3.11 and git.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export DJANGO_SETTINGS_MODULE := config.settings

.PHONY: run test lint format install install-dev migrate seed worker beat web check bench clean messages compile-messages lock

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs come from the lock files (exact versions, hashes checked): what the suite last
# passed with, on every machine, in the Dockerfile and in CI. `make lock` refreshes them
# from pyproject.toml.
$(VENV)/.installed: requirements/base.txt | $(BIN)/activate
	$(BIN)/pip install --quiet --require-hashes -r requirements/base.txt
	touch $@

$(VENV)/.installed-dev: requirements/dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	touch $@

## lock: re-resolve pyproject.toml's dependencies into requirements/{base,dev}.txt (hashed)
LOCK_FLAGS := --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links
lock: | $(BIN)/activate
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile $(LOCK_FLAGS) -o requirements/base.txt pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra dev -o requirements/dev.txt pyproject.toml

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## compile-messages: build the .mo catalogs with Babel (pure Python: no GNU gettext needed)
compile-messages: $(VENV)/.installed
	@if ls locale/*/LC_MESSAGES/django.po >/dev/null 2>&1; then \
		$(BIN)/pybabel -q compile -d locale -D django; \
	fi

## messages: refresh the en/id/pl catalogs from the code (needs GNU gettext: apt install gettext)
messages: install
	$(PY) manage.py makemessages --no-obsolete -l en -l id -l pl --ignore '.venv/*' --ignore 'var/*' --ignore 'bench-results/*'

migrate: install compile-messages
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

## run: set everything up and start web, worker and beat on http://127.0.0.1:8000
run: seed
	@echo ""
	@echo "  Accord is starting on http://127.0.0.1:8000"
	@echo "  Demo logins (password accord-demo): rep, rep2 (sales reps), salesmgr (sales manager),"
	@echo "  marketer, mktmgr (marketing manager), exec (executive), admin (superuser, /admin/)"
	@echo "  Ctrl-C stops the web server, the worker and beat."
	@echo ""
	$(BIN)/honcho start -f Procfile.dev

web: install
	$(PY) manage.py runserver 127.0.0.1:8000
worker: install
	$(BIN)/celery -A config worker --loglevel=INFO --concurrency=2
beat: install
	$(BIN)/celery -A config beat --loglevel=INFO --schedule=var/celerybeat-schedule

## test: lint, then the whole suite (against DATABASE_URL / REDIS_URL when set), in
## TEST_WORKERS processes (pytest-xdist; each has its own test database; 0 = in-process)
TEST_WORKERS ?= 2
test: install-dev compile-messages
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: install
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

## bench: build a data set in PostgreSQL, measure, print a table, write bench-results/*.json
## (SCALE=tiny|small|100k|1m, default small; needs DATABASE_URL; see bench/README.md)
SCALE ?= small
bench: install-dev
	SCALE=$(SCALE) $(PY) -m bench

clean:
	rm -rf var/ $(VENV)
