# Phosphene set-up. Two commands do everything on a fresh Linux machine with Python 3.11:
#   make demo   install, then render the demo clip to demo.mp4
#   make test   install (with the optional NDI extra, requirements-ndi.txt), then check the import
#               rules (.importlinter) and run the test suite
# Run as root, `make test` also installs the Debian packages in system-packages.txt.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install system-packages bench clean

demo: install
	$(BIN)/python -m live render demo/phosphene-demo.mp3 -o demo.mp4 --fallback shader

test: system-packages install $(VENV)/.installed-ndi
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m live bench render

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-ndi: requirements-ndi.txt $(VENV)/.installed  # the optional NDI output, so CI runs its tests
	$(BIN)/pip install --quiet -r requirements-ndi.txt
	touch $@

system-packages:
	@sh scripts/install-system-packages.sh system-packages.txt

clean:
	rm -rf $(VENV) demo.mp4
