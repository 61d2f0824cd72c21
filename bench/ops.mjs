// The benchmark cases: single-op models (built here, so every runtime sees the same graph)
// and end-to-end torchvision models from the fixture cache.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const rand = (n, seed) => {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
};
const prod = (s) => s.reduce((a, b) => a * b, 1);

/** A Conv case: x [1, C, H, W], W [M, C/group, k, k], bias, stride 1, "same" padding. */
function conv(name, C, M, H, k, group = 1) {
  const p = (k - 1) >> 1;
  const wShape = [M, C / group, k, k];
  return {
    bench: 'conv',
    name,
    shape: `${k}x${k} ${C}->${M} @${H}x${H}${group > 1 ? ` group ${group}` : ''}`,
    flops: 2 * M * (C / group) * k * k * H * H,
    spec: {
      opType: 'Conv',
      inputs: [{ name: 'x', shape: [1, C, H, H] }],
      initializers: [
        { name: 'w', shape: wShape, data: rand(prod(wShape), 1) },
        { name: 'b', shape: [M], data: rand(M, 2) },
      ],
      outputs: ['y'],
      attrs: { pads: [p, p, p, p], strides: [1, 1], group },
    },
    feeds: { x: { shape: [1, C, H, H], data: rand(C * H * H, 3) } },
  };
}

function dense(name, K, N, batch) {
  return {
    bench: 'gemm',
    name,
    shape: `${K}->${N} batch ${batch}`,
    flops: 2 * K * N * batch,
    spec: {
      opType: 'Gemm',
      inputs: [{ name: 'x', shape: [batch, K] }],
      initializers: [
        { name: 'w', shape: [N, K], data: rand(N * K, 4) },
        { name: 'b', shape: [N], data: rand(N, 5) },
      ],
      outputs: ['y'],
      attrs: { transB: 1 },
    },
    feeds: { x: { shape: [batch, K], data: rand(batch * K, 6) } },
  };
}

export const OP_CASES = [
  conv('conv3x3_64', 64, 64, 56, 3),
  conv('conv3x3_256', 256, 256, 14, 3),
  conv('conv1x1_256_64', 256, 64, 56, 1),
  conv('depthwise3x3_144', 144, 144, 56, 3, 144),
  dense('dense_2048_1000', 2048, 1000, 64),
];

/** End-to-end models: test/fixtures/models/<name>/model.onnx, else .fixtures-cache/models/<name>/. */
export function modelCases() {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const names = ['resnet18', 'mobilenet_v2'];
  const find = (name) => [`${root}test/fixtures/models/${name}/model.onnx`, `${root}.fixtures-cache/models/${name}/model.onnx`].find((f) => existsSync(f));
  const missing = names.filter((n) => !find(n));
  // A fresh clone has no large fixtures: make them with the real PyTorch when it is installed.
  if (missing.length && existsSync('/usr/bin/python3')) {
    console.error(`bench: exporting ${missing.join(', ')} with scripts/fixtures/export_torchvision.py ...`);
    const r = spawnSync('/usr/bin/python3', [`${root}scripts/fixtures/export_torchvision.py`, '--out', `${root}.fixtures-cache/models`, '--models', missing.join(',')], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) console.error('bench: fixture export failed (apt-get install python3-torch python3-torchvision python3-onnx)');
  }
  return names.map((name) => ({ bench: 'e2e', name, shape: '1x3x224x224', file: find(name) }));
}
