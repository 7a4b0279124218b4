import { Random, ValidationError } from '../core/index.js';
import { contentTypes, inferContentType } from './content-type.js';
import type { ContentType } from './content-type.js';

/** A post with its ViralScore, as plain data (the estimator or the lake supplies it). */
export interface ScoredPost {
  id: string;
  text: string;
  viralScore: number;
  hashtags?: readonly string[];
  creator?: string;
}

/** A post after selection: its content type, role and training weight. */
export interface SelectedPost extends ScoredPost {
  contentType: ContentType;
  /** `positive`: top X % (of its stratum); `negative`: bottom Y %; `middle`: the rest. */
  role: 'positive' | 'middle' | 'negative';
  /** Entry A's sample weight w_i (see `SelectOptions.weighting`). */
  weight: number;
}

/**
 * How V becomes Entry A's weight: `linear` w = 1 + λ·V; `rank` w = 1 + λ·r, r the post's V rank
 * normalised to [0, 1] within its stratum (0 lowest, 1 highest, ties share their mean rank), so the spread
 * of the weights does not depend on how spread the estimator's V is; `top` w = 1 + λ for the positives
 * (top `topShare`) and 1 for the rest.
 */
export type Weighting = 'linear' | 'rank' | 'top';

/** Options of `selectHighValue`. */
export interface SelectOptions {
  /** Share of posts kept as high-value positives (default 0.3). */
  topShare?: number;
  /** Share of posts marked as negatives (default 0.1). */
  bottomShare?: number;
  /** λ of the weights (default 1). */
  lambda?: number;
  /** How V becomes the weight (default `linear`, w_i = 1 + λ·V_i, DESIGN's Entry A). */
  weighting?: Weighting;
  /** Apply the thresholds within each content type, so every type keeps its best (default true). */
  stratify?: boolean;
}

/** Counts and means of one group of the selection. */
export interface GroupReport {
  posts: number;
  positives: number;
  negatives: number;
  meanViralScore: number;
  meanWeight: number;
}

/** What was selected and why: thresholds, per content type and per role. */
export interface SelectionReport {
  posts: number;
  options: Required<SelectOptions>;
  byContentType: Record<ContentType, GroupReport>;
  byRole: Record<SelectedPost['role'], { posts: number; meanViralScore: number }>;
  weightRange: [number, number];
}

/** The result of `selectHighValue`. */
export interface Selection {
  posts: SelectedPost[];
  positives: SelectedPost[];
  negatives: SelectedPost[];
  report: SelectionReport;
}

