#!/usr/bin/env node
// The package `bin`: runs the TypeScript CLI through tsx, so there is no build step.
require('tsx/cjs/api').register();
require('./devmlops.ts');
