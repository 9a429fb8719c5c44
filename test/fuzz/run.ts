import fc from 'fast-check';
import { target } from './targets';

/**
 * The seed of the normal test run: fixed, so a failure replays exactly (`npm run fuzz -- --target NAME --seed
 * 20261127 --path P` with the path fast-check prints).
 */
export const TEST_SEED = 20261127;

/** Runs a target's property for its test-run cases with the fixed seed; fast-check throws the counterexample. */
export function runTarget(name: string): void {
  const t = target(name);
  fc.assert(t.property(), { seed: TEST_SEED, numRuns: t.testRuns });
}
