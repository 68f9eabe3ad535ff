#!/usr/bin/env bash
# The GPU run of issue 7, in one call (about 6 minutes on an H200):
#   1. time the kernels/strided.yaml suite (strided elementwise and copies, SAM's masked
#      attention, SAM's convolutions over many crops), continuing calibration/<device>/'s
#      measurements (--resume: the rows already there are kept, new ones appended);
#   2. measure the reference end to end (benchmarks/measure_e2e.py), with the transformers
#      version of wheels carried in .wheels/ when there are any (so that the measurement
#      matches the version roofsim captures with), else the machine's.
#
#   OUT=/some/dir bash benchmarks/gpu_e2e.sh        # on the GPU machine
#
# Afterwards, on any machine: copy $OUT/<device>/measurements.csv and provenance.json over
# calibration/<device>/, refit (`roofsim calibrate --fit-only --out calibration/<device>`), copy
# $OUT/e2e/* to calibration/<device>/e2e/, then `python benchmarks/bench_e2e_accuracy.py`.
# Never changes clocks, power or modes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
CAL_BUDGET=${CAL_BUDGET:-200}
E2E_BUDGET=${E2E_BUDGET:-200}
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
DEV=$(python3 -m roofsim.calibration.device) || exit 1
mkdir -p "$OUT/$DEV" "$OUT/e2e"
for f in measurements.csv provenance.json; do
  [ -f "calibration/$DEV/$f" ] && cp "calibration/$DEV/$f" "$OUT/$DEV/"
done
# the committed rows are stored gzip-compressed (calibration/README.md)
if [ ! -f "$OUT/$DEV/measurements.csv" ] && [ -f "calibration/$DEV/measurements.csv.gz" ]; then
  gzip -dc "calibration/$DEV/measurements.csv.gz" > "$OUT/$DEV/measurements.csv"
fi
python3 -m roofsim.cli.calibrate --suite kernels/strided.yaml --out "$OUT/$DEV" --resume \
  --no-fit --time-budget "$CAL_BUDGET" 2>&1 | tail -3
if ls .wheels/*.whl >/dev/null 2>&1; then
  pip install -q --no-deps --no-index --target /tmp/roofsim-wheels .wheels/*.whl 2>&1 | grep -v WARNING
  export PYTHONPATH="/tmp/roofsim-wheels:$PYTHONPATH"
fi
if ! python3 -c 'import transformers' 2>/dev/null; then
  # The carried wheels did not import here: measure with the machine's transformers instead
  # (the provenance records which version ran).
  echo "carried transformers failed to import; using the machine's" >&2
  export PYTHONPATH="."
fi
python3 -c 'import transformers, torch; print("transformers", transformers.__version__, "torch", torch.__version__)' || exit 1
python3 benchmarks/measure_e2e.py --out "$OUT/e2e" --budget "$E2E_BUDGET" 2>&1 \
  | grep -v '^USDT\|SyncActivityProfiler\|_warn_once\|acc_events' | tee "$OUT/e2e/log.txt"
