import { describe, expect, it } from 'vitest';
import { ConfigError, ValidationError } from '../core/index.js';
import { canonicalize } from './canonical.js';
import { parsePolicyPack } from './pack.js';
import { checkPolicy, Policy, termPatterns } from './policy.js';

const pack = parsePolicyPack(
  `format: tkllm-policy/1
name: test
rules:
  - id: threat
    kind: banned
    why: threats
    terms: [kill you, kill yourself]
  - id: cure
    kind: misinformation
    severity: high
    why: health claims
    terms: [miracle cure, café cure]
  - id: shooting
    kind: sensitive
    severity: medium
    why: violence
    terms: [shooting]
    allow: [shooting a video]
  - id: alcohol
    kind: sensitive
    severity: low
    why: alcohol
    terms: [vodka]
    severityByRegion: { SA: block }
    exceptRegions: [FR]
  - id: de-only
    kind: sensitive
    severity: high
    why: illegal in DE
    regions: [DE]
    terms: [forbidden symbol]
  - id: prefix
    kind: controversy
    severity: low
    why: rage bait
    terms: ["scam*"]
`,
  'test.yaml',
);
const policy = Policy.compile([pack]);
const rules = (text: string, region?: string) =>
  policy.check(text, region === undefined ? {} : { region }).hits.map((h) => h.ruleId);

describe('canonical text', () => {
  it('folds case, compatibility forms, accents, look-alikes, l33t and format characters', () => {
    expect(canonicalize('Ｋｉｌｌ')).toBe('kiii');
    expect(canonicalize('Café ﬁne')).toBe('cafe fine');
    expect(canonicalize('k1ll')).toBe('kiii');
    expect(canonicalize('kі\u200bll')).toBe('kiii'); // Cyrillic і and a zero-width space
    expect(canonicalize('a$$ and @ss')).toBe('ass and ass');
    expect(canonicalize('kill!!! $5')).toBe('kiii 5');
    // Digits are letters inside a word with letters, and stay digits in a number.
    expect(canonicalize('4ss 1d10t b4d l4l 141 1337 5 ex $h1t')).toBe('ass idiot bad iai 141 1337 5 ex shit');
    expect(canonicalize('e\u0301 -- ...  x')).toBe('e x');
  });
});

