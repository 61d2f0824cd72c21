// The allow-list of globals a PyTorch state dict or training checkpoint needs, and the plain
// objects they turn into. Everything else is refused by name the moment the pickle mentions it.
import type { DType } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { PyDict, PyGlobal, PyTuple, pyText, type PickleGlobals } from './pickle.js';

/** A storage as a persistent id describes it; its bytes are found later (zip entry or legacy section). */
export class StorageRef {
  constructor(
    /** element type; null for an untyped storage (the tensor's dtype decides) */
    readonly dtype: DType | null,
    readonly key: string,
    /** elements the file claims the storage has (checked against the real bytes before use) */
    readonly numel: number,
    /** legacy views of a shared root storage: element offset and size inside it */
    readonly view?: { offset: number; size: number },
  ) {}
}

/** A tensor not yet materialised: a typed window (offset, sizes, strides) onto a storage. */
export class PendingTensor {
  constructor(
    readonly storage: StorageRef,
    readonly dtype: DType,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

class TorchDType {
  constructor(readonly dtype: DType | null, readonly name: string) {}
}

class NumpyDType {
  constructor(public descr: string) {}
}

/**
 * `table[key]` for the table's own keys only. Names come from the file: a global named
 * 'constructor' or 'toString' must not find Object.prototype's (and then crash as a dtype).
 */
function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** The storage classes a persistent id names, by class name. */
const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  ByteStorage: 'uint8',
  CharStorage: 'int8',
  ShortStorage: 'int16',
  IntStorage: 'int32',
  LongStorage: 'int64',
  BoolStorage: 'bool',
};
const UNSUPPORTED_STORAGES = new Set([
  'ComplexFloatStorage',
  'ComplexDoubleStorage',
  'QInt8Storage',
  'QUInt8Storage',
  'QInt32Storage',
  'QUInt4x2Storage',
  'QUInt2x4Storage',
]);

/** torch.<dtype> globals. */
const TORCH_DTYPES: Record<string, DType | null> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  uint8: 'uint8',
  int8: 'int8',
  int16: 'int16',
  short: 'int16',
  int32: 'int32',
  int: 'int32',
  int64: 'int64',
  long: 'int64',
  bool: 'bool',
  uint16: 'uint16',
  uint32: 'uint32',
  uint64: 'uint64',
  complex64: null,
  complex128: null,
  cfloat: null,
  cdouble: null,
  qint8: null,
  quint8: null,
  qint32: null,
  float8_e4m3fn: null,
  float8_e5m2: null,
};

const NUMPY_SCALAR_TYPES: Record<string, DType> = {
  f8: 'float64',
  f4: 'float32',
  f2: 'float16',
  i8: 'int64',
  i4: 'int32',
  i2: 'int16',
  i1: 'int8',
  u8: 'uint64',
  u4: 'uint32',
  u2: 'uint16',
  u1: 'uint8',
  b1: 'bool',
};

const REBUILDERS = new Set([
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._tensor._rebuild_from_type_v2',
  'collections.OrderedDict',
  'torch.Size',
  'torch.device',
  '_codecs.encode',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray.scalar',
  'numpy.dtype',
]);
/** Classes that may appear only as markers (tensor subclass type in _rebuild_from_type_v2). */
const MARKERS = new Set(['torch.Tensor', 'torch._tensor.Tensor', 'torch.nn.parameter.Parameter']);
const UNSUPPORTED_REBUILDERS: Record<string, string> = {
  'torch._utils._rebuild_qtensor': 'quantized tensors',
  'torch._utils._rebuild_sparse_tensor': 'sparse tensors',
  'torch._utils._rebuild_sparse_csr': 'sparse tensors',
  'torch._utils._rebuild_nested_tensor': 'nested tensors',
  'torch._utils._rebuild_meta_tensor_no_storage': 'meta tensors (no data)',
  'torch._utils._rebuild_wrapper_subclass': 'tensor subclasses',
  'torch._utils._rebuild_device_tensor_from_numpy': 'tensors pickled through NumPy',
  'torch._utils._rebuild_xla_tensor': 'XLA tensors',
  'torch._utils._rebuild_mps_tensor': 'MPS tensors pickled without storage',
};

