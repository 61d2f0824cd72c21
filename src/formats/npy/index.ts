export { detectNpy } from './detect.js';
export { readNpy } from './read.js';
export { writeNpy } from './write.js';
