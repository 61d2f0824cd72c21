# Strip the large float32 initializers of an ONNX model into external data, drop the data file and
# record each stripped tensor's offset/length/dims, so the device can refill it with random values.
import json, os, sys, onnx
from onnx.external_data_helper import convert_model_to_external_data
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
m = onnx.load(src)
convert_model_to_external_data(m, all_tensors_to_one_file=True, location='weights.bin', size_threshold=4096)
onnx.save_model(m, os.path.join(out, 'model.onnx'), save_as_external_data=True, all_tensors_to_one_file=True, location='weights.bin', size_threshold=4096)
m2 = onnx.load(os.path.join(out, 'model.onnx'), load_external_data=False)
ents = []
for t in m2.graph.initializer:
    if t.data_location == onnx.TensorProto.EXTERNAL:
        kv = {e.key: e.value for e in t.external_data}
        assert t.data_type == onnx.TensorProto.FLOAT, t.name
        ents.append({'offset': int(kv.get('offset', 0)), 'length': int(kv['length']), 'dims': list(t.dims)})
size = os.path.getsize(os.path.join(out, 'weights.bin'))
os.remove(os.path.join(out, 'weights.bin'))
json.dump({'size': size, 'tensors': ents}, open(os.path.join(out, 'weights.json'), 'w'))
print(src, size, len(ents))
