#!/usr/bin/env node
// The installed CLI runs the compiled library; `npm ci` builds it through the `prepare` script.
import { main } from '../dist/cli/index.js';

process.exitCode = await main(process.argv.slice(2));