export interface TorchPickleContext {
  /** where the pickle came from, for messages ('data.pkl') */
  source: string;
  file: string;
  /** storages by key, so that views of one storage share it */
  storages: Map<string, StorageRef>;
  /** legacy files carry view metadata in the persistent id */
  legacy: boolean;
}

function refuse(ctx: TorchPickleContext, qualified: string): never {
  const file = ctx.file;
  if (qualified.startsWith('torch.nn.modules.') || qualified.startsWith('torch.nn.parallel.') || qualified.startsWith('__main__.')) {
    throw new FormatError(
      `refusing to load global '${qualified}' from ${ctx.source}: this file pickles a whole nn.Module, which needs its Python class code to load; ` +
        `save the weights instead with torch.save(model.state_dict(), path) and convert that`,
      { file },
    );
  }
  if (qualified.startsWith('__torch__.')) {
    throw new UnsupportedError('TorchScript archives', `'${file}' was written by torch.jit.save; save model.state_dict() with torch.save instead`);
  }
  const name = qualified.slice(qualified.lastIndexOf('.') + 1);
  const module = qualified.slice(0, qualified.lastIndexOf('.'));
  // A class from a model library (torchvision.models.resnet.ResNet): most likely torch.save(model).
  const hint = /^[A-Z]/.test(name) && !SYSTEM_MODULES.has(module.split('.')[0]!)
    ? '; if this file holds a whole model (torch.save(model)), save model.state_dict() instead'
    : '';
  throw new FormatError(`refusing to load global '${qualified}' from ${ctx.source}: only tensors and plain containers are allowed${hint}`, { file });
}

const SYSTEM_MODULES = new Set(['os', 'posix', 'nt', 'sys', 'subprocess', 'builtins', '__builtin__', 'socket', 'shutil', 'pty', 'importlib', 'runpy', 'pickle', 'code', 'ctypes', 'multiprocessing', 'io', 'pathlib', 'webbrowser']);

function asInts(v: unknown, what: string, ctx: TorchPickleContext): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items) throw new FormatError(`${ctx.source}: tensor ${what} is not a tuple`, { file: ctx.file });
  return items.map((x) => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new FormatError(`${ctx.source}: tensor ${what} holds ${pyText(x)}`, { file: ctx.file });
    return x;
  });
}

function rebuildTensor(ctx: TorchPickleContext, args: readonly unknown[], dtypeArg?: unknown): PendingTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new FormatError(`${ctx.source}: tensor without a storage`, { file: ctx.file });
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw new FormatError(`${ctx.source}: bad storage offset ${pyText(offset)}`, { file: ctx.file });
  const shape = asInts(size, 'size', ctx);
  const strides = asInts(stride, 'stride', ctx);
  if (strides.length !== shape.length) throw new FormatError(`${ctx.source}: tensor of rank ${shape.length} has ${strides.length} strides`, { file: ctx.file });
  let dtype = storage.dtype;
  if (dtypeArg !== undefined) {
    if (!(dtypeArg instanceof TorchDType)) throw new FormatError(`${ctx.source}: tensor dtype is not a torch dtype`, { file: ctx.file });
    if (!dtypeArg.dtype) throw new UnsupportedError(`torch.${dtypeArg.name} tensors`);
    dtype = dtypeArg.dtype;
  }
  if (!dtype) throw new FormatError(`${ctx.source}: tensor over an untyped storage without a dtype`, { file: ctx.file });
  return new PendingTensor(storage, dtype, offset, shape, strides);
}

