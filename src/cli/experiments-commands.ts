import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { Random, terminalProgress, ValidationError, writeFileAtomic } from '../core/index.js';
import {
  allocateUnits,
  createExperiment,
  experimentReport,
  experimentUnits,
  getExperiment,
  kpis,
  listExperiments,
  parseKpi,
  readEventFile,
  recordEvents,
  renderKpiChart,
  type Experiment,
  type ExperimentReport,
  type ExperimentSpec,
  type RecordEventsResult,
} from '../experiments/index.js';
import { recordAndLearn } from '../server/index.js';
import { formatOnlineUpdate } from './feedback-commands.js';
import { dataDirOf, dateOption, withLake } from './options.js';

function parseNumber(name: string, check: (n: number) => boolean, expected: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!check(n)) throw new ValidationError(`\`${name}\` must be ${expected}, got "${value}"`);
    return n;
  };
}

const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** A number in a table cell: 4 significant digits, exponent for the very large and very small. */
function cell(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const a = Math.abs(value);
  if (a !== 0 && (a >= 1e7 || a < 1e-3)) return value.toExponential(2);
  return Number(value.toPrecision(4)).toString();
}

const percent = (value: number) => (Number.isFinite(value) ? `${(100 * value).toFixed(1)}%` : String(value));

/** Left-aligned first column, right-aligned others, columns padded to their widest cell. */
function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c] ?? 0) : v.padStart(widths[c] ?? 0))).join('  '))
    .join('\n');
}

function formatExperiment(e: Experiment): string {
  const total = e.arms.reduce((s, a) => s + a.weight, 0);
  return [
    `experiment ${e.id}: unit ${e.unit}, ${e.allocation} allocation, from ${e.startsAt.toISOString()}` +
      (e.endsAt ? ` to ${e.endsAt.toISOString()}` : ' (open-ended)'),
    ...e.arms.map(
      (a, i) =>
        `  ${i === 0 ? 'control ' : 'arm     '}${a.name}  ${percent(a.weight / total)}${a.description ? `  ${a.description}` : ''}`,
    ),
  ].join('\n');
}

function formatRecord(r: RecordEventsResult): string {
  const reasons = Object.entries(r.rejectsByReason)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return (
    `received ${r.received}, recorded ${r.recorded}, duplicates ${r.duplicates}, rejected ${r.rejected}` +
    (reasons ? ` (${reasons})` : '') +
    `, lake snapshots ${r.snapshots}` +
    r.rejectExamples.map((e) => `\n  ${e}`).join('')
  );
}

/** The report as text: units and checks first, then one table per KPI. */
export function formatReport(report: ExperimentReport): string {
  const lines = [
    `experiment ${report.experiment.id} at ${report.horizonHours} h, alpha ${report.alpha}`,
    `units: ${Object.entries(report.units)
      .map(([a, n]) => `${a} ${n}`)
      .join(', ')}`,
  ];
  if (report.sampleRatio)
    lines.push(
      `sample ratio: chi-square ${cell(report.sampleRatio.chiSquare)}, p ${cell(report.sampleRatio.pValue)}` +
        (report.sampleRatio.mismatch ? ' MISMATCH' : ' ok'),
    );
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  for (const k of report.kpis) {
    lines.push('', `${k.kpi}`);
    const rows = [
      [
        'arm',
        'units',
        'mean',
        'lift',
        `${100 * (1 - report.alpha)}% CI`,
        'welch p',
        'seq. interval',
        'seq. p',
      ],
    ];
    for (const a of k.arms) {
      const c = k.comparisons.find((x) => x.arm === a.arm);
      rows.push(
        c
          ? [
              a.arm,
              String(a.units),
              cell(a.mean),
              percent(c.lift),
              `${percent(c.liftLow)} .. ${percent(c.liftHigh)}`,
              cell(c.welch.pValue) + (c.significant ? ' *' : ''),
              `${cell(c.sequential.low)} .. ${cell(c.sequential.high)}`,
              cell(c.sequential.pValue) + (c.sequentialSignificant ? ' *' : ''),
            ]
          : [a.arm, String(a.units), cell(a.mean), 'control', '', '', '', ''],
      );
    }
    lines.push(table(rows));
  }
  lines.push(
    '',
    `lift: relative to the control, ${report.methods.interval}; welch p: ${report.methods.test}, valid once at a planned end;`,
    `seq.: ${report.methods.sequential}, on the difference, valid at every peek. * = below alpha.`,
  );
  return lines.join('\n');
}

