// What the lowerings of one ONNX op into plain ONNX ops before the TFLite writer share
// (lower-grid-sample.ts, lower-roi-align.ts): nodes named under the lowered node, float32
// scalar constants made once each, int64 index constants.
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
}
