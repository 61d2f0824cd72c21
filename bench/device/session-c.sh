#!/usr/bin/env bash
# The device call of 2026-11-27 (gpu): setup (device.sh), then on the same machine old (main
# before) vs new (convPlan kept per node) alternated, webgpu only, mostly with whole-run replay
# off (the path the change is on); new against wasm once; the PyTorch CUDA peer; a CPU profile of
# new's host side with replay off.
#   bash .devpack/session-c.sh    (after bench/device/pack.sh OLD_REF CHECKOUT here)
set -u
. $PWD/.devpack/env.sh
SETUP_ONLY=1 bash $P/device.sh 2>&1 | tee $OUT/setup.txt
echo "== A/B (webgpu only, 20 runs after 3 warm-ups each)"
NO_DIFF=1 BENCH_TIMEOUT=90 bash $P/ab.sh "old-norep new-norep old-norep new-norep old new old-norep new-norep" --only resnet18,mobilenet_v2 2>&1
echo "== new vs wasm (max abs diff after replayed runs)"
BENCH_TIMEOUT=120 bench new --only resnet18,mobilenet_v2 --runs 5 --warmup 3 | tee $OUT/new-vs-wasm.md
echo "== PyTorch CUDA peer"
timeout 150 python3 $P/torch_peer.py 50 2>&1 | tee $OUT/torch.json
for v in old new; do
  echo "== host profile, $v without replay"
  rm -rf /tmp/prof
  NNPORT_WEBGPU_REPLAY=0 timeout 60 $NODE --cpu-prof --cpu-prof-dir=/tmp/prof $P/host-profile.mjs $P/nnport-$v.mjs $P/kernels.wasm $W/models/resnet18/model.onnx 300 2>&1 | grep -v XDG_RUNTIME | tee $OUT/host-profile-$v.txt
  $NODE $P/prof-top.mjs /tmp/prof/*.cpuprofile $(grep -o 'T0 [0-9]*' $OUT/host-profile-$v.txt | cut -d' ' -f2) $(grep -o 'T1 [0-9]*' $OUT/host-profile-$v.txt | cut -d' ' -f2) 2>&1 | head -40 >> $OUT/host-profile-$v.txt
done
echo "== done"
