// Runs once before any test file: makes the torchvision fixtures that are neither committed nor
// cached, so that every test file using them finds them whatever order the files run in, and no
// two files export the same model into .fixtures-cache/ at the same time.
// The run's temporary folder is run-temp-dir.ts (the conformance config uses it alone: its
// suites need no torchvision fixture).
import { exportMissingTorchvision } from './torchvision-fixtures.js';
import runTempDir from './run-temp-dir.js';

export default function setup(): () => void {
  const removeTempDir = runTempDir();
  try {
    exportMissingTorchvision();
  } catch (e) {
    removeTempDir();
    throw e;
  }
  return removeTempDir;
}
