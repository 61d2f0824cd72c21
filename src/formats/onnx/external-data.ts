// ONNX external data: a tensor's bytes stored in a file next to the model
// (TensorProto.data_location = EXTERNAL, external_data = {location, offset, length}).
import { FormatError, UsageError } from '../../ir/errors.js';
import type { onnx } from '../generated/onnx.js';

type TensorProto = onnx.TensorProto.$Properties;

export interface ExternalRef {
  location: string;
  offset: number;
  /** undefined: to the end of the file */
  length?: number;
}

/**
 * The external_data entries of a tensor, checked. A location must stay inside the model's
 * folder: absolute paths, drive letters and any `..` component are refused, so a model file
 * can never make nnport read elsewhere on disk.
 */
export function externalRef(proto: TensorProto, where: string, file: string): ExternalRef {
  const kv = new Map((proto.external_data ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = kv.get('location');
  if (!location) throw new FormatError(`${where} has external data without a location`, { file });
  if (location.includes('\0') || /^([/\\]|[A-Za-z]:)/.test(location) || location.split(/[/\\]/).includes('..')) {
    throw new FormatError(`${where} has external data at '${location}', outside the model's folder`, { file });
  }
  const num = (key: string): number | undefined => {
    const s = kv.get(key);
    if (s === undefined || s === '') return undefined;
    const n = /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(n)) throw new FormatError(`${where} has an invalid external data ${key} '${s}'`, { file });
    return n;
  };
  return { location, offset: num('offset') ?? 0, length: num('length') };
}

/** Reads external files once each and hands out checked slices of them. */
export class ExternalDataReader {
  private readonly files = new Map<string, Promise<Uint8Array>>();

  constructor(
    private readonly file: string,
    private readonly readSibling: ((relativePath: string) => Promise<Uint8Array>) | undefined,
  ) {}

  async slice(ref: ExternalRef, where: string): Promise<Uint8Array> {
    const data = await this.load(ref.location, where);
    const end = ref.length === undefined ? data.byteLength : ref.offset + ref.length;
    if (ref.offset > data.byteLength || end > data.byteLength) {
      throw new FormatError(
        `${where} needs bytes ${ref.offset}..${end} of external data file '${ref.location}', which has only ${data.byteLength} bytes`,
        { file: this.file },
      );
    }
    return data.subarray(ref.offset, end);
  }

  private load(location: string, where: string): Promise<Uint8Array> {
    let p = this.files.get(location);
    if (!p) {
      const read = this.readSibling;
      if (!read) throw new UsageError(`'${this.file}': ${where} keeps its data in '${location}'; pass readSibling to read external data`);
      p = read(location).catch((e: unknown) => {
        throw new FormatError(`cannot read external data file '${location}' (for ${where}): ${e instanceof Error ? e.message : String(e)}`, { file: this.file }, { cause: e });
      });
      this.files.set(location, p);
    }
    return p;
  }
}
