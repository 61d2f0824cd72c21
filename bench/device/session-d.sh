#!/usr/bin/env bash
# The device call of 2026-11-27 evening (gpu): old (main before) vs new (tile loads fetched one
# slice ahead, vec4 tile loads) and new with each of the two switched off, alternated, webgpu only,
# on the models and the single-layer cases: first the GPU time per dispatch (timestamp queries, one
# pass per dispatch), then input-on-the-host to output-on-the-host times, MatMul 4096 GPU times;
# new against wasm once (max abs diff); the PyTorch CUDA peer.
#   bash .devpack/session-d.sh    (after bench/device/pack.sh OLD_REF CHECKOUT here)
# CASES / RUNS narrow it for a dry run (e.g. CASES=conv7,depthwise RUNS=2 on SwiftShader).
set -u
. $PWD/.devpack/env.sh
C=${CASES:-resnet18,mobilenet_v2,matmul,conv,conv7,depthwise}
R=${RUNS:-20}
SETUP_ONLY=1 bash $P/device.sh 2>&1 | tee $OUT/setup.txt
PROF=(NNPORT_WEBGPU_PROFILE=1 NNPORT_DAWN_FLAGS=disable-dawn-features=timestamp_quantization)
echo "== GPU time per dispatch (one pass each), alternated"
env "${PROF[@]}" AB_FILE=gpu-times.md NO_DIFF=1 BENCH_TIMEOUT=120 bash $P/ab.sh "old new new-novec new-nopf old new" --only $C --runs $R --gpu-times
echo "== input on the host to output on the host, alternated"
AB_FILE=ab.md NO_DIFF=1 BENCH_TIMEOUT=120 bash $P/ab.sh "old new new-novec new-nopf old new" --only $C --runs $R
echo "== MatMul 4096: GPU time, alternated"
env "${PROF[@]}" AB_FILE=matmul4096.md NO_DIFF=1 BENCH_TIMEOUT=120 bash $P/ab.sh "old new old new" --only matmul --matmul-size ${MATMUL_SIZE:-4096} --runs 5 --warmup 2 --gpu-times
echo "== new vs wasm (max abs diff)"
BENCH_TIMEOUT=150 bench new --only $C --runs 5 --warmup 3 | tee $OUT/new-vs-wasm.md
echo "== PyTorch CUDA peer"
timeout 150 python3 $P/torch_peer.py 50 2>&1 | tee $OUT/torch.json
echo "== done"
