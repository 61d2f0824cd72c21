// A test that needs a corpus file fails when the file is gone: shown in a temporary copy of
// the repository layout (<tmp>/repo beside <tmp>/shared/corpus) by deleting the file and
// running vitest there.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/corpus.js';

const TEST = `import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { corpusPath } from '../support/corpus.js';
it('reads its corpus file', () => {
  expect(readFileSync(corpusPath('onnx/model.onnx')).length).toBeGreaterThan(0);
});
`;

function layout(): { root: string; repo: string } {
  const root = mkdtempSync(join(tmpdir(), 'nnport-corpus-'));
  const repo = join(root, 'repo');
  mkdirSync(join(repo, 'test/support'), { recursive: true });
  mkdirSync(join(repo, 'test/copy'), { recursive: true });
  copyFileSync(join(REPO_ROOT, 'test/support/corpus.ts'), join(repo, 'test/support/corpus.ts'));
  writeFileSync(join(repo, 'test/copy/needs-corpus.test.ts'), TEST);
  writeFileSync(join(repo, 'package.json'), '{ "type": "module" }');
  writeFileSync(join(repo, 'vitest.config.ts'), "import { defineConfig } from 'vitest/config';\nexport default defineConfig({ test: { include: ['test/copy/*.test.ts'] } });\n");
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(repo, 'node_modules'));
  mkdirSync(join(root, 'shared/corpus/onnx'), { recursive: true });
  writeFileSync(join(root, 'shared/corpus/onnx/model.onnx'), Uint8Array.of(8, 7));
  return { root, repo };
}

function vitest(repo: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/vitest/vitest.mjs'), 'run'], { cwd: repo, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

describe('corpus files', () => {
  it('a test passes with its corpus file and fails when the file is deleted', { timeout: 240_000 }, () => {
    const { root, repo } = layout();
    try {
      const ok = vitest(repo);
      expect(ok.status, ok.out).toBe(0);
      rmSync(join(root, 'shared/corpus/onnx/model.onnx'));
      const gone = vitest(repo);
      expect(gone.status, gone.out).toBe(1);
      expect(gone.out).toMatch(/corpus file missing: \.\.\/shared\/corpus\/onnx\/model\.onnx/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
