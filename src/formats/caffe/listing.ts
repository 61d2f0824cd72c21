// The Caffe layers as `inspect` shows them: type, bottoms -> tops, parameters as written, and
// the blob shapes the weights file holds for each.
import type { Listing } from '../model.js';
import { blobDeclaredShape, type CaffeLayer } from './net.js';
import { enumValues, messageFields, type Message } from './schema.js';

/** Parameters not worth a column: how to initialise weights for training. */
const SKIP = new Set(['weight_filler', 'bias_filler', 'filler', 'scale_filler', 'data_filler', 'engine']);

function formatParams(m: Message, prefix = ''): string[] {
  const fields = messageFields(m.$type);
  const out: string[] = [];
  for (const [k, v] of Object.entries(m)) {
    if (k.startsWith('$') || SKIP.has(k) || v === undefined) continue;
    const f = fields[k];
    if (!f) continue;
    const name = prefix + k;
    if (f.kind === 'message') {
      for (const sub of Array.isArray(v) ? v : [v]) out.push(...formatParams(sub as Message, f.type === 'caffe.BlobShape' ? '' : `${name}.`).map((s) => (f.type === 'caffe.BlobShape' ? `${name}=${s.replace(/^dim=/, '')}` : s)));
      continue;
    }
    const list = Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<unknown>) : [v];
    const shown = f.kind === 'enum' ? list.map((x) => Object.entries(enumValues(f.type)).find(([, n]) => n === x)?.[0] ?? String(x)) : list.map((x) => (typeof x === 'string' ? JSON.stringify(x) : String(x)));
    out.push(`${name}=${shown.join(',')}`);
  }
  return out;
}

/** One row per layer: name, type, bottoms -> tops, parameters, blob shapes. */
export function caffeLayerListing(title: string, layers: readonly CaffeLayer[], blobsOf: (l: CaffeLayer) => Message[] | undefined): Listing {
  const rows = layers.map((l) => {
    const params = Object.entries(l.msg)
      .filter(([k]) => k.endsWith('_param') && !SKIP.has(k))
      .flatMap(([, v]) => formatParams(v as Message));
    const blobs = (blobsOf(l) ?? []).map((b) => `[${blobDeclaredShape(b).join('x')}]`).join(' ');
    return [l.name, l.type, `${l.bottom.join(',') || '-'} -> ${l.top.join(',') || '-'}`, params.join(' '), blobs];
  });
  return { title, columns: ['layer', 'type', 'bottoms -> tops', 'params', 'blobs'], rows };
}
