# The commands a person types. Everything installs into .venv the first time.
#   make lab        JupyterLab on the course (student versions; solutions in notebooks/)
#   make test       the whole test suite (unit tests, notebooks with nbval, grading workflow)
#   make student    student versions and autograder archives in dist/
#   make grade SUBMISSIONS=folder   grade submissions offline into grades/gradebook.csv
#   make notebooks  re-execute the notebook sources and refresh the committed .ipynb outputs
#   make results    run every notebook headless and write results/results.json and RESULTS.md
#                   (NAMES="04_positional_encoding ..." re-measures only those, keeping the other rows)
#   make size       words and cells in each notebook's core (the lecture-sized bar; make test checks it too)

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.mmcourse-installed
PORT   ?= 8888
JOBS   ?= 2
SUBMISSIONS ?= submissions
TIMEOUT ?= 300

.PHONY: setup lab lab-solutions test student grade notebooks results size check-sync clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "mmcourse needs Python 3.10 or newer, this is " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e .
	@touch $(STAMP)

student: setup
	$(BIN)/python scripts/assign.py

lab: setup student
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/dist/student/00_welcome.ipynb \
		--port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS)

lab-solutions: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb \
		--port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS)

test: setup student
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env \
		tests notebooks dist/student

grade: setup
	$(BIN)/python scripts/grade.py $(SUBMISSIONS) --timeout $(TIMEOUT)

notebooks: setup
	$(BIN)/python scripts/nbtools.py build --jobs $(JOBS) $(NAMES)

results: setup
	$(BIN)/python scripts/nbtools.py results $(NAMES)

size: setup
	$(BIN)/python scripts/notebook_size.py $(NAMES)

check-sync: setup
	$(BIN)/python scripts/nbtools.py check

clean:
	rm -rf dist grades test-artifacts .pytest_cache
