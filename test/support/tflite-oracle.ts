// The real TFLite interpreter as a test oracle: the TFLite Web API (TFLite compiled to
// WebAssembly) shipped in @tensorflow/tfjs-tflite, driven in headless Chromium
// (/usr/bin/chromium via playwright-core; never a downloaded browser). One browser per test
// file: `await startTfliteOracle()` in beforeAll, `oracle.close()` in afterAll.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from './corpus.js';

const CHROMIUM = '/usr/bin/chromium';
const WASM_DIR = join(REPO_ROOT, 'node_modules/@tensorflow/tfjs-tflite/wasm');
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm' };

export type OracleArray = Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

export interface OracleTensor {
  name: string;
  /** TFLite Web API dtype name: int8, uint8, bool, int16, int32, uint32, float32, float64 */
  dtype: string;
  shape: number[];
  data: OracleArray;
}

export interface TfliteOracle {
  /**
   * Run a .tflite file on the given inputs (in the model's input order); returns every output.
   * `invokes` > 1 invokes the same interpreter that many times on the inputs and returns the last
   * outputs (stateful ops, whose variable tensors carry over between invokes). `numThreads`: the
   * interpreter's (default -1, its own choice). A graph with dynamic-sized tensors runs without
   * the XNNPACK delegate, and this single-threaded web build's own float CONV_2D aborts unless
   * it is given 1 thread.
   */
  run(model: Uint8Array, inputs: ArrayBufferView[], invokes?: number, numThreads?: number): Promise<OracleTensor[]>;
  /** Median milliseconds of `runs` infer() calls on one loaded model (after one warm-up). */
  latency(model: Uint8Array, inputs: ArrayBufferView[], runs: number): Promise<number>;
  /** The model's input tensors as the interpreter sees them (name, dtype, shape). */
  inputs(model: Uint8Array): Promise<Omit<OracleTensor, 'data'>[]>;
  close(): Promise<void>;
}

const ARRAYS: Record<string, new (b: ArrayBuffer) => OracleArray> = {
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int16: Int16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

const bytesOf = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

// Page side: load a model from /blob/<id>, fill inputs from /blob/<ids>, infer, return outputs
// as base64 (page.evaluate's JSON would turn typed arrays into objects of numbers).
const PAGE_RUN = `async ({ model, inputs, infer, runs, invokes, numThreads }) => {
  const get = async (id) => (await fetch('/blob/' + id)).arrayBuffer();
  const runner = await tfweb.TFLiteWebModelRunner.create(await get(model), { numThreads });
  const describe = (t) => ({ name: t.name, dtype: t.dataType, shape: t.shape ? t.shape.split(',').map(Number) : [] });
  try {
    const ins = runner.getInputs();
    if (!infer) return ins.map(describe);
    if (ins.length !== inputs.length) throw new Error('model has ' + ins.length + ' inputs, got ' + inputs.length);
    for (let i = 0; i < ins.length; i++) {
      const src = new Uint8Array(await get(inputs[i]));
      const dst = ins[i].data();
      const view = new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength);
      if (view.byteLength !== src.byteLength) throw new Error('input ' + i + ' (' + ins[i].name + ') needs ' + view.byteLength + ' bytes, got ' + src.byteLength);
      view.set(src);
    }
    for (let k = 0; k < (invokes || 1); k++) if (!runner.infer()) throw new Error('TFLite infer() failed');
    if (runs) {
      const times = [];
      for (let k = 0; k < runs; k++) {
        const t0 = performance.now();
        runner.infer();
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      return times[Math.floor(times.length / 2)];
    }
    return runner.getOutputs().map((t) => {
      const d = t.data();
      const u = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      let s = '';
      for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
      return { ...describe(t), b64: btoa(s) };
    });
  } finally {
    runner.cleanUp();
  }
}`;

export async function startTfliteOracle(): Promise<TfliteOracle> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  if (!existsSync(join(WASM_DIR, 'tflite_web_api_client.js'))) throw new Error(`${WASM_DIR} is missing: @tensorflow/tfjs-tflite not installed`);
  const blobs = new Map<string, Buffer>();
  let nextId = 0;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>tflite oracle</title><script src="/tflite/tflite_web_api_client.js"></script>');
      return;
    }
    if (path.startsWith('/blob/')) {
      const b = blobs.get(path.slice(6));
      if (b) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(b);
      else res.writeHead(404).end();
      return;
    }
    const name = path.startsWith('/tflite/') ? path.slice(8) : '';
    if (name && /^[\w.-]+$/.test(name) && existsSync(join(WASM_DIR, name))) {
      res.writeHead(200, { 'content-type': TYPES[extname(name)] ?? 'application/octet-stream' }).end(readFileSync(join(WASM_DIR, name)));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page: Page = await browser.newPage();
  // the interpreter's own error lines (op version unsupported, bad tensor...) reach the test log
  const log: string[] = [];
  page.on('console', (m) => log.push(m.text()));
  await page.goto(base + '/');
  await page.evaluate(`tfweb.tflite_web_api.setWasmPath('/tflite/')`);

  const put = (b: Buffer): string => {
    const id = String(nextId++);
    blobs.set(id, b);
    return id;
  };
  const call = async (model: Uint8Array, inputs: ArrayBufferView[], infer: boolean, runs = 0, invokes = 1, numThreads = -1) => {
    const ids = [put(bytesOf(model)), ...inputs.map((x) => put(bytesOf(x)))];
    try {
      return (await page.evaluate(`(${PAGE_RUN})(${JSON.stringify({ model: ids[0], inputs: ids.slice(1), infer, runs, invokes, numThreads })})`)) as Array<Omit<OracleTensor, 'data'> & { b64?: string }>;
    } catch (e) {
      const lines = log.splice(0).filter((l) => !/^(INFO|Initialized)/.test(l));
      if (lines.length && e instanceof Error) e.message += `\n  interpreter log: ${lines.join('\n  ')}`;
      throw e;
    } finally {
      log.length = 0;
      for (const id of ids) blobs.delete(id);
    }
  };
  return {
    async run(model, inputs, invokes = 1, numThreads = -1) {
      const outs = await call(model, inputs, true, 0, invokes, numThreads);
      return outs.map(({ b64, ...t }) => {
        const raw = Buffer.from(b64!, 'base64');
        const ab = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
        const Arr = ARRAYS[t.dtype];
        if (!Arr) throw new Error(`oracle: output dtype ${t.dtype} not handled`);
        return { ...t, data: new Arr(ab) };
      });
    },
    async inputs(model) {
      return call(model, [], false);
    },
    async latency(model, inputs, runs) {
      return (await call(model, inputs, true, runs)) as unknown as number;
    },
    async close() {
      await browser.close();
      await new Promise((r) => server.close(r));
    },
  };
}
