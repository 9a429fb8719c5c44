#!/usr/bin/env node
// The package `bin`: runs the TypeScript CLI through tsx, so there is no build step.
// The SDK warns on every Node 20 run that its 2027 releases will need Node 22; the CLI works on both, and the
// warning would bury the CLI's own output. README says which Node versions are supported.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('tsx/cjs/api').register();
require('./devmlops.ts');
