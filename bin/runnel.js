#!/usr/bin/env node
// The `runnel` command: runs the compiled CLI (`npm run build` writes dist/).
import '../dist/src/cli/runnel.js';
