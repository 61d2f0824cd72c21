// Fixtures made by a committed script under scripts/fixtures/ that writes one folder per net with a
// `done` stamp holding the script's SHA-256 (scripts/fixtures/fixture_dirs.py): made again with
// Debian's Python when a folder is missing or the script changed since.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './corpus.js';

/** Run scripts/fixtures/<script> --out .fixtures-cache/<cache> unless every net's stamp is current; returns the cache folder. */
export function ensureScriptFixtures(script: string, cache: string, nets: readonly string[]): string {
  const path = join(REPO_ROOT, 'scripts/fixtures', script);
  const dir = join(REPO_ROOT, '.fixtures-cache', cache);
  const stamp = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (nets.every((n) => existsSync(join(dir, n, 'done')) && readFileSync(join(dir, n, 'done'), 'utf8') === stamp)) return dir;
  const r = spawnSync('/usr/bin/python3', [path, '--out', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr.slice(-2000)}`);
  return dir;
}
