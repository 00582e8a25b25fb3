# ipcbench: `make bench` and `make test` set themselves up (a venv in .venv) on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
IPCBENCH := $(BIN)/ipcbench

PYTHONS ?= 3.10,3.11,3.12,3.13
PYTHONS_SWEEP = --pythons $(PYTHONS) -t pipe,pipe_bytes,queue,simplequeue,manager_queue,raw_pipe,raw_socketpair,memcpy,pickle -p pingpong,stream,startup -s 64,64K,1M

.PHONY: bench bench-pythons quick test lint setup plots report report-check compare bench-pytest bench-pytest-compare clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,peers]'
	@touch $(STAMP)

# bench: the run's own exit status is kept (in .last-run.status: POSIX sh has no pipefail), so
# a run that fails or is interrupted stops make with that status, says how to resume, and draws
# nothing. tee -i: Ctrl-C stops the run, not the copy of its output (the run still prints the
# path of its CSV). BENCH_ARGS: extra flags for 'ipcbench run'.
bench: $(STAMP)  ## the default sweep, then figures and the report for that run
	@rm -f .last-run.status; \
	  { $(IPCBENCH) run $(BENCH_ARGS); echo $$? > .last-run.status; } | tee -i .last-run.txt; \
	  status=$$(cat .last-run.status 2>/dev/null); \
	  case "$$status" in ''|*[!0-9]*) status=130;; esac; \
	  csv=$$(sed -n 's/^results: //p' .last-run.txt | tail -1); \
	  if [ "$$status" != 0 ] || [ -z "$$csv" ]; then \
	    echo "make bench: 'ipcbench run' did not finish (exit status $$status); nothing drawn" >&2; \
	    if [ -n "$$csv" ]; then \
	      echo "make bench: continue it with '$(IPCBENCH) run --resume $$csv', then 'make report'" >&2; \
	    else \
	      echo "make bench: see the error above; a run stopped mid-way continues with '$(IPCBENCH) run --resume <its CSV>'" >&2; \
	    fi; \
	    [ "$$status" != 0 ] || status=1; exit $$status; \
	  fi; \
	  $(IPCBENCH) report "$$csv"  # writes the figures (PNG + SVG) and the report

# bench-pythons: the same cases under each CPython version of PYTHONS (found on PATH or in
# ~/.pyenv/versions/; environments cached in ~/.cache/ipcbench/envs), then the report with its
# "CPython versions" section. Extra flags: BENCH_ARGS.
bench-pythons: $(STAMP)  ## pingpong/stream/startup under CPython 3.10-3.13 in one run, then the report
	@$(MAKE) --no-print-directory bench BENCH_ARGS="$(PYTHONS_SWEEP) $(BENCH_ARGS)"

quick: $(STAMP)  ## every transport x pattern on a small grid (about a minute)
	$(IPCBENCH) run --quick

plots: $(STAMP)  ## regenerate figures from every result in results/
	$(IPCBENCH) plot results/

report: $(STAMP)  ## regenerate the HTML + Markdown report from results/
	$(IPCBENCH) report results/

report-check: $(STAMP)  ## render each plots/*/report.html in headless chromium -> report.png
	@for html in plots/*/report.html; do \
	  test -f "$$html" || { echo "no report in plots/: run 'make bench' or 'make report' first"; exit 2; }; \
	  $(BIN)/python bench/screenshot_report.py "$$html" -o "$${html%.html}.png" || exit 1; \
	done

# compare: A is the reference; B, C, D ... or SETS="dir dir ..." add as many machines as you like.
# The report of each machine then has a "Machines" section (figures per machine, absolute and
# relative to its own raw_pipe floor, and where the advice differs).
COMPARE_SETS = $(strip $(A) $(B) $(C) $(D) $(E) $(F) $(SETS))
compare: $(STAMP)  ## make compare A=results/<machine-a> B=results/<machine-b> [C=... D=... | SETS="..."]
	@test $(words $(COMPARE_SETS)) -ge 2 || { echo "make compare: give two or more result folders: A=... B=... [C=...] or SETS=\"a b c\"" >&2; exit 2; }
	$(IPCBENCH) compare $(COMPARE_SETS) && $(IPCBENCH) plot $(COMPARE_SETS) --figures comparison && $(IPCBENCH) report $(COMPARE_SETS)

bench-pytest: $(STAMP)  ## pytest-benchmark microbenchmarks, saved for 'pytest-benchmark compare'
	$(BIN)/python -m pytest bench/ -q --benchmark-enable --benchmark-autosave --benchmark-storage=results/pytest-benchmark

bench-pytest-compare: $(STAMP)
	$(BIN)/pytest-benchmark --storage results/pytest-benchmark compare --group-by=group --columns=min,median,mean,stddev

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests

lint: $(STAMP)  ## ruff (lint + format) and mypy, as configured in pyproject.toml
	$(BIN)/ruff check ipcbench tests bench
	$(BIN)/ruff format --check ipcbench tests bench
	$(BIN)/mypy

clean-venv:
	rm -rf $(VENV)
