# Two commands: `make demo` and `make test`. Both create (or reuse) .venv from the Python named in
# .python-version, install the package with its test extras, then run.
SHELL := /bin/bash
VENV ?= .venv
PY_WANT := $(shell cat .python-version 2>/dev/null || echo 3.12)
STAMP := $(VENV)/.installed-$(shell (cat pyproject.toml; echo $(PY_WANT)) | sha256sum | cut -c1-16)
PYTHON := $(VENV)/bin/python
DEMO_DRAWS ?= 1000

.PHONY: demo test lint venv clean data bench check-wheel screenshot

venv: $(STAMP)

$(STAMP): pyproject.toml .python-version
	@bash scripts/make_venv.sh "$(VENV)" "$(PY_WANT)"
	@rm -f $(VENV)/.installed-*
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dtors-bayes demo --out report --draws $(DEMO_DRAWS)

test: $(STAMP)
	$(VENV)/bin/ruff check dtors_bayes tests benchmarks notebooks
	$(PYTHON) -m pytest -q -p no:cacheprovider

# The report's first screen at 1280 px (needs chromium; `report/` from `make demo`, else an
# example report built without sampling).
screenshot: $(STAMP)
	PYTHON=$(PYTHON) bash scripts/screenshot_report.sh report docs/report_first_screen.png

check-wheel: $(STAMP)
	bash scripts/check_wheel.sh $(PYTHON)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

data: $(STAMP)
	$(VENV)/bin/dtors-bayes simulate --seed 20060201 --out data

clean:
	rm -rf $(VENV) report
