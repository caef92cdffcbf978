# Phosphene set-up. Two commands do everything on a fresh Linux machine with Python 3.11:
#   make demo   install, then render the demo clip to demo.mp4
#   make test   install (with the optional NDI extra, requirements-ndi.txt), then check the import
#               rules (.importlinter) and run the test suite
# Run as root, `make test` also installs the Debian packages in system-packages.txt. `make install`
# installs Phosphene itself too (pip install -e .): the `phosphene` command in .venv/bin, from any folder.

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

$(VENV)/.installed: requirements.txt pyproject.toml  # the pinned dependencies, then Phosphene itself: the `phosphene` command
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-ndi: requirements-ndi.txt $(VENV)/.installed  # the optional NDI output, so CI runs its tests
	$(BIN)/pip install --quiet -r requirements-ndi.txt
	touch $@

system-packages:
	@sh scripts/install-system-packages.sh system-packages.txt

clean:
	rm -rf $(VENV) demo.mp4

# make sheet: redraw docs/scenes.png, the contact sheet of every scene (at 3, 6, 9 and 12 s of the demo
# track, 160 px), reproducibly: Mesa's software renderer (llvmpipe) draws it whatever GPU the machine has,
# and the PNG carries no time or text chunk, so the same code and Mesa give the same bytes. It also redraws
# docs/render.png, the front page's still: the frame at 9 s of a shader render of the demo track (it goes
# through libx264, whose threads do not promise the same bytes twice).
MESA_EGL := /usr/share/glvnd/egl_vendor.d/50_mesa.json
.PHONY: sheet
sheet: install
	__EGL_VENDOR_LIBRARY_FILENAMES=$(MESA_EGL) LIBGL_ALWAYS_SOFTWARE=1 GALLIUM_DRIVER=llvmpipe \
		$(BIN)/python -m live scenes --sheet docs/scenes.png --input demo/phosphene-demo.mp3 --at 3 6 9 12 --size 160
	__EGL_VENDOR_LIBRARY_FILENAMES=$(MESA_EGL) LIBGL_ALWAYS_SOFTWARE=1 GALLIUM_DRIVER=llvmpipe \
		$(BIN)/python -m live render demo/phosphene-demo.mp3 -o .still.mp4 --engine shader --scene tunnel --size 640x360 --seed 0 -q
	$(BIN)/python scripts/still.py .still.mp4 docs/render.png --at 9 && rm -f .still.mp4
