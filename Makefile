# Two commands do all set-up on a fresh machine:
#   make lab    install the kit into .venv, then start JupyterLab on notebooks/
#   make test   install the kit into .venv, then run every test (pytest on tests/, nbval on notebooks/, fast mode)
# Installing is idempotent: a stamp keyed by the dependency files makes it a no-op when nothing changed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEPS   := pyproject.toml constraints.txt mtlkit/install_learn2learn.py
STAMP  := $(VENV)/.installed-$(shell cat $(DEPS) | sha1sum | cut -c1-12)
TEST_CACHE ?= $(CURDIR)/.cache/mtlkit

.PHONY: install lab test clean

install: $(STAMP)

$(STAMP): $(DEPS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[lab,test,l2l]"
	$(PY) -m mtlkit.install_learn2learn --python $(PY)
	@rm -f $(VENV)/.installed-*
	@touch $@

LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

lab: install
	$(VENV)/bin/jupyter lab $(LAB_ARGS) notebooks/

test: install
	MTLKIT_FAST=1 MTLKIT_REQUIRE_L2L=1 MTLKIT_CACHE=$(TEST_CACHE) \
	  $(PY) -m pytest --nbval-lax --nbval-current-env tests notebooks

clean:
	rm -rf $(VENV) .cache .pytest_cache
