# The two commands of the README. Each creates .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test campaign report bench clean

# Catalog scenarios in the everyday commands: a fixed, reproducible sample (see README).
RUN_SAMPLE ?= 100
TEST_SAMPLE ?= 30

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The HTML report: Allure 3 (npm package `allure`; needs Node and npm, no Java), pinned,
# installed once into .node/ (ignored by git).
ALLURE_VERSION := 3.18.0
NODE_PREFIX := .node
ALLURE := $(NODE_PREFIX)/node_modules/.bin/allure
ALLURE_STAMP := $(NODE_PREFIX)/.installed-allure-$(ALLURE_VERSION)

$(ALLURE_STAMP):
	npm install --prefix $(NODE_PREFIX) --no-audit --no-fund --loglevel=error --save-exact allure@$(ALLURE_VERSION)
	touch $(ALLURE_STAMP)

# reports/allure-results -> reports/allure-report: one self-contained index.html (reports/allurerc.mjs),
# its embedded data then gzip-packed (bench/report/packed_html.py: the whole catalog's report under 20 MB)
GENERATE_REPORT := rm -rf reports/allure-report && \
	$(ALLURE) generate --config reports/allurerc.mjs reports/allure-results --output reports/allure-report && \
	$(BIN)/python -m bench.report.packed_html reports/allure-report/index.html && \
	echo "HTML report: reports/allure-report/index.html"

## OTA campaign from testcases/ against the virtual bench; Allure results in reports/allure-results,
## the HTML report in reports/allure-report, the run added to reports/history (trends). Exit status: pytest's (the report's when pytest passed).
run: $(STAMP) $(ALLURE_STAMP)
	$(BIN)/pytest -n 2 testcases --scenario-sample $(RUN_SAMPLE) --seed 0 \
		--alluredir reports/allure-results --clean-alluredir --history reports/history $(ARGS); \
	status=$$?; { $(GENERATE_REPORT); } || [ $$status -ne 0 ] || status=1; exit $$status

## every test: the framework's own (tests/) and the OTA suites (testcases/), with a fixed
## sample of the catalog scenarios
test: $(STAMP) $(ALLURE_STAMP)
	$(BIN)/pytest -n 2 --scenario-sample $(TEST_SAMPLE) --seed 0 $(ARGS)

# Two pytest-xdist workers per core: a scenario spends much of its time waiting (a fault's
# duration, the tester's timeouts), and a second worker fills that time (benchmarks/README.md).
CAMPAIGN_WORKERS ?= $(shell echo $$((2 * $$(nproc 2>/dev/null || echo 1))))

## every catalog scenario (testcases/scenarios), Allure results in reports/allure-results,
## the HTML report in reports/allure-report
campaign: $(STAMP) $(ALLURE_STAMP)
	$(BIN)/pytest -n $(CAMPAIGN_WORKERS) testcases/scenarios --alluredir reports/allure-results --clean-alluredir \
		--history reports/history $(ARGS); \
	status=$$?; { $(GENERATE_REPORT); } || [ $$status -ne 0 ] || status=1; exit $$status

## HTML report (one self-contained index.html, opens from disk) from reports/allure-results
report: $(STAMP) $(ALLURE_STAMP)
	$(GENERATE_REPORT)

## performance measurements (not tests)
bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/pacing.py
	$(BIN)/python benchmarks/doip_throughput.py

clean:
	rm -rf $(VENV) $(NODE_PREFIX) reports/allure-results reports/allure-report reports/outcome-matrix.* \
		reports/compliance-matrix.* reports/trends.* reports/evidence.zip   # reports/history/ stays: the trends
