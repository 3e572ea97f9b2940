export { createTailer } from './createTailer.js';
export type { FileCheckpoint, OversizedLine, TailBatch, Tailer, TailerOptions, TailLine } from './types.js';
