#!/usr/bin/python3
"""Check that two Keras .h5 files hold the same weights: the same datasets under
model_weights (by path) and each equal in shape, dtype and every value, and for each layer
with weights the same weight_names.

  /usr/bin/python3 scripts/bench/h5_same.py A.h5 B.h5
Prints one line; exit status 1 on the first difference.
"""
import sys

import h5py
import numpy as np


def datasets(group):
    found = {}
    group.visititems(lambda name, obj: found.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def names(obj, attr):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in obj.attrs.get(attr, [])]


def main(a_path, b_path):
    with h5py.File(a_path, 'r') as a, h5py.File(b_path, 'r') as b:
        da, db = datasets(a['model_weights']), datasets(b['model_weights'])
        if sorted(da) != sorted(db):
            only_a = sorted(set(da) - set(db))[:5]
            only_b = sorted(set(db) - set(da))[:5]
            raise SystemExit(f'different datasets: only in {a_path}: {only_a}; only in {b_path}: {only_b}')
        values = 0
        for path in sorted(da):
            x, y = da[path], db[path]
            if x.shape != y.shape or x.dtype != y.dtype:
                raise SystemExit(f'{path}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}')
            if not np.array_equal(x[...], y[...]):
                raise SystemExit(f'{path}: values differ (max abs diff {np.abs(x[...] - y[...]).max()})')
            values += x.size
        layers = sorted({p.split('/')[0] for p in da})
        for layer in layers:
            if names(a['model_weights'][layer], 'weight_names') != names(b['model_weights'][layer], 'weight_names'):
                raise SystemExit(f'{layer}: weight_names differ')
        print(f'same: {len(da)} datasets in {len(layers)} layers, {values} values equal')


if __name__ == '__main__':
    main(*sys.argv[1:3])
