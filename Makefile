# The two commands of the README. Both create .venv on first use and install what is needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench setup clean device-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,train]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/soft demo

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

# Real microphones need the PortAudio library (sounddevice loads it at run time).
device-deps:
	apt-get update && apt-get install -y --no-install-recommends libportaudio2
