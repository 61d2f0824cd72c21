// Node only: read a checkpoint from disk, unpickling data.pkl while the tensors still load.
import { readFileParallel } from '../../io/read-file.js';
import type { WeightsModel } from '../model.js';
import { readPytorch, readPytorchZip, unpickleZipHead, type EarlyPickle, type PytorchReadOptions } from './read.js';

/**
 * readPytorch on a file path (Node). For zip checkpoints, data.pkl (torch writes it first) is
 * unpickled as soon as the first chunk arrives, while the thread pool keeps reading the tensors.
 */
export async function readPytorchFile(path: string, options: PytorchReadOptions = {}): Promise<WeightsModel> {
  let early: EarlyPickle | undefined;
  const bytes = await readFileParallel(path, 8, (head) => {
    early = unpickleZipHead(head, path);
  });
  const opts = { fileName: path, ...options };
  return early ? readPytorchZip(bytes, opts, early) : readPytorch(bytes, opts);
}
