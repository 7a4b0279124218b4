import { Random, ValidationError } from '../core/index.js';
import type { Lake } from '../lake/index.js';
import { getExperiment, type Experiment } from './experiment.js';
import type { Horizon } from './events.js';
import { kpiExpressions, kpis as allKpis, type Kpi } from './kpis.js';
import { sequentialDifference, sequentialMethod, sequentialPValue } from './sequential.js';
import { sql, text } from './sql.js';
import {
  bootstrapLift,
  sampleRatioMismatch,
  summarize,
  welchTTest,
  type SampleRatioCheck,
  type WelchResult,
} from './statistics.js';

/** Options of `experimentReport`. */
export interface ReportOptions {
  /** Horizon of the events to compare (default 24). */
  horizon?: Horizon;
  /** KPIs to report (default: every KPI with values in at least two arms). */
  kpis?: readonly Kpi[];
  /** Error rate of tests and intervals (default 0.05). */
  alpha?: number;
  /** Bootstrap resamples (default 1000). */
  resamples?: number;
  /** Seed of the bootstrap (default 42), so a report can be repeated. */
  seed?: number;
  /** Units per arm below which the report warns (default 100). */
  minUnitsPerArm?: number;
  /** p-value below which the split counts as a sample-ratio mismatch (default 0.001). */
  srmThreshold?: number;
  /** Points per arm in the over-time series (default 20). */
  timePoints?: number;
  /**
   * Units (of the control and one arm together) where the sequential interval is tightest (default 1000). Fix
   * it when the experiment is planned: choosing it from the data at each look would undo the guarantee.
   */
  tightestAt?: number;
}

/** One arm's figures for one KPI. */
export interface ArmSummary {
  arm: string;
  units: number;
  mean: number;
  sd: number;
}

/** A treatment arm against the control (the first arm) on one KPI. */
export interface ArmComparison {
  arm: string;
  control: string;
  /** mean(arm) - mean(control). */
  difference: number;
  /** mean(arm) / mean(control) - 1, with its percentile-bootstrap interval. */
  lift: number;
  liftLow: number;
  liftHigh: number;
  welch: WelchResult;
  /** Always-valid interval of the difference and its p-value: safe to read at every peek. */
  sequential: { low: number; high: number; pValue: number };
  /** Welch's p-value is below alpha: the fixed-horizon verdict, valid at a pre-planned end only. */
  significant: boolean;
  /** The sequential interval excludes zero: the verdict that stays valid however often it is checked. */
  sequentialSignificant: boolean;
}

/** The confidence sequence of one arm's difference to the control, as units arrive. */
export interface SeriesPoint {
  /** Time of the last unit included (ISO 8601). */
  time: string;
  units: number;
  difference: number;
  low: number;
  high: number;
}

/** Everything the report says about one KPI. */
export interface KpiReport {
  kpi: Kpi;
  arms: ArmSummary[];
  comparisons: ArmComparison[];
  /** Per treatment arm. */
  series: Record<string, SeriesPoint[]>;
}

/** A whole experiment report. */
export interface ExperimentReport {
  experiment: Experiment;
  horizonHours: number;
  alpha: number;
  /** Units with an event at the horizon, per arm. */
  units: Record<string, number>;
  /** Absent under bandit allocation, whose split has no fixed target. */
  sampleRatio?: SampleRatioCheck;
  warnings: string[];
  kpis: KpiReport[];
  methods: { test: string; interval: string; sequential: string; sampleRatio: string };
}

interface UnitRows {
  arm: string[];
  time: number[];
  values: Record<Kpi, (number | null)[]>;
}

async function loadUnits(lake: Lake, experiment: Experiment, horizon: number): Promise<UnitRows> {
  const rows = await lake.all(
    `SELECT arm, epoch_ms(observed_at)::DOUBLE AS t, ${allKpis.map((k) => `${kpiExpressions[k]} AS "${k}"`).join(', ')}
     FROM experiment_events WHERE experiment_id = ${sql(experiment.id)} AND horizon_hours = ${horizon}
     ORDER BY observed_at, unit_id`,
  );
  const values = Object.fromEntries(allKpis.map((k) => [k, [] as (number | null)[]])) as UnitRows['values'];
  const out: UnitRows = { arm: [], time: [], values };
  for (const row of rows) {
    out.arm.push(text(row.arm));
    out.time.push(Number(row.t));
    for (const k of allKpis) values[k].push(row[k] === null ? null : Number(row[k]));
  }
  return out;
}

/**
 * Compares every arm with the control on each KPI at one horizon: arm means, relative lift with a bootstrap
 * interval, Welch's t-test, an always-valid confidence sequence over time, the sample-ratio-mismatch check,
 * and warnings for arms with too few units.
 *
 * @example
 * const report = await experimentReport(lake, 'hook-test', { horizon: 24 });
 */
