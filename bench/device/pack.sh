#!/usr/bin/env bash
# Packs what bench/device/device.sh needs on a lent GPU machine that has neither Node nor npm
# (nor network) into .devpack/ (add `/.devpack/` to .git/info/exclude and carry it): node and
# Dawn's dawn.node (xz), Debian's Vulkan loader, an esbuild bundle of dist/ with kernels.wasm, and
# the bench models as skeletons (their large weights stripped to external data, refilled with
# random values there by fill.mjs: the 45 MB resnet18 does not fit the transfer limit otherwise).
# Run from the repository root after `npm run build`; needs /usr/bin/python3 with onnx.
set -euo pipefail
P=.devpack
rm -rf $P && mkdir -p $P/node_modules/webgpu $P/models
xz -T2 -9 -c "$(command -v node)" > $P/node.xz
xz -T2 -9 -c node_modules/webgpu/dist/linux-x64/dawn.node > $P/dawn.node.xz
cp node_modules/webgpu/index.js node_modules/webgpu/package.json $P/node_modules/webgpu/
(cd $P && apt-get download libvulkan1 >/dev/null 2>&1)
npx esbuild dist/index.js --bundle --platform=node --format=esm --external:webgpu --external:h5wasm --log-level=warning --outfile=$P/nnport.mjs
cp build/kernels.wasm bench/device/{device.sh,diag.mjs,fill.mjs,torch_peer.py} $P/
cp bench/nvidia-egl-icd.json $P/
for m in resnet18 mobilenet_v2; do /usr/bin/python3 bench/device/make_skeleton.py .fixtures-cache/models/$m/model.onnx $P/models/$m; done
du -sh $P
