# Set-up and the two everyday commands. Every target creates the project-local
# virtual environment first if it is missing or older than setup.cfg.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench-spec bench-reuse clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# The CPU build of torch first: installed later, a bare requirement pulls a multi-GB CUDA build.
	$(BIN)/pip install --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --disable-pip-version-check -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m k2v_learnware.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Spec generation time and quality on digits and Fashion-MNIST, LANE next to RKME
# (Fashion-MNIST needs the Debian package dataset-fashion-mnist).
bench-spec: $(STAMP)
	$(BIN)/python benchmarks/spec_quality.py

bench-reuse: $(STAMP)
	$(BIN)/python benchmarks/reuse_vs_jobselector.py

clean:
	rm -rf $(VENV) *.egg-info
