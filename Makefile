# Two commands do all set-up on a fresh machine:
#   make lab    install the kit into .venv, then start JupyterLab on notebooks/
#   make test   install the kit into .venv, then run every test (pytest on tests/, nbval on notebooks/, fast mode),
#               the widget tests again on Colab's ipywidgets 7.7, and a browser test (Chromium, apt-get if missing)
# Installing is idempotent: a stamp keyed by the dependency files makes it a no-op when nothing changed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEPS   := pyproject.toml constraints.txt mtlkit/install_learn2learn.py Makefile
# What Colab ships: the widget tests run a second time with these first on PYTHONPATH (tests/test_colab_widgets.py).
COLAB_WIDGETS := ipywidgets==7.7.5 ipython_genutils==0.2.0
STAMP  := $(VENV)/.installed-$(shell cat $(DEPS) | sha1sum | cut -c1-12)
TEST_CACHE ?= $(CURDIR)/.cache/mtlkit

.PHONY: install browser lab test clean

install: $(STAMP)

$(STAMP): $(DEPS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[lab,test,l2l]"
	$(PY) -m mtlkit.install_learn2learn --python $(PY) --quiet --log $(VENV)/learn2learn-build.log
	rm -rf $(VENV)/ipywidgets7
	$(PY) -m pip install --quiet --no-deps --target $(VENV)/ipywidgets7 $(COLAB_WIDGETS)
	@rm -f $(VENV)/.installed-*
	@touch $@

LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

lab: install
	$(VENV)/bin/jupyter lab $(LAB_ARGS) notebooks/

# The browser test drives the system Chromium (Playwright cannot download its own here); install it if missing.
browser:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium with apt-get for the browser test"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } || \
	  echo "apt-get could not install chromium: the browser test will skip"; \
	else echo "no chromium, and apt-get needs root: the browser test will skip"; fi

test: install browser
	MTLKIT_FAST=1 MTLKIT_REQUIRE_L2L=1 MTLKIT_CACHE=$(TEST_CACHE) \
	  $(PY) -m pytest --nbval-lax --nbval-current-env --durations=25 tests notebooks

clean:
	rm -rf $(VENV) .cache .pytest_cache
