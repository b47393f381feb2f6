#!/usr/bin/env bash
# Install everything the tests need, then run them all (browser tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  # Chromium for the browser tests; Fashion-MNIST for the default-checkpoint tests
  (apt-get install -y --no-install-recommends chromium dataset-fashion-mnist \
    || (apt-get update && apt-get install -y --no-install-recommends chromium dataset-fashion-mnist)) >/dev/null
fi
python -m pip install -q -r requirements-dev.txt
python -m ruff check .  # lint first: the settings are in pyproject.toml
# two processes, each test file on one of them (its module fixtures built once); docs/benchmarks.md, "The tests"
python -m pytest -q -n 2 --dist loadfile "$@"
