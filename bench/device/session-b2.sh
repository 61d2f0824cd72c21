#!/usr/bin/env bash
# Second device call of the 2026-11-26 afternoon session (gpu): per-dispatch GPU times of the new
# bundle (timestamp queries, one pass per dispatch: NNPORT_WEBGPU_PROFILE=1, Dawn's timestamp
# quantization off), then how often to submit (NNPORT_WEBGPU_SUBMIT_EVERY), alternated.
#   bash .devpack/session-b2.sh
set -u
P=$PWD/.devpack
export OUT=${OUT:-/tmp/out}; mkdir -p $OUT
SETUP_ONLY=1 bash $P/device.sh 2>&1 | tee $OUT/setup2.txt
[ -d /tmp/vk ] && export LD_LIBRARY_PATH=/tmp/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$P/nvidia-egl-icd.json}
[ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH=/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
M="--resnet18 /tmp/models/resnet18/model.onnx --mobilenet-v2 /tmp/models/mobilenet_v2/model.onnx"
echo "== GPU times per dispatch (new, one pass per dispatch)"
NNPORT_WEBGPU_PROFILE=1 NNPORT_DAWN_FLAGS='disable-dawn-features=timestamp_quantization' timeout 120 /tmp/node $P/webgpu.mjs --kernels $P/kernels.wasm $M --dist $P/nnport-new.mjs --only resnet18,mobilenet_v2,conv,conv7,depthwise,matmul --backend-only webgpu --runs 20 --warmup 3 --gpu-times 2>&1 | grep -v XDG_RUNTIME | tee $OUT/gpu-times.md
echo "== submit every N dispatches (new, replayed runs)"
NO_DIFF=1 BENCH_TIMEOUT=60 bash $P/ab.sh "new-s4 new-s8 new-s16 new-s32 new-s0 new-s4 new-s8 new-s16 new-s32 new-s0" --only resnet18,mobilenet_v2 > /dev/null 2>&1
cp $OUT/ab.md $OUT/submit-sweep.md && rm $OUT/ab.md
grep -E '^new' $OUT/submit-sweep.md | grep -v -e bench -e -- 
echo "== done"
