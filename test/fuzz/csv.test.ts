import { runTarget } from './run';

describe('fuzz: CsvReader', () => {
  it.each(['csv-reader', 'csv-roundtrip', 'csv-long-lines'])('%s', (name) => runTarget(name));
});
