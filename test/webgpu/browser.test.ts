// The webgpu backend through `navigator.gpu` in headless Chromium (/usr/bin/chromium via
// playwright-core; never a downloaded browser): the library bundled for the web (esbuild,
// platform browser) and served from localhost. Chromium 156 here offers WebGPU only with
// --enable-unsafe-webgpu (Linux); it then gives its SwiftShader fallback adapter (Vulkan on the
// CPU). Without the flag navigator.gpu exists but requestAdapter() answers null ("No available
// adapters"), which must be a clear error. Oracles: PyTorch's output for the LeNet example,
// onnxruntime-node for the torchvision mobilenet_v2, the ONNX backend test data for single ops.
import { build } from 'esbuild';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/formats/numpy/index.js';
import { Tensor } from '../../src/ir/tensor.js';
import { compareTensors, loadDataSets, ONNX_TESTDATA } from '../conformance/harness.js';
import { REPO_ROOT } from '../support/corpus.js';
import { torchvisionDir } from '../support/torchvision-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** What gives an adapter in this Chromium (found by trying; --use-webgpu-adapter=swiftshader, --enable-features=Vulkan and --use-angle=swiftshader add nothing). */
const WEBGPU_ARGS = ['--enable-unsafe-webgpu'];

let server: Server;
let base = '';
let bundle = '';
/** files the page may fetch, by URL path */
const files = new Map<string, string>();
const browsers: Browser[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  const wasm = join(REPO_ROOT, 'build/kernels.wasm');
  if (!existsSync(wasm)) throw new Error('build/kernels.wasm is missing: npm run build:wasm');
  files.set('/kernels.wasm', wasm);
  const out = join(mkdtempSync(join(tmpdir(), 'nnport-webgpu-')), 'nnport.js');
  await build({ entryPoints: [join(REPO_ROOT, 'src/index.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', outfile: out, logLevel: 'error' });
  bundle = readFileSync(out, 'utf8');
  server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>nnport webgpu</title>');
    if (path === '/nnport.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    const file = files.get(path);
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': path.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  // localhost is a secure context: navigator.gpu exists only in one
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}, 120_000);

afterAll(async () => {
  for (const b of browsers) await b.close();
  await new Promise((r) => server?.close(r));
});

async function pageWith(args: string[]): Promise<Page> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...args] });
  browsers.push(browser);
  const page = await browser.newPage();
  await page.goto(base + '/');
  return page;
}

interface PageResult {
  available: { available: boolean; adapter?: string; reason?: string };
  outputs?: { shape: number[]; b64: string }[];
  ops?: Record<string, number>;
  error?: string;
}

/** Serve `model` and run it in the page on `feeds` with backends webgpu, wasm. */
async function runInPage(page: Page, model: string, feeds: Record<string, Tensor>): Promise<PageResult> {
  const id = `/m${files.size}.onnx`;
  files.set(id, model);
  const args = {
    model: id,
    feeds: Object.entries(feeds).map(([name, t]) => ({ name, shape: [...t.shape], b64: Buffer.from((t.data as Float32Array).buffer, (t.data as Float32Array).byteOffset, t.size * 4).toString('base64') })),
  };
  // page code is a string: the test runner would otherwise rewrite its dynamic import
  return (await page.evaluate(`(async (args) => {
    const nnport = await import('/nnport.js');
    await nnport.initKernels('/kernels.wasm');
    const available = await nnport.webgpuAvailable();
    const model = await nnport.loadModel(new Uint8Array(await (await fetch(args.model)).arrayBuffer()), { fileName: 'model.onnx' });
    const feeds = {};
    for (const f of args.feeds) {
      const raw = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
      feeds[f.name] = new nnport.Tensor('float32', f.shape, new Float32Array(raw.buffer));
    }
    nnport.webgpuOpCounts(true);
    try {
      const { outputs } = await nnport.run(model, feeds, { backends: ['webgpu', 'wasm'] });
      return {
        available,
        ops: Object.fromEntries(nnport.webgpuOpCounts()),
        outputs: [...outputs.values()].map((t) => {
          const u = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
          let s = '';
          for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
          return { shape: [...t.shape], b64: btoa(s) };
        }),
      };
    } catch (e) {
      return { available, error: e.name + ': ' + e.message };
    }
  })(${JSON.stringify(args)})`)) as PageResult;
}

const tensorOf = (o: { shape: number[]; b64: string }): Tensor => {
  const raw = Buffer.from(o.b64, 'base64');
  return new Tensor('float32', o.shape, new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)));
};

