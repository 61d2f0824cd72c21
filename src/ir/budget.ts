// Resource budgets: what one command may allocate because of what a file or its data says.
// Checked before allocating, with a ResourceError naming what, how much, the limit and the
// flag that raises it (--max-memory). One helper per kind of check, called by readers and by
// the runtime (allocArray checks every tensor the runtime allocates).
import { DTYPES, type DType } from './dtypes.js';
import { ResourceError } from './errors.js';

export interface ResourceLimits {
  /**
   * Bytes one tensor may take, and bytes one reader may materialize beyond its file's own
   * bytes (copies of stride-0/overlapping views, inflated zip entries). Default 2 GiB.
   */
  maxMemory: number;
  /** Whether maxMemory was set by the user (then it also replaces the file-relative reader bound). */
  explicit: boolean;
  /** Rank of any tensor or shape (ONNX allows any; no real model goes near it). */
  maxRank: number;
  /**
   * Iterations of one Loop run (its trip count and condition come from the file and its data; a
   * hostile M of 10^12 would otherwise keep a command busy for days).
   */
  maxLoopIterations: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const DEFAULTS: ResourceLimits = { maxMemory: 2 * GiB, explicit: false, maxRank: 64, maxLoopIterations: 1_000_000 };
let limits: ResourceLimits = { ...DEFAULTS };

/** Reader bound without --max-memory: this many times the file's size, at least READER_FLOOR. */
const READER_RATIO = 32;
const READER_FLOOR = 256 * MiB;

export function resourceLimits(): Readonly<ResourceLimits> {
  return limits;
}

/** Set limits (the CLI's --max-memory); `maxMemory` given here counts as the user's choice. */
export function setResourceLimits(next: Partial<ResourceLimits>): void {
  limits = { ...limits, ...next, explicit: next.explicit ?? (next.maxMemory !== undefined ? true : limits.explicit) };
}

export function resetResourceLimits(): void {
  limits = { ...DEFAULTS };
}

/** Parse a size such as 4G, 512M, 2GiB, 1e9 (bytes). */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: MiB, g: GiB, t: 1024 * GiB }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const v = Math.floor(Number(m[1]) * mult);
  return Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/** Throws before allocating `elements` elements of `bytesPerElement` bytes for `what`. */
export function checkAllocation(elements: number, bytesPerElement: number, what = 'a tensor'): void {
  const bytes = elements * bytesPerElement;
  if (!(bytes <= limits.maxMemory)) {
    if (!Number.isFinite(elements) || elements < 0) throw new ResourceError(`${what} of ${elements} elements`, Infinity, limits.maxMemory);
    throw new ResourceError(what, bytes, limits.maxMemory);
  }
}

/** Throws when a Loop is about to run iteration `i` (0-based) past maxLoopIterations. */
export function checkLoopIteration(i: number, what: string): void {
  if (i >= limits.maxLoopIterations) {
    throw new ResourceError(`${what}: its iterations`, i + 1, limits.maxLoopIterations, { flag: '--max-loop-iterations (library: setResourceLimits({ maxLoopIterations }))', unit: 'count', verb: 'reach' });
  }
}

/** Throws for a tensor or shape of more than maxRank dimensions. */
export function checkRank(rank: number, what = 'a tensor'): void {
  if (rank > limits.maxRank) throw new ResourceError(`${what}: its rank`, rank, limits.maxRank, { flag: '', unit: 'count', verb: 'is' });
}

/** Bytes a reader may still materialize for one file; take() before each allocation. */
export class ReadBudget {
  private used = 0;
  readonly limit: number;
  constructor(
    readonly file: string,
    fileSize: number,
  ) {
    this.limit = limits.explicit ? limits.maxMemory : Math.min(limits.maxMemory, Math.max(READER_FLOOR, fileSize * READER_RATIO));
  }

  take(bytes: number, what: string): void {
    if (!(this.used + bytes <= this.limit)) {
      throw new ResourceError(`${this.file}: ${what}${this.used ? ` (after ${this.used} bytes already materialized by this file)` : ''}`, this.used + bytes, this.limit);
    }
    this.used += bytes;
  }
}

/**
 * Throws before an op allocates a tensor of `shape` (and the per-dimension index lists its
 * gather builds) when that is over the budget: the one check that ops whose output size comes
 * from data (Expand, Tile, Range, Pad, ...) call first.
 */
export function checkTensorShape(dtype: DType, shape: readonly number[], what = 'a tensor'): void {
  checkRank(shape.length, what);
  let n = 1;
  let longest = 0;
  for (const d of shape) {
    n *= d;
    if (d > longest) longest = d;
  }
  checkAllocation(longest, 4, `${what}: an index list of ${longest} entries`);
  checkAllocation(n, DTYPES[dtype].bytes || 8, `${what}: a ${dtype} tensor [${shape.join(', ')}]`);
}
