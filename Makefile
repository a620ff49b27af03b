# Every target installs the environment first when .venv is missing.
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
WB := $(VENV)/bin/workbench
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install test test-fast ingest chat lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@test -x $(UV) || $(VENV)/bin/pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --locked
	$(UV) pip check
	@touch $@

test: install
	$(VENV)/bin/pytest -q

test-fast: install
	$(VENV)/bin/pytest -q -m "not slow and not model"

ingest: install
	$(WB) ingest

chat: install
	@test -d .data/index || $(WB) ingest
	$(WB) chat

clean:
	rm -rf .data runs .pytest_cache
