#!/usr/bin/python3
"""Compares ONNX models with onnx's own parser: python3 onnx-equal.py A.onnx B.onnx [DIR],
or with --batch, one tab-separated "A B DIR" triple per stdin line and one JSON line out each.

Prints JSON {"checker": ..., "diffs": [...]}: an empty diff list means the same graph
(nodes, attributes, inputs/outputs, opsets, and initializers equal element for element,
bit for bit), however each file chose to encode its tensors (raw_data vs typed fields,
inline vs external data). DIR is where B's external data lives.
"""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def tensor_bytes(t, base):
    a = numpy_helper.to_array(t, base)  # base: where external data files are
    return (a.dtype.str, a.shape, a.tobytes() if a.dtype != object else repr(a.tolist()))


def canonical(msg):
    """Clears empty optional strings, recursively: proto2 keeps "set to ''" apart from
    "absent", which means nothing to ONNX (e.g. domain: "" on a node)."""
    for field, value in msg.ListFields():
        if field.label == field.LABEL_REPEATED:
            if field.message_type is not None:
                for m in value:
                    canonical(m)
        elif field.message_type is not None:
            canonical(value)
        elif field.type in (field.TYPE_STRING, field.TYPE_BYTES) and not value:
            msg.ClearField(field.name)
    return msg


def strip_tensors(node, base, diffs, where):
    """The node without tensor attribute payloads; payloads returned separately as arrays."""
    n = onnx.NodeProto()
    n.CopyFrom(node)
    payloads = []
    for a in n.attribute:
        if a.HasField('t'):
            payloads.append(tensor_bytes(a.t, base))
            a.ClearField('t')
        for t in a.tensors:
            payloads.append(tensor_bytes(t, base))
        del a.tensors[:]
        if a.HasField('g'):
            payloads.append(graph_key(a.g, base, diffs, f'{where}/{a.name}'))
            a.ClearField('g')
        for g in a.graphs:
            payloads.append(graph_key(g, base, diffs, f'{where}/{a.name}'))
        del a.graphs[:]
    return canonical(n).SerializeToString(), payloads


def graph_key(g, base, diffs, where):
    inits = {t.name: tensor_bytes(t, base) for t in g.initializer}
    nodes = [strip_tensors(n, base, diffs, f'{where}/{n.name or n.op_type}') for n in g.node]
    return (
        g.name,
        [canonical(v).SerializeToString() for v in g.input],
        [canonical(v).SerializeToString() for v in g.output],
        [canonical(v).SerializeToString() for v in g.value_info],
        sorted(inits.items()),
        nodes,
    )


def compare(a_path, b_path, b_dir):
    a = onnx.load(a_path, load_external_data=False)
    b = onnx.load(b_path, load_external_data=False)
    diffs = []
    for field in ('ir_version', 'producer_name', 'producer_version', 'domain', 'model_version', 'doc_string'):
        if getattr(a, field) != getattr(b, field):
            diffs.append(f'{field}: {getattr(a, field)!r} != {getattr(b, field)!r}')
    ops = lambda m: sorted((o.domain or '', o.version) for o in m.opset_import)
    if ops(a) != ops(b):
        diffs.append(f'opset_import: {ops(a)} != {ops(b)}')
    props = lambda m: sorted((p.key, p.value) for p in m.metadata_props)
    if props(a) != props(b):
        diffs.append('metadata_props differ')
    ka, kb = graph_key(a.graph, '.', diffs, ''), graph_key(b.graph, b_dir, diffs, '')
    names = ('name', 'inputs', 'outputs', 'value_info', 'initializers', 'nodes')
    for name, x, y in zip(names, ka, kb):
        if x != y:
            diffs.append(f'graph {name} differ')
    checker = 'ok'
    try:
        onnx.checker.check_model(b_path if b_dir != '.' else b)
    except Exception as e:  # report, do not fail: the originals of old test models fail it too
        checker = str(e).splitlines()[0]
    return {'checker': checker, 'diffs': diffs}


def main():
    if sys.argv[1:] == ['--batch']:
        for line in sys.stdin:
            if line.strip():
                try:
                    print(json.dumps(compare(*line.rstrip('\n').split('\t'))), flush=True)
                except Exception as e:
                    print(json.dumps({'checker': 'error', 'diffs': [f'cannot compare: {e}']}), flush=True)
        return
    print(json.dumps(compare(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else '.')))


if __name__ == '__main__':
    main()
