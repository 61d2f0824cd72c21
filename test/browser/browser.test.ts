// nnport in a real browser: the library bundled for the web (esbuild, platform browser),
// served from localhost and run in headless Chromium. It must compute what PyTorch computed.
import { build } from 'esbuild';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/formats/numpy/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
const CORPUS = resolve(ROOT, '../shared/corpus');

let server: Server;
let browser: Browser;
let base = '';
let bundle = '';

const FILES: Record<string, string> = {
  '/kernels.wasm': join(ROOT, 'build/kernels.wasm'),
  '/lenet.onnx': join(ROOT, 'examples/lenet/model.onnx'),
  '/lenet-input.npy': join(ROOT, 'examples/lenet/input.npy'),
  '/conv2d.pt': join(CORPUS, 'pytorch/burn-conv2d-zip/conv2d.pt'),
};
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  if (!existsSync(FILES['/kernels.wasm']!)) throw new Error('build/kernels.wasm is missing: npm run build:wasm');
  const out = join(mkdtempSync(join(tmpdir(), 'nnport-web-')), 'nnport.js');
  await build({ entryPoints: [join(ROOT, 'src/index.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', outfile: out, logLevel: 'error' });
  bundle = readFileSync(out, 'utf8');
  server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const body = path === '/' ? '<!doctype html><title>nnport</title>' : path === '/nnport.js' ? bundle : FILES[path] ? readFileSync(FILES[path]!) : undefined;
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? (path === '/' ? 'text/html' : 'application/octet-stream') }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
});

describe('nnport in Chromium', () => {
  it('the browser bundle pulls in no Node built-ins', () => {
    expect(bundle).not.toMatch(/from\s*["']node:/);
    expect(bundle).not.toMatch(/require\(["'](fs|path|node:)/);
  });

  it('runs the LeNet example and matches PyTorch', async () => {
    const page = await browser.newPage();
    await page.goto(base + '/');
    // page code is a string: the test runner would otherwise rewrite its dynamic import
    const result = (await page.evaluate(`(async () => {
      const nnport = await import('/nnport.js');
      await nnport.initKernels('/kernels.wasm');
      const bytes = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer());
      const model = await nnport.loadModel(await bytes('/lenet.onnx'), { fileName: 'lenet.onnx' });
      const x = nnport.readNpy(await bytes('/lenet-input.npy'), 'input.npy');
      const { outputs } = await nnport.run(model, { input: x });
      const y = [...outputs.values()][0];
      return { shape: [...y.shape], data: Array.from(y.data), ua: navigator.userAgent };
    })()`)) as { shape: number[]; data: number[]; ua: string };
    expect(result.ua).toMatch(/Chrome/);
    const want = readNpy(readFileSync(join(ROOT, 'examples/lenet/expected.npy')));
    expect(result.shape).toEqual(want.shape);
    const err = want.toNumbers().reduce((m, v, i) => Math.max(m, Math.abs(v - result.data[i]!)), 0);
    expect(err).toBeLessThanOrEqual(1e-4);
    await page.close();
  });

  it('reads a PyTorch checkpoint without Python, and converts it to safetensors', async () => {
    const page = await browser.newPage();
    await page.goto(base + '/');
    const result = (await page.evaluate(`(async () => {
      const nnport = await import('/nnport.js');
      const bytes = new Uint8Array(await (await fetch('/conv2d.pt')).arrayBuffer());
      const model = await nnport.loadModel(bytes, { fileName: 'conv2d.pt' });
      const st = await nnport.convert(model, 'conv2d.safetensors');
      return { names: [...model.tensors.keys()], shapes: [...model.tensors.values()].map((t) => [...t.shape]), stBytes: st.bytes.byteLength };
    })()`)) as { names: string[]; shapes: number[][]; stBytes: number };
    expect(result.names).toEqual(['conv1.weight', 'conv1.bias', 'conv2.weight']);
    expect(result.shapes[0]).toEqual([2, 2, 2, 2]);
    expect(result.stBytes).toBeGreaterThan(8 + 4 * (16 + 2 + 16));
    await page.close();
  });
});
