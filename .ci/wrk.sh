#!/usr/bin/env bash
# Makes sure `wrk` (the load generator `make load` drives; Debian package) is installed.
set -euo pipefail
if command -v wrk >/dev/null; then exit 0; fi
echo "[wrk] installing wrk (apt)" >&2
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 ||
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
command -v wrk >/dev/null || { echo "[wrk] could not install wrk" >&2; exit 1; }
