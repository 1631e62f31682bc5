# shellcheck shell=bash
# Sourced by .ci/run and .ci/quickstart: builds a fresh virtual environment at .venv in
# the repository root and installs sklearn-hamur into it, editable, with the extras named in
# $EXTRAS (default: dev).
# Afterwards REPO_ROOT, VENV and PY (the venv's python) are set and the working
# directory is the repository root.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"
export PIP_NO_INPUT=1
cd "$REPO_ROOT"

rm -rf "$VENV"
python3 -m venv "$VENV"
"$PY" -m pip install --upgrade pip
# torch first, pinned: pip takes this CPU build from the local wheel folder. Left to
# resolve "torch>=2.2" from the project's dependencies on its own, pip would download a
# CUDA build of several GB instead.
"$PY" -m pip install "torch==2.13.0"
"$PY" -m pip install -e ".[${EXTRAS:-dev}]"
