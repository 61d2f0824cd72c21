#!/usr/bin/env bash
# Runs on the lent GPU machine from the repository root (bash .devpack/device.sh): unpacks node
# and Dawn, refills the bench models' random weights, runs the WebGPU bench with the new bundle
# (webgpu and wasm) and, when packed, the old one (webgpu only) on the same machine, then the
# PyTorch CUDA peer. Everything it needs is in .devpack (bench/device/pack.sh).
set -u
P=$PWD/.devpack
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
echo "== machine"; nvidia-smi -L; nproc; grep -m1 'model name' /proc/cpuinfo; echo "checkout $PWD, bundles: new $(cat $P/new-ref) old $(cat $P/old-ref 2>/dev/null || echo -)"
xz -dc $P/node.xz > /tmp/node && chmod +x /tmp/node && /tmp/node --version
mkdir -p $P/node_modules/webgpu/dist/linux-x64 && xz -dc $P/dawn.node.xz > $P/node_modules/webgpu/dist/linux-x64/dawn.node
if ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
  echo "no Vulkan loader here: using Debian's libvulkan1"; dpkg -x $P/libvulkan1_*.deb /tmp/vk
  export LD_LIBRARY_PATH=/tmp/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
# the stock NVIDIA manifest names libGLX_nvidia.so.0, which fails without a display
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$P/nvidia-egl-icd.json}
[ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH=/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
mkdir -p /tmp/models && cp -r $P/models/* /tmp/models/
for m in resnet18 mobilenet_v2; do /tmp/node $P/fill.mjs /tmp/models/$m; done
echo "== adapter"; timeout 60 /tmp/node $P/diag.mjs 2>&1 | grep -v XDG_RUNTIME
# SETUP_ONLY=1: stop here (ab.sh runs next in the same call)
[ -n "${SETUP_ONLY:-}" ] && exit 0
# BENCH_ARGS (last: they override) e.g. '--only conv7,depthwise --runs 1 --warmup 1' for a quick check
B="timeout ${BENCH_TIMEOUT:-150} /tmp/node $P/webgpu.mjs --kernels $P/kernels.wasm --resnet18 /tmp/models/resnet18/model.onnx --mobilenet-v2 /tmp/models/mobilenet_v2/model.onnx --runs 20 --warmup 3"; A=${BENCH_ARGS:-}
echo "== new ($(cat $P/new-ref)): webgpu vs wasm"
$B --dist $P/nnport-new.mjs $A 2>&1 | grep -v XDG_RUNTIME | tee $OUT/new.md
if [ -f $P/nnport-old.mjs ]; then
  echo "== old ($(cat $P/old-ref)): webgpu"
  $B --dist $P/nnport-old.mjs --backend-only webgpu $A 2>&1 | grep -v XDG_RUNTIME | tee $OUT/old.md
fi
echo "== MatMul ${MATMUL_SIZE:-4096}, webgpu"
for v in new old; do [ -f $P/nnport-$v.mjs ] && echo "-- $v" && $B --dist $P/nnport-$v.mjs --backend-only webgpu $A --only matmul --matmul-size ${MATMUL_SIZE:-4096} --runs 5 --warmup 2 2>&1 | grep -v XDG_RUNTIME | tail -1 | tee -a $OUT/matmul4096.md; done
echo "== PyTorch CUDA peer"
timeout 150 python3 $P/torch_peer.py 50 2>&1 | tee $OUT/torch.json
