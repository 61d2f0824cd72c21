// The per-run temporary folder of a vitest run (a globalSetup of both configs): TMPDIR
// (os.tmpdir() in the test workers, the CLI processes, Python and Chromium they start) points
// into one folder that is removed when the run ends, so what the tests write (some models are
// 100+ MB) does not pile up in /tmp.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'nnport-test-run-'));
  // like /tmp itself: the tests that run the CLI as another user (permission errors) reach into it
  chmodSync(dir, 0o1777);
  for (const key of ['TMPDIR', 'TMP', 'TEMP']) process.env[key] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
