# The setup every device script shares, sourced from the repository root on the lent GPU machine
# (`. .devpack/env.sh`): unpacks node and Dawn, brings Debian's Vulkan loader where the machine has
# none, points Vulkan at the NVIDIA EGL ICD (the stock manifest names libGLX_nvidia.so.0, which
# fails without a display), copies the bench models and refills their weights (fill.mjs). Each
# step is done once per machine (a second source only exports). Then defines:
#   P      .devpack (bench/device/pack.sh made it)     OUT  where results go ($OUT there)
#   NODE   the carried node                            M    the bench's model arguments
#   bench  NAME ARGS... : bench/webgpu.mjs with bundle nnport-NAME.mjs, 20 runs after 3 warm-ups
#          (ARGS after them override), its XDG_RUNTIME warnings dropped, BENCH_TIMEOUT (150 s)
# DEVWORK (default /tmp) holds node, the loader and the models (a dry run elsewhere sets it and
# VK_ICD_FILENAMES, e.g. to SwiftShader's).
P=$PWD/.devpack
export OUT=${OUT:-/tmp/out}; mkdir -p $OUT
W=${DEVWORK:-/tmp}; mkdir -p $W
NODE=$W/node
[ -x $NODE ] || { xz -dc $P/node.xz > $NODE.part && chmod +x $NODE.part && mv $NODE.part $NODE; }
D=$P/node_modules/webgpu/dist/linux-x64
[ -f $D/dawn.node ] || { mkdir -p $D && xz -dc $P/dawn.node.xz > $D/dawn.node.part && mv $D/dawn.node.part $D/dawn.node; }
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
  [ -d $W/vk ] || dpkg -x $P/libvulkan1_*.deb $W/vk
  export LD_LIBRARY_PATH=$W/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$P/nvidia-egl-icd.json}
case ":${LD_LIBRARY_PATH:-}:" in *:/usr/local/nvidia/lib64:*) ;; *) [ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH=/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH};; esac
if [ ! -f $W/models/.filled ]; then
  mkdir -p $W/models && cp -r $P/models/* $W/models/
  for m in resnet18 mobilenet_v2; do $NODE $P/fill.mjs $W/models/$m; done
  touch $W/models/.filled
fi
M="--resnet18 $W/models/resnet18/model.onnx --mobilenet-v2 $W/models/mobilenet_v2/model.onnx"
bench() {
  local b=$1; shift
  timeout ${BENCH_TIMEOUT:-150} $NODE $P/webgpu.mjs --kernels $P/kernels.wasm $M --runs 20 --warmup 3 --dist $P/nnport-$b.mjs "$@" 2>&1 | grep -v XDG_RUNTIME
}
