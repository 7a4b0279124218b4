// Child process of the crash test (src/lake/crash.test.ts): `node --import tsx test/ingest-until-killed.ts
// DATA_DIR FILE` ingests FILE into the lake in DATA_DIR and, once the file's transaction has written posts,
// prints `mid-transaction` and blocks, so that the parent can SIGKILL it at a known point inside the
// transaction instead of guessing with a sleep.
import { ingestFile, Lake } from '../src/lake/index.js';

const [dataDir, file] = process.argv.slice(2);
if (dataDir === undefined || file === undefined) throw new Error('usage: DATA_DIR FILE');
const lake = await Lake.open(dataDir);
await ingestFile(lake, file, {
  observedAt: new Date('2025-06-01T00:00:00Z'),
  progress: {
    update(_done, _total, label) {
      // Announced before the hashtags step, so posts and snapshots are written: the transaction holds
      // thousands of uncommitted rows.
      if (label?.endsWith(': hashtags')) {
        process.stdout.write('mid-transaction\n');
        // Block the thread (not the event loop's timers) so the commit can never be reached.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
      }
    },
    finish() {},
  },
});
process.stdout.write('committed\n');
lake.close();
