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
  // Each full GC also ages compiled code and flushes what has not run lately: in a jest worker that has loaded the
  // SDK and CDK for earlier suites that frees megabytes per collection, which would hide memory a test keeps.
  v8.setFlagsFromString('--no-flush-bytecode');
  return vm.runInNewContext('gc') as () => void;
}

/**
 * A baseline for liveBytes: collects until the figure stops falling (code flushed by earlier collections, array
 * buffers released by the sweeper), so what a test later measures is what it keeps, not what the worker sheds.
 */
export function settledLiveBytes(gc: () => void): number {
  let last = liveBytes(gc);
  for (let i = 0; i < 10; i++) {
    const now = liveBytes(gc);
    if (last - now < 256 * 1024) return now;
    last = now;
  }
  return last;
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
