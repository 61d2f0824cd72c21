#!/usr/bin/env bash
# Runs on the lent GPU machine from the repository root (bash .devpack/device.sh): the setup
# (env.sh), the machine and its adapter, then the WebGPU bench with the new bundle (webgpu and
# wasm) and, when packed, the old one (webgpu only) on the same machine, then the PyTorch CUDA
# peer. Everything it needs is in .devpack (bench/device/pack.sh).
set -u
. $PWD/.devpack/env.sh
echo "== machine"; nvidia-smi -L; nproc; grep -m1 'model name' /proc/cpuinfo; echo "checkout $PWD, bundles: new $(cat $P/new-ref) old $(cat $P/old-ref 2>/dev/null || echo -)"
$NODE --version
echo "== adapter"; timeout 60 $NODE $P/diag.mjs 2>&1 | grep -v XDG_RUNTIME
# SETUP_ONLY=1: stop here
[ -n "${SETUP_ONLY:-}" ] && exit 0
# BENCH_ARGS (last: they override) e.g. '--only conv7,depthwise --runs 1 --warmup 1' for a quick check
A=${BENCH_ARGS:-}
echo "== new ($(cat $P/new-ref)): webgpu vs wasm"
bench new $A | tee $OUT/new.md
if [ -f $P/nnport-old.mjs ]; then
  echo "== old ($(cat $P/old-ref)): webgpu"
  bench old --backend-only webgpu $A | tee $OUT/old.md
fi
echo "== MatMul ${MATMUL_SIZE:-4096}, webgpu"
for v in new old; do [ -f $P/nnport-$v.mjs ] && echo "-- $v" && bench $v --backend-only webgpu $A --only matmul --matmul-size ${MATMUL_SIZE:-4096} --runs 5 --warmup 2 | tail -1 | tee -a $OUT/matmul4096.md; done
echo "== PyTorch CUDA peer"
timeout 150 python3 $P/torch_peer.py 50 2>&1 | tee $OUT/torch.json
