#!/usr/bin/env bash
# Install keras4ds with its test extras, lint, then run the suite once per Keras backend.
set -uo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e ".[test]" || exit 1
status=0
echo "=== ruff check (ruff.toml) ==="
python -m ruff check . || status=1
for backend in jax tensorflow torch; do
  echo "=== pytest with KERAS_BACKEND=${backend} ==="
  KERAS_BACKEND="${backend}" python -m pytest -q -n 2 --durations=10 "$@" || status=1
done
exit "${status}"
