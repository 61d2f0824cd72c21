// Runs once before any test file: makes the torchvision fixtures that are neither committed nor
// cached, so that every test file using them finds them whatever order the files run in, and no
// two files export the same model into .fixtures-cache/ at the same time.
import { exportMissingTorchvision } from './torchvision-fixtures.js';

export default function setup(): void {
  exportMissingTorchvision();
}
