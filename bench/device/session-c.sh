#!/usr/bin/env bash
# The device call of 2026-11-27 (gpu): setup (device.sh), then on the same machine old (main
# before) vs new (convPlan kept per node) alternated, webgpu only, mostly with whole-run replay
# off (the path the change is on); new against wasm once; the PyTorch CUDA peer; a CPU profile of
# new's host side with replay off.
#   bash .devpack/session-c.sh    (after bench/device/pack.sh OLD_REF CHECKOUT here)
set -u
P=$PWD/.devpack
export OUT=${OUT:-/tmp/out}; mkdir -p $OUT
SETUP_ONLY=1 bash $P/device.sh 2>&1 | tee $OUT/setup.txt
[ -d /tmp/vk ] && export LD_LIBRARY_PATH=/tmp/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$P/nvidia-egl-icd.json}
[ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH=/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
M="--resnet18 /tmp/models/resnet18/model.onnx --mobilenet-v2 /tmp/models/mobilenet_v2/model.onnx"
echo "== A/B (webgpu only, 20 runs after 3 warm-ups each)"
NO_DIFF=1 BENCH_TIMEOUT=90 bash $P/ab.sh "old-norep new-norep old-norep new-norep old new old-norep new-norep" --only resnet18,mobilenet_v2 2>&1
echo "== new vs wasm (max abs diff after replayed runs)"
timeout 120 /tmp/node $P/webgpu.mjs --kernels $P/kernels.wasm $M --dist $P/nnport-new.mjs --only resnet18,mobilenet_v2 --runs 5 --warmup 3 2>&1 | grep -v XDG_RUNTIME | tee $OUT/new-vs-wasm.md
echo "== PyTorch CUDA peer"
timeout 150 python3 $P/torch_peer.py 50 2>&1 | tee $OUT/torch.json
for v in old new; do
  echo "== host profile, $v without replay"
  rm -rf /tmp/prof
  NNPORT_WEBGPU_REPLAY=0 timeout 60 /tmp/node --cpu-prof --cpu-prof-dir=/tmp/prof $P/host-profile.mjs $P/nnport-$v.mjs $P/kernels.wasm /tmp/models/resnet18/model.onnx 300 2>&1 | grep -v XDG_RUNTIME | tee $OUT/host-profile-$v.txt
  /tmp/node $P/prof-top.mjs /tmp/prof/*.cpuprofile $(grep -o 'T0 [0-9]*' $OUT/host-profile-$v.txt | cut -d' ' -f2) $(grep -o 'T1 [0-9]*' $OUT/host-profile-$v.txt | cut -d' ' -f2) 2>&1 | head -40 >> $OUT/host-profile-$v.txt
done
echo "== done"
