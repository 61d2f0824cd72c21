#!/usr/bin/python3
"""The Python peer of `npm run bench:convert`: ONNX weights -> a Keras .h5 the way people
do it by hand today, with onnx + NumPy + h5py (Debian python3-onnx python3-numpy python3-h5py).

  /usr/bin/python3 scripts/bench/onnx_to_keras_h5.py model.onnx out.h5

It loads the ONNX model, and for each Conv (OIHW -> HWIO kernel, bias) and Gemm/MatMul
(kernel transposed to (in, out); the first dense layer after a flatten has its rows permuted
from C*H*W to H*W*C order, as a channels-last Flatten produces them) writes the weights
where `model.save('x.h5')` puts them: model_weights/<layer>/<layer>/kernel:0 and bias:0,
with the layer_names / weight_names attributes. The layer is named after its weight's
module path (features.0.weight -> features.0), as nnport names it. Only what this needs is
handled (plain CNN classifiers such as torchvision's vgg16): the point is the cost of the
conversion, not a general converter.
"""
import sys

import h5py
import numpy as np
import onnx
from onnx import numpy_helper


def attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def convert(onnx_path, out_path):
    model = onnx.load(onnx_path)
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    layers = []  # (name, [(role, array)])
    channels = None  # output channels of the last conv, for the flatten -> dense row order
    dense_seen = False
    for node in model.graph.node:
        if node.op_type == 'Identity' and node.input[0] in weights:
            # the exporter shares equal initializers (vgg's all-zero biases) through Identity nodes
            weights[node.output[0]] = weights[node.input[0]]
        elif node.op_type == 'Conv':
            w = weights[node.input[1]]
            found = [('kernel', w.transpose(2, 3, 1, 0))]  # OIHW -> HWIO
            if len(node.input) > 2 and node.input[2]:
                found.append(('bias', weights[node.input[2]]))
            layers.append((node.input[1].rsplit('.', 1)[0], found))
            channels = w.shape[0]
        elif node.op_type in ('Gemm', 'MatMul') and node.input[1] in weights:
            w = weights[node.input[1]]
            kernel = w.T if node.op_type == 'Gemm' and attr(node, 'transB', 0) else w  # (in, out)
            if not dense_seen and channels:
                # rows in C*H*W (NCHW flatten) order -> H*W*C (NHWC flatten) order
                k, units = kernel.shape
                kernel = kernel.reshape(channels, k // channels, units).transpose(1, 0, 2).reshape(k, units)
            dense_seen = True
            found = [('kernel', kernel)]
            if node.op_type == 'Gemm' and len(node.input) > 2 and node.input[2]:
                found.append(('bias', weights[node.input[2]]))
            layers.append((node.input[1].rsplit('.', 1)[0], found))

    with h5py.File(out_path, 'w') as f:
        f.attrs['keras_version'] = '2.15.0'
        f.attrs['backend'] = 'tensorflow'
        mw = f.create_group('model_weights')
        mw.attrs['layer_names'] = [name.encode() for name, _ in layers]
        mw.attrs['backend'] = 'tensorflow'
        mw.attrs['keras_version'] = '2.15.0'
        for name, found in layers:
            g = mw.create_group(name)
            g.attrs['weight_names'] = [f'{name}/{role}:0'.encode() for role, _ in found]
            inner = g.create_group(name)
            for role, array in found:
                inner.create_dataset(f'{role}:0', data=np.ascontiguousarray(array, dtype=np.float32))
    return len(layers)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    n = convert(sys.argv[1], sys.argv[2])
    print(f'wrote {sys.argv[2]} ({n} layers with weights)')
