import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../core/index.js';
import {
  bannedTermsPack,
  defaultPolicyPacks,
  loadPolicyPack,
  parsePolicyPack,
  safeParsePolicyPack,
} from './pack.js';

const dir = mkdtempSync(join(tmpdir(), 'tkllm-pack-test-'));
function packFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const good = `format: tkllm-policy/1
name: brand
rules:
  - id: competitors
    kind: brand
    severity: high
    why: no competitor names
    terms: [globex, initech*]
    severityByRegion: { DE: block }
overrides:
  - rule: default/alcohol
    disabled: true
`;

function errorOf(work: () => unknown): ValidationError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('policy packs', () => {
  it('reads a YAML pack with its rules, regions and overrides', () => {
    const pack = loadPolicyPack(packFile('brand.yaml', good));
    expect(pack.name).toBe('brand');
    expect(pack.rules[0]).toMatchObject({
      id: 'competitors',
      kind: 'brand',
      category: 'brand',
      severity: 'high',
      terms: ['globex', 'initech*'],
      severityByRegion: { DE: 'block' },
      line: 4,
    });
    expect(pack.overrides).toEqual([{ rule: 'default/alcohol', disabled: true }]);
  });

  it('reads the same pack written as JSON', () => {
    const json = JSON.stringify({
      format: 'tkllm-policy/1',
      name: 'j',
      rules: [{ id: 'x', kind: 'banned', why: 'w', terms: ['bad'] }],
    });
    expect(loadPolicyPack(packFile('p.json', json)).rules[0]).toMatchObject({
      kind: 'banned',
      severity: 'block',
    });
  });

  it('ships a default pack with every kind of rule', () => {
    const [pack] = defaultPolicyPacks();
    expect(new Set(pack.rules.map((r) => r.kind))).toEqual(
      new Set(['banned', 'sensitive', 'misinformation', 'controversy']),
    );
    expect(pack.rules.some((r) => r.regions !== undefined)).toBe(true);
  });

  it('names the file and the line of a YAML syntax error', () => {
    const path = packFile(
      'broken.yaml',
      'format: tkllm-policy/1\nname: x\nrules:\n  - id: a\n    terms: [unclosed\n',
    );
    expect(errorOf(() => loadPolicyPack(path)).message).toMatch(
      new RegExp(`^${path.replaceAll('/', '\\/')} line \\d+: not a valid YAML or JSON policy pack`),
    );
  });

  it('names the line of a JSON syntax error', () => {
    const path = packFile(
      'broken.json',
      '{\n  "format": "tkllm-policy/1",\n  "name": "x",,\n  "rules": []\n}\n',
    );
    expect(errorOf(() => loadPolicyPack(path)).message).toMatch(
      /broken\.json line 3: not a valid YAML or JSON/,
    );
  });

  it.each([
    [
      'a severity that does not exist',
      good.replace('severity: high', 'severity: severe'),
      6,
      'rules[0].severity',
      /is "severe", expected one of info, low, medium, high, block/,
    ],
    [
      'an unknown field',
      good.replace('    why:', '    reason: x\n    why:'),
      7,
      'rules[0].reason',
      /is not a known field/,
    ],
    [
      'a term without letters',
      good.replace('[globex, initech*]', '[globex, "!!"]'),
      8,
      'rules[0].terms[1]',
      /"!!" has no letters or digits/,
    ],
    [
      'a region in lower case',
      good.replace('{ DE: block }', '{ de: block }'),
      9,
      'rules[0].severityByRegion.de',
      /upper-case region code/,
    ],
    [
      'a banned rule that does not block',
      good.replace('kind: brand', 'kind: banned'),
      6,
      'rules[0].severity',
      /a banned rule always blocks/,
    ],
    [
      'a missing why',
      good.replace('    why: no competitor names\n', ''),
      4,
      'rules[0].why',
      /must be a non-empty string, got nothing/,
    ],
    [
      'the wrong format tag',
      good.replace('tkllm-policy/1', 'tkllm-policy/9'),
      1,
      'format',
      /expected "tkllm-policy\/1"/,
    ],
    [
      'an override without effect',
      good.replace('    disabled: true\n', ''),
      11,
      'overrides[0]',
      /must set `severity` or `disabled`/,
    ],
  ])('rejects %s with the file, the line and the field', (_what, text, line, field, message) => {
    const error = errorOf(() => parsePolicyPack(text, 'brand.yaml'));
    expect(error.message).toContain(`brand.yaml line ${line}: \`${field}\``);
    expect(error.message).toMatch(message);
  });

  it('rejects a rule id used twice', () => {
    const twice = good.replace(
      'overrides:',
      `  - id: competitors\n    kind: brand\n    severity: low\n    why: w\n    terms: [x]\noverrides:`,
    );
    expect(errorOf(() => parsePolicyPack(twice, 'b.yaml')).message).toMatch(
      /b\.yaml line 10: `rules\[1\]\.id` "competitors" is used by an earlier rule/,
    );
  });

  it('rejects a duplicated key, naming its line', () => {
    expect(
      errorOf(() => parsePolicyPack('format: tkllm-policy/1\nname: a\nname: b\n', 'd.yaml')).message,
    ).toMatch(/^d\.yaml line 3: /);
  });

  it('returns the error as a value from safeParsePolicyPack', () => {
    const result = safeParsePolicyPack('format: tkllm-policy/1\nname: Bad Name\nrules: []\n', 'x.yaml');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(/^x\.yaml line 2: `name` is "Bad Name"/);
    expect(safeParsePolicyPack(good, 'brand.yaml')).toMatchObject({ ok: true, value: { name: 'brand' } });
  });

  it('says when a pack file does not exist', () => {
    expect(() => loadPolicyPack(join(dir, 'missing.yaml'))).toThrow(NotFoundError);
  });

  it('makes a banned-terms pack from a request’s own list', () => {
    expect(bannedTermsPack(['foo bar'], 'req').rules[0]).toMatchObject({
      kind: 'banned',
      terms: ['foo bar'],
    });
    expect(() => bannedTermsPack(['...'])).toThrow(/no letters or digits/);
  });
});
