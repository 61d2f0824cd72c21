#!/usr/bin/env bash
# Runs on the lent GPU machine from the repository root: unpacks node and Dawn, refills the
# bench models' random weights, runs the WebGPU bench (webgpu vs wasm) and the PyTorch CUDA peer.
set -u
P=$PWD/.devpack
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
echo "== machine"; nvidia-smi -L; nproc
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
echo "== nnport webgpu vs wasm"
timeout ${BENCH_TIMEOUT:-200} /tmp/node bench/webgpu.mjs ${BENCH_ARGS:-} --dist $P/nnport.mjs --kernels $P/kernels.wasm \
  --resnet18 /tmp/models/resnet18/model.onnx --mobilenet-v2 /tmp/models/mobilenet_v2/model.onnx --runs 20 --warmup 3 2>&1 | grep -v XDG_RUNTIME | tee $OUT/webgpu.md
echo "== PyTorch CUDA peer"
timeout 150 python3 $P/torch_peer.py 50 2>&1 | tee $OUT/torch.json
