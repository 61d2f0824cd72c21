// What the lowerings of one ONNX op into plain ONNX ops before the TFLite writer share
// (lower-grid-sample.ts, lower-roi-align.ts, lower-cubic-resize.ts): nodes named under the lowered
// node, float32 scalar constants made once each, int64 index constants, cubic-convolution weights.
import type { Attr, Node } from '../../ir/graph.js';
import type { GraphRewriter } from '../../ir/rewriter.js';
import { Tensor } from '../../ir/tensor.js';

export abstract class OpLowering {
  protected readonly where: string;
  private readonly scalars = new Map<number, string>();

  constructor(
    protected readonly rw: GraphRewriter,
    protected readonly node: Node,
  ) {
    this.where = node.name || node.opType;
  }

  /** A node of `opType` on `inputs`, named under the lowered node: its output's name. */
  protected op(opType: string, inputs: string[], attrs?: Record<string, Attr>): string {
    return this.rw.add({ opType, name: `${this.where}/${opType}`, inputs, attrs });
  }

  /** The float32 scalar constant `v` (one per value). */
  protected f(v: number): string {
    let s = this.scalars.get(v);
    if (!s) this.scalars.set(v, (s = this.rw.addInitializer(`${this.where}/const`, Tensor.float32([], [v]))));
    return s;
  }

  /** An int64 index constant. */
  protected int64(values: number[]): string {
    return this.rw.addInitializer(`${this.where}/index`, Tensor.int64([values.length], values));
  }

  /**
   * The 4 cubic-convolution weights (Keys' kernel with coefficient `a`: -0.75 as PyTorch's bicubic,
   * ONNX's cubic_coeff_a) of the taps at x0 - 1 .. x0 + 2 for fraction t = x - x0, in onnxruntime's
   * (GetCubicCoeffs) and PyTorch's order of float32 operations.
   */
  protected cubicWeights(t: string, a: number): string[] {
    // ((a + 2) x - (a + 3)) x x + 1, for |x| <= 1
    const near = (x: string) => this.op('Add', [this.op('Mul', [this.op('Mul', [this.op('Sub', [this.op('Mul', [x, this.f(a + 2)]), this.f(a + 3)]), x]), x]), this.f(1)]);
    // ((a x - 5a) x + 8a) x - 4a, for 1 < |x| < 2
    const far = (x: string) => this.op('Sub', [this.op('Mul', [this.op('Add', [this.op('Mul', [this.op('Sub', [this.op('Mul', [x, this.f(a)]), this.f(5 * a)]), x]), this.f(8 * a)]), x]), this.f(4 * a)]);
    const oneMinus = this.op('Sub', [this.f(1), t]);
    return [far(this.op('Add', [t, this.f(1)])), near(t), near(oneMinus), far(this.op('Sub', [this.f(2), t]))];
  }
}