/** The allow-list as pickle-VM hooks. */
export function torchGlobals(ctx: TorchPickleContext): PickleGlobals {
  return {
    resolve(module, name) {
      const q = `${module}.${name}`;
      if (REBUILDERS.has(q) || MARKERS.has(q)) return new PyGlobal(module, name);
      if (Object.hasOwn(UNSUPPORTED_REBUILDERS, q)) throw new UnsupportedError(UNSUPPORTED_REBUILDERS[q]!, `'${ctx.file}' holds ${UNSUPPORTED_REBUILDERS[q]} (${q})`);
      if (module === 'torch' || module === 'torch.storage') {
        if (Object.hasOwn(STORAGE_DTYPES, name)) return new PyGlobal(module, name);
        if (name === 'UntypedStorage' || name === 'TypedStorage' || name === '_UntypedStorage') return new PyGlobal(module, name);
        if (UNSUPPORTED_STORAGES.has(name)) throw new UnsupportedError(`torch.${name}`, `'${ctx.file}' holds complex or quantized tensors`);
        if (module === 'torch' && Object.hasOwn(TORCH_DTYPES, name)) return new TorchDType(TORCH_DTYPES[name]!, name);
      }
      if (module === 'torch.cuda' && Object.hasOwn(STORAGE_DTYPES, name)) return new PyGlobal('torch', name); // old CUDA-tagged storage classes
      return refuse(ctx, q);
    },

    call(fn, args) {
      if (!(fn instanceof PyGlobal)) {
        throw new FormatError(`${ctx.source}: refusing to call ${describe(fn)}: only allowed tensor rebuild functions may be called`, { file: ctx.file });
      }
      switch (fn.qualified) {
        case 'torch._utils._rebuild_tensor':
        case 'torch._utils._rebuild_tensor_v2':
          return rebuildTensor(ctx, args);
        case 'torch._utils._rebuild_tensor_v3':
          return rebuildTensor(ctx, args, args[6]);
        case 'torch._utils._rebuild_parameter':
        case 'torch._utils._rebuild_parameter_with_state':
          if (!(args[0] instanceof PendingTensor)) throw new FormatError(`${ctx.source}: parameter without tensor data`, { file: ctx.file });
          return args[0];
        case 'torch._tensor._rebuild_from_type_v2': {
          // (func, new_type, args, state): only plain Tensor / Parameter types, then func(*args)
          const [inner, type, innerArgs] = args;
          if (!(type instanceof PyGlobal) || !MARKERS.has(type.qualified)) refuse(ctx, pyText(type));
          if (!(innerArgs instanceof PyTuple)) throw new FormatError(`${ctx.source}: malformed _rebuild_from_type_v2`, { file: ctx.file });
          return this.call(inner, innerArgs.items);
        }
        case 'collections.OrderedDict': {
          const d = new PyDict(true);
          const init = args[0];
          if (Array.isArray(init)) {
            for (const kv of init) {
              const pair = kv instanceof PyTuple ? kv.items : Array.isArray(kv) ? kv : null;
              if (!pair || pair.length !== 2) throw new FormatError(`${ctx.source}: bad OrderedDict item`, { file: ctx.file });
              d.map.set(pair[0], pair[1]);
            }
          }
          return d;
        }
        case 'torch.Size':
          return args[0] instanceof PyTuple ? args[0] : new PyTuple([]);
        case 'torch.device':
          return args.map((a) => pyText(a)).join(':'); // never String(): a list arg may nest itself exponentially
        case '_codecs.encode': {
          // protocol 2 pickles bytes as _codecs.encode(text, 'latin1')
          const [text, enc] = args;
          if (typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) throw new FormatError(`${ctx.source}: unsupported _codecs.encode call`, { file: ctx.file });
          const out = new Uint8Array(text.length);
          for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
          return out;
        }
        case 'numpy.dtype':
          if (typeof args[0] !== 'string') throw new FormatError(`${ctx.source}: bad numpy.dtype`, { file: ctx.file });
          return new NumpyDType(args[0]);
        case 'numpy.core.multiarray.scalar':
        case 'numpy._core.multiarray.scalar':
          return numpyScalar(ctx, args);
        default:
          if (fn.module === 'torch' || fn.module === 'torch.storage') {
            throw new FormatError(`${ctx.source}: refusing to call ${fn.qualified}: storages come only from persistent ids`, { file: ctx.file });
          }
          return refuse(ctx, fn.qualified);
      }
    },

    build(obj, state) {
      if (obj instanceof PyDict) {
        obj.attrs = state; // e.g. a state dict's _metadata; not part of its items
        return obj;
      }
      if (obj instanceof PendingTensor) return obj; // Parameter/Tensor python attributes: irrelevant to the data
      if (obj instanceof NumpyDType) {
        // state: (version, byteorder, ...)
        if (state instanceof PyTuple && typeof state.items[1] === 'string') {
          const order = state.items[1];
          if (order === '>') throw new UnsupportedError('big-endian NumPy scalars');
        }
        return obj;
      }
      throw new FormatError(`${ctx.source}: refusing to set state on ${describe(obj)}`, { file: ctx.file });
    },

    persistentLoad(pid) {
      if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage') {
        throw new FormatError(`${ctx.source}: unknown persistent id ${describe(pid)}; only storages are allowed`, { file: ctx.file });
      }
      const [, type, rawKey, , numel, viewMeta] = pid.items;
      if (!(type instanceof PyGlobal)) throw new FormatError(`${ctx.source}: storage type is not a storage class`, { file: ctx.file });
      const dtype = own(STORAGE_DTYPES, type.name) ?? null;
      if (dtype === null && type.name !== 'UntypedStorage' && type.name !== '_UntypedStorage' && type.name !== 'TypedStorage') {
        throw new FormatError(`${ctx.source}: '${type.qualified}' is not a storage class`, { file: ctx.file });
      }
      const key = typeof rawKey === 'number' ? String(rawKey) : rawKey;
      if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,128}$/.test(key) || key.includes('..')) {
        throw new FormatError(`${ctx.source}: refusing storage key ${JSON.stringify(pyText(rawKey))}: keys are plain names inside the archive`, { file: ctx.file });
      }
      if (typeof numel !== 'number' || !Number.isInteger(numel) || numel < 0) throw new FormatError(`${ctx.source}: storage '${key}' has a bad size ${pyText(numel)}`, { file: ctx.file });
      let view: StorageRef['view'];
      if (ctx.legacy && viewMeta instanceof PyTuple) {
        const [, off, sz] = viewMeta.items;
        if (typeof off !== 'number' || typeof sz !== 'number' || off < 0 || sz < 0) throw new FormatError(`${ctx.source}: bad storage view of '${key}'`, { file: ctx.file });
        view = { offset: off, size: sz };
      }
      const root = ctx.storages.get(key);
      if (root) {
        if (root.dtype !== dtype || root.numel !== numel) throw new FormatError(`${ctx.source}: storage '${key}' is described twice differently`, { file: ctx.file });
        return view ? new StorageRef(dtype, key, numel, view) : root;
      }
      const ref = new StorageRef(dtype, key, numel);
      ctx.storages.set(key, ref);
      return view ? new StorageRef(dtype, key, numel, view) : ref;
    },
  };
}

