#!/usr/bin/env bash
# The one script run on the GPU machine (issue 6): time every suite in kernels/ on the visible
# GPU, writing rows under $OUT/<device>/ as they are measured, then print a short table.
#
#   OUT=/some/dir BUDGET=440 bash benchmarks/gpu_calibrate.sh
#
# <device> is named for the GPU as NVML reports it (h100-sxm, h200, ...). If the tree already
# holds calibration/<device>/measurements.csv(.gz), the run continues it (--resume): cases already
# measured are skipped. BUDGET is the measuring time in seconds; the run stops cleanly there and
# a later run of this script continues. Never changes clocks, power or modes; NVML state is
# recorded beside every row. Afterwards, on any machine: copy $OUT/<device>/ to
# calibration/<device>/ (gzip -n -9 its measurements.csv) and fit with `roofsim calibrate --fit-only --out calibration/<device>`.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
BUDGET=${BUDGET:-440}
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.version.cuda,
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "NO GPU")' || exit 1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.draw,power.limit,temperature.gpu,clocks_throttle_reasons.active --format=csv || true
DEV=$(python3 -m roofsim.calibration.device) || exit 1
mkdir -p "$OUT/$DEV"
# The committed rows are stored gzip-compressed (calibration/README.md); the run continues a
# plain copy of them.
if [ -f "calibration/$DEV/measurements.csv" ]; then
  cp "calibration/$DEV/measurements.csv" "$OUT/$DEV/"
elif [ -f "calibration/$DEV/measurements.csv.gz" ]; then
  gzip -dc "calibration/$DEV/measurements.csv.gz" > "$OUT/$DEV/measurements.csv"
fi
if [ -f "$OUT/$DEV/measurements.csv" ]; then
  [ -f "calibration/$DEV/provenance.json" ] && cp "calibration/$DEV/provenance.json" "$OUT/$DEV/"
  echo "continuing calibration/$DEV ($(($(wc -l < "$OUT/$DEV/measurements.csv") - 1)) rows)"
fi
python3 -m roofsim.cli.calibrate --out "$OUT/$DEV" --resume --time-budget "$BUDGET" --no-fit \
  2>&1 | tee "$OUT/$DEV/calibrate.log"
python3 -m roofsim.calibration.summary "$OUT/$DEV"
