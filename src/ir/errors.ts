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