describe('webgpu backend in Chromium (navigator.gpu)', () => {
  let page: Page;
  beforeAll(async () => {
    page = await pageWith(WEBGPU_ARGS);
  }, 60_000);

  it('runs the LeNet example on the browser adapter and matches PyTorch', async () => {
    const x = readNpy(readFileSync(join(REPO_ROOT, 'examples/lenet/input.npy')));
    const r = await runInPage(page, join(REPO_ROOT, 'examples/lenet/model.onnx'), { input: x });
    expect(r.error).toBeUndefined();
    // the browser's own adapter: Chromium's SwiftShader, not Dawn for Node
    expect(r.available.available ? r.available.adapter : r.available.reason).toMatch(/swiftshader/i);
    expect(r.ops!['nnport::FusedConv'] ?? 0).toBeGreaterThan(0);
    expect(r.ops!.Gemm ?? 0).toBeGreaterThan(0);
    const want = readNpy(readFileSync(join(REPO_ROOT, 'examples/lenet/expected.npy')));
    expect(compareTensors(tensorOf(r.outputs![0]!), want, { rtol: 1e-4, atol: 1e-4 })).toBeUndefined();
  });

  it.each([
    ['node/test_basic_conv_with_padding', 'Conv'],
    ['node/test_conv_with_strides_and_asymmetric_padding', 'Conv'],
    ['node/test_gemm_all_attributes', 'Gemm'],
    ['node/test_matmul_4d', 'MatMul'],
    ['node/test_maxpool_2d_pads', 'MaxPool'],
    ['node/test_averagepool_2d_pads_count_include_pad', 'AveragePool'],
    ['node/test_add_bcast', 'Add'],
    ['pytorch-converted/test_Conv2d_depthwise_padded', 'Conv'],
  ])('%s (%s on the GPU) matches the ONNX backend test data', async (name, op) => {
    const dir = join(ONNX_TESTDATA, name);
    const { readOnnx } = await import('../../src/formats/onnx/read.js');
    const graph = await readOnnx(readFileSync(join(dir, 'model.onnx')), { fileName: 'model.onnx' });
    const inputNames = graph.inputs.filter((v) => !graph.initializers.has(v.name)).map((v) => v.name);
    const set = loadDataSets(dir)[0]!;
    const r = await runInPage(page, join(dir, 'model.onnx'), Object.fromEntries(set.inputs.map((t, i) => [inputNames[i]!, t])));
    expect(r.error).toBeUndefined();
    expect(r.ops![op] ?? 0, `${op} ran on webgpu`).toBeGreaterThan(0);
    set.outputs.forEach((want, i) => expect(compareTensors(tensorOf(r.outputs![i]!), want, { rtol: 1e-4, atol: 1e-5 }), `output ${i}`).toBeUndefined());
  });

  it('runs mobilenet_v2 and matches onnxruntime-node', async () => {
    const dir = torchvisionDir('mobilenet_v2');
    const batch = readNpy(readFileSync(join(dir, 'input.npy')));
    const per = batch.size / batch.shape[0]!;
    const x = new Tensor('float32', [1, ...batch.shape.slice(1)], (batch.data as Float32Array).slice(0, per));
    const session = await ort.InferenceSession.create(readFileSync(join(dir, 'model.onnx')), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const inName = session.inputNames[0]!;
    const ref = Object.values(await session.run({ [inName]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) }))[0]!;
    const r = await runInPage(page, join(dir, 'model.onnx'), { [inName]: x });
    expect(r.error).toBeUndefined();
    expect(r.ops!['nnport::FusedConv'] ?? 0).toBeGreaterThan(30);
    const want = new Tensor('float32', [...ref.dims], ref.data as Float32Array);
    expect(compareTensors(tensorOf(r.outputs![0]!), want, { rtol: 1e-4, atol: 1e-4 })).toBeUndefined();
  });
});

describe('webgpu backend in Chromium without an adapter', () => {
  it('says why it cannot run (navigator.gpu gives no adapter without --enable-unsafe-webgpu)', async () => {
    const page = await pageWith([]);
    const x = readNpy(readFileSync(join(REPO_ROOT, 'examples/lenet/input.npy')));
    const r = await runInPage(page, join(REPO_ROOT, 'examples/lenet/model.onnx'), { input: x });
    expect(r.available).toEqual({ available: false, reason: expect.stringMatching(/^no WebGPU adapter: the browser offers none/) });
    expect(r.error).toMatch(/^UsageError: the webgpu backend cannot run here: no WebGPU adapter: the browser offers none/);
  });
});
