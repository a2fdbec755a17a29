#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu base image).
# It installs CPU-only Python packages into a virtual environment and creates the unprivileged
# user student code runs as. The test split is already decoded in grader/prepared (at release).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SRC="$ROOT/source"

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip

python3 -m venv "$ROOT/venv"
PY="$ROOT/venv/bin/python"
"$PY" -m pip install --no-cache-dir --upgrade pip
# CPU wheels only: the CUDA build is several GB and Gradescope has no GPU. Gradescope leaves
# PROJ4_TORCH_INDEX_URL unset; `proj4-instructor rehearse` points it at an index its machine reaches,
# or gives PROJ4_TORCH_FIND_LINKS, a folder with the torch and torchvision wheels the zip pins (their
# own dependencies still come from the default index).
# Wheels only, as the release checked them for this Python (proj4_instructor/pins.py).
TORCH_INDEX="${PROJ4_TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"
TORCH_FROM=(--index-url "$TORCH_INDEX")
if [ -n "${PROJ4_TORCH_FIND_LINKS:-}" ]; then TORCH_FROM=(--find-links "$PROJ4_TORCH_FIND_LINKS"); fi
"$PY" -m pip install --no-cache-dir --only-binary=:all: "${TORCH_FROM[@]}" -r "$SRC/requirements-torch.txt"
"$PY" -m pip install --no-cache-dir --only-binary=:all: -r "$SRC/requirements.txt"

# Student code runs as this user: it can read the venv, not the source or the results.
id -u proj4grader >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin proj4grader
chmod 755 "$ROOT"
chmod -R a+rX "$ROOT/venv"
chmod 700 "$SRC"
