#!/usr/bin/env bash
# Second device call of 2026-11-27 evening (gpu): old (main before), mid (tile loads fetched one
# slice ahead + vec4 tile loads: session-d's new) and new (mid + workgroup-memory rows padded
# against bank conflicts) and new with 32-deep slices (NNPORT_WEBGPU_TILE_K=32), alternated,
# webgpu only: GPU time per dispatch (one pass each), input-on-the-host to output-on-the-host,
# MatMul 4096 GPU time; new and new-k32 against wasm (max abs diff); the PyTorch CUDA peer.
#   bash .devpack/session-e.sh    (after MID_REF=... bash bench/device/pack.sh OLD_REF CHECKOUT here)
# CASES / RUNS / MATMUL_SIZE narrow it for a dry run.
set -u
. $PWD/.devpack/env.sh
C=${CASES:-resnet18,mobilenet_v2,matmul,conv,conv7,depthwise}
R=${RUNS:-20}
SETUP_ONLY=1 bash $P/device.sh 2>&1 | tee $OUT/setup.txt
PROF=(NNPORT_WEBGPU_PROFILE=1 NNPORT_DAWN_FLAGS=disable-dawn-features=timestamp_quantization)
echo "== GPU time per dispatch (one pass each), alternated"
env "${PROF[@]}" AB_FILE=gpu-times.md NO_DIFF=1 BENCH_TIMEOUT=120 bash $P/ab.sh "old mid new new-k32 old mid new new-k32" --only $C --runs $R --gpu-times
echo "== input on the host to output on the host, alternated"
AB_FILE=ab.md NO_DIFF=1 BENCH_TIMEOUT=120 bash $P/ab.sh "old new new-k32 old new new-k32" --only $C --runs $R
echo "== MatMul 4096: GPU time, alternated"
env "${PROF[@]}" AB_FILE=matmul4096.md NO_DIFF=1 BENCH_TIMEOUT=120 bash $P/ab.sh "old mid new new-k32 old mid new new-k32" --only matmul --matmul-size ${MATMUL_SIZE:-4096} --runs 5 --warmup 2 --gpu-times
echo "== new and new-k32 vs wasm (max abs diff)"
BENCH_TIMEOUT=150 bench new --only $C --runs 5 --warmup 3 | tee $OUT/new-vs-wasm.md
NNPORT_WEBGPU_TILE_K=32 BENCH_TIMEOUT=150 bench new --only $C --runs 5 --warmup 3 | tee -a $OUT/new-vs-wasm.md
echo "== PyTorch CUDA peer"
timeout 150 python3 $P/torch_peer.py 50 2>&1 | tee $OUT/torch.json
echo "== done"
