/** Base class of every error nnport throws on purpose; the CLI prints `message` as one line. */
export class NnportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The file is not what it claims to be (truncated, corrupt, wrong format). */
export class FormatError extends NnportError {
  readonly file?: string;
  readonly offset?: number;
  constructor(message: string, where: { file?: string; offset?: number } = {}, options?: { cause?: unknown }) {
    const loc = [where.file, where.offset !== undefined ? `offset ${where.offset}` : undefined].filter(Boolean).join(' at ');
    super(loc ? `${loc}: ${message}` : message, options);
    this.file = where.file;
    this.offset = where.offset;
  }
}

/** A real op or feature that nnport does not handle (yet); names it. */
export class UnsupportedError extends NnportError {
  readonly feature: string;
  constructor(feature: string, detail?: string) {
    super(detail ? `unsupported: ${feature}: ${detail}` : `unsupported: ${feature}`);
    this.feature = feature;
  }
}

/** Ranks, shapes or dtypes that do not fit an op or a graph. */
export class ShapeError extends NnportError {}

/** Calibration or quantization parameters that cannot be honoured. */
export class QuantizationError extends NnportError {}

/** A graph that is structurally invalid: cycles, missing inputs, duplicate outputs. */
export class GraphError extends NnportError {}

/** Wrong use of the CLI or API by the caller (missing argument, unknown option). */
export class UsageError extends NnportError {}

/**
 * Input that would cost more memory or work than allowed (a decompression bomb, a stride-0
 * tensor, an op whose output size comes from data): says what, how much, the limit, and the
 * flag that raises it. Thrown before anything is allocated.
 */
export class ResourceError extends NnportError {
  readonly what: string;
  readonly amount: number;
  readonly limit: number;
  readonly flag: string;
  constructor(what: string, amount: number, limit: number, options: { flag?: string; unit?: 'bytes' | 'count'; verb?: string } = {}) {
    const flag = options.flag ?? '--max-memory';
    const fmt = options.unit === 'count' ? (n: number) => String(n) : formatBytes;
    super(`${what} ${options.verb ?? 'needs'} ${fmt(amount)}, over the limit of ${fmt(limit)}${flag ? ` (raise it with ${flag})` : ''}`);
    this.what = what;
    this.amount = amount;
    this.limit = limit;
    this.flag = flag;
  }
}

/** 1536 -> "1.5 KiB" (exact byte counts in parentheses above a KiB). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n} bytes`;
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]} (${n} bytes)`;
}
