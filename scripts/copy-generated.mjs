// tsc does not emit the generated protobuf JavaScript (it is .js + .d.ts, not .ts);
// copy it into dist/ beside the compiled code that imports it. Generated .ts (flatbuffers)
// is compiled by tsc itself and not copied.
import { cpSync, existsSync } from 'node:fs';

const from = new URL('../src/formats/generated/', import.meta.url);
const to = new URL('../dist/formats/generated/', import.meta.url);
const keep = (src) => !src.endsWith('.ts') || src.endsWith('.d.ts');
if (existsSync(from)) cpSync(from, to, { recursive: true, filter: keep });
