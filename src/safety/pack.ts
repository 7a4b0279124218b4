import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { IoError, NotFoundError, ValidationError, type Result } from '../core/index.js';
import { canonicalize } from './canonical.js';

/** How bad a hit is, from harmless to never allowed. */
export type Severity = 'info' | 'low' | 'medium' | 'high' | 'block';
/** Severities from mildest to worst. */
export const severities: readonly Severity[] = ['info', 'low', 'medium', 'high', 'block'];

/**
 * What a rule is about: `banned` terms are never emitted (masked while decoding, blocked after);
 * `sensitive` topics cost brand safety by severity; `controversy` and `misinformation` cues are penalised
 * even when they would raise engagement; `brand` rules come from a brand's own pack.
 */
export type RuleKind = 'banned' | 'sensitive' | 'controversy' | 'misinformation' | 'brand';
/** Every rule kind. */
export const ruleKinds: readonly RuleKind[] = [
  'banned',
  'sensitive',
  'controversy',
  'misinformation',
  'brand',
];

/** One rule of a policy pack: terms that fire it, how bad a hit is, where it applies and why. */
export interface PolicyRule {
  /** Identifier, unique within its pack (letters, digits, '.', '-', '_'). */
  id: string;
  kind: RuleKind;
  /** Free label grouping rules for reports (violence, self-harm, finance...). */
  category: string;
  severity: Severity;
  /** Told to the user when the rule fires. */
  why: string;
  /**
   * Words and phrases, matched whole-word on canonical text; a leading or trailing `*` drops that word
   * boundary (`scam*` also finds "scammers").
   */
  terms: readonly string[];
  /** Phrases that make a hit inside them harmless ("shooting a video" for a rule on shootings). */
  allow: readonly string[];
  /** When set, the rule applies only in these regions (upper-case codes such as US, DE, EU). */
  regions?: readonly string[];
  /** Regions where the rule does not apply. */
  exceptRegions: readonly string[];
  /** Severity in given regions instead of `severity`. */
  severityByRegion: Readonly<Record<string, Severity>>;
  /** Line of the rule in its pack file, for messages. */
  line?: number;
}

/** A change that a pack makes to a rule of another pack (a brand relaxing or tightening the default). */
export interface RuleOverride {
  /** `pack/ruleId` of the rule changed. */
  rule: string;
  severity?: Severity;
  disabled?: boolean;
}

/** A policy pack: a named set of rules, loaded from a YAML or JSON file. */
export interface PolicyPack {
  name: string;
  description: string;
  rules: readonly PolicyRule[];
  overrides: readonly RuleOverride[];
  /** File it came from, or a label for packs made in memory. */
  source: string;
}

/** Format tag every pack file starts with, so that a later format can be told apart. */
export const PACK_FORMAT = 'tkllm-policy/1';

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const REGION = /^[A-Z]{2,3}(-[A-Z0-9]{1,3})?$/;

type Path = (string | number)[];

