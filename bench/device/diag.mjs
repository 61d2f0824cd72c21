// Which WebGPU adapter Dawn finds here.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create(process.env.DAWN_FLAGS ? process.env.DAWN_FLAGS.split(' ') : []);
for (const powerPreference of ['high-performance', 'low-power']) {
  const a = await gpu.requestAdapter({ powerPreference });
  if (!a) { console.log(powerPreference, 'no adapter'); continue; }
  const i = a.info;
  console.log(powerPreference, JSON.stringify({ vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description }), 'maxStorageBufferBindingSize', a.limits.maxStorageBufferBindingSize);
}
