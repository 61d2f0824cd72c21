#!/usr/bin/env bash
# The device call of the 2026-11-26 afternoon session (gpu): setup (device.sh), then on the same
# machine: old (main before) vs new (replay + residual fusion + submits in pieces) and new's
# switches, alternated, webgpu only; new against wasm once (the max abs diff on this GPU, after
# replays); the PyTorch CUDA peer; a CPU profile of new's host side with replay off.
#   bash .devpack/session-b.sh    (after bench/device/pack.sh OLD_REF CHECKOUT here)
set -u
. $PWD/.devpack/env.sh
SETUP_ONLY=1 bash $P/device.sh 2>&1 | tee $OUT/setup.txt
echo "== A/B (webgpu only, 20 runs after 3 warm-ups each)"
NO_DIFF=1 BENCH_TIMEOUT=90 bash $P/ab.sh "old new new-norep new-plain old new new-norep new-plain" --only resnet18,mobilenet_v2 2>&1
echo "== new vs wasm (max abs diff after replayed runs)"
BENCH_TIMEOUT=120 bench new --only resnet18,mobilenet_v2 --runs 5 --warmup 3 | tee $OUT/new-vs-wasm.md
echo "== PyTorch CUDA peer"
timeout 150 python3 $P/torch_peer.py 50 2>&1 | tee $OUT/torch.json
echo "== host profile, new without replay"
NNPORT_WEBGPU_REPLAY=0 timeout 60 $NODE --cpu-prof --cpu-prof-dir=/tmp/prof $P/host-profile.mjs $P/nnport-new.mjs $P/kernels.wasm $W/models/resnet18/model.onnx 300 2>&1 | grep -v XDG_RUNTIME | tee $OUT/host-profile.txt
$NODE $P/prof-top.mjs /tmp/prof/*.cpuprofile $(grep -o 'T0 [0-9]*' $OUT/host-profile.txt | cut -d' ' -f2) $(grep -o 'T1 [0-9]*' $OUT/host-profile.txt | cut -d' ' -f2) 2>&1 | tee -a $OUT/host-profile.txt
echo "== done"
