import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { ingestFile } from './ingest.js';
import { lakeStats } from './stats.js';

let t: Awaited<ReturnType<typeof tempLake>>;
beforeEach(async () => {
  t = await tempLake();
});
afterEach(() => t.cleanup());

const child = fileURLToPath(new URL('../../test/ingest-until-killed.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

/** A Research API CSV of `rows` posts; ids start at `first`, so two files can overlap or not. */
function researchCsv(first: number, rows: number): string {
  const lines = ['id,username,video_description,create_time,view_count,share_count,hashtag_names'];
  for (let i = first; i < first + rows; i++)
    lines.push(
      `${i},user${i % 97},"clip ${i} #tag${i % 13}",${1_700_000_000 + i},${1000 + i},${i % 50},"a,b"`,
    );
  // One bad row, so the rejects table is written inside the transaction too.
  lines.push(`${first + rows},user0,bad,1700000000,lots,1,`);
  return lines.join('\n') + '\n';
}

/** Runs the child on `file` and SIGKILLs it once it reports that it is inside the file's transaction. */
function ingestAndKill(dataDir: string, file: string): Promise<{ signal: string | null; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, dataDir, file], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      output += line + '\n';
      if (line === 'mid-transaction') proc.kill('SIGKILL');
    });
    proc.on('error', reject);
    proc.on('exit', (_code, signal) => resolve({ signal, output }));
  });
}

it('leaves the lake exactly as before a file when the process is killed inside its transaction', async () => {
  const data = `${t.dir}/data`;
  await ingestFile(t.lake, t.write('first.csv', researchCsv(1, 500)), {
    observedAt: new Date('2025-05-01T00:00:00Z'),
  });
  const before = await t.lake.tableCounts();
  const statsBefore = await lakeStats(t.lake);
  expect(before).toMatchObject({ posts: 500, rejects: 1 });
  t.lake.close();

  // Overlapping ids: the killed file both updates existing posts and inserts new ones.
  const big = t.write('big.csv', researchCsv(251, 30_000));
  const { signal, output } = await ingestAndKill(data, big);
  expect(output).toContain('mid-transaction');
  expect(output).not.toContain('committed');
  expect(signal).toBe('SIGKILL');

  const lake = await t.reopen();
  expect(await lake.tableCounts()).toEqual(before);
  expect(await lakeStats(lake)).toEqual(statsBefore);
  expect(await lake.count(`SELECT count(*) FROM ingested_files WHERE file LIKE '%big.csv'`)).toBe(0);
  // The lake is usable: the same file now goes in whole.
  expect(await ingestFile(lake, big)).toMatchObject({ rowsAccepted: 30_000, newPosts: 30_000 - 250 });
});
