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

# mermaid's own parser, to check the mermaid backend's output (tests/mermaid_check.mjs)
if command -v npm >/dev/null 2>&1; then
  (cd tests/node && npm ci --silent --no-audit --no-fund)
fi
