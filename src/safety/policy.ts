import { ConfigError, ValidationError } from '../core/index.js';
import { Automaton } from './automaton.js';
import { canonicalize, Canonicalizer, SEP } from './canonical.js';
import {
  defaultPolicyPacks,
  type PolicyPack,
  type PolicyRule,
  type RuleKind,
  type Severity,
} from './pack.js';

/** One place where a rule fired. */
export interface PolicyHit {
  /** `pack/rule`, unique across loaded packs. */
  ruleId: string;
  pack: string;
  kind: RuleKind;
  category: string;
  /** Severity in the checked region. */
  severity: Severity;
  /** [start, end) of the matched text in the checked text, in UTF-16 code units (String#slice offsets). */
  span: readonly [number, number];
  /** The matched source text, as written (obfuscation included). */
  text: string;
  /** The pack term that matched. */
  term: string;
  why: string;
}

/** The outcome of a policy check: an expected result, never an exception. */
export interface PolicyVerdict {
  hits: PolicyHit[];
  /** 1 when nothing fired, 0 when blocked; the product of (1 - weight) over the distinct rules that fired. */
  brandSafety: number;
  /** True when a rule of severity `block` fired. */
  blocked: boolean;
  region?: string;
}

/** Options of `Policy.check` and `checkPolicy`. */
export interface CheckPolicyOptions {
  /** Region code (US, DE...): picks region-only rules and per-region severities; none means global rules only. */
  region?: string;
}

/** How much each severity costs brand safety; `block` always blocks. */
export const severityWeights: Readonly<Record<Severity, number>> = {
  info: 0,
  low: 0.1,
  medium: 0.25,
  high: 0.5,
  block: 1,
};

interface CompiledRule extends PolicyRule {
  key: string;
  pack: string;
  disabled: boolean;
}

interface Pattern {
  rule: number;
  term: string;
  /** Whether the pattern keeps a word boundary before and after it (no `*` there). */
  startBound: boolean;
  endBound: boolean;
  allow: boolean;
  /** Length in canonical characters (code points). */
  length: number;
}

/**
 * Canonical patterns of one term: the words as written, the words run together ("selfharm") and every mix
 * of words written normally and spelled out letter by letter ("k i l l yourself"), each with a separator on
 * the sides that keep a word boundary. Terms of more than `MAX_MIXED_WORDS` words get only the all-normal
 * and all-spelled-out forms, which keeps the automaton small.
 */
export function termPatterns(term: string): string[] {
  const startBound = !term.startsWith('*');
  const endBound = !term.endsWith('*');
  const inner = canonicalize(term.replace(/^\*/, '').replace(/\*$/, ''));
  if (inner === '') return [];
  const words = inner.split(SEP);
  const spell = (w: string) => [...w].join(SEP);
  const variants = new Set([inner, words.join(''), spell(words.join(''))]);
  if (words.length <= MAX_MIXED_WORDS)
    for (let mask = 1; mask < 1 << words.length; mask++)
      variants.add(words.map((w, i) => ((mask >> i) & 1 ? spell(w) : w)).join(SEP));
  return [...variants].map((v) => `${startBound ? SEP : ''}${v}${endBound ? SEP : ''}`);
}

const MAX_MIXED_WORDS = 4;

function normaliseRegion(region: string | undefined): string | undefined {
  if (region === undefined) return undefined;
  const r = region.trim().toUpperCase();
  if (!/^[A-Z]{2,3}(-[A-Z0-9]{1,3})?$/.test(r))
    throw new ValidationError(`\`region\` must be a region code such as US or DE, got "${region}"`);
  return r;
}

/**
 * Policy packs compiled into one automaton, so that each check is one pass over the text whatever the
 * number of rules. Compile once and check many candidates.
 * @example
 * const policy = Policy.compile([...defaultPolicyPacks(), loadPolicyPack('brand.yaml')]);
 * const verdict = policy.check('This miracle cure works!', { region: 'US' });
 */
export class Policy {
  private constructor(
    readonly packs: readonly PolicyPack[],
    private readonly rules: readonly CompiledRule[],
    private readonly patterns: readonly Pattern[],
    private readonly automaton: Automaton,
  ) {}

