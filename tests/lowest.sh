#!/usr/bin/env bash
# The tests that exercise DVC, Snakemake and typer again, under the lowest versions
# pyproject.toml declares (.venv-lowest, built by tests/setup.sh; docs/compatibility.md):
# DVC internals (frontend, corpus, runner) and typer's usage errors and help (CLI).
# opentimes' 4,172 stages test speed, not DVC versions: once, in .venv, is enough.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv-lowest/bin/python -m pytest -p no:cacheprovider -m "not slow" \
  --deselect "tests/unit/test_corpus.py::test_matches_dvc[dfsnow__opentimes]" \
  tests/unit/test_frontend.py tests/unit/test_corpus.py tests/unit/test_compat.py \
  tests/unit/test_cli.py tests/unit/test_cli_usage.py \
  tests/unit/test_lockyaml.py tests/unit/test_scmfast.py tests/unit/test_dvcreads.py \
  tests/unit/test_status_nonempty.py tests/unit/test_dvc_steps.py \
  tests/engine/test_paraffin_runner.py tests/engine/test_run_environment.py
