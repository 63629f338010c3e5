# p2psocial: `make run` sets everything up and runs the product; `make test` sets everything up
# and runs lint, type checks and the whole test suite.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint bench clean

# `make run`: a demo network on this machine and the UI on your own node in it
# (examples/demo_network.py); `make run ARGS="..."`: the p2psocial command with those arguments.
run: $(STAMP)
ifeq ($(strip $(ARGS)),)
	$(BIN)/python examples/demo_network.py
else
	$(BIN)/p2psocial $(ARGS)
endif

test: $(STAMP) lint
	$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check p2psocial tests bench $(wildcard examples)
	$(BIN)/mypy p2psocial
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"p2psocial needs Python 3.11, found {sys.version.split()[0]}"'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "installing p2psocial and its dependencies into $(VENV) (log: $(VENV)/install.log)"
	$(BIN)/python -m pip install --quiet -e '.[dev]' > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
