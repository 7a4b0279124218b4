import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { loadStyleEmbeddings } from '../generate/index.js';
import { Lake } from '../lake/index.js';
import { lmVersions, snapshotLm } from '../lm/index.js';
import { addLmCommands } from './lm-commands.js';

const dir = mkdtempSync(join(tmpdir(), 'tkllm-cli-lm-'));
afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<string[]> {
  const program = new Command('tkllm').option('--data-dir <dir>', 'data', dir).exitOverride();
  addLmCommands(program);
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  await program.parseAsync(args, { from: 'user' });
  return out;
}

const tiny = ['--vocab-size', '300', '--d-model', '16', '--layers', '1', '--heads', '2', '--steps', '3'];

it('trains on the bundled sample, prints both perplexities, generates, and compares creator styles', async () => {
  const out = await run(['lm', 'demo', ...tiny, '--batch-size', '8', '--min-posts', '2', '--json']);
  const summary = JSON.parse(out[0]) as Record<string, number>;
  expect(summary.steps).toBe(3);
  expect(summary.perplexity).toBeGreaterThan(1);
  expect(summary.baselinePerplexity).toBeGreaterThan(1);
  expect(summary.trainCaptions).toBeGreaterThan(summary.heldOutCaptions);

  const modelDir = join(dir, 'lm-demo', 'models', 'lm');
  const generated = await run([
    'lm',
    'generate',
    '--model-dir',
    modelDir,
    '-n',
    '2',
    '--max-tokens',
    '5',
    '--json',
  ]);
  const result = JSON.parse(generated[0]) as { candidates: { tokens: number[]; logProbs: number[] }[] };
  expect(result.candidates).toHaveLength(2);
  for (const c of result.candidates) expect(c.logProbs).toHaveLength(c.tokens.length);

  const lake = await Lake.open(join(dir, 'lm-demo'));
  const stored = await loadStyleEmbeddings(lake, 'lm');
  lake.close();
  expect(stored.length).toBeGreaterThan(2);
  const creator = stored[0].creator;
  const near = await run([
    '--data-dir',
    join(dir, 'lm-demo'),
    'style',
    'similar',
    creator,
    '--json',
    '--top',
    '2',
  ]);
  const similar = JSON.parse(near[0]) as { creator: string; similarity: number }[];
  expect(similar).toHaveLength(2);
  expect(similar[0].similarity).toBeGreaterThanOrEqual(similar[1].similarity);
  await expect(run(['--data-dir', join(dir, 'lm-demo'), 'style', 'similar', 'nobody'])).rejects.toThrow(
    /"nobody"/,
  );
});

it('saves a retrain as a new LM version once versions have begun, so that it can be rolled back', async () => {
  const data = join(dir, 'lm-demo');
  const modelDir = join(data, 'models', 'lm');
  expect(snapshotLm(modelDir, 'initial')).toBe('v1');
  await run([
    '--data-dir',
    data,
    'lm',
    'train',
    ...tiny,
    '--batch-size',
    '8',
    '--direct-order',
    '0',
    '--json',
  ]);
  const { versions, active } = lmVersions(modelDir);
  expect(active).toBe('v2');
  expect(versions.map((v) => [v.version, v.kind, v.parent])).toEqual([
    ['v1', 'initial', null],
    ['v2', 'train', 'v1'],
  ]);
  expect(versions[1].details.perplexity).toBeGreaterThan(1);
  for (const f of ['model.safetensors', 'tokenizer.json', 'creators.json', 'config.json'])
    expect(readFileSync(join(modelDir, 'versions', 'v2', f))).toEqual(readFileSync(join(modelDir, f)));
});
