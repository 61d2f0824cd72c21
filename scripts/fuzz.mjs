// npm run fuzz -- --seconds N: the mutation fuzzer for N seconds (spread over its targets)
// instead of CI's fixed seed and count; writes test/fuzz/REPORT.md and saves failing inputs
// to test/fuzz/regressions/.
import { spawnSync } from 'node:child_process';

const i = process.argv.indexOf('--seconds');
const seconds = i >= 0 ? Number(process.argv[i + 1]) : 60;
if (!(seconds > 0)) {
  console.error('usage: npm run fuzz -- --seconds N');
  process.exit(1);
}
const r = spawnSync('npx', ['vitest', 'run', 'test/formats/fuzz.test.ts', '--testTimeout', String((seconds + 120) * 1000)], {
  stdio: 'inherit',
  env: { ...process.env, NNPORT_FUZZ_SECONDS: String(seconds), NNPORT_FUZZ_REPORT: '1' },
});
process.exit(r.status ?? 1);
