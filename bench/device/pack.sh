#!/usr/bin/env bash
# Packs what bench/device/device.sh needs on a lent GPU machine that has neither Node nor npm
# (nor network) into .devpack/ (`/.devpack/` is in .git/info/exclude; carry it): node and
# Dawn's dawn.node (xz), Debian's Vulkan loader, esbuild bundles of src/ (nnport-new.mjs from the
# working tree and, given a git ref, nnport-old.mjs from that commit: the bench then runs both in
# one call), kernels.wasm, the bench script, and the bench models as skeletons (their large
# weights stripped to external data, refilled with random values there by fill.mjs: the 45 MB
# resnet18 does not fit the transfer limit otherwise).
#   bash bench/device/pack.sh [OLD_REF] [DEST_REPO...]   (then copies .devpack into each DEST_REPO)
# The device call sends the session's checkout, not a helper's worktree (it was /work/main: see
# the `checkout` line device.sh prints), so DEST_REPO is that checkout; run `run` with carry .devpack.
# Run from the repository root after `npm run build`; needs /usr/bin/python3 with onnx.
# MID_REF=REF adds nnport-mid.mjs from that commit (ab.sh variants mid, mid-...); REUSE=1 keeps
# the node, Dawn, loader and models of an earlier pack (xz of node takes minutes) and remakes the rest.
set -euo pipefail
P=.devpack
OLD=${1:-}
if [ -z "${REUSE:-}" ] || [ ! -f $P/node.xz ]; then
  rm -rf $P && mkdir -p $P/node_modules/webgpu $P/models
  xz -T2 -9 -c "$(command -v node)" > $P/node.xz
  xz -T2 -9 -c node_modules/webgpu/dist/linux-x64/dawn.node > $P/dawn.node.xz
  cp node_modules/webgpu/index.js node_modules/webgpu/package.json $P/node_modules/webgpu/
  (cd $P && apt-get download libvulkan1 >/dev/null 2>&1)
  for m in resnet18 mobilenet_v2; do /usr/bin/python3 bench/device/make_skeleton.py .fixtures-cache/models/$m/model.onnx $P/models/$m; done
fi
# what a dry run unpacked there does not travel
rm -f $P/node_modules/webgpu/dist/linux-x64/dawn.node $P/nnport-*.mjs $P/*-ref
bundle() { npx esbuild "$1/src/index.ts" --bundle --platform=node --format=esm --external:webgpu --external:h5wasm --log-level=warning --outfile="$2"; }
bundle . $P/nnport-new.mjs
# the old sources inside the repository, so that esbuild finds node_modules
bundleRef() {
  rm -rf .devold && mkdir .devold && git archive "$1" src | tar -x -C .devold
  bundle .devold $P/nnport-$2.mjs
  rm -rf .devold
  git rev-parse --short "$1" > $P/$2-ref
}
[ -n "$OLD" ] && bundleRef "$OLD" old
[ -n "${MID_REF:-}" ] && bundleRef "$MID_REF" mid
git rev-parse --short HEAD > $P/new-ref
cp build/kernels.wasm bench/webgpu.mjs bench/device/*.sh bench/device/{host-profile.mjs,prof-top.mjs,diag.mjs,fill.mjs,torch_peer.py} $P/
cp bench/nvidia-egl-icd.json $P/
du -sh $P
shift || true
for dest in "$@"; do rm -rf "$dest/.devpack" && cp -r $P "$dest/.devpack" && echo "copied to $dest/.devpack"; done