  /** Compiles packs, applying each pack's overrides to the rules of the others. */
  static compile(packs: readonly PolicyPack[]): Policy {
    const names = new Set<string>();
    const rules: CompiledRule[] = [];
    for (const pack of packs) {
      if (names.has(pack.name))
        throw new ConfigError(
          `two policy packs are named "${pack.name}" (${pack.source}): pack names must differ`,
        );
      names.add(pack.name);
      for (const rule of pack.rules)
        rules.push({ ...rule, key: `${pack.name}/${rule.id}`, pack: pack.name, disabled: false });
    }
    const byKey = new Map(rules.map((r) => [r.key, r]));
    for (const pack of packs)
      for (const override of pack.overrides) {
        const target = byKey.get(override.rule);
        if (target === undefined)
          throw new ConfigError(
            `${pack.source}: the override of "${override.rule}" names a rule that no loaded pack defines`,
          );
        if (override.severity !== undefined) {
          if (target.kind === 'banned' && override.severity !== 'block')
            throw new ConfigError(
              `${pack.source}: "${override.rule}" is a banned rule; it can be disabled but not given a milder severity`,
            );
          target.severity = override.severity;
        }
        if (override.disabled !== undefined) target.disabled = override.disabled;
      }
    const patterns: Pattern[] = [];
    const strings: string[] = [];
    rules.forEach((rule, index) => {
      if (rule.disabled) return;
      for (const [list, allow] of [
        [rule.terms, false],
        [rule.allow, true],
      ] as const)
        for (const term of list)
          for (const p of termPatterns(term)) {
            patterns.push({
              rule: index,
              term,
              allow,
              length: [...p].length,
              startBound: p.startsWith(SEP),
              endBound: p.endsWith(SEP),
            });
            strings.push(p);
          }
    });
    return new Policy(packs, rules, patterns, new Automaton(strings));
  }

  /** Checks `text`: every hit with its rule, span and reason, the brand-safety score and whether it blocks. */
  check(text: string, options: CheckPolicyOptions = {}): PolicyVerdict {
    const region = normaliseRegion(options.region);
    const starts: number[] = [];
    const ends: number[] = [];
    const chars: string[] = [];
    const found: { pattern: number; last: number }[] = [];
    let state = 0;
    const machine = new Canonicalizer((ch, start, end) => {
      chars.push(ch);
      starts.push(start);
      ends.push(end);
      state = this.automaton.step(state, ch);
      for (const pattern of this.automaton.output(state)) found.push({ pattern, last: chars.length - 1 });
    });
    machine.begin();
    machine.pushText(text);
    machine.finish(text.length);

    const allowed = new Map<number, [number, number][]>();
    const candidates: { rule: number; span: [number, number]; term: string }[] = [];
    for (const { pattern, last } of found) {
      const p = this.patterns[pattern];
      let first = last - p.length + 1;
      let end = last;
      while (chars[first] === SEP && first < end) first++;
      while (chars[end] === SEP && end > first) end--;
      // A `*` term reports the whole word it is part of ("fucking" for `fuck*`), not just the term.
      if (!p.startBound) while (first > 0 && chars[first - 1] !== SEP) first--;
      if (!p.endBound) while (end + 1 < chars.length && chars[end + 1] !== SEP) end++;
      const span: [number, number] = [starts[first], ends[end]];
      if (p.allow) {
        const list = allowed.get(p.rule) ?? [];
        list.push(span);
        allowed.set(p.rule, list);
      } else candidates.push({ rule: p.rule, span, term: p.term });
    }
    const hits: PolicyHit[] = [];
    const seen = new Set<string>();
    for (const c of candidates) {
      const rule = this.rules[c.rule];
      const severity = effectiveSeverity(rule, region);
      if (severity === undefined) continue;
      if (allowed.get(c.rule)?.some(([s, e]) => s <= c.span[0] && c.span[1] <= e)) continue;
      const id = `${c.rule}:${c.span[0]}:${c.span[1]}`;
      if (seen.has(id)) continue;
      seen.add(id);
      hits.push({
        ruleId: rule.key,
        pack: rule.pack,
        kind: rule.kind,
        category: rule.category,
        severity,
        span: c.span,
        text: text.slice(c.span[0], c.span[1]),
        term: c.term,
        why: rule.why,
      });
    }
    hits.sort((a, b) => a.span[0] - b.span[0] || a.span[1] - b.span[1] || a.ruleId.localeCompare(b.ruleId));
    const blocked = hits.some((h) => h.severity === 'block');
    const verdict: PolicyVerdict = { hits, brandSafety: blocked ? 0 : brandSafetyScore(hits), blocked };
    if (region !== undefined) verdict.region = region;
    return verdict;
  }

