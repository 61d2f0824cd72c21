# Replayed runs of the new bundle with NNPORT_WEBGPU_SUBMIT_EVERY = 4, 8, 16, 32, 0 (0: submit only at a download), twice: bash .devpack/sweep.sh after pack.sh
set -u
. $PWD/.devpack/env.sh
SETUP_ONLY=1 bash $P/device.sh > $OUT/setup3.txt 2>&1
NO_DIFF=1 BENCH_TIMEOUT=60 bash $P/ab.sh "new-s4 new-s8 new-s16 new-s32 new-s0 new-s4 new-s8 new-s16 new-s32 new-s0" --only resnet18,mobilenet_v2 > /dev/null 2>&1
mv $OUT/ab.md $OUT/submit-sweep.md; grep -E '^new' $OUT/submit-sweep.md | grep -v -e bench -e -- ; grep -E '^high|^GPU|checkout' $OUT/setup3.txt
