import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { prepareWorkspace } from '../generate/index.js';
import { addGenerateCommands } from './generate-commands.js';

const dir = mkdtempSync(join(tmpdir(), 'tkllm-cli-generate-'));
beforeAll(
  () =>
    prepareWorkspace(dir, {
      lm: { vocabSize: 300, dModel: 16, nLayers: 1, nHeads: 2, steps: 10, batchSize: 8 },
      estimator: { epochs: 1, members: 1 },
    }),
  120_000,
);
afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<string> {
  const program = new Command('tkllm').option('--data-dir <dir>', 'data', dir).exitOverride();
  addGenerateCommands(program);
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  await program.parseAsync(args, { from: 'user' });
  return out.join('\n');
}

it('generates, reranks and audits N candidates; prints them best first', async () => {
  const r = JSON.parse(await run(['generate', 'How to', '-n', '6', '--seconds', '15', '--json'])) as {
    sampled: number;
    auditId: string;
    candidates: { score: number; v: number; subscores: Record<string, number> }[];
    settings: { words: number };
  };
  expect(r.sampled).toBe(6);
  expect(r.settings.words).toBe(37);
  expect(r.auditId).toMatch(/^[0-9a-f-]{36}$/);
  for (let i = 1; i < r.candidates.length; i++)
    expect(r.candidates[i - 1].score).toBeGreaterThanOrEqual(r.candidates[i].score);
  const text = await run(['generate', 'How to', '-n', '4', '--rad', '2', '--ban', 'video']);
  expect(text).toMatch(/candidates returned/);
  expect(text).toMatch(/RAD \d+(\.\d)? µs\/token/);
});

it('checks a draft: the weakest subscore with suggestions and the policy rule that fired', async () => {
  const g = JSON.parse(
    await run(['check', 'This miracle cure works, you will not believe it', '--json']),
  ) as {
    weakest: { label: string };
    policy: { warnings: { ruleId: string }[] };
  };
  expect(g.weakest.label).toMatch(/Strength|Intensity|Replicability|Trigger|Match/);
  expect(g.policy.warnings.length).toBeGreaterThan(0);
  expect(await run(['check', 'How to cook pasta'])).toMatch(/^weakest: \w+ \([EHRST] \d\.\d\d\)$/m);
});

it('evaluates generation in one table', async () => {
  const out = await run(['eval', 'generation', '--prompts', '2', '-n', '4', '--keep', '2']);
  expect(out).toMatch(/\| sampling\s+\|/);
  expect(out).toMatch(/\| rad\+rerank\s+\|/);
});

it('refuses bad flags with the flag named', async () => {
  await expect(run(['generate', 'x', '--seconds', '0'])).rejects.toThrow(/`--seconds` must be a number > 0/);
  await expect(run(['generate', 'x', '--creator', 'nobody'])).rejects.toThrow(/creator "nobody"/);
});
