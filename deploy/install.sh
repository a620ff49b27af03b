#!/usr/bin/env bash
# Install the workbench from a built wheel into a new virtualenv, with the locked dependencies.
# The container image (Dockerfile) installs with this script, and the wheel test runs it too.
#
#   deploy/install.sh VENV [WHEEL]      WHEEL: a built wheel (default: build one into dist/)
#
# UV (default: uv on PATH, else the checkout's .venv/bin/uv) is used for building, exporting the
# lock and installing; PYTHON (default: python3) makes the virtualenv.
set -euo pipefail
venv=${1:?usage: deploy/install.sh VENV [WHEEL]}
wheel=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
uv=${UV:-$(command -v uv || echo "$root/.venv/bin/uv")}
if [ -z "$wheel" ]; then
  "$uv" build --wheel --out-dir "$root/dist" "$root" >&2
  wheel=$(ls -t "$root"/dist/rag_workbench-*.whl | head -1)
fi
"${PYTHON:-python3}" -m venv "$venv"
"$uv" export --locked --no-dev --no-hashes --no-emit-project --project "$root" --quiet > "$venv/requirements.txt"
VIRTUAL_ENV="$venv" "$uv" pip install --quiet -r "$venv/requirements.txt" "$wheel"
VIRTUAL_ENV="$venv" "$uv" pip check
echo "installed $(basename "$wheel") into $venv" >&2
