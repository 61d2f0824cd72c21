// Fixtures made by a committed script under scripts/fixtures/ that writes one folder per net with a
// `done` stamp holding the script's SHA-256, and of the fixture modules it imports
// (scripts/fixtures/fixture_dirs.py stamp()): made again with Debian's Python when a folder is
// missing or the script or a module it imports changed since.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './corpus.js';

/** Run scripts/fixtures/<script> --out .fixtures-cache/<cache> unless every net's stamp is current; returns the cache folder. */
export function ensureScriptFixtures(script: string, cache: string, nets: readonly string[]): string {
  const path = join(REPO_ROOT, 'scripts/fixtures', script);
  const dir = join(REPO_ROOT, '.fixtures-cache', cache);
  const stamp = scriptStamp(path);
  if (nets.every((n) => existsSync(join(dir, n, 'done')) && readFileSync(join(dir, n, 'done'), 'utf8') === stamp)) return dir;
  const r = spawnSync('/usr/bin/python3', [path, '--out', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr.slice(-2000)}`);
  return dir;
}

/**
 * The stamp fixture_dirs.py's stamp() writes: the SHA-256 of the script's bytes, then of each
 * fixture module it imports (`import m` / `from m import` of a sibling m.py, and theirs), sorted by name.
 */
export function scriptStamp(path: string): string {
  const here = dirname(path);
  const seen = new Set<string>();
  const todo = [path];
  while (todo.length) {
    for (const line of readFileSync(todo.pop()!, 'utf8').split('\n')) {
      const m = /^(?:from|import)\s+(\w+)/.exec(line);
      const file = m ? join(here, `${m[1]}.py`) : undefined;
      if (m && file && existsSync(file) && !seen.has(m[1]!)) {
        seen.add(m[1]!);
        todo.push(file);
      }
    }
  }
  const h = createHash('sha256').update(readFileSync(path));
  for (const m of [...seen].sort()) h.update(readFileSync(join(here, `${m}.py`)));
  return h.digest('hex');
}