  /**
   * Canonical patterns of every term whose rule, in `region`, has one of `levels` (default: `block` only):
   * what the decoding mask must never let the model complete.
   */
  blockingPatterns(options: { region?: string; levels?: readonly Severity[] } = {}): string[] {
    const region = normaliseRegion(options.region);
    const levels = options.levels ?? ['block'];
    const out = new Set<string>();
    for (const rule of this.rules) {
      if (rule.disabled) continue;
      const severity = effectiveSeverity(rule, region);
      if (severity === undefined || !levels.includes(severity)) continue;
      for (const term of rule.terms) for (const p of termPatterns(term)) out.add(p);
    }
    return [...out];
  }

  /** The rules after overrides, with their `pack/id` keys. */
  listRules(): readonly (PolicyRule & { key: string; pack: string; disabled: boolean })[] {
    return this.rules;
  }
}

function effectiveSeverity(rule: CompiledRule, region: string | undefined): Severity | undefined {
  if (rule.disabled) return undefined;
  if (rule.regions !== undefined && (region === undefined || !rule.regions.includes(region)))
    return undefined;
  if (region !== undefined && rule.exceptRegions.includes(region)) return undefined;
  if (rule.kind === 'banned') return 'block';
  return (region === undefined ? undefined : rule.severityByRegion[region]) ?? rule.severity;
}

/**
 * Brand safety in [0, 1] of a set of hits: each distinct rule counts once, at its worst severity, and
 * multiplies the score by (1 - its weight), so independent problems compound and repeats do not pile up.
 */
export function brandSafetyScore(
  hits: readonly PolicyHit[],
  weights: Readonly<Record<Severity, number>> = severityWeights,
  weightOf: (hit: PolicyHit, weight: number) => number = (_hit, w) => w,
): number {
  const worst = new Map<string, number>();
  for (const hit of hits) {
    const w = Math.min(1, Math.max(0, weightOf(hit, weights[hit.severity])));
    worst.set(hit.ruleId, Math.max(worst.get(hit.ruleId) ?? 0, w));
  }
  let score = 1;
  for (const w of worst.values()) score *= 1 - w;
  return score;
}

/** Whether a rule kind is an engagement cue that must never raise a candidate's score. */
export function isCueKind(kind: RuleKind): boolean {
  return kind === 'controversy' || kind === 'misinformation';
}

const compiled = new WeakMap<readonly PolicyPack[], Policy>();

/** Options of `checkPolicy`: the packs to check against (default: the shipped default pack) or a compiled policy. */
export interface CheckPolicyCallOptions extends CheckPolicyOptions {
  packs?: readonly PolicyPack[];
  policy?: Policy;
}

/**
 * Checks `text` against policy packs and returns the verdict; packs are compiled once per array and cached.
 * @example
 * const { hits, brandSafety, blocked } = checkPolicy('guaranteed returns, trust me', { region: 'US' });
 */
export function checkPolicy(text: string, options: CheckPolicyCallOptions = {}): PolicyVerdict {
  const check: CheckPolicyOptions = {};
  if (options.region !== undefined) check.region = options.region;
  return policyFor(options).check(text, check);
}

/** The compiled policy of `options` (a given policy, given packs, or the default pack). */
export function policyFor(options: { packs?: readonly PolicyPack[]; policy?: Policy } = {}): Policy {
  if (options.policy !== undefined) return options.policy;
  const packs = options.packs ?? defaultPolicyPacks();
  let policy = compiled.get(packs);
  if (policy === undefined) {
    policy = Policy.compile(packs);
    compiled.set(packs, policy);
  }
  return policy;
}
