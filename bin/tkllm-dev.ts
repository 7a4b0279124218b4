// Runs the CLI from the working tree's TypeScript, without a build: `npx tsx bin/tkllm-dev.ts ARGS`.
// The installed `tkllm` (bin/tkllm.js) runs the compiled `dist/` instead.
import { main } from '../src/cli/index.js';

process.exitCode = await main(process.argv.slice(2));
