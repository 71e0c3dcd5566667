# Two set-up commands: `make demo` (the main job) and `make test` (the whole suite).
# Both build .venv first. Needs python3 (3.11) with venv, and Node.js >= 18 for `make synth`; `make test` also
# needs Debian's chromium package for the browser tests, which `make system-deps` installs (as root).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OUT ?= out/demo
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: demo test test-quick bench gpu-check synth lint lint-code clean system-deps

$(VENV): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# the CPU build of torch first: a looser spec pulls a multi-GB CUDA build
	$(PY) -m pip install --quiet torch==2.13.0
	# this repository's packages with every pinned dependency (the `dev` extra, pyproject.toml), editable:
	# the trainer runs as `python -I -m containers.trainer`, which finds only installed code (no
	# PYTHONPATH, no working directory on sys.path)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(VENV)

# The browser tests (tests/browser) drive Debian's chromium package through Playwright: never a browser that
# Playwright downloads (`playwright install`), which a closed network cannot fetch. Installed with apt-get when
# missing, as root (a fresh CI machine); a user without root is told what to run.
CHROMIUM ?= /usr/bin/chromium
system-deps:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "$(CHROMIUM) is missing: the browser tests need Debian's chromium; run 'sudo make system-deps'" \
			"(apt-get install chromium)" >&2; \
		exit 1; \
	fi; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

demo: $(VENV)
	$(PY) -m fedcore demo --out $(OUT)

test: system-deps $(VENV)
	$(PY) -m pytest -q

test-quick: $(VENV)
	$(PY) -m pytest -q -m "not slow and not cdk" -n 2  # two workers (pytest-xdist): under 2 minutes on 2 cores

CDK_ENV ?= dev

synth: $(VENV)
	rm -rf cdk.out
	CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON='{"env": "$(CDK_ENV)"}' $(PY) -m cdk.app

lint: synth
	$(VENV)/bin/cfn-lint cdk.out/*.template.json

# the Python code: ruff ([tool.ruff] in pyproject.toml) and the dependency layers (.importlinter)
lint-code: $(VENV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

bench: $(VENV)
	$(PY) -m fedcore bench --json

# On a machine with CUDA: DP and non-DP steps of the image task's ResNet-18 and the diffusion model on GPU
# against CPU in one run (images/s, rows/s, peak GPU memory, GPU utilisation) as JSON; CPU only without one.
gpu-check: $(VENV)
	$(PY) -m fedcore.gpu_check

clean:
	rm -rf $(VENV) cdk.out out .pytest_cache .hypothesis
