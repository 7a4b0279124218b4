import { describe, expect, it } from 'vitest';
import { Random, ValidationError } from '../core/index.js';
import { parsePolicyPack } from './pack.js';
import { PolicyPenalty, withoutCues } from './penalty.js';
import { screenCandidates } from './screen.js';
import { Policy } from './policy.js';

const policy = Policy.compile([
  parsePolicyPack(
    `format: tkllm-policy/1
name: t
rules:
  - { id: banned, kind: banned, why: w, terms: [kill you] }
  - { id: rage, kind: controversy, severity: info, why: rage bait, terms: [fight me] }
  - { id: misinfo, kind: misinformation, severity: medium, why: health claim, terms: [miracle cure] }
  - { id: topic, kind: sensitive, severity: medium, why: violence, terms: [shooting] }
  - { id: swear, kind: sensitive, severity: high, why: profanity, terms: [darn] }
`,
    't.yaml',
  ),
]);
const penalty = new PolicyPenalty();

describe('PolicyPenalty', () => {
  it('leaves a clean candidate’s V as it is', () => {
    expect(penalty.apply(0.7, policy.check('a clean hook'))).toEqual({
      blocked: false,
      v: 0.7,
      factor: 1,
      reasons: [],
    });
  });

  it('blocks a candidate with a banned term, with V 0 and the reason', () => {
    const result = penalty.apply(0.9, policy.check('I will kill you'));
    expect(result).toMatchObject({ blocked: true, v: 0, factor: 0 });
    expect(result.reasons[0]).toMatch(/^t\/banned \(banned, block\): "kill you"/);
  });

  it('weighs misinformation cues more than sensitive topics of the same severity', () => {
    const cue = penalty.apply(0.8, policy.check('a miracle cure'));
    const topic = penalty.apply(0.8, policy.check('a shooting'));
    // medium = 0.25; cues cost 1.5 times as much: 0.8 * (1 - 0.375) and 0.8 * (1 - 0.25).
    expect(cue.v).toBeCloseTo(0.5, 10);
    expect(topic.v).toBeCloseTo(0.6, 10);
  });

  it('penalises even an info-level controversy cue', () => {
    expect(penalty.apply(0.8, policy.check('fight me')).v).toBeCloseTo(0.72, 10);
  });

  it('never lets a cue raise V above the score of the same text without it', () => {
    const random = new Random(11);
    for (let i = 0; i < 200; i++) {
      const withCue = random.next();
      const without = random.next();
      const text = random.next() < 0.5 ? 'fight me, this miracle cure works' : 'fight me';
      const { v } = penalty.apply(withCue, policy.check(text), { vWithoutCues: without });
      expect(v).toBeLessThan(Math.min(withCue, without) + 1e-12);
      if (Math.min(withCue, without) > 0) expect(v).toBeLessThan(Math.min(withCue, without));
    }
  });

  it('blocks when compounding hits push brand safety under `blockBelow`', () => {
    // high (0.5), a medium cue (0.375) and medium (0.25): 0.5 * 0.625 * 0.75 = 0.234.
    const verdict = policy.check('darn, a miracle cure and a shooting');
    expect(penalty.apply(0.5, verdict)).toMatchObject({ blocked: false, factor: 0.234375 });
    expect(new PolicyPenalty({ blockBelow: 0.25 }).apply(0.5, verdict)).toMatchObject({
      blocked: true,
      v: 0,
    });
  });

  it('rejects options and scores outside their ranges', () => {
    expect(() => new PolicyPenalty({ cueMultiplier: 0.5 })).toThrow(/never rewarded/);
    expect(() => new PolicyPenalty({ blockBelow: 2 })).toThrow(ValidationError);
    expect(() => penalty.apply(1.5, policy.check('x'))).toThrow(/`v` must be a ViralScore/);
    expect(() => penalty.apply(0.5, policy.check('x'), { vWithoutCues: -1 })).toThrow(/vWithoutCues/);
  });
});

describe('withoutCues', () => {
  it('cuts controversy and misinformation spans out and keeps the rest', () => {
    const text = 'Fight me: this miracle cure and a shooting';
    expect(withoutCues(text, policy.check(text))).toBe(': this and a shooting');
    expect(withoutCues('clean', policy.check('clean'))).toBe('clean');
  });
});

describe('screenCandidates', () => {
  it('checks and penalises each candidate, in order, marking the blocked ones', () => {
    const screened = screenCandidates(
      [
        { text: 'a clean hook', v: 0.5, subscores: { H: 1 } },
        { text: 'I will kill you', v: 0.9 },
        { text: 'this miracle cure', v: 0.9, vWithoutCues: 0.4 },
      ],
      { policy },
    );
    expect(screened.map((c) => c.blocked)).toEqual([false, true, false]);
    expect(screened[0]).toMatchObject({ text: 'a clean hook', subscores: { H: 1 }, penalty: { v: 0.5 } });
    // The cue's lift is taken away first (0.4, not 0.9), then the cue's cost: 0.4 * (1 - 0.375).
    expect(screened[2].penalty.v).toBeCloseTo(0.25, 10);
  });
});
