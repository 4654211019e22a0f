# The two README commands. Both create the environment on first use and are fast afterwards.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE_INDEX := .newsdesk/sample-index

.PHONY: demo test env

env: $(STAMP)

# torch is installed first and pinned: the CPU build on this machine's disk, not a multi-GB CUDA one.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/newsdesk index sample/articles --index $(SAMPLE_INDEX) --quiet
	$(BIN)/newsdesk repl --index $(SAMPLE_INDEX)

test: $(STAMP)
	$(BIN)/python -m pytest
