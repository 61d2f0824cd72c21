#!/usr/bin/env bash
# Second device call of the 2026-11-26 afternoon session (gpu): per-dispatch GPU times of the new
# bundle (timestamp queries, one pass per dispatch: NNPORT_WEBGPU_PROFILE=1, Dawn's timestamp
# quantization off), then how often to submit (NNPORT_WEBGPU_SUBMIT_EVERY), alternated.
#   bash .devpack/session-b2.sh
set -u
. $PWD/.devpack/env.sh
SETUP_ONLY=1 bash $P/device.sh 2>&1 | tee $OUT/setup2.txt
echo "== GPU times per dispatch (new, one pass per dispatch)"
NNPORT_WEBGPU_PROFILE=1 NNPORT_DAWN_FLAGS='disable-dawn-features=timestamp_quantization' BENCH_TIMEOUT=120 bench new --only resnet18,mobilenet_v2,conv,conv7,depthwise,matmul --backend-only webgpu --runs 20 --warmup 3 --gpu-times | tee $OUT/gpu-times.md
echo "== submit every N dispatches (new, replayed runs)"
NO_DIFF=1 BENCH_TIMEOUT=60 bash $P/ab.sh "new-s4 new-s8 new-s16 new-s32 new-s0 new-s4 new-s8 new-s16 new-s32 new-s0" --only resnet18,mobilenet_v2 > /dev/null 2>&1
cp $OUT/ab.md $OUT/submit-sweep.md && rm $OUT/ab.md
grep -E '^new' $OUT/submit-sweep.md | grep -v -e bench -e -- 
echo "== done"
