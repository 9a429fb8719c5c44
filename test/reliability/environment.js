const { TestEnvironment } = require('jest-environment-node');

/**
 * jest runs each test file in its own vm context, whose Error is not the one Node's own modules (net, http) create
 * their errors with. The AWS SDK decides whether to retry with `error instanceof Error`: in a plain jest context a
 * reset connection fails that check, is wrapped as "AWS SDK error wrapper for ..." without its code, and is never
 * retried, unlike in Lambda. The reliability tests measure the retries, so they share Node's error constructors.
 */
class NodeRealmErrorsEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of [
      'Error',
      'TypeError',
      'RangeError',
      'SyntaxError',
      'ReferenceError',
      'EvalError',
      'URIError',
    ])
      this.global[name] = globalThis[name];
  }
}

module.exports = NodeRealmErrorsEnvironment;
