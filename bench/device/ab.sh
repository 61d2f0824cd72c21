#!/usr/bin/env bash
# A/B of packed bundles on the lent GPU machine, webgpu only, in the order given, so that an
# ordering effect (clocks, caches) shows: bash .devpack/ab.sh "old mid new old new" [bench args...]
# Then each bundle's MatMul 2048 on both backends (its max abs diff against wasm). Run after
# device.sh's setup in the same call (SETUP_ONLY=1: node, Dawn and the models in place);
# NO_DIFF=1 skips the MatMul 2048 check.
set -u
P=$PWD/.devpack
OUT=${OUT:-/tmp/out}
ORDER=$1; shift
# device.sh's environment (its exports do not reach this process)
[ -d /tmp/vk ] && export LD_LIBRARY_PATH=/tmp/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$P/nvidia-egl-icd.json}
[ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH=/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
B="timeout ${BENCH_TIMEOUT:-150} /tmp/node $P/webgpu.mjs --kernels $P/kernels.wasm --resnet18 /tmp/models/resnet18/model.onnx --mobilenet-v2 /tmp/models/mobilenet_v2/model.onnx --runs 20 --warmup 3"
# A variant NAME-norep runs bundle NAME without whole-run replay, NAME-nosub without the
# submits every 16 dispatches, NAME-plain without both, NAME-sN with a submit every N dispatches
# (env switches of the runner).
for v in $ORDER; do
  b=${v%%-*}; env=()
  case $v in *-s[0-9]*) env=(NNPORT_WEBGPU_SUBMIT_EVERY=${v##*-s});; *-norep) env=(NNPORT_WEBGPU_REPLAY=0);; *-nosub) env=(NNPORT_WEBGPU_SUBMIT_EVERY=0);; *-plain) env=(NNPORT_WEBGPU_REPLAY=0 NNPORT_WEBGPU_SUBMIT_EVERY=0);; esac
  echo "== $v ($(cat $P/$b-ref)) ${env[*]}: webgpu"
  env ${env[@]+"${env[@]}"} $B --dist $P/nnport-$b.mjs --backend-only webgpu "$@" 2>&1 | grep -v XDG_RUNTIME | sed "s/^|/$v |/" | tee -a $OUT/ab.md
done
[ -n "${NO_DIFF:-}" ] && exit 0
for v in $(echo $ORDER | tr ' ' '\n' | sed 's/-.*//' | sort -u); do
  echo "== $v: MatMul 2048 on both"
  $B --dist $P/nnport-$v.mjs --only matmul --matmul-size 2048 --runs 3 --warmup 1 2>&1 | grep -v XDG_RUNTIME | sed "s/^|/$v |/" | tee -a $OUT/ab.md
done
