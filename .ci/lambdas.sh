#!/usr/bin/env bash
# `make lambdas`: every function (or FUNCTIONS="a b") built with cargo-lambda for
# provided.al2023 on arm64 (Graviton), release profile, then each bootstrap's size.
# cargo-lambda comes from PyPI (it brings zig as the cross linker) into .cache/.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/cargo-lambda
if [ ! -x "$venv/bin/cargo-lambda" ]; then
  echo "[lambdas] installing cargo-lambda (pip, into $venv)" >&2
  python3 -m venv "$venv" && "$venv/bin/pip" install -q cargo-lambda
fi
export PATH="$PWD/$venv/bin:$PATH"
fns=${FUNCTIONS:-$(ls functions)}
args=()
for f in $fns; do args+=(-p "$f"); done
cargo lambda build --release --arm64 --locked "${args[@]}"
echo
printf '%-28s %8s\n' "function (arm64)" "size"
for f in $fns; do
  bytes=$(stat -c %s "target/lambda/$f/bootstrap")
  awk -v f="$f" -v b="$bytes" 'BEGIN { printf "%-28s %5.1f MB%s\n", f, b / 1e6, (b > 8e6 ? "  (over 8 MB)" : "") }'
done
