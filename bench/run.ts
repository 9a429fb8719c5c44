import { demoBench, printDemoBench } from './demo';
import { driftBench, printDriftBench } from './drift';
import { inferenceBench, printInferenceBench } from './inference';
import { prepareBench, printPrepareBench } from './prepare';
import { printReliabilityBench, reliabilityBench } from './reliability';
import { printValidationBench, validationBench } from './validation';

/**
 * `npm run bench`: runs every benchmark in turn. A bench is a name and a function that runs and prints itself;
 * `npm run bench -- NAME...` runs only those named.
 */
const BENCHES: Record<string, () => Promise<void>> = {
  validation: async () => printValidationBench(await validationBench()),
  prepare: async () => printPrepareBench(await prepareBench()),
  drift: async () => printDriftBench(await driftBench()),
  demo: async () => printDemoBench(await demoBench()),
  inference: async () => printInferenceBench(await inferenceBench()),
  reliability: async () => printReliabilityBench(await reliabilityBench()),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !(name in BENCHES));
  if (unknown.length > 0)
    throw new Error(`unknown bench ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
  for (const [name, bench] of Object.entries(BENCHES)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    await bench();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
