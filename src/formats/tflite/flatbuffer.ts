// Bounds-checked access to a TFLite flatbuffer. The `flatbuffers` runtime reads past the end
// of its bytes silently (undefined | 0 === 0), so a truncated or corrupt file would turn into
// zeros; every scalar read here is checked instead and fails with a FormatError at the offset.
import { ByteBuffer } from 'flatbuffers';
import { FormatError, NnportError } from '../../ir/errors.js';

export class CheckedByteBuffer extends ByteBuffer {
  constructor(
    bytes: Uint8Array,
    readonly file: string,
  ) {
    super(bytes);
  }

  private check(offset: number, size: number): void {
    if (!(offset >= 0 && offset + size <= this.capacity())) {
      throw new FormatError(`flatbuffer read of ${size} bytes at ${offset} is past the end (${this.capacity()} bytes): truncated or corrupt file`, { file: this.file, offset });
    }
  }

  override readUint8(offset: number): number {
    this.check(offset, 1);
    return super.readUint8(offset);
  }

  override readUint16(offset: number): number {
    this.check(offset, 2);
    return super.readUint16(offset);
  }

  override readInt32(offset: number): number {
    this.check(offset, 4);
    return super.readInt32(offset);
  }

  override __vector_len(offset: number): number {
    const n = super.__vector_len(offset);
    const start = this.__vector(offset);
    // a length that runs past the end is caught here, before any typed-array view is made
    if (n < 0 || start + n > this.capacity()) {
      throw new FormatError(`flatbuffer vector of ${n} elements at ${start} runs past the end (${this.capacity()} bytes)`, { file: this.file, offset: start });
    }
    return n;
  }

  override __string(offset: number, encoding?: never): string {
    const at = offset + this.readInt32(offset);
    const n = this.readInt32(at);
    if (n < 0 || at + 4 + n > this.capacity()) throw new FormatError(`flatbuffer string of ${n} bytes at ${at} runs past the end`, { file: this.file, offset: at });
    return super.__string(offset, encoding) as string;
  }
}

/**
 * The file's bytes in an ArrayBuffer of their own, 16-byte aligned from offset 0: the
 * generated code makes typed-array views from `bytes().buffer` and field offsets, which must
 * neither reach outside the file nor be misaligned.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes;
  return new Uint8Array(bytes);
}

/** Run `f`, turning a RangeError/TypeError from a corrupt flatbuffer into a FormatError. */
export function guardFlatbuffer<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof NnportError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new FormatError(`corrupt TFLite flatbuffer (${msg})`, { file }, { cause: e });
  }
}
