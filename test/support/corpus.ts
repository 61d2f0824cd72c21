// The shared corpus of real model files, found in one place: `../shared/corpus` beside the
// repository root (never an absolute path). A missing file fails the test that needs it; it
// never turns into a silent pass.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CORPUS_ROOT = resolve(REPO_ROOT, '../shared/corpus');

/** Absolute path of a corpus file or folder; throws (failing the test) when it is missing. */
export function corpusPath(relative: string): string {
  const p = join(CORPUS_ROOT, relative);
  if (!existsSync(p)) throw new Error(`corpus file missing: ../shared/corpus/${relative} (looked in ${CORPUS_ROOT})`);
  return p;
}

/** Every file under a corpus folder (recursively), sorted; throws when the folder is missing or empty. */
export function corpusFiles(relative = ''): string[] {
  const root = corpusPath(relative);
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  const out = walk(root).sort();
  if (!out.length) throw new Error(`corpus folder is empty: ../shared/corpus/${relative}`);
  return out;
}
