// int64 model inputs and outputs as int32 at the file's edges, a Cast inside: token ids, masks and
// argmax results. PyTorch exports them int64; TFLite deployments (the browser interpreter, the Task
// Library, most Android and microcontroller code) feed and read int32, as TF models' ids are. The
// values keep their names; what read an input reads its int64 Cast, what produced an output
// produces `<name>/int64`, cast to int32 under the output's name. Values past int32's range wrap
// (token ids and indices do not reach it).
import type { Graph, Node, ValueInfo } from '../ir/graph.js';
import { GraphRewriter } from '../ir/rewriter.js';

export interface Int32IoResult {
  graph: Graph;
  /** the inputs and outputs made int32, by name */
  inputs: string[];
  outputs: string[];
}

const TO_INT64 = 7;
const TO_INT32 = 6;

export function int64IoAsInt32(graph: Graph): Int32IoResult {
  const inputs = graph.inputs.filter((v) => v.dtype === 'int64' && !graph.initializers.has(v.name)).map((v) => v.name);
  const outputs = graph.outputs.filter((v) => v.dtype === 'int64').map((v) => v.name);
  if (!inputs.length && !outputs.length) return { graph, inputs, outputs };
  const rw = new GraphRewriter(graph);
  const cast = (name: string, input: string, output: string, to: number): Node => rw.addNode({ name, opType: 'Cast', inputs: [input], outputs: [output], attrs: { to: { type: 'int', value: to } } });
  for (const name of inputs) {
    const wide = rw.freshName(`${name}/int64`);
    rw.replaceUses(name, wide, { except: new Set([cast(`${name}/to_int64`, name, wide, TO_INT64)]) });
  }
  // an output that is also an input is the int32 input itself
  const computed = outputs.filter((o) => !inputs.includes(o));
  const inner = new Map(computed.map((o) => [o, rw.freshName(`${o}/int64`)]));
  for (const [name, wide] of inner) rw.renameValue(name, wide);
  for (const [name, wide] of inner) cast(`${name}/to_int32`, wide, name, TO_INT32);
  const g = rw.toGraph();
  const back = new Map([...inner].map(([o, w]) => [w, o]));
  const retype = (v: ValueInfo): ValueInfo => {
    const name = back.get(v.name) ?? v.name;
    return inputs.includes(name) || outputs.includes(name) ? { ...v, name, dtype: 'int32' } : v;
  };
  return { graph: { ...g, inputs: g.inputs.map(retype), outputs: g.outputs.map(retype) }, inputs, outputs };
}