export async function experimentReport(
  lake: Lake,
  id: string,
  options: ReportOptions = {},
): Promise<ExperimentReport> {
  const experiment = await getExperiment(lake, id);
  const horizon = options.horizon ?? 24;
  const alpha = options.alpha ?? 0.05;
  const minUnits = options.minUnitsPerArm ?? 100;
  if (!(alpha > 0 && alpha < 1)) throw new ValidationError(`\`alpha\` must be in (0, 1), got ${alpha}`);
  const rows = await loadUnits(lake, experiment, horizon);
  const armNames = experiment.arms.map((a) => a.name);
  const units = Object.fromEntries(armNames.map((a) => [a, 0]));
  for (const arm of rows.arm) units[arm] = (units[arm] ?? 0) + 1;
  const warnings: string[] = [];
  const report: ExperimentReport = {
    experiment,
    horizonHours: horizon,
    alpha,
    units,
    warnings,
    kpis: [],
    methods: {
      test: "Welch's t-test (two-sided)",
      interval: `percentile bootstrap of the relative lift, ${options.resamples ?? 1000} resamples`,
      sequential: sequentialMethod,
      sampleRatio: `Pearson chi-square against the arm weights, mismatch when p < ${options.srmThreshold ?? 0.001}`,
    },
  };
  if (experiment.allocation === 'hash') {
    const check = sampleRatioMismatch(
      armNames.map((a) => units[a] ?? 0),
      experiment.arms.map((a) => a.weight),
      options.srmThreshold,
    );
    report.sampleRatio = check;
    if (check.mismatch)
      warnings.push(
        `sample ratio mismatch: units per arm ${check.observed.join(' / ')} against expected ` +
          `${check.expected.map((e) => e.toFixed(0)).join(' / ')} (p ${check.pValue < 1e-12 ? '< 1e-12' : `= ${check.pValue.toExponential(2)}`}): ` +
          'check assignment and event logging before trusting any effect',
      );
  }
  for (const arm of armNames)
    if ((units[arm] ?? 0) < minUnits)
      warnings.push(
        `arm ${arm} has ${units[arm] ?? 0} units at ${horizon} h, fewer than ${minUnits}: intervals are unreliable`,
      );
  const random = new Random(options.seed ?? 42);
  const wanted = options.kpis ?? allKpis;
  for (const kpi of wanted) {
    const kpiReport = compareKpi(experiment, rows, kpi, { ...options, alpha, random });
    if (kpiReport) report.kpis.push(kpiReport);
    else if (options.kpis)
      warnings.push(`KPI ${kpi} has too few values in the control and another arm to compare`);
  }
  return report;
}

function compareKpi(
  experiment: Experiment,
  rows: UnitRows,
  kpi: Kpi,
  options: ReportOptions & { alpha: number; random: Random },
): KpiReport | undefined {
  const byArm = new Map<string, { values: number[]; index: number[] }>();
  for (const arm of experiment.arms) byArm.set(arm.name, { values: [], index: [] });
  rows.values[kpi].forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) return;
    const bucket = byArm.get(rows.arm[i] ?? '');
    bucket?.values.push(v);
    bucket?.index.push(i);
  });
  const [control, ...treatments] = experiment.arms;
  const controlRows = control ? byArm.get(control.name) : undefined;
  if (!control || !controlRows || controlRows.values.length < 2) return undefined;
  const arms: ArmSummary[] = experiment.arms.map((a) => {
    const s = summarize(byArm.get(a.name)?.values ?? []);
    return { arm: a.name, units: s.n, mean: s.mean, sd: Math.sqrt(s.variance) };
  });
  const comparisons: ArmComparison[] = [];
  const series: Record<string, SeriesPoint[]> = {};
  for (const arm of treatments) {
    const armRows = byArm.get(arm.name);
    if (!armRows || armRows.values.length < 2) continue;
    const welch = welchTTest(controlRows.values, armRows.values);
    const boot = bootstrapLift(controlRows.values, armRows.values, {
      random: options.random,
      confidence: 1 - options.alpha,
      ...(options.resamples === undefined ? {} : { resamples: options.resamples }),
    });
    // The two arms' units merged in arrival order, for the confidence sequence.
    const order = [
      ...controlRows.index.map((i) => [i, 0] as const),
      ...armRows.index.map((i) => [i, 1] as const),
    ].sort((a, b) => a[0] - b[0]);
    const outcomes = order.map(([i]) => rows.values[kpi][i] ?? 0);
    const treated = order.map(([, t]) => t);
    const sequentialOptions = {
      treatmentShare: arm.weight / (arm.weight + control.weight),
      tightestAt: options.tightestAt ?? 1000,
    };
    const count = Math.max(1, options.timePoints ?? 20);
    const checkpoints = Array.from({ length: count }, (_, k) => Math.round(((k + 1) * order.length) / count));
    const points = sequentialDifference(outcomes, treated, {
      ...sequentialOptions,
      alpha: options.alpha,
      checkpoints,
    });
    series[arm.name] = points.map((p) => ({
      time: new Date(rows.time[order[p.n - 1]?.[0] ?? 0] ?? 0).toISOString(),
      units: p.n,
      difference: p.difference,
      low: p.low,
      high: p.high,
    }));
    const last = points.at(-1);
    const sequentialP = sequentialPValue(outcomes, treated, sequentialOptions);
    comparisons.push({
      arm: arm.name,
      control: control.name,
      difference: welch.difference,
      lift: boot.lift,
      liftLow: boot.low,
      liftHigh: boot.high,
      welch,
      sequential: { low: last?.low ?? -Infinity, high: last?.high ?? Infinity, pValue: sequentialP },
      significant: welch.pValue < options.alpha,
      sequentialSignificant: sequentialP < options.alpha,
    });
  }
  if (comparisons.length === 0) return undefined;
  return { kpi, arms, comparisons, series };
}
