# Every target installs the environment first when .venv is missing or stale.
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
WB := $(VENV)/bin/workbench
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(VENV)
# no network at run time: LiteLLM would otherwise fetch its price list on import
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install browsers test check test-fast demo ingest chat accept eval eval-baseline docs optimize notebook serve bench bench-quick clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@test -x $(UV) || $(VENV)/bin/pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --locked --compile-bytecode
	$(UV) pip check
	@touch $@

## the whole suite, model-backed tests included (a real browser opens a report: chromium, installed when missing)
test: install browsers
	RAG_TEST_BROWSER=required $(VENV)/bin/pytest

## headless Chromium and CJK fonts from Debian's packages, and playwright-core (npm, pinned in
## tests/browser/package-lock.json) to drive it, for the report and widget tests; nothing when already there
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browsers:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-cjk; }
	@test -d tests/browser/node_modules/playwright-core || npm ci --prefix tests/browser --no-audit --no-fund

## the linter (ruff: pyflakes, syntax errors, bugbear; pyproject.toml), run by CI beside the tests
check: install
	$(VENV)/bin/ruff check pipeline evals service bench cli tests workbench.py
	$(VENV)/bin/mypy

## unit tests only (no real model)
test-fast: install
	$(VENV)/bin/pytest -m "not slow and not model"

## the main job on the embedded defaults: index the demo corpus, ask in English and Korean
demo: install
	$(WB) ingest
	$(WB) chat "Who is your Ph.D. advisor?"
	$(WB) chat "박사 과정 지도교수님이 누구세요?"

ingest: install
	$(WB) ingest

chat: install
	@test -f .data/index/CURRENT -o -f .data/index/manifest.json || $(WB) ingest
	$(WB) chat

## acceptance figures per language (hybrid, then dense retrieval)
accept: install
	@test -f .data/index/CURRENT -o -f .data/index/manifest.json || $(WB) ingest
	$(WB) accept --mode hybrid --write datasets/acceptance.json
	$(WB) accept --mode dense --write datasets/acceptance.json
	$(MAKE) docs

## the fixture sites of datasets/sites/<name>/ (site/, questions.jsonl, baseline.json), one per layout
SITES := alfolio academicpages hugoblox hugo-ko
SITE_EVAL = $(WB) ingest datasets/sites/$$s/site --index .data/sites/$$s > /dev/null && \
	$(WB) eval --split test --index .data/sites/$$s --dataset datasets/sites/$$s/questions.jsonl \
	--baseline datasets/sites/$$s/baseline.json
SECOND = --index .data/second --dataset datasets/second/questions.jsonl
SECOND_EVAL = $(WB) ingest datasets/second/corpus --index .data/second > /dev/null && \
	$(WB) eval --split test $(SECOND) --baseline datasets/second/baseline.json && \
	$(WB) eval --split test --conversation $(SECOND) --baseline datasets/second/baseline-conversation.json
SITE_CHAT = $(WB) eval --split test --conversation --index .data/sites/$$s \
	--dataset datasets/sites/$$s/questions.jsonl --baseline datasets/sites/$$s/baseline-conversation.json

## the regression gate: the demo's test split and each fixture site's, single questions and as one chat
eval: install
	$(WB) eval --split test
	$(WB) eval --split test --conversation
	@echo "== second"; $(SECOND_EVAL)
	@for s in $(SITES); do echo "== $$s"; $(SITE_EVAL) && $(SITE_CHAT) || exit 1; done

## rewrite the committed baselines on purpose (commit datasets/**/baseline*.json afterwards)
eval-baseline: install
	$(WB) eval --split test --write-baseline
	$(WB) eval --split test --conversation --write-baseline
	@echo "== second"; $(SECOND_EVAL:--baseline=--write-baseline --baseline)
	@for s in $(SITES); do echo "== $$s"; $(SITE_EVAL) --write-baseline && $(SITE_CHAT) --write-baseline || exit 1; done
	$(MAKE) docs

## regenerate the docs' generated parts (the README's figures from the committed baselines, the acceptance
## table from datasets/acceptance.json); a test
## fails when they are stale, another when a link in the README or docs/ leads nowhere
docs: install
	$(WB) figures --write

## compile the program on train, select on dev, save pipeline/artifacts/program.json (+ optimize-report.md)
optimize: install
	$(WB) optimize

## the prompt-tuning notebook in JupyterLab (a dev dependency; http://localhost:8888 unless taken);
## as root (a container) it needs --allow-root; more flags: make notebook JUPYTER_ARGS=--no-browser
JUPYTER_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
notebook: install
	$(VENV)/bin/jupyter lab notebooks/prompt_tuning.ipynb $(JUPYTER_ARGS)

## the chat service on http://127.0.0.1:8000 (ingests the demo corpus first on a fresh clone)
serve: install
	$(WB) serve

## how fast, how big, against what: every figure a ratio to a baseline measured in the same run (runs/bench-*.json)
bench: install
	$(WB) bench

## the same, small: about a minute
bench-quick: install
	$(WB) bench --quick

clean:
	rm -rf .data runs .pytest_cache
