import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/formats/numpy/index.js';
import { maxAbsDiff } from '../support/error-metrics.js';
import { cli } from '../support/cli.js';

const PY = '/usr/bin/python3';
const dir = mkdtempSync(join(tmpdir(), 'nnport-transplant-'));

// A small conv/BN/linear net exported once with weights A; weights B are saved as a .pth
// and PyTorch's output with B is the reference for the transplanted model.
const SCRIPT = `
import torch, torch.nn as nn, numpy as np, sys
out = sys.argv[1]
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv = nn.Conv2d(3, 8, 3, padding=1); s.bn = nn.BatchNorm2d(8)
        s.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8); s.fc = nn.Linear(8 * 6 * 6, 5)
    def forward(s, x):
        x = torch.relu(s.bn(s.conv(x)))
        x = torch.relu(s.dw(x))
        return s.fc(torch.flatten(x, 1))
def make(seed):
    torch.manual_seed(seed); m = Net()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-1, 1); m.bn.running_var.uniform_(0.5, 2); m.bn.weight.uniform_(0.5, 1.5); m.bn.bias.uniform_(-1, 1)
    return m.eval()
a, b = make(1), make(2)
x = torch.randn(1, 3, 6, 6, generator=torch.Generator().manual_seed(7))
torch.onnx.export(a, x, out + '/a.onnx', opset_version=13, do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE, input_names=['x'], output_names=['y'])
torch.save(b.state_dict(), out + '/b.pth')
np.save(out + '/x.npy', x.numpy())
with torch.no_grad(): np.save(out + '/yb.npy', b(x).numpy())
`;

describe('nnport transplant (CLI)', () => {
  beforeAll(() => {
    if (!existsSync(PY)) throw new Error(`${PY} is missing: apt-get install python3-torch python3-onnx python3-numpy`);
    writeFileSync(join(dir, 'make.py'), SCRIPT);
    execFileSync(PY, [join(dir, 'make.py'), dir], { stdio: 'pipe' });
  });

  it('fills an exported ONNX graph from another state dict and matches PyTorch with those weights', async () => {
    const out = join(dir, 'filled.onnx');
    const r = await cli('transplant', join(dir, 'b.pth'), '--into', join(dir, 'a.onnx'), '-o', out, '--report', join(dir, 'report.json'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/matched \d+, skipped 1/); // num_batches_tracked is skipped
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(report.shapeMismatched).toEqual([]);
    const y = join(dir, 'y.npy');
    expect((await cli('run', out, '--input', join(dir, 'x.npy'), '-o', y)).code).toBe(0);
    const got = readNpy(readFileSync(y)).toNumbers();
    const want = readNpy(readFileSync(join(dir, 'yb.npy'))).toNumbers();
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-4);
    // and the original weights give a different answer, so the check above can fail
    const ya = join(dir, 'ya.npy');
    await cli('run', join(dir, 'a.onnx'), '--input', join(dir, 'x.npy'), '-o', ya);
    expect(maxAbsDiff(readNpy(readFileSync(ya)).toNumbers(), want)).toBeGreaterThan(1e-3);
    // compare sees the same difference and fails the --atol gate with exit code 2
    const c = await cli('compare', join(dir, 'a.onnx'), out, '--input', join(dir, 'x.npy'), '--atol', '1e-3', '--json');
    expect(c.code).toBe(2);
    expect(JSON.parse(c.out.slice(0, c.out.lastIndexOf('}') + 1)).outputs[0].maxAbs).toBeGreaterThan(1e-3);
  });

  it('a renamed tensor shows up in the report, and a mapping file fixes it', async () => {
    execFileSync(PY, ['-c', `import torch; d = torch.load('${dir}/b.pth'); d['head.weight'] = d.pop('fc.weight'); torch.save(d, '${dir}/renamed.pth')`]);
    const out = join(dir, 'partial.onnx');
    const r = await cli('transplant', join(dir, 'renamed.pth'), '--into', join(dir, 'a.onnx'), '-o', out, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.unmatchedSource.map((u: { source: string }) => u.source)).toContain('head.weight');
    expect(report.unmatchedTarget).toContain('fc.weight');
    writeFileSync(join(dir, 'map.json'), JSON.stringify({ 'head.weight': 'fc.weight' }));
    const r2 = await cli('transplant', join(dir, 'renamed.pth'), '--into', join(dir, 'a.onnx'), '-o', out, '--mapping', join(dir, 'map.json'), '--json');
    expect(JSON.parse(r2.out).unmatchedTarget).not.toContain('fc.weight');
  });

  it('a reshaped tensor is an error naming it, unless --allow-partial', async () => {
    execFileSync(PY, ['-c', `import torch; d = torch.load('${dir}/b.pth'); d['fc.bias'] = torch.zeros(7); torch.save(d, '${dir}/reshaped.pth')`]);
    const out = join(dir, 'bad.onnx');
    const r = await cli('transplant', join(dir, 'reshaped.pth'), '--into', join(dir, 'a.onnx'), '-o', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/fc\.bias/);
    expect(existsSync(out)).toBe(false);
    const r2 = await cli('transplant', join(dir, 'reshaped.pth'), '--into', join(dir, 'a.onnx'), '-o', out, '--allow-partial');
    expect(r2.code).toBe(0);
    expect(r2.out).toMatch(/shape mismatch: fc\.bias/);
  });

  it('converts a .pth to .npz and .safetensors that NumPy and PyTorch read back equal', async () => {
    const npz = join(dir, 'b.npz');
    const st = join(dir, 'b.safetensors');
    expect((await cli('convert', join(dir, 'b.pth'), '-o', npz)).code).toBe(0);
    expect((await cli('convert', join(dir, 'b.pth'), '-o', st)).code).toBe(0);
    const check = `
import torch, numpy as np, json, struct
d = torch.load('${dir}/b.pth'); z = np.load('${dir}/b.npz')
assert sorted(z.files) == sorted(d.keys()), (z.files, list(d.keys()))
for k, v in d.items(): assert np.array_equal(z[k], v.numpy()) and z[k].dtype == v.numpy().dtype, k
raw = open('${dir}/b.safetensors', 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]; h = json.loads(raw[8:8+n])
for k, v in d.items():
    e = h[k]; a = np.frombuffer(raw[8+n+e['data_offsets'][0]:8+n+e['data_offsets'][1]], dtype=v.numpy().dtype).reshape(e['shape'])
    assert np.array_equal(a, v.numpy()), k
print('ok', len(d))`;
    expect(execFileSync(PY, ['-c', check], { encoding: 'utf8' }).trim()).toMatch(/^ok \d+$/);
  });
});
