import { runTarget } from './run';

describe('fuzz: CaptureParser', () => {
  it('capture', () => runTarget('capture'));
});
