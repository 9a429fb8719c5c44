import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/**
 * A full garbage collection, for heap figures that mean something. Without `--expose-gc` the flag is set at run
 * time and the function taken from a fresh context (Node's documented way to reach it after start-up).
 */
export function gcFunction(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Heap and array-buffer memory in use after a full collection, bytes. */
export function liveBytes(gc: () => void): number {
  // V8 frees array buffers found dead by one full GC on a sweeper thread, finished at the start of the next: the
  // second call makes arrayBuffers exact, so garbage left by earlier suites in a reused jest worker is not counted
  // in the baseline and then released while a test measures.
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Heap in use after a full collection, bytes: the array buffers, freed by a background thread, left out. */
export function heapBytes(gc: () => void): number {
  gc();
  return process.memoryUsage().heapUsed;
}
