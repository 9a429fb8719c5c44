// Runs one memory scenario (test/fuzz/memory-scenarios.ts) in this fresh process and prints its result as JSON.
require('tsx/cjs/api').register();
const { scenarios } = require('./memory-scenarios.ts');
const name = process.argv[2];
if (!Object.hasOwn(scenarios, name)) {
  process.stderr.write(`unknown scenario ${name}\n`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(scenarios[name]()) + '\n');
