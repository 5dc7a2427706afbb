#!/usr/bin/env bash
# Prints the path of a Python that has the `standardwebhooks` package, for the webhook
# tests' independent signer (tests/python/sign_webhook.py). It comes from PyPI into a venv
# under .cache/ on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/signer-venv
if ! "$venv/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
  echo "[signer] installing standardwebhooks into $venv (first run only)" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'standardwebhooks==1.1.0'
fi
echo "$PWD/$venv/bin/python"
