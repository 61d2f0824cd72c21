#!/usr/bin/env bash
# A/B of packed bundles on the lent GPU machine, webgpu only, in the order given, so that an
# ordering effect (clocks, caches) shows: bash .devpack/ab.sh "old mid new old new" [bench args...]
# Then each bundle's MatMul 2048 on both backends (its max abs diff against wasm); NO_DIFF=1
# skips that. Output lines go to $OUT/${AB_FILE:-ab.md}, table rows prefixed with the variant.
set -u
. $PWD/.devpack/env.sh
ORDER=$1; shift
# A variant NAME-norep runs bundle NAME without whole-run replay, NAME-nosub without the
# submits every 16 dispatches, NAME-plain without both, NAME-sN with a submit every N dispatches,
# NAME-novec without vec4 tile loads, NAME-nopf without the tiles' prefetch, NAME-k32 with 32-deep
# tile slices, NAME-nopad with unpadded tile rows (env switches of the runner).
for v in $ORDER; do
  b=${v%%-*}; env=()
  case $v in *-s[0-9]*) env=(NNPORT_WEBGPU_SUBMIT_EVERY=${v##*-s});; *-norep) env=(NNPORT_WEBGPU_REPLAY=0);; *-nosub) env=(NNPORT_WEBGPU_SUBMIT_EVERY=0);; *-plain) env=(NNPORT_WEBGPU_REPLAY=0 NNPORT_WEBGPU_SUBMIT_EVERY=0);; *-novec) env=(NNPORT_WEBGPU_VEC4=0);; *-nopf) env=(NNPORT_WEBGPU_PREFETCH=0);; *-k32) env=(NNPORT_WEBGPU_TILE_K=32);; *-nopad) env=(NNPORT_WEBGPU_TILE_PAD=0);; esac
  echo "== $v ($(cat $P/$b-ref)) ${env[*]}: webgpu" | tee -a $OUT/${AB_FILE:-ab.md}
  (for e in ${env[@]+"${env[@]}"}; do export "$e"; done; bench $b --backend-only webgpu "$@") | sed "s/^|/$v |/" | tee -a $OUT/${AB_FILE:-ab.md}
done
[ -n "${NO_DIFF:-}" ] && exit 0
for v in $(echo $ORDER | tr ' ' '\n' | sed 's/-.*//' | sort -u); do
  echo "== $v: MatMul 2048 on both"
  bench $v --only matmul --matmul-size 2048 --runs 3 --warmup 1 | sed "s/^|/$v |/" | tee -a $OUT/${AB_FILE:-ab.md}
done
