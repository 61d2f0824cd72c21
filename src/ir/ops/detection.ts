// Detection post-processing: NonMaxSuppression (ONNX opset 10/11), which SSD's DetectionOutput
// is lowered to (src/formats/caffe/ssd.ts).
import { ShapeError } from '../errors.js';
import { attrInt, type Node } from '../graph.js';
import { defineOpDef, fmtShape, input, type OpDefTable } from './op-def.js';

export interface NonMaxSuppressionAttrs {
  /** 0: boxes are [y1, x1, y2, x2] (any diagonal corners); 1: [x_center, y_center, width, height] */
  centerPointBox: number;
}

export const detectionDefs = {
  NonMaxSuppression: defineOpDef<NonMaxSuppressionAttrs>({
    opType: 'NonMaxSuppression',
    domain: '',
    layout: 'shape',
    attrs: (node: Node) => {
      const centerPointBox = attrInt(node, 'center_point_box', 0);
      if (centerPointBox !== 0 && centerPointBox !== 1) throw new ShapeError(`center_point_box must be 0 or 1, got ${centerPointBox}`);
      return { centerPointBox };
    },
    infer: (ctx) => {
      const boxes = input(ctx, 0, 'boxes');
      const scores = input(ctx, 1, 'scores');
      if (boxes.shape && (boxes.shape.length !== 3 || (typeof boxes.shape[2] === 'number' && boxes.shape[2] !== 4))) throw new ShapeError(`NonMaxSuppression boxes must be [batches, boxes, 4], got ${fmtShape(boxes.shape)}`);
      if (scores.shape && scores.shape.length !== 3) throw new ShapeError(`NonMaxSuppression scores must be [batches, classes, boxes], got ${fmtShape(scores.shape)}`);
      // how many boxes survive depends on the values
      return [{ dtype: 'int64', shape: [null, 3] }];
    },
  }),
} satisfies OpDefTable;