class PackReader {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly source: string,
  ) {}

  line(path: Path): number {
    for (let p = path; ; p = p.slice(0, -1)) {
      const node = (p.length === 0 ? this.doc.contents : this.doc.getIn(p, true)) as Node | null;
      if (node?.range) return this.lines.linePos(node.range[0]).line;
      if (p.length === 0) return 1;
    }
  }

  fail(path: Path, message: string): never {
    const field = path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
    throw new ValidationError(
      `${this.source} line ${this.line(path)}: ${field === '' ? '' : `\`${field}\` `}${message}`,
    );
  }

  object(value: unknown, path: Path, known: readonly string[]): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      this.fail(path, `must be a mapping, got ${describe(value)}`);
    for (const key of Object.keys(value))
      if (!known.includes(key))
        this.fail([...path, key], `is not a known field; expected ${known.join(', ')}`);
    return value as Record<string, unknown>;
  }

  string(value: unknown, path: Path, pattern?: RegExp, expected?: string): string {
    if (typeof value !== 'string' || value.trim() === '')
      this.fail(path, `must be a non-empty string, got ${describe(value)}`);
    if (pattern !== undefined && !pattern.test(value))
      this.fail(path, `is "${value}", expected ${expected ?? pattern.source}`);
    return value;
  }

  strings(value: unknown, path: Path, check?: (s: string, at: Path) => void): string[] {
    if (!Array.isArray(value)) this.fail(path, `must be a list of strings, got ${describe(value)}`);
    return value.map((item, i) => {
      const s = this.string(item, [...path, i]);
      check?.(s, [...path, i]);
      return s;
    });
  }

  severity(value: unknown, path: Path): Severity {
    if (!severities.includes(value as Severity))
      this.fail(path, `is ${describe(value)}, expected one of ${severities.join(', ')}`);
    return value as Severity;
  }

  term(value: string, path: Path): void {
    const inner = value.replace(/^\*/, '').replace(/\*$/, '');
    if (canonicalize(inner) === '') this.fail(path, `"${value}" has no letters or digits to match`);
  }

  region(value: string, path: Path): void {
    if (!REGION.test(value))
      this.fail(path, `is "${value}", expected an upper-case region code such as US or DE`);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `"${value}"`;
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value === 'object' ? 'a mapping' : typeof value;
}

const RULE_FIELDS = [
  'id',
  'kind',
  'category',
  'severity',
  'why',
  'terms',
  'allow',
  'regions',
  'exceptRegions',
  'severityByRegion',
];

function readRule(r: PackReader, value: unknown, path: Path, seen: Set<string>): PolicyRule {
  const o = r.object(value, path, RULE_FIELDS);
  const id = r.string(o.id, [...path, 'id'], NAME, "lower-case letters, digits, '.', '-' or '_'");
  if (seen.has(id)) r.fail([...path, 'id'], `"${id}" is used by an earlier rule of this pack`);
  seen.add(id);
  if (!ruleKinds.includes(o.kind as RuleKind))
    r.fail([...path, 'kind'], `is ${describe(o.kind)}, expected one of ${ruleKinds.join(', ')}`);
  const kind = o.kind as RuleKind;
  const severity =
    kind === 'banned' && o.severity === undefined ? 'block' : r.severity(o.severity, [...path, 'severity']);
  if (kind === 'banned' && severity !== 'block')
    r.fail([...path, 'severity'], `is "${severity}", but a banned rule always blocks: use kind sensitive`);
  const terms = r.strings(o.terms, [...path, 'terms'], (s, at) => r.term(s, at));
  if (terms.length === 0) r.fail([...path, 'terms'], 'must list at least one term');
  const rule: PolicyRule = {
    id,
    kind,
    category: o.category === undefined ? kind : r.string(o.category, [...path, 'category']),
    severity,
    why: r.string(o.why, [...path, 'why']),
    terms,
    allow: o.allow === undefined ? [] : r.strings(o.allow, [...path, 'allow'], (s, at) => r.term(s, at)),
    exceptRegions:
      o.exceptRegions === undefined
        ? []
        : r.strings(o.exceptRegions, [...path, 'exceptRegions'], (s, at) => r.region(s, at)),
    severityByRegion: {},
    line: r.line(path),
  };
  if (o.regions !== undefined)
    rule.regions = r.strings(o.regions, [...path, 'regions'], (s, at) => r.region(s, at));
  if (o.severityByRegion !== undefined) {
    const by = r.object(
      o.severityByRegion,
      [...path, 'severityByRegion'],
      Object.keys(o.severityByRegion as object),
    );
    const out: Record<string, Severity> = {};
    for (const [region, sev] of Object.entries(by)) {
      r.region(region, [...path, 'severityByRegion', region]);
      out[region] = r.severity(sev, [...path, 'severityByRegion', region]);
    }
    rule.severityByRegion = out;
  }
  return rule;
}

function readOverride(r: PackReader, value: unknown, path: Path): RuleOverride {
  const o = r.object(value, path, ['rule', 'severity', 'disabled']);
  const override: RuleOverride = {
    rule: r.string(o.rule, [...path, 'rule'], /^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*$/, 'pack/ruleId'),
  };
  if (o.severity !== undefined) override.severity = r.severity(o.severity, [...path, 'severity']);
  if (o.disabled !== undefined) {
    if (typeof o.disabled !== 'boolean')
      r.fail([...path, 'disabled'], `must be true or false, got ${describe(o.disabled)}`);
    override.disabled = o.disabled;
  }
  if (override.severity === undefined && override.disabled === undefined)
    r.fail(path, 'must set `severity` or `disabled`');
  return override;
}

/**
 * Parses a policy pack from YAML or JSON text; `source` names the file in errors. Throws a ValidationError
 * naming the file, the line and the field for a syntax error or a field that does not fit the format.
 * @example
 * const pack = parsePolicyPack(readFileSync('brand.yaml', 'utf8'), 'brand.yaml');
 */
export function parsePolicyPack(text: string, source: string): PolicyPack {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const error = doc.errors[0];
  if (error !== undefined) {
    const line = error.linePos?.[0].line ?? lines.linePos(error.pos[0]).line;
    const first = error.message.split('\n')[0] ?? error.message;
    throw new ValidationError(`${source} line ${line}: not a valid YAML or JSON policy pack: ${first}`);
  }
  const r = new PackReader(doc, lines, source);
  const o = r.object(doc.toJS() as unknown, [], ['format', 'name', 'description', 'rules', 'overrides']);
  if (o.format !== PACK_FORMAT) r.fail(['format'], `is ${describe(o.format)}, expected "${PACK_FORMAT}"`);
  const name = r.string(o.name, ['name'], NAME, "lower-case letters, digits, '.', '-' or '_'");
  if (o.rules !== undefined && !Array.isArray(o.rules))
    r.fail(['rules'], `must be a list, got ${describe(o.rules)}`);
  if (o.overrides !== undefined && !Array.isArray(o.overrides))
    r.fail(['overrides'], `must be a list, got ${describe(o.overrides)}`);
  const seen = new Set<string>();
  const rules = ((o.rules ?? []) as unknown[]).map((rule, i) => readRule(r, rule, ['rules', i], seen));
  const overrides = ((o.overrides ?? []) as unknown[]).map((ov, i) => readOverride(r, ov, ['overrides', i]));
  if (rules.length === 0 && overrides.length === 0) r.fail([], 'has neither `rules` nor `overrides`');
  return {
    name,
    description: o.description === undefined ? '' : r.string(o.description, ['description']),
    rules,
    overrides,
    source,
  };
}

/** `parsePolicyPack` that returns its ValidationError as a value instead of throwing it (for editors and forms). */
export function safeParsePolicyPack(text: string, source: string): Result<PolicyPack, ValidationError> {
  try {
    return { ok: true, value: parsePolicyPack(text, source) };
  } catch (error) {
    if (error instanceof ValidationError) return { ok: false, error };
    throw error;
  }
}

/** Reads and parses the policy pack file at `path` (YAML or JSON). */
export function loadPolicyPack(path: string): PolicyPack {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NotFoundError(`policy pack ${path} does not exist`, { cause });
    throw new IoError(`cannot read policy pack ${path}: ${(cause as Error).message}`, { cause });
  }
  return parsePolicyPack(text, path);
}

/** Path of the default pack shipped in data/policy. */
export const defaultPackPath = fileURLToPath(new URL('../../data/policy/default.yaml', import.meta.url));

let defaultPack: PolicyPack | undefined;

/** The default policy pack shipped with TKLLM (data/policy/default.yaml), read once. */
export function defaultPolicyPacks(): readonly PolicyPack[] {
  defaultPack ??= loadPolicyPack(defaultPackPath);
  return [defaultPack];
}

/**
 * A pack of banned terms made in memory (a request's own banned words), so that the checker blocks what the
 * decoding mask keeps out. Throws a ValidationError for a term without letters or digits.
 */
export function bannedTermsPack(terms: readonly string[], name = 'request'): PolicyPack {
  const yaml = JSON.stringify({
    format: PACK_FORMAT,
    name,
    rules: [
      { id: 'banned-terms', kind: 'banned', category: 'request', why: 'banned by this request', terms },
    ],
  });
  return { ...parsePolicyPack(yaml, `banned terms of ${name}`), source: `banned terms of ${name}` };
}
