# omsh developer entry points. `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ASSETS := omsh/web/static/vendor/.fetched

.PHONY: venv system-packages run test lint bench clean

venv: $(STAMP) $(ASSETS)

# Rebuilt only when the dependency list changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# The web terminal's xterm.js, from the npm registry, checked against the
# integrity hashes pinned in omsh/web/assets.json.
$(ASSETS): omsh/web/assets.json
	$(PYTHON) scripts/fetch_web_assets.py

# The Debian packages the tests and benchmarks drive (OpenSSH, plink, tmux,
# rclone, sshfs, lftp, PostgreSQL): installed if missing, through sudo if need be.
# No service is left running: the tests start their own (sshd, PostgreSQL).
system-packages:
	@bash scripts/system-packages.sh

run: venv
	$(BIN)/omsh serve --data var --keys keys --host 127.0.0.1 --ssh-port 2222 --cdmi-port 8080

test: system-packages venv
	$(BIN)/ruff check omsh tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q tests

lint: venv
	$(BIN)/ruff check omsh tests bench
	$(BIN)/ruff format --check omsh tests bench
	$(BIN)/mypy

# `make bench ARGS='sftp --quick'` runs another case group (see python -m bench --help).
bench: system-packages venv
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
