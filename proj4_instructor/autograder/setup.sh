#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu base image).
# It installs CPU-only Python packages into a virtual environment, unpacks the test split and
# creates the unprivileged user the tests run as. Nothing here needs ImageNet weights.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SRC="$ROOT/source"

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip unzip

python3 -m venv "$ROOT/venv"
PY="$ROOT/venv/bin/python"
"$PY" -m pip install --no-cache-dir --upgrade pip
# CPU wheels only: the CUDA build is ~2 GB and Gradescope has no GPU. Gradescope leaves
# PROJ4_TORCH_INDEX_URL unset; `proj4-instructor rehearse` points it at an index its machine reaches.
# Wheels only, as the release checked them for this Python (proj4_instructor/pins.py).
TORCH_INDEX="${PROJ4_TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"
"$PY" -m pip install --no-cache-dir --only-binary=:all: --index-url "$TORCH_INDEX" -r "$SRC/requirements-torch.txt"
"$PY" -m pip install --no-cache-dir --only-binary=:all: -r "$SRC/requirements.txt"

# The test split (1,500 images) and its attribute CSV.
rm -rf "$ROOT/data"
mkdir -p "$ROOT/data"
unzip -q "$SRC/data/proj4_test_data.zip" -d "$ROOT/data"

# The tests run as this user: it can read the venv and the data, not the source or the results.
id -u proj4grader >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin proj4grader
chmod 755 "$ROOT"
chmod -R a+rX "$ROOT/venv" "$ROOT/data"
chmod 700 "$SRC"
