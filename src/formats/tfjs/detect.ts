// TensorFlow.js model.json: a JSON object with "modelTopology" and/or "weightsManifest".
// The head may end inside the JSON, so look for the keys rather than parse it.
const text = new TextDecoder('utf-8');

export function detectTfjs(head: Uint8Array): boolean {
  const s = text.decode(head).replace(/^\uFEFF/, '').trimStart();
  if (!s.startsWith('{')) return false;
  // graph models (a GraphDef in JSON) belong to the TensorFlow handler (tensorflow/tfjs-graph.ts)
  if (/"format"\s*:\s*"graph-model"/.test(s) || /"modelTopology"\s*:\s*\{\s*"node"\s*:/.test(s)) return false;
  return /"(modelTopology|weightsManifest)"\s*:/.test(s) || /"format"\s*:\s*"(layers|graph)-model"/.test(s);
}
