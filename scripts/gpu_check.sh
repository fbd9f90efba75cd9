#!/usr/bin/env bash
# The CUDA path in one call: set up, the tests that touch CUDA, the benchmark, the gpu-profile
# study (and the real-data one when STUDYLIB_DATA is set). Records and logs go under $OUT (a temporary folder when unset); the whole call is held
# to GPU_CHECK_BUDGET_S seconds (default 540: the 9 minutes a lent GPU allows), each stage to
# its share, so a slow stage cannot eat the next one's time.
#
#   make gpu-check                       # on a machine with a CUDA GPU
#   GPU_CHECK_DRY=1 make gpu-check       # the same stages on the CPU at tiny sizes (CI)
#
# A stage that fails is recorded (its exit code in $OUT/summary.txt) and the next one still
# runs; the script's exit code is the first failure's.
set -uo pipefail

cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d -t gpu-check.XXXXXX)}"
mkdir -p "$OUT/logs"
DRY="${GPU_CHECK_DRY:-0}"
BUDGET="${GPU_CHECK_BUDGET_S:-540}"
PY="${PY:-}"
if [[ -z "$PY" ]]; then
  if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
START=$(date +%s)
STATUS=0
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

left() { echo $(( BUDGET - ($(date +%s) - START) )); }

# stage NAME SECONDS COMMAND...: run COMMAND with at most SECONDS (and never past the budget),
# its output in $OUT/logs/NAME.log.
stage() {
  local name="$1" limit="$2"; shift 2
  local remaining; remaining=$(left)
  (( limit > remaining )) && limit=$remaining
  if (( limit < 5 )); then
    echo "$name: skipped (budget spent)" | tee -a "$SUMMARY"
    (( STATUS == 0 )) && STATUS=124
    return
  fi
  local t0; t0=$(date +%s)
  echo "== $name (at most ${limit}s)"
  timeout --kill-after=10 "$limit" "$@" > "$OUT/logs/$name.log" 2>&1
  local code=$?
  echo "$name: exit $code in $(( $(date +%s) - t0 ))s" | tee -a "$SUMMARY"
  tail -n 5 "$OUT/logs/$name.log"
  (( code != 0 && STATUS == 0 )) && STATUS=$code
}

if [[ "$DRY" == 1 ]]; then
  DEVICE=cpu
  # One thread: the dry run is a check that everything runs, and the CI machine is shared.
  export OMP_NUM_THREADS=1 CUDA_VISIBLE_DEVICES=""
  # The sync and resume tests: the rest of the CUDA tests train, which the full check does.
  TESTS=(tests/test_cuda_path.py -k "trap or reads_nothing or another_device or on_the_device")
  BENCH=(--device cpu --tiny --steps 1 --warmup 0 --batch-sizes 2)
  STUDY=("$PY" -m studylib.run pose --profile smoke --set epochs=1 num_train=16 num_test=8
         device=cpu --results-dir "$OUT/results" --ablation gpu-check --setting dry)
  LIMITS=(60 180 60 60)  # generous: CI machines are shared and slow to start pytest
else
  DEVICE=cuda
  TESTS=(tests/test_cuda_path.py tests/test_distributed.py tests/test_bench.py
         tests/test_reliability.py -k "not killed and not fresh_process")
  BENCH=(--device cuda --compile-too)
  STUDY=(env STUDYLIB_RESULTS="$OUT/results" "$PY" -m studylib.study --profile gpu)
  LIMITS=(30 100 130 540)
fi
export STUDYLIB_GPU_CHECK=1  # tells tests/test_cuda_path.py not to start this script again

echo "gpu-check: out $OUT, device $DEVICE, budget ${BUDGET}s"
stage setup "${LIMITS[0]}" bash -c "
  set -e
  git rev-parse HEAD 2>/dev/null || echo 'no git'
  git status --short 2>/dev/null | head -20
  command -v nvidia-smi >/dev/null && nvidia-smi || echo 'no nvidia-smi'
  '$PY' -c 'import torch, sys
print(\"python\", sys.version.split()[0], \"torch\", torch.__version__, \"cuda\", torch.version.cuda)
print(\"devices\", [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])
sys.exit(0 if \"$DEVICE\" == \"cpu\" or torch.cuda.is_available() else \"torch sees no CUDA device\")'
"
stage tests "${LIMITS[1]}" "$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
stage bench "${LIMITS[2]}" "$PY" -m studylib.bench "${BENCH[@]}" --out "$OUT/bench"
stage study "${LIMITS[3]}" "${STUDY[@]}"
# The real-data study too when the data came along (STUDYLIB_DATA: LSP/LSPET and 300-W, or a
# cache of them built at the gpu profile's sizes under STUDYLIB_CACHE), in the time left.
if [[ "$DRY" != 1 && -n "${STUDYLIB_DATA:-}" ]]; then
  stage study-real "${LIMITS[3]}" env STUDYLIB_RESULTS="$OUT/results" "$PY" -m studylib.study \
    --profile gpu --real
fi
if [[ "$DRY" != 1 && -d results/executed/gpu ]]; then
  cp -r results/executed/gpu "$OUT/executed"
fi
echo "total: $(( $(date +%s) - START ))s, exit $STATUS" | tee -a "$SUMMARY"
echo "records and logs: $OUT"
exit "$STATUS"
