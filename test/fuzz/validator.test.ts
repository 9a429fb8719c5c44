import { runTarget } from './run';

describe('fuzz: FileValidator', () => {
  it.each(['validator', 'validator-bytes'])('%s', (name) => runTarget(name));
});
