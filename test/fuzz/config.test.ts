import { runTarget } from './run';

describe('fuzz: config and dataset schema parsers', () => {
  it.each(['config-json', 'config-mutated', 'config-context', 'dataset-schema'])('%s', (name) =>
    runTarget(name),
  );
});
