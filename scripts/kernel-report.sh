#!/usr/bin/env bash
# One call's worth of kernel measurements on a GPU: verifies the fast kernels against the portable
# ones (also with the kernel candidates of runtime/candidates.ts on), times the issue-2 bar shapes
# with and without the candidates, runs every variant sweep, then times the bars again (run-to-run
# spread), and ends with the bar lines of every run. Made for the device tool, where a call is
# expensive: source .device/boot.sh && bash scripts/kernel-report.sh
# Usage: bash scripts/kernel-report.sh [--help] [--quick]   (--quick: bars and checks, no sweeps)
# The full log goes to $OUT/kernel-report.txt when OUT is set, else to ./kernel-report.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --quick|"") ;;
  *) echo "kernel-report: unknown option $1 (see --help)" >&2; exit 2 ;;
esac
log="${OUT:-.}/kernel-report.txt"
: >"$log"
failed=0
# Runs a command into the log; a non-zero exit fails the report (check: nonzero, sweep: informative,
# since a swept tile shape that cannot run a shape prints a FAILED row and exits 1).
run() {
  local counts=$1; shift
  echo "### $*" | tee -a "$log"
  "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  echo "### exit $rc: $*" | tee -a "$log"
  if [ "$rc" -ne 0 ] && [ "$counts" = check ]; then failed=1; fi
}
step() { run check "$@"; }
sweep() { run sweep "$@"; }
# The sweeps name their rows after the same shapes, so the bars leave them out; bar rows also give
# the kernel time by GPU timestamps.
bars=(--filter 'matmul 4096' --filter 'conv3x3 320→320 64x64' --filter 'attention self B2xH8 4096' --filter 'attention self B2xH8 16384' --exclude sweep --gpu-time)
all_candidates=$(node --input-type=module -e "import { KERNEL_CANDIDATES } from './dist/runtime/candidates.js'; console.log(KERNEL_CANDIDATES.join(','))") ||
  { echo 'kernel-report: cannot list the kernel candidates (is the project built?)' >&2; exit 2; }
step node scripts/device-info.js
step node scripts/check-kernels.js
step env WEBGPU_DIFFUSION_CANDIDATES=$all_candidates node scripts/check-kernels.js
step node scripts/bench-kernels.js "${bars[@]}"
step env WEBGPU_DIFFUSION_CANDIDATES=$all_candidates node scripts/bench-kernels.js "${bars[@]}"
if [ "${1:-}" != --quick ]; then
  for name in attn-sweep conv-sweep gemm-sweep split-sweep ahead-sweep m160-sweep; do sweep node scripts/bench-kernels.js --filter "$name"; done
  step node scripts/bench-kernels.js "${bars[@]}"
  step env WEBGPU_DIFFUSION_CANDIDATES=$all_candidates node scripts/bench-kernels.js "${bars[@]}"
fi
echo "--- bar shapes, every run, default kernels and with candidates ($all_candidates)"
echo "--- bars: f16 matmul 4096³ ≥ 100, f32 ≥ 18; conv 3x3 320→320 64² b2 ≥ 60; self-attention 4096 d40 ≥ 40 TFLOP/s"
grep -E '^(### (env|node) .*bench-kernels.js --filter matmul|matmul 4096|conv3x3 320→320 64x64|attention self B2xH8 (4096|16384))' "$log" |
  sed -e 's/^### env [^ ]* node .*/candidates:/' -e 's/^### node .*/default:/'
exit "$failed"
