#!/usr/bin/env bash
# Pack the transformers roofsim captures with, for the GPU machine (no network there), into
# .wheels-xz/ (git-ignored; pass it to the device tool's carry): gpu_transfer.sh's use_wheels
# unpacks every .wheels-xz/*.tar.xz onto PYTHONPATH and says so when it does not import.
#   bash benchmarks/pack_wheels.sh [VERSION]      (default: the transformers installed here)
# The GPU machine (Python 3.12, torch 2.11) has transformers 5.17.0 and its dependencies; 5.25.0
# also needs huggingface_hub >= 2.4 and `kernels`, so those and the pure-Python packages they
# bring are packed too (PACK), for CPython 3.12 on x86-64 Linux. About 7 MB for 5.25.0.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
VERSION=${1:-$($PY -c 'import transformers; print(transformers.__version__)')}
PACK=${PACK:-"transformers huggingface_hub kernels httpx2 httpcore2 h11 anyio idna truststore click tomlkit typing_extensions"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$PY -m pip download -q -d "$tmp/wheels" --python-version 3.12 --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_17_x86_64 "transformers==$VERSION" 2>&1 | grep -v WARNING || true
mkdir -p "$tmp/site"
for p in $PACK; do
  for w in "$tmp"/wheels/"$p"-*.whl; do
    [ -e "$w" ] && unzip -q -o "$w" -d "$tmp/site"
  done
done
find "$tmp/site" -name __pycache__ -prune -exec rm -rf {} +
mkdir -p .wheels-xz
rm -f .wheels-xz/*.tar.xz
tar -cJf ".wheels-xz/transformers-$VERSION-deps.tar.xz" -C "$tmp/site" .
ls -la .wheels-xz
