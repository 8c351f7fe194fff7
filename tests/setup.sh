#!/usr/bin/env bash
# Builds everything the test suite needs, from nothing: the project venv, the
# engines it drives, and the tools that check generated files. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

# mermaid's own parser, to check the mermaid backend's output (tests/node/check.mjs)
if command -v npm >/dev/null 2>&1; then
  (cd tests/node && npm ci --silent --no-audit --no-fund)
fi

# A live single-node SLURM for the slurm tests (tests/slurm_cluster.py starts and
# stops the daemons itself; nothing runs as a service), and shellcheck for the
# generated submit script. Debian's packages, root only.
apt_missing=()
if ! command -v slurmctld >/dev/null 2>&1 && [ ! -x /usr/sbin/slurmctld ]; then
  apt_missing+=(slurm-wlm munge)
fi
command -v shellcheck >/dev/null 2>&1 || apt_missing+=(shellcheck)
if [ "${#apt_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${apt_missing[@]}" >/dev/null
  else
    echo "setup.sh: cannot apt-get install ${apt_missing[*]}; their tests will skip" >&2
  fi
fi

# The lowest versions pyproject.toml declares (dvc, snakemake, typer, ...) in a venv
# of their own, as .venv has the newest: .ci/run runs the frontend, CLI and runner
# tests in both (docs/compatibility.md). Rebuilt when the declared bounds change.
LOWEST=$(.venv/bin/python tests/lowest_pins.py)
if [ "$(cat .venv-lowest/pins.txt 2>/dev/null)" != "$LOWEST" ]; then
  rm -rf .venv-lowest
  "$PY" -m venv .venv-lowest
  .venv-lowest/bin/python -m pip install -q uv==0.13.8
  # shellcheck disable=SC2086 # one pin a word
  .venv-lowest/bin/uv pip install -q --python .venv-lowest/bin/python -e . $LOWEST \
    "pytest>=8" "hypothesis>=6.100" "jsonschema>=4"
  printf '%s\n' "$LOWEST" >.venv-lowest/pins.txt
fi

# Airflow in a venv of its own (its pins clash with ours); tests/airflow_support.py
# finds it at .venv-airflow. uv resolves Airflow's ~200 dependencies in seconds.
AIRFLOW_VERSION=3.3.2
if ! .venv-airflow/bin/python -c "from importlib.metadata import version as v
assert v('apache-airflow') == '$AIRFLOW_VERSION', v('apache-airflow-providers-standard')
" 2>/dev/null; then
  "$PY" -m venv .venv-airflow
  .venv-airflow/bin/python -m pip install -q uv==0.13.8
  .venv-airflow/bin/uv pip install -q --python .venv-airflow/bin/python \
    "apache-airflow==$AIRFLOW_VERSION" "apache-airflow-providers-standard==1.21.0"
fi