describe('Policy.check', () => {
  it.each([
    ['I will kill you', 'kill you'],
    ['i will KILL YOU', 'KILL YOU'],
    ['k1ll y0u', 'k1ll y0u'],
    ['k i l l y o u', 'k i l l y o u'],
    ['K.I.L.L you!', 'K.I.L.L you'],
    ['k-i-l-l-y-o-u', 'k-i-l-l-y-o-u'],
    ['Ｋｉｌｌ　ｙｏｕ', 'Ｋｉｌｌ　ｙｏｕ'],
    ['kіll yоu', 'kіll yоu'], // Cyrillic і and о
    ['ki\u200bll you', 'ki\u200bll you'],
    ['k!ll you', 'k!ll you'],
    ['go kill-yourself', 'kill-yourself'],
    ['killyourself', 'killyourself'],
  ])('finds a banned phrase in %j and reports the source text', (text, matched) => {
    const verdict = policy.check(text);
    expect(verdict.blocked).toBe(true);
    expect(verdict.brandSafety).toBe(0);
    const hit = verdict.hits.find((h) => h.ruleId === 'test/threat')!;
    expect(hit.text).toBe(matched);
    expect(text.slice(hit.span[0], hit.span[1])).toBe(matched);
  });

  it.each(['skill you', 'kill youth', 'killer', 'kill, then you', 'he is ex-military'])(
    'respects word boundaries in %j',
    (text) => {
      expect(rules(text)).toEqual([]);
    },
  );

  it('matches accented terms with or without their accents', () => {
    expect(rules('the cafe cure')).toEqual(['test/cure']);
    expect(rules('the CAFÉ CURE')).toEqual(['test/cure']);
  });

  it('gives each hit its rule, pack, kind, severity, span, text and reason', () => {
    const verdict = policy.check('Try this Miracle Cure today');
    expect(verdict).toEqual({
      hits: [
        {
          ruleId: 'test/cure',
          pack: 'test',
          kind: 'misinformation',
          category: 'misinformation',
          severity: 'high',
          span: [9, 21],
          text: 'Miracle Cure',
          term: 'miracle cure',
          why: 'health claims',
        },
      ],
      brandSafety: 0.5,
      blocked: false,
    });
  });

  it('reports the whole word for a term with `*` and finds every occurrence', () => {
    const hits = policy.check('scammers scam; a scam').hits;
    expect(hits.map((h) => h.text)).toEqual(['scammers', 'scam', 'scam']);
  });

  it('drops hits inside an allowed phrase', () => {
    expect(rules('we are shooting a video today')).toEqual([]);
    expect(rules('a shooting downtown')).toEqual(['test/shooting']);
  });

  it('applies region-only rules, exceptions and per-region severities', () => {
    expect(rules('a forbidden symbol')).toEqual([]);
    expect(rules('a forbidden symbol', 'de')).toEqual(['test/de-only']);
    expect(policy.check('vodka', { region: 'US' }).hits[0]?.severity).toBe('low');
    expect(policy.check('vodka', { region: 'SA' }).blocked).toBe(true);
    expect(rules('vodka', 'FR')).toEqual([]);
    expect(() => policy.check('x', { region: 'not a region' })).toThrow(ValidationError);
  });

  it('scores brand safety as the product over distinct rules of (1 - weight)', () => {
    // high (0.5) and medium (0.25), each counted once however often it fires: 0.5 * 0.75.
    expect(policy.check('miracle cure, miracle cure, a shooting').brandSafety).toBeCloseTo(0.375, 10);
    expect(policy.check('a clean script').brandSafety).toBe(1);
  });

  it('lets a later pack override or disable a rule of another pack', () => {
    const brand = parsePolicyPack(
      `format: tkllm-policy/1
name: brand
overrides:
  - { rule: test/shooting, disabled: true }
  - { rule: test/alcohol, severity: high }
`,
      'brand.yaml',
    );
    const both = Policy.compile([pack, brand]);
    expect(both.check('a shooting').hits).toEqual([]);
    expect(both.check('vodka').hits[0]?.severity).toBe('high');
    const unknown = parsePolicyPack(
      'format: tkllm-policy/1\nname: b\noverrides: [{ rule: test/nope, disabled: true }]',
      'b.yaml',
    );
    expect(() => Policy.compile([pack, unknown])).toThrow(ConfigError);
    expect(() => Policy.compile([pack, pack])).toThrow(/two policy packs are named "test"/);
    const milder = parsePolicyPack(
      'format: tkllm-policy/1\nname: b\noverrides: [{ rule: test/threat, severity: low }]',
      'b.yaml',
    );
    expect(() => Policy.compile([pack, milder])).toThrow(/banned rule/);
  });

  it('checks against the shipped default pack when no pack is given', () => {
    const verdict = checkPolicy('Guaranteed returns with this one trick', { region: 'US' });
    expect(verdict.hits.map((h) => h.ruleId)).toEqual(['default/misinformation.financial']);
    expect(checkPolicy('try the blackout challenge').blocked).toBe(true);
    expect(checkPolicy('Three hooks that made my last video travel').hits).toEqual([]);
  });
});

describe('termPatterns', () => {
  it('writes each term as written, run together and spelled out, with its word boundaries', () => {
    expect(termPatterns('self-harm')).toEqual(
      expect.arrayContaining([
        ' seif harm ',
        ' seifharm ',
        ' s e i f h a r m ',
        ' s e i f harm ',
        ' seif h a r m ',
      ]),
    );
    expect(termPatterns('scam*')).toEqual(expect.arrayContaining([' scam', ' s c a m']));
  });
});
