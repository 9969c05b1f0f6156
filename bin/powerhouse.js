#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so `npx powerhouse` works without a build step.
require('tsx/cjs');
require('../cli/main.ts').main();
