import { afterEach, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { auditSchema, readAudit, recordAudit } from './audit.js';
import { parsePolicyPack } from './pack.js';
import { PolicyPenalty } from './penalty.js';
import { Policy } from './policy.js';

const policy = Policy.compile([
  parsePolicyPack(
    'format: tkllm-policy/1\nname: t\nrules:\n  - { id: b, kind: banned, why: banned, terms: [kill you] }\n' +
      '  - { id: c, kind: misinformation, severity: high, why: claim, terms: [miracle cure] }\n',
    't.yaml',
  ),
]);
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

async function lake() {
  const t = await tempLake();
  cleanups.push(t.cleanup);
  return t;
}

const subscores = { E: 0.4, H: 0.9, R: 0.2, S: 0.5, T: 0.1 };

describe('the safety audit table', () => {
  it('records every candidate of a generation with V, subscores, hits and the block decision', async () => {
    const t = await lake();
    const texts = ['a clean hook', 'this miracle cure works', 'I will kill you'];
    const penalty = new PolicyPenalty();
    const candidates = texts.map((text, i) => {
      const verdict = policy.check(text, { region: 'US' });
      const result = penalty.apply(0.6 + i * 0.1, verdict);
      return { text, verdict, v: 0.6 + i * 0.1, subscores, penalty: result, returned: !result.blocked };
    });
    const id = await recordAudit(t.lake, {
      kind: 'generation',
      prompt: 'morning routine',
      creator: 'alice',
      region: 'US',
      candidates,
      details: { eta: 0.5 },
      at: new Date('2026-01-02T03:04:05.678Z'),
    });
    const rows = await readAudit(t.lake, { auditId: id });
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({
      auditId: id,
      candidateIndex: 0,
      kind: 'generation',
      recordedAt: '2026-01-02T03:04:05.678Z',
      creator: 'alice',
      region: 'US',
      prompt: 'morning routine',
      candidate: 'a clean hook',
      v: 0.6,
      vPenalised: 0.6,
      subscores,
      brandSafety: 1,
      hits: [],
      blocked: false,
      returned: true,
      details: { eta: 0.5 },
    });
    expect(rows[1].hits).toMatchObject([
      { ruleId: 't/c', severity: 'high', span: [5, 17], text: 'miracle cure' },
    ]);
    expect(rows[1].vPenalised).toBeCloseTo(0.7 * 0.25, 10);
    expect(rows[2]).toMatchObject({ blocked: true, returned: false, vPenalised: 0, brandSafety: 0 });
  });

  it('keeps the records of successive checks, across reopening the lake', async () => {
    const t = await lake();
    for (const text of ['one', 'two'])
      await recordAudit(t.lake, { kind: 'check', candidates: [{ text, verdict: policy.check(text) }] });
    const reopened = await t.reopen();
    const rows = await readAudit(reopened);
    expect(rows.map((r) => r.candidate).sort()).toEqual(['one', 'two']);
    expect(rows[0]).toMatchObject({ kind: 'check', v: null, subscores: null, prompt: null, returned: null });
    expect(await reopened.count("SELECT max(version) FROM component_schema WHERE component = 'safety'")).toBe(
      auditSchema.at(-1)!.version,
    );
  });

  it('writes nothing when a candidate is invalid, naming the candidate and the field', async () => {
    const t = await lake();
    const verdict = policy.check('x');
    await expect(
      recordAudit(t.lake, {
        kind: 'generation',
        candidates: [
          { text: 'fine', verdict, v: 0.5 },
          { text: 'bad', verdict, v: 1.5 },
        ],
      }),
    ).rejects.toThrow('audit candidate 1: `v` must be in [0, 1], got 1.5');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(
      recordAudit(t.lake, { kind: 'generation', candidates: [{ text: 'c', verdict, subscores: circular }] }),
    ).rejects.toThrow(/audit candidate 0: `subscores` cannot be stored as JSON/);
    expect(await readAudit(t.lake)).toEqual([]);
  });
});