/** Adds `experiment create|assign|record|report|list` to the program. */
export function addExperimentCommands(program: Command): void {
  const experiment = program
    .command('experiment')
    .description('A/B experiments and bandits: create, assign units, record engagement, report');

  experiment
    .command('create')
    .description('create an experiment; the first arm is the control')
    .argument('<id>', 'experiment id')
    .requiredOption('--arms <names>', 'comma-separated arm names, control first', list)
    .option('--weights <numbers>', 'comma-separated arm weights (default equal)', list)
    .addOption(
      new Option('--unit <unit>', 'what is assigned to an arm').choices(experimentUnits).default('post'),
    )
    .addOption(
      new Option('--allocation <kind>', 'fixed hash split or Thompson sampling')
        .choices(['hash', 'bandit'])
        .default('hash'),
    )
    .option('--description <text>', 'what the experiment tests')
    .option('--salt <text>', 'hash salt (default: the id)')
    .option('--start <time>', 'start (default now)', dateOption('--start'))
    .option('--end <time>', 'end (default open-ended)', dateOption('--end'))
    .option('--json', 'print the experiment as JSON')
    .action(
      async (
        id: string,
        opts: {
          arms: string[];
          weights?: string[];
          unit: ExperimentSpec['unit'];
          allocation: ExperimentSpec['allocation'];
          description?: string;
          salt?: string;
          start?: Date;
          end?: Date;
          json?: boolean;
        },
        command: Command,
      ) => {
        const weights = opts.weights?.map(Number) ?? opts.arms.map(() => 1);
        if (weights.length !== opts.arms.length)
          throw new ValidationError(`--weights has ${weights.length} values for ${opts.arms.length} arms`);
        const spec: ExperimentSpec = {
          id,
          arms: opts.arms.map((name, i) => ({ name, weight: weights[i] ?? Number.NaN })),
        };
        if (opts.unit) spec.unit = opts.unit;
        if (opts.allocation) spec.allocation = opts.allocation;
        if (opts.description !== undefined) spec.description = opts.description;
        if (opts.salt !== undefined) spec.salt = opts.salt;
        if (opts.start) spec.startsAt = opts.start;
        if (opts.end) spec.endsAt = opts.end;
        const created = await withLake(dataDirOf(command), (lake) => createExperiment(lake, spec));
        console.log(opts.json ? JSON.stringify(created, null, 2) : formatExperiment(created));
      },
    );

  experiment
    .command('assign')
    .description(
      'print the arm of each unit (hash: fixed; bandit: Thompson sampling on the engagement so far)',
    )
    .argument('<id>', 'experiment id')
    .argument('<units...>', 'unit ids (post keys, creator keys or viewer ids)')
    .addOption(new Option('--kpi <kpi>', 'KPI a bandit optimises').choices(kpis).default('likeRate'))
    .option(
      '--seed <n>',
      'seed of the bandit draws',
      parseNumber('--seed', Number.isInteger, 'an integer'),
      42,
    )
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        units: string[],
        opts: { kpi: string; seed: number; json?: boolean },
        command: Command,
      ) => {
        const arms = await withLake(dataDirOf(command), (lake) =>
          allocateUnits(lake, id, units, { kpi: parseKpi(opts.kpi), random: new Random(opts.seed) }),
        );
        console.log(opts.json ? JSON.stringify(arms) : arms.map((a) => `${a.unitId}\t${a.arm}`).join('\n'));
      },
    );

  experiment
    .command('record')
    .description(
      'record engagement events from a CSV or JSONL file (unit_id, horizon, observed_at, plays, ...)',
    )
    .argument('<id>', 'experiment id')
    .argument('<file>', 'events file')
    .option(
      '--update',
      'then run an online update of the active estimator on the new engagement (guarded; a new version)',
    )
    .option('--json', 'print the result as JSON')
    .action(
      async (id: string, file: string, opts: { update?: boolean; json?: boolean }, command: Command) => {
        const dir = dataDirOf(command);
        const { result, update } = await withLake(dir, async (lake) => {
          const events = await readEventFile(lake, file);
          const progress = terminalProgress();
          if (opts.update !== true)
            return {
              result: await recordEvents(lake, id, events, { source: file, progress }),
              update: undefined,
            };
          return recordAndLearn(lake, dir, id, events, { source: file, progress });
        });
        if (opts.json)
          console.log(JSON.stringify(update === undefined ? result : { ...result, update }, null, 2));
        else
          console.log(formatRecord(result) + (update === undefined ? '' : `\n${formatOnlineUpdate(update)}`));
      },
    );

  experiment
    .command('report')
    .description('per-KPI lift, tests and checks; writes an SVG chart of each KPI over time')
    .argument('<id>', 'experiment id')
    .addOption(new Option('--horizon <hours>', 'horizon of the events').choices(['1', '24']).default('24'))
    .option(
      '--kpi <kpis>',
      `KPIs to report, comma-separated (default all with data): ${kpis.join(', ')}`,
      list,
    )
    .option(
      '--alpha <p>',
      'error rate',
      parseNumber('--alpha', (n) => n > 0 && n < 1, 'in (0, 1)'),
      0.05,
    )
    .option('--seed <n>', 'bootstrap seed', parseNumber('--seed', Number.isInteger, 'an integer'), 42)
    .option('--charts <dir>', 'where to write the charts (default <data-dir>/experiments/<id>)')
    .option('--json', 'print the report as JSON')
    .action(
      async (
        id: string,
        opts: {
          horizon: string;
          kpi?: string[];
          alpha: number;
          seed: number;
          charts?: string;
          json?: boolean;
        },
        command: Command,
      ) => {
        const dir = dataDirOf(command);
        const report = await withLake(dir, async (lake) => {
          await getExperiment(lake, id);
          return experimentReport(lake, id, {
            horizon: opts.horizon === '1' ? 1 : 24,
            alpha: opts.alpha,
            seed: opts.seed,
            ...(opts.kpi ? { kpis: opts.kpi.map((k) => parseKpi(k)) } : {}),
          });
        });
        const chartDir = opts.charts ?? join(dir, 'experiments', id);
        const charts = report.kpis.map((k) => {
          const path = join(chartDir, `${k.kpi}-${report.horizonHours}h.svg`);
          writeFileAtomic(path, renderKpiChart(k));
          return path;
        });
        if (opts.json) console.log(JSON.stringify({ ...report, charts }, null, 2));
        else console.log(`${formatReport(report)}\n\ncharts:\n${charts.map((c) => `  ${c}`).join('\n')}`);
      },
    );

  experiment
    .command('list')
    .description('list the experiments in the lake')
    .action(async (_opts: unknown, command: Command) => {
      const ids = await withLake(dataDirOf(command), (lake) => listExperiments(lake));
      console.log(ids.length ? ids.join('\n') : '(no experiments)');
    });
}
