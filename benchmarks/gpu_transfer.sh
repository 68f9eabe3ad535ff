#!/usr/bin/env bash
# The GPU runs of issue 11 (transfer to devices no profile has seen), one phase per call:
#   PHASE=kernels  microbenchmarks (benchmarks/gpu_physics.py) on the whole H200 and on each of
#                  SMS_LIST SMs, then a sampled kernel suite (--sample SAMPLE) at each SM count;
#   PHASE=models   shipped transformers models (benchmarks/measure_models.py), MODELS, MODELS_BUDGET,
#                  PREFILL, PREFILL_BATCH, DECODE_KV, BATCH, in MODELS_PROCS separate processes;
#                  MODELS_SMS (default 0): SM counts, each but 0 one process in a green context;
#   PHASE=probe    the CUDA-graph node gap (benchmarks/measure_graph_gap.py) on each of SMS_LIST
#                  SMs (0 = whole GPU), then the strided-dims suite (kernels/strided_dims.yaml)
#                  at each of DIMS_SMS (0 = whole GPU);
#   PHASE=suite    one kernel suite (SUITE, a kernels/*.yaml) at each of SUITE_SMS SMs
#                  (0 = whole GPU), CAL_BUDGET seconds each; SUITE_SAMPLE=F times the
#                  deterministic fraction F of its cases (calibrate --sample), spread over
#                  the whole suite rather than its first entries;
#   PHASE=conv     what F.conv2d runs (benchmarks/profile_conv.py: kernels per call, contiguous
#                  vs channels_last, CONV_BUDGET seconds) on the H200's held-out conv2d rows,
#                  then the fresh conv2d set (benchmarks/suites/conv_fresh.yaml) at each of
#                  SUITE_SMS SMs (0 = whole GPU);
#   PHASE=l2       streaming kernels timed cold and with L2-resident operands over a size sweep
#                  (benchmarks/measure_l2_resident.py, seed L2_SEED) at each of SUITE_SMS SMs;
#   PHASE=e2e      the reference end to end (benchmarks/measure_e2e.py) at each of SMS_LIST SMs,
#                  grids GRIDS, prompt PROMPT, with the carried transformers wheels (.wheels/);
#                  on the whole GPU in E2E_PROCS separate processes (e2e-sm0, e2e-sm0-p2 ...);
#                  E2E_GRAPH=1: also the decode step replayed as a CUDA graph (--graph);
#                  E2E_BATCH: prefill and decode batches (default 1);
#   PHASE=noise    how reproducible an eager (host-bound) wall time is across processes: one
#                  case (NOISE_MODEL decode, batch 8, KV 1024; measure_models.py) in NOISE_RUNS
#                  separate processes, each unpinned and pinned to one CPU (taskset), with the
#                  host's steal / idle jiffies (/proc/stat) and CPU MHz before and after each;
#                  then the reference's decode step (grids NOISE_GRIDS) in two processes.
#   OUT=/dir PHASE=kernels SMS_LIST="16 40 96" bash benchmarks/gpu_transfer.sh
# Results are packed into $OUT/<PHASE>.tar.gz (the device tool returns at most 8 files).
# Never changes clocks, power or modes; NVML state is recorded beside every measurement.
# Folders are named by the SM count requested; a green context may hand out more (groups of 8
# on the H200: 20 requested ran on 24): provenance.json records the probed count, which
# bench_transfer.py uses.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
PHASE=${PHASE:-kernels}
SMS_LIST=${SMS_LIST:-"16 40 96"}
SAMPLE=${SAMPLE:-0.08}
CAL_BUDGET=${CAL_BUDGET:-75}
E2E_BUDGET=${E2E_BUDGET:-110}
GRIDS=${GRIDS:-"1x2,2x3,4x5,8x10"}
PROMPT=${PROMPT:-16}
PHYS_SMS=${PHYS_SMS-"0 $SMS_LIST"}   # set it empty to skip the microbenchmarks
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
QUIET='^USDT\|SyncActivityProfiler\|_warn_once\|acc_events'
use_wheels() {   # the transformers roofsim captures with, carried as a wheel (.wheels/) or,
                 # where the working tree leaves no room for it, as an xz archive of the
                 # wheel's contents (.wheels-xz/*.tar.xz; transformers 5.25.0 with the huggingface_hub
                 # 2.4.0 and kernels 0.19.1 it needs: 7.2 MB; bash benchmarks/pack_wheels.sh)
  if ls .wheels/*.whl >/dev/null 2>&1; then
    pip install -q --no-deps --no-index --target /tmp/roofsim-wheels .wheels/*.whl 2>&1 | grep -v WARNING
    export PYTHONPATH="/tmp/roofsim-wheels:$PYTHONPATH"
  elif ls .wheels-xz/*.tar.xz >/dev/null 2>&1; then
    mkdir -p /tmp/roofsim-wheels
    for a in .wheels-xz/*.tar.xz; do tar -xJf "$a" -C /tmp/roofsim-wheels; done
    export PYTHONPATH="/tmp/roofsim-wheels:$PYTHONPATH"
  fi
  # Say it loudly when the carried transformers does not import here (a newer one needs a newer
  # huggingface_hub, say: carry its dependencies in the archive too), and measure with the
  # machine's own: every provenance file records which version ran.
  if [ -d /tmp/roofsim-wheels ] && ! err=$(python3 -c 'import transformers' 2>&1); then
    echo "WARNING: the carried transformers does not import here ($(echo "$err" | tail -1));" \
         "measuring with the machine's own"
    export PYTHONPATH="."
  fi
}
host_state() {   # one CSV line: cpu jiffies (user nice system idle iowait irq softirq steal), MHz
  echo "$(date +%s.%N),$(head -1 /proc/stat | awk '{print $2","$3","$4","$5","$6","$7","$8","$9}'),$(awk -F: '/cpu MHz/ {s+=$2; n++} END {printf "%.0f", s/n}' /proc/cpuinfo)"
}
W="$OUT/$PHASE"
mkdir -p "$W"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.draw,power.limit,temperature.gpu,clocks_throttle_reasons.active --format=csv | tee "$W/nvidia-smi.txt"
DEV=$(python3 -m roofsim.calibration.device) || exit 1
if [ "$PHASE" = kernels ]; then
  for n in $PHYS_SMS; do
    python3 benchmarks/gpu_physics.py --sms "$n" --out "$W/physics" 2>&1 | tail -30
  done
  for n in $SMS_LIST; do
    python3 -m roofsim.cli.calibrate --sms "$n" --sample "$SAMPLE" --out "$W/$DEV-sm$n" \
      --no-fit --time-budget "$CAL_BUDGET" 2>&1 | tail -2
  done
elif [ "$PHASE" = probe ]; then
  for n in $SMS_LIST; do
    python3 benchmarks/measure_graph_gap.py --sms "$n" --out "$W/gap" --per-kind "${PER_KIND:-8}" \
      --budget "${GAP_BUDGET:-120}" 2>&1 | grep -v "$QUIET" | tail -40
  done
  for n in ${DIMS_SMS:-}; do
    if [ "$n" = 0 ]; then sms=(); dir="$W/$DEV-dims"; else sms=(--sms "$n"); dir="$W/$DEV-dims-sm$n"; fi
    python3 -m roofsim.cli.calibrate --suite kernels/strided_dims.yaml "${sms[@]}" --out "$dir" \
      --no-fit --time-budget "$CAL_BUDGET" 2>&1 | tail -2
  done
elif [ "$PHASE" = suite ]; then
  name=$(basename "${SUITE:?set SUITE=kernels/X.yaml}" .yaml)
  for n in ${SUITE_SMS:-0}; do
    if [ "$n" = 0 ]; then sms=(); dir="$W/$DEV-$name"; else sms=(--sms "$n"); dir="$W/$DEV-$name-sm$n"; fi
    python3 -m roofsim.cli.calibrate --suite "$SUITE" "${sms[@]}" --out "$dir" \
      ${SUITE_SAMPLE:+--sample "$SUITE_SAMPLE"} --no-fit --time-budget "$CAL_BUDGET" 2>&1 | tail -2
  done
elif [ "$PHASE" = l2 ]; then
  # streaming kernels cold vs L2-resident over a size sweep (benchmarks/measure_l2_resident.py),
  # seed L2_SEED, at each of SUITE_SMS SMs (0 = whole GPU), each in its own process
  for n in ${SUITE_SMS:-0}; do
    python3 benchmarks/measure_l2_resident.py --sms "$n" --seed "${L2_SEED:-1}" \
      --out "$W/l2-seed${L2_SEED:-1}" --budget "$CAL_BUDGET" 2>&1 | grep -v "$QUIET" | tail -4
  done
elif [ "$PHASE" = conv ]; then
  python3 benchmarks/profile_conv.py --out "$W/conv-kernels" --budget "${CONV_BUDGET:-240}" \
    2>&1 | grep -v "$QUIET" | tail -30
  for n in ${SUITE_SMS:-0}; do
    if [ "$n" = 0 ]; then sms=(); dir="$W/$DEV-conv-fresh"; else sms=(--sms "$n"); dir="$W/$DEV-conv-fresh-sm$n"; fi
    python3 -m roofsim.cli.calibrate --suite benchmarks/suites/conv_fresh.yaml "${sms[@]}" \
      --out "$dir" --no-fit --time-budget "$CAL_BUDGET" 2>&1 | tail -2
  done
elif [ "$PHASE" = models ]; then
  # issue 12/13/16: shipped transformers models, kernel and wall time, batches, CUDA graphs
  use_wheels
  # MODELS_PROCS separate processes (p1 in $W, the others in $W-p2 ...): see E2E_PROCS;
  # MODELS_SMS: SM counts to run on (0 = the whole GPU; others one process each, in $W-sm<N>)
  for n in ${MODELS_SMS:-0}; do
    for p in $([ "$n" = 0 ] && seq 1 "${MODELS_PROCS:-1}" || echo 1); do
      if [ "$n" = 0 ]; then sms=(); dir="$([ "$p" = 1 ] && echo "$W" || echo "$W-p$p")"
      else sms=(--sms "$n"); dir="$W-sm$n"; fi
      python3 benchmarks/measure_models.py --out "$dir" "${sms[@]}" \
        --models "${MODELS:-llama-3.1-8b,qwen3-30b-a3b,mistral-7b-v0.3}" \
        --prefill "${PREFILL:-512,4096}" --prefill-batch "${PREFILL_BATCH:-1,4}" \
        --decode-kv "${DECODE_KV:-1024,8192}" --batch "${BATCH:-1,8,32}" --graph \
        --routing "${ROUTING:-model}" \
        --budget "${MODELS_BUDGET:-420}" 2>&1 | grep -v "$QUIET" | tail -40
    done
  done
elif [ "$PHASE" = noise ]; then
  use_wheels
  lscpu > "$W/lscpu.txt" 2>&1; nproc > "$W/nproc.txt"
  echo "run,pin,when,t,user,nice,system,idle,iowait,irq,softirq,steal,mhz" > "$W/host-state.csv"
  for i in $(seq 1 "${NOISE_RUNS:-3}"); do
    for pin in none cpu2; do
      if [ "$pin" = none ]; then pre=(); else pre=(taskset -c 2); fi
      echo "$i,$pin,before,$(host_state)" >> "$W/host-state.csv"
      "${pre[@]}" python3 benchmarks/measure_models.py --out "$W/run$i-$pin" \
        --models "${NOISE_MODEL:-llama-3.1-8b}" --prefill 512 --decode-kv 1024 --batch 8 \
        --repeats 15 --routing balanced 2>&1 | grep -v "$QUIET" | grep "decode" | tail -2
      echo "$i,$pin,after,$(host_state)" >> "$W/host-state.csv"
    done
  done
  for i in 1 2; do
    echo "ocr$i,none,before,$(host_state)" >> "$W/host-state.csv"
    python3 benchmarks/measure_e2e.py --grids "${NOISE_GRIDS:-2x2,4x5}" --stages decode \
      --repeats 15 --out "$W/ocr-run$i" 2>&1 | grep -v "$QUIET" | tail -4
    echo "ocr$i,none,after,$(host_state)" >> "$W/host-state.csv"
  done
elif [ "$PHASE" = e2e ]; then
  use_wheels
  python3 -c 'import transformers, torch; print("transformers", transformers.__version__, "torch", torch.__version__)'
  for n in $SMS_LIST; do   # 0 = the whole GPU
    # E2E_PROCS separate processes on the whole GPU (an eager wall time varies between
    # processes: calibration/h200/host/noise): e2e-sm0, then e2e-sm0-p2, e2e-sm0-p3 ...
    for p in $(seq 1 "$([ "$n" = 0 ] && echo "${E2E_PROCS:-1}" || echo 1)"); do
      python3 benchmarks/measure_e2e.py --sms "$n" --grids "$GRIDS" --prompt-tokens "$PROMPT" \
        ${E2E_GRAPH:+--graph} --batch "${E2E_BATCH:-1}" \
        --out "$W/e2e-sm$n$([ "$p" = 1 ] || echo "-p$p")" --budget "$E2E_BUDGET" 2>&1 \
        | grep -v "$QUIET" | tail -16
    done
  done
fi
tar -czf "$OUT/$PHASE.tar.gz" -C "$OUT" $(cd "$OUT" && ls -d "$PHASE" "$PHASE"-p* "$PHASE"-sm* \
  2>/dev/null) && rm -rf "${OUT:?}/$PHASE" "${OUT:?}/$PHASE"-p* "${OUT:?}/$PHASE"-sm*
ls -la "$OUT"
