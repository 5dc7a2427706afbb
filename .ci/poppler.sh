#!/usr/bin/env bash
# Makes sure poppler's `pdftotext` (Debian `poppler-utils`) is installed: the invoice tests
# read the PDFs' text with it. Prints its path.
set -euo pipefail
if ! command -v pdftotext >/dev/null; then
  echo "[poppler] installing poppler-utils (apt)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y -qq --no-install-recommends poppler-utils >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends poppler-utils >/dev/null; }
fi
command -v pdftotext || { echo "[poppler] could not install poppler-utils" >&2; exit 1; }
