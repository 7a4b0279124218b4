import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lake } from '../src/lake/index.js';

/** A fresh lake in a temporary directory with a helper to write fixture files beside it (tests only). */
export async function tempLake(): Promise<{
  lake: Lake;
  dir: string;
  write: (name: string, content: string) => string;
  reopen: () => Promise<Lake>;
  cleanup: () => void;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'tkllm-lake-test-'));
  const holder = { lake: await Lake.open(join(dir, 'data')) };
  return {
    get lake() {
      return holder.lake;
    },
    dir,
    write: (name, content) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    },
    reopen: async () => {
      holder.lake.close();
      holder.lake = await Lake.open(join(dir, 'data'));
      return holder.lake;
    },
    cleanup: () => {
      holder.lake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
