import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { Lake } from '../lake/index.js';
import { readAudit } from '../safety/index.js';
import { addPolicyCommands } from './policy-commands.js';

const dir = mkdtempSync(join(tmpdir(), 'tkllm-policy-cli-'));
afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<string> {
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  const program = new Command('tkllm').option('--data-dir <dir>', 'data', dir).exitOverride();
  addPolicyCommands(program);
  await program.parseAsync(argv, { from: 'user' });
  return out.join('\n');
}

it('checks a text and prints each hit with its rule and reason', async () => {
  const out = await run('policy', 'check', 'This', 'm1racle', 'cure', 'and', 'vodka', '--region', 'SA');
  expect(out).toMatch(/^BLOCKED {2}brand safety 0\.00 {2}region SA {2}2 hit\(s\)/);
  expect(out).toMatch(/high {3}default\/misinformation\.medical {2}"m1racle cure" at 5-17/);
  expect(out).toMatch(/block {2}default\/alcohol {2}"vodka"/);
});

it('prints JSON, adds a brand pack and records the check when asked', async () => {
  const pack = join(dir, 'brand.yaml');
  writeFileSync(
    pack,
    'format: tkllm-policy/1\nname: brand\nrules:\n  - { id: rival, kind: brand, severity: high, why: no rivals, terms: [globex] }\n',
  );
  const verdict = JSON.parse(
    await run('policy', 'check', 'Globex is great', '--pack', pack, '--json', '--audit'),
  ) as {
    hits: { ruleId: string }[];
    brandSafety: number;
  };
  expect(verdict.hits.map((h) => h.ruleId)).toEqual(['brand/rival']);
  expect(verdict.brandSafety).toBe(0.5);
  const lake = await Lake.open(dir);
  try {
    expect((await readAudit(lake)).map((r) => r.candidate)).toEqual(['Globex is great']);
  } finally {
    lake.close();
  }
});

it('names the file and the line of a bad pack', async () => {
  const pack = join(dir, 'bad.yaml');
  writeFileSync(
    pack,
    'format: tkllm-policy/1\nname: bad\nrules:\n  - id: x\n    kind: brand\n    severity: awful\n',
  );
  await expect(run('policy', 'validate', pack)).rejects.toThrow(
    `${pack} line 6: \`rules[0].severity\` is "awful"`,
  );
});

it('validates good pack files and counts their rules', async () => {
  const out = await run(
    'policy',
    'validate',
    join(import.meta.dirname, '../../data/policy/examples/brand-example.yaml'),
  );
  expect(out).toMatch(/pack "acme-drinks", 3 rule\(s\), 7 term\(s\), 2 override\(s\)/);
});
