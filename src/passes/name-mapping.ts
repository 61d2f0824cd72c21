// Matching weight names across frameworks: PyTorch state-dict keys (`layer1.0.bn1.running_var`),
// ONNX initializers (usually the same keys), Keras/TF variables (`conv1/kernel:0`). A name is
// split into its layer path and its parameter role, so that `bn1.running_var` and
// `bn1/moving_variance:0` meet at ('bn1', 'running_var').
import { FormatError } from '../ir/errors.js';

/** What a parameter is to its layer, in PyTorch's words. */
export type ParamRole = 'weight' | 'bias' | 'running_mean' | 'running_var' | 'num_batches_tracked' | 'other';

/** Keras/TF variable names -> PyTorch roles. A BatchNorm's gamma/beta are PyTorch's weight/bias. */
const ROLE_ALIASES: Readonly<Record<string, ParamRole>> = {
  weight: 'weight',
  kernel: 'weight',
  depthwise_kernel: 'weight',
  embeddings: 'weight',
  gamma: 'weight',
  scale: 'weight',
  bias: 'bias',
  beta: 'bias',
  running_mean: 'running_mean',
  moving_mean: 'running_mean',
  mean: 'running_mean',
  running_var: 'running_var',
  moving_variance: 'running_var',
  variance: 'running_var',
  var: 'running_var',
  num_batches_tracked: 'num_batches_tracked',
};

/** Keras names of each role, by layer kind (the reverse direction, for writers that build Keras weights). */
export const KERAS_PARAM_NAMES: Readonly<Record<'conv' | 'depthwise-conv' | 'dense' | 'batchnorm' | 'embedding', Partial<Record<ParamRole, string>>>> = {
  conv: { weight: 'kernel', bias: 'bias' },
  'depthwise-conv': { weight: 'depthwise_kernel', bias: 'bias' },
  dense: { weight: 'kernel', bias: 'bias' },
  batchnorm: { weight: 'gamma', bias: 'beta', running_mean: 'moving_mean', running_var: 'moving_variance' },
  embedding: { weight: 'embeddings' },
};

/** Wrappers that add a prefix to every key without changing the model: DataParallel, torch.compile. */
const WRAPPER_PREFIXES = ['module.', '_orig_mod.'];

/**
 * A canonical form for comparing names: '/' and '::' become '.', a TF ':0' output suffix and
 * wrapper prefixes go, and the last component is replaced by its PyTorch role where it has one.
 */
export function normalizeName(name: string): string {
  let n = name.replace(/:\d+$/, '').replace(/::|\/|\\/g, '.').replace(/\.+/g, '.').replace(/^\.|\.$/g, '');
  for (let again = true; again; ) {
    again = false;
    for (const p of WRAPPER_PREFIXES) {
      if (n.startsWith(p)) {
        n = n.slice(p.length);
        again = true;
      }
    }
  }
  const { layer, role, raw } = splitParamName(n);
  return role === 'other' ? n : layer ? `${layer}.${role}` : role === raw ? n : role;
}

/** `layer1.0.bn1.running_var` -> layer 'layer1.0.bn1', role 'running_var'. */
export function splitParamName(name: string): { layer: string; role: ParamRole; raw: string } {
  const i = name.lastIndexOf('.');
  const raw = i < 0 ? name : name.slice(i + 1);
  const layer = i < 0 ? '' : name.slice(0, i);
  return { layer, role: ROLE_ALIASES[raw.toLowerCase()] ?? 'other', raw };
}

export type MatchVia = 'mapping' | 'exact' | 'normalized' | 'suffix';

/**
 * Finds, for a source name, the target name it should fill: an explicit mapping first, then the
 * exact name, then the normalized form (only when that form is unambiguous in the target).
 */
export class NameMatcher {
  private readonly exact: Set<string>;
  private readonly byNormal = new Map<string, string[]>();
  /** normalized name suffixes of two or more components -> the targets ending with them */
  private readonly bySuffix = new Map<string, Set<string>>();

  constructor(
    targetNames: Iterable<string>,
    private readonly mapping: Readonly<Record<string, string>> = {},
  ) {
    this.exact = new Set(targetNames);
    for (const t of this.exact) {
      const k = normalizeName(t);
      const list = this.byNormal.get(k);
      if (list) list.push(t);
      else this.byNormal.set(k, [t]);
      const parts = k.split('.');
      for (let n = 2; n <= parts.length; n++) {
        const key = parts.slice(-n).join('.');
        const set = this.bySuffix.get(key);
        if (set) set.add(t);
        else this.bySuffix.set(key, new Set([t]));
      }
    }
  }

  match(source: string): { target: string; via: MatchVia } | { target?: undefined; reason: string } {
    if (Object.prototype.hasOwnProperty.call(this.mapping, source)) {
      const t = this.mapping[source]!;
      if (this.exact.has(t)) return { target: t, via: 'mapping' };
      return { reason: `the mapping names '${t}', which the target does not have` };
    }
    if (this.exact.has(source)) return { target: source, via: 'exact' };
    const candidates = this.byNormal.get(normalizeName(source));
    if (candidates?.length === 1) return { target: candidates[0]!, via: 'normalized' };
    if (candidates && candidates.length > 1) return { reason: `ambiguous: ${candidates.slice(0, 4).join(', ')}` };
    return this.matchSuffix(source);
  }

  /**
   * A TensorFlow name scope one side has and the other lacks (`aspp/conv1_2/kernel` in a graph,
   * `conv1_2/kernel:0` in a Keras file): the longest common tail of at least layer + role,
   * when it names one target. A tail that starts with a number (`1.weight`) says too little.
   */
  private matchSuffix(source: string): { target: string; via: MatchVia } | { target?: undefined; reason: string } {
    const parts = normalizeName(source).split('.');
    for (let n = parts.length; n >= 2; n--) {
      if (/^\d+$/.test(parts[parts.length - n]!)) break;
      const set = this.bySuffix.get(parts.slice(-n).join('.'));
      if (!set) continue;
      if (set.size === 1) return { target: [...set][0]!, via: 'suffix' };
      return { reason: `ambiguous: ${[...set].slice(0, 4).join(', ')}` };
    }
    return { reason: 'no target of that name' };
  }
}

/** Parse a JSON mapping file: `{ "source.name": "target.name", ... }`. */
export function parseNameMapping(text: string, fileName = '<mapping>'): Record<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`name mapping is not valid JSON: ${(e as Error).message}`, { file: fileName });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatError('name mapping must be an object of "source": "target" names', { file: fileName });
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(v)) {
    if (typeof t !== 'string') throw new FormatError(`name mapping: the target of '${k}' is not a string`, { file: fileName });
    out[k] = t;
  }
  return out;
}
