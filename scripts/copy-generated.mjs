// tsc does not emit the generated protobuf JavaScript (it is .js + .d.ts, not .ts);
// copy it into dist/ beside the compiled code that imports it.
import { cpSync, existsSync } from 'node:fs';

const from = new URL('../src/formats/generated/', import.meta.url);
const to = new URL('../dist/formats/generated/', import.meta.url);
if (existsSync(from)) cpSync(from, to, { recursive: true });
