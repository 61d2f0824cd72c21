import { readNpy, writeNpy } from '../formats/numpy/index.js';
import { UsageError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';
import { nodeFs, nodePath, readFileBytes } from '../io/files.js';
import { writeOutputFiles } from '../io/writer.js';

export function readNpyFile(path: string): Tensor {
  return readNpy(readFileBytes(path), path);
}

/** A file name for a tensor name: path separators and odd characters become '_'. */
export function safeFileName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return s.length ? s.slice(0, 200) : '_';
}

/** Write tensors as DIR/<name>.npy, plus index.json mapping value names to files (one output: all or nothing). */
export async function writeTensorDir(dir: string, tensors: Map<string, Tensor>): Promise<string[]> {
  const path = nodePath();
  const used = new Set<string>(['index']);
  const index: Record<string, string> = {};
  const files: Array<[string, Uint8Array]> = [];
  for (const [name, t] of tensors) {
    let base = safeFileName(name);
    for (let k = 2; used.has(base.toLowerCase()); k++) base = `${safeFileName(name)}_${k}`;
    used.add(base.toLowerCase());
    const file = `${base}.npy`;
    files.push([path.join(dir, file), writeNpy(t)]);
    index[name] = file;
  }
  files.push([path.join(dir, 'index.json'), new TextEncoder().encode(JSON.stringify(index, null, 2) + '\n')]);
  await writeOutputFiles(files);
  return Object.values(index);
}

export function isExistingDir(p: string): boolean {
  try {
    return nodeFs().statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function requireNpyName(p: string, what: string): void {
  if (!p.toLowerCase().endsWith('.npy')) throw new UsageError(`${what} '${p}' must be a .npy file`);
}