function resolve(options: SelectOptions): Required<SelectOptions> {
  const r: Required<SelectOptions> = {
    topShare: options.topShare ?? 0.3,
    bottomShare: options.bottomShare ?? 0.1,
    lambda: options.lambda ?? 1,
    stratify: options.stratify ?? true,
    weighting: options.weighting ?? 'linear',
  };
  if (!['linear', 'rank', 'top'].includes(r.weighting))
    throw new ValidationError(`\`weighting\` must be linear, rank or top, got ${String(r.weighting)}`);
  for (const key of ['topShare', 'bottomShare'] as const)
    if (!(r[key] >= 0 && r[key] <= 1))
      throw new ValidationError(`\`${key}\` must be in [0, 1], got ${r[key]}`);
  if (r.topShare + r.bottomShare > 1)
    throw new ValidationError(
      `\`topShare\` + \`bottomShare\` must be at most 1, got ${r.topShare} + ${r.bottomShare}`,
    );
  if (!(r.lambda >= 0)) throw new ValidationError(`\`lambda\` must be >= 0, got ${r.lambda}`);
  return r;
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * High-value sample selection: infers each post's content type, marks the top `topShare` by ViralScore
 * as positives and the bottom `bottomShare` as negatives (within each content type when stratified, ties
 * broken by id so the result is stable), and gives every post its weight (w_i = 1 + λ·V_i by default;
 * `weighting` `rank` or `top` for weights that move the training distribution further).
 * @example
 * const { positives, report } = selectHighValue(posts, { topShare: 0.2, lambda: 2 });
 */
export function selectHighValue(posts: readonly ScoredPost[], options: SelectOptions = {}): Selection {
  const resolved = resolve(options);
  posts.forEach((p, i) => {
    if (!(p.viralScore >= 0 && p.viralScore <= 1))
      throw new ValidationError(
        `post ${i} ("${p.id}"): \`viralScore\` must be in [0, 1], got ${p.viralScore}`,
      );
  });
  const selected: SelectedPost[] = posts.map((p) => ({
    ...p,
    contentType: inferContentType(p.text, p.hashtags),
    role: 'middle',
    weight: 1 + resolved.lambda * p.viralScore,
  }));
  const strata = new Map<string, SelectedPost[]>();
  for (const p of selected) {
    const key = resolved.stratify ? p.contentType : 'all';
    let group = strata.get(key);
    if (group === undefined) strata.set(key, (group = []));
    group.push(p);
  }
  for (const group of strata.values()) {
    group.sort((a, b) => b.viralScore - a.viralScore || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const top = Math.round(group.length * resolved.topShare);
    const bottom = Math.min(group.length - top, Math.round(group.length * resolved.bottomShare));
    group.forEach((p, i) => {
      if (i < top) p.role = 'positive';
      else if (i >= group.length - bottom) p.role = 'negative';
    });
    if (resolved.weighting === 'top')
      for (const p of group) p.weight = p.role === 'positive' ? 1 + resolved.lambda : 1;
    if (resolved.weighting === 'rank') {
      const ranks = normalisedRanks(group.map((p) => p.viralScore));
      group.forEach((p, i) => (p.weight = 1 + resolved.lambda * ranks[i]));
    }
  }
  const byContentType = {} as Record<ContentType, GroupReport>;
  for (const type of contentTypes) {
    const group = selected.filter((p) => p.contentType === type);
    byContentType[type] = {
      posts: group.length,
      positives: group.filter((p) => p.role === 'positive').length,
      negatives: group.filter((p) => p.role === 'negative').length,
      meanViralScore: mean(group.map((p) => p.viralScore)),
      meanWeight: mean(group.map((p) => p.weight)),
    };
  }
  const byRole = {} as SelectionReport['byRole'];
  for (const role of ['positive', 'middle', 'negative'] as const) {
    const group = selected.filter((p) => p.role === role);
    byRole[role] = { posts: group.length, meanViralScore: mean(group.map((p) => p.viralScore)) };
  }
  const weights = selected.map((p) => p.weight);
  return {
    posts: selected,
    positives: selected.filter((p) => p.role === 'positive'),
    negatives: selected.filter((p) => p.role === 'negative'),
    report: {
      posts: selected.length,
      options: resolved,
      byContentType,
      byRole,
      weightRange: weights.length === 0 ? [1, 1] : [Math.min(...weights), Math.max(...weights)],
    },
  };
}

/**
 * Ranks of `values` normalised to [0, 1] (0 the lowest, 1 the highest; ties share their mean rank; a
 * single value ranks 0.5).
 * @example normalisedRanks([0.2, 0.9, 0.5]) // [0, 1, 0.5]
 */
export function normalisedRanks(values: readonly number[]): number[] {
  const n = values.length;
  if (n === 1) return [0.5];
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) ranks[order[k][1]] = (i + j) / 2 / (n - 1);
    i = j + 1;
  }
  return ranks;
}

/**
 * Draws `count` distinct indices with probability proportional to `weights` (Efraimidis & Spirakis,
 * 2006: keep the largest u^(1/w)), from a seeded generator. Zero weights are never drawn.
 */
export function weightedSample(weights: readonly number[], count: number, rng: Random): number[] {
  if (!Number.isInteger(count) || count < 0)
    throw new ValidationError(`\`count\` must be an integer >= 0, got ${count}`);
  const keys: [number, number][] = [];
  weights.forEach((w, i) => {
    if (!(w >= 0) || !Number.isFinite(w))
      throw new ValidationError(`weight ${i} must be a finite number >= 0, got ${w}`);
    if (w > 0) keys.push([Math.log(Math.max(rng.next(), Number.MIN_VALUE)) / w, i]);
  });
  keys.sort((a, b) => b[0] - a[0]);
  return keys.slice(0, count).map(([, i]) => i);
}

/** The selection report as lines for a person. */
export function formatSelectionReport(report: SelectionReport): string {
  const { options: o } = report;
  const lines = [
    `${report.posts} posts; positives: top ${(o.topShare * 100).toFixed(0)} %, negatives: bottom ${(o.bottomShare * 100).toFixed(0)} %` +
      `${o.stratify ? ' within each content type' : ''}; w = 1 + ${o.lambda}·${{ linear: 'V', rank: 'rank(V)', top: '[positive]' }[o.weighting]} in [${report.weightRange.map((w) => w.toFixed(3)).join(', ')}]`,
    'content type   posts  positives  negatives  mean V  mean w',
  ];
  for (const type of contentTypes) {
    const g = report.byContentType[type];
    lines.push(
      `${type.padEnd(13)} ${String(g.posts).padStart(6)} ${String(g.positives).padStart(10)} ${String(g.negatives).padStart(10)} ${g.meanViralScore.toFixed(3).padStart(7)} ${g.meanWeight.toFixed(3).padStart(7)}`,
    );
  }
  for (const role of ['positive', 'middle', 'negative'] as const)
    lines.push(
      `${role}: ${report.byRole[role].posts} posts, mean V ${report.byRole[role].meanViralScore.toFixed(3)}`,
    );
  return lines.join('\n');
}
