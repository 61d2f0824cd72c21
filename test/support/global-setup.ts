// Runs once before any test file: makes the torchvision fixtures that are neither committed nor
// cached, so that every test file using them finds them whatever order the files run in, and no
// two files export the same model into .fixtures-cache/ at the same time.
// It also gives the run one temporary folder: TMPDIR (os.tmpdir() in the test workers, the CLI
// processes, Python and Chromium they start) points into it, and it is removed when the run
// ends, so the folders the tests make (some hold 100+ MB of written models) do not pile up in /tmp.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportMissingTorchvision } from './torchvision-fixtures.js';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'nnport-test-run-'));
  // like /tmp itself: the tests that run the CLI as another user (permission errors) reach into it
  chmodSync(dir, 0o1777);
  for (const key of ['TMPDIR', 'TMP', 'TEMP']) process.env[key] = dir;
  exportMissingTorchvision();
  return () => rmSync(dir, { recursive: true, force: true });
}
