#!/usr/bin/env bash
# Lints the SAM template with cfn-lint and `sam validate --lint`. Both run offline; the
# tools live in a throwaway venv under .cache/ (gitignored), installed on first use.
# Any finding (error, warning or informational) fails the script.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TEMPLATE=infra/template.yaml
VENV=.cache/lint-venv

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating venv $VENV"
    python3 -m venv "$VENV"
fi

if [[ ! -x "$VENV/bin/cfn-lint" || ! -x "$VENV/bin/sam" ]]; then
    echo "==> installing cfn-lint and aws-sam-cli into $VENV (first run only)"
    start=$SECONDS
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check cfn-lint aws-sam-cli
    echo "==> installed in $((SECONDS - start))s"
fi

echo "==> cfn-lint $TEMPLATE ($("$VENV/bin/cfn-lint" --version))"
if ! "$VENV/bin/cfn-lint" "$TEMPLATE"; then
    echo "FAIL: cfn-lint reported findings in $TEMPLATE" >&2
    exit 1
fi

echo "==> sam validate --lint -t $TEMPLATE ($("$VENV/bin/sam" --version))"
if ! AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 "$VENV/bin/sam" validate --lint -t "$TEMPLATE"; then
    echo "FAIL: sam validate --lint reported findings in $TEMPLATE" >&2
    exit 1
fi

echo "==> OK: $TEMPLATE passes cfn-lint and sam validate --lint"