function numpyScalar(ctx: TorchPickleContext, args: readonly unknown[]): number | bigint | boolean {
  const [dt, data] = args;
  if (!(dt instanceof NumpyDType) || !(data instanceof Uint8Array)) throw new FormatError(`${ctx.source}: bad numpy scalar`, { file: ctx.file });
  const dtype = own(NUMPY_SCALAR_TYPES, dt.descr.replace(/^[<=|]/, ''));
  if (!dtype) throw new UnsupportedError(`numpy scalar of type '${dt.descr}'`, `in '${ctx.file}'`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const need = { float64: 8, float32: 4, float16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint64: 8, uint32: 4, uint16: 2, uint8: 1, bool: 1 }[dtype as string]!;
  if (data.byteLength !== need) throw new FormatError(`${ctx.source}: numpy scalar of type '${dt.descr}' has ${data.byteLength} bytes`, { file: ctx.file });
  switch (dtype) {
    case 'float64': return dv.getFloat64(0, true);
    case 'float32': return dv.getFloat32(0, true);
    case 'int64': return dv.getBigInt64(0, true);
    case 'uint64': return dv.getBigUint64(0, true);
    case 'int32': return dv.getInt32(0, true);
    case 'uint32': return dv.getUint32(0, true);
    case 'int16': return dv.getInt16(0, true);
    case 'uint16': case 'float16': return dv.getUint16(0, true);
    case 'int8': return dv.getInt8(0);
    case 'bool': return data[0] !== 0;
    default: return data[0]!;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return `'${v.qualified}'`;
  if (v instanceof PyTuple) return 'a tuple';
  if (v instanceof PyDict) return 'a dict';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'string' ? `'${v.slice(0, 40)}'` : typeof v;
}
