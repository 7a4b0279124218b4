import './styles.css';
import {
  ApiFailure,
  getJson,
  postEvents,
  postJson,
  type Candidate,
  type DraftScore,
  type Engagement,
  type GenerationEvents,
  type LakeSummary,
  type Models,
  type PolicyCheck,
  type Trends,
} from './api.js';
import { barChart, fillTable, lineChart } from './charts.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const number = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 });
const subscoreNames = {
  emotion: 'Emotion intensity',
  hook: 'Hook strength',
  replicability: 'Replicability',
  share: 'Share trigger',
  trend: 'Trend match',
} as const;

/** A message for a failed call: the server's "no model trained yet" words stand as they are. */
function describe(error: unknown): string {
  if (error instanceof ApiFailure)
    return error.modelAbsent ? error.message : `${error.message} (${error.status})`;
  return error instanceof Error ? error.message : String(error);
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string) {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  if (className !== undefined) el.className = className;
  return el;
}

/** Posts per bucket of the span the lake covers: days for a month of data, weeks for a year, else months. */
function bucketFor(summary: LakeSummary): 'day' | 'week' | 'month' {
  const first = summary.posted.first ?? summary.observed.first;
  const last = summary.posted.last ?? summary.observed.last;
  if (!first || !last) return 'week';
  const days = (Date.parse(last) - Date.parse(first)) / 86_400_000;
  return days <= 62 ? 'day' : days <= 730 ? 'week' : 'month';
}

async function showLake(): Promise<void> {
  const status = $('lake-status');
  try {
    const summary = await getJson<LakeSummary>('/v1/lake/summary?top=10');
    if (summary.posts === 0) {
      status.textContent = 'The lake is empty: ingest posts with tkllm ingest FILE, or POST /v1/ingest.';
      return;
    }
    const range = (r: { first: string | null; last: string | null }) =>
      r.first && r.last ? `${r.first.slice(0, 10)} to ${r.last.slice(0, 10)}` : '—';
    const figures: [string, string][] = [
      ['Posts', summary.posts.toLocaleString('en')],
      ['Authors', summary.authors.toLocaleString('en')],
      ['Snapshots', summary.snapshots.toLocaleString('en')],
      ['Median plays', summary.plays.p50 === null ? '—' : number.format(summary.plays.p50)],
      ['Median share rate', summary.shareRate.p50 === null ? '—' : percent.format(summary.shareRate.p50)],
      ['Posted', range(summary.posted)],
      ['Observed', range(summary.observed)],
      ['Rejected rows', summary.rejects.toLocaleString('en')],
    ];
    $('lake-figures').replaceChildren(
      ...figures.flatMap(([k, v]) => {
        const div = element('div');
        div.append(element('dt', k), element('dd', v));
        return [div];
      }),
    );
    status.textContent = `${summary.posts.toLocaleString('en')} posts from ${Object.keys(summary.postsByPlatform).join(', ')}.`;

    const tags = summary.topHashtags;
    barChart(
      'hashtags-chart',
      tags.map((t) => `#${t.tag}`),
      tags.map((t) => t.posts),
      'posts',
      true,
    );
    fillTable(
      'hashtags-table',
      ['Hashtag', 'Posts'],
      tags.map((t) => [`#${t.tag}`, t.posts]),
    );

    const engagement = await getJson<Engagement>('/v1/lake/engagement');
    const bandLabel = (b: { from: number; to: number }) => `${number.format(b.from)}–${number.format(b.to)}`;
    barChart(
      'engagement-chart',
      engagement.bins.map(bandLabel),
      engagement.bins.map((b) => b.posts),
      'posts',
    );
    fillTable(
      'engagement-table',
      ['Plays', 'Posts'],
      engagement.bins.map((b) => [bandLabel(b), b.posts]),
    );

    const bucket = bucketFor(summary);
    const trends = await getJson<Trends>(`/v1/lake/trends?tags=5&bucket=${bucket}`);
    const starts = [...new Set(trends.tags.flatMap((t) => t.series.map((p) => p.start)))].sort();
    const series = trends.tags.map((t) => {
      const byStart = new Map(t.series.map((p) => [p.start, p.posts]));
      return { label: `#${t.tag}`, values: starts.map((s) => byStart.get(s) ?? 0) };
    });
    $('trends-caption').textContent = `Top hashtags over time: posts per ${bucket}`;
    lineChart('trends-chart', starts, series);
    fillTable(
      'trends-table',
      [bucket, ...series.map((s) => s.label)],
      starts.map((s, i) => [s, ...series.map((x) => x.values[i] ?? 0)]),
    );
  } catch (error) {
    status.textContent = `Could not load the lake summary: ${describe(error)}`;
  }
}

async function showModels(): Promise<void> {
  const el = $('models');
  try {
    const models = await getJson<Models>('/v1/models');
    const part = (name: string, m: Models['scorer']) =>
      m.loaded ? `${name} ${m.version ?? ''}` : `${name}: not trained`;
    el.textContent = `Models — ${part('ViralScore', models.scorer)}; ${part('language model', models.generator)}.`;
  } catch (error) {
    el.textContent = `Could not read the models: ${describe(error)}`;
  }
}

let meterIds = 0;

/** The five subscores as labelled meters, with the guidance under them. */
function scoreView(score: DraftScore): HTMLElement {
  const wrap = element('div', undefined, 'score');
  wrap.append(element('p', `ViralScore ${Math.round(score.viralScore * 100)} / 100`, 'viral'));
  const list = element('ul', undefined, 'subscores');
  for (const [key, name] of Object.entries(subscoreNames)) {
    const value = score.subscores[key as keyof typeof subscoreNames];
    const li = element('li');
    const id = `subscore-${++meterIds}`;
    const label = element('label', `${name}: ${Math.round(value * 100)}`);
    label.htmlFor = id;
    const meter = element('meter');
    meter.id = id;
    meter.min = 0;
    meter.max = 1;
    meter.value = value;
    li.append(label, meter);
    list.append(li);
  }
  wrap.append(list);
  if (score.guidance.length > 0) {
    wrap.append(element('h3', 'Guidance'));
    const g = element('ul');
    for (const line of score.guidance) g.append(element('li', line));
    wrap.append(g);
  }
  return wrap;
}

function setupScore(): void {
  const form = $<HTMLFormElement>('score-form');
  const text = $<HTMLTextAreaElement>('draft-text');
  const result = $('score-result');
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const hashtags = $<HTMLInputElement>('draft-hashtags')
      .value.split(/[\s,]+/)
      .map((t) => t.replace(/^#/, ''))
      .filter(Boolean);
    result.textContent = 'Scoring…';
    const check = $('check-result');
    check.textContent = 'Checking policy…';
    postJson<PolicyCheck>('/v1/check', { text: text.value }).then(
      (verdict) => check.replaceChildren(policyView(verdict)),
      (error: unknown) => check.replaceChildren(element('p', describe(error), 'error')),
    );
    postJson<{ modelVersion: string; score: DraftScore }>('/v1/score', {
      text: text.value,
      ...(hashtags.length > 0 ? { hashtags } : {}),
    }).then(
      (res) =>
        result.replaceChildren(scoreView(res.score), element('p', `model ${res.modelVersion}`, 'hint')),
      (error: unknown) => {
        result.replaceChildren(
          element(
            'p',
            describe(error),
            error instanceof ApiFailure && error.modelAbsent ? 'notice' : 'error',
          ),
        );
      },
    );
  });
}

/** The policy verdict: allowed or blocked, brand safety, and each rule that fired with its reason. */
function policyView(verdict: PolicyCheck): HTMLElement {
  const wrap = element(
    'div',
    undefined,
    verdict.blocked ? 'error' : verdict.hits.length > 0 ? 'notice' : 'ok',
  );
  wrap.append(
    element(
      'p',
      `Policy: ${verdict.blocked ? 'blocked' : 'allowed'} · brand safety ${percent.format(verdict.brandSafety)}`,
      'policy',
    ),
  );
  if (verdict.hits.length > 0) {
    const list = element('ul');
    for (const h of verdict.hits)
      list.append(element('li', `"${h.text}" — ${h.category} (${h.severity}): ${h.why}`));
    wrap.append(list);
  }
  return wrap;
}

/** A candidate's row: its text (the prompt, then what streams in) and, once ranked, its breakdown. */
interface CandidateRow {
  li: HTMLLIElement;
  text: Text;
}

function candidateRow(index: number, prompt: string): CandidateRow {
  const li = element('li', undefined, 'candidate');
  li.dataset.index = String(index);
  const p = element('p', undefined, 'text');
  const text = document.createTextNode(prompt);
  p.append(text);
  li.append(p, element('p', `candidate ${index + 1}: writing…`, 'hint'));
  return { li, text };
}

/** Fills a ranked candidate's row: rank, rank score, log-prob, V after policy, policy status, meters. */
function showRanked(row: CandidateRow, c: Candidate): void {
  // The final text; equal to what streamed in, written again in case a piece was lost.
  row.text.data = c.text;
  const policy =
    c.policy.reasons.length === 0
      ? `policy: clear, brand safety ${c.policy.brandSafety.toFixed(2)}`
      : `policy: ${c.policy.reasons.join(', ')} (brand safety ${c.policy.brandSafety.toFixed(2)})`;
  row.li.replaceChildren(
    row.li.firstChild!,
    element(
      'p',
      `#${c.rank + 1} · rank score ${c.score.toFixed(3)} · log-prob ${c.logProbNorm.toFixed(3)} · V after policy ${c.vPenalised.toFixed(3)} · ${policy}`,
      'hint',
    ),
    scoreView({
      viralScore: c.v,
      subscores: {
        emotion: c.subscores.E,
        hook: c.subscores.H,
        replicability: c.subscores.R,
        share: c.subscores.S,
        trend: c.subscores.T,
      },
      guidance: [],
    }),
  );
}

/** The generate request from the form: options left at their defaults are not sent. */
function generateRequest(): Record<string, unknown> {
  const value = (id: string) => $<HTMLInputElement>(id).value.trim();
  const body: Record<string, unknown> = {
    prompt: $<HTMLInputElement>('generate-prompt').value,
    n: Number(value('generate-count')),
    seconds: Number($<HTMLSelectElement>('generate-seconds').value),
  };
  if (value('generate-creator') !== '') body.creator = value('generate-creator');
  const style = Number(value('generate-style'));
  if (value('generate-style') !== '' && style !== 1) body.styleStrength = style;
  const rad = Number(value('generate-rad'));
  if (rad > 0) body.radEta = rad;
  const hashtags = value('generate-hashtags')
    .split(/[\s,]+/)
    .map((t) => t.replace(/^#/, ''))
    .filter(Boolean);
  if (hashtags.length > 0) body.hashtags = hashtags;
  const postedAt = value('generate-posted-at');
  if (postedAt !== '' && !Number.isNaN(Date.parse(postedAt)))
    body.postedAt = new Date(postedAt).toISOString();
  return body;
}

function setupGenerate(): void {
  const form = $<HTMLFormElement>('generate-form');
  const stop = $<HTMLButtonElement>('generate-stop');
  const status = $('generate-status');
  const list = $<HTMLOListElement>('generate-candidates');
  let abort: AbortController | undefined;
  stop.addEventListener('click', () => abort?.abort());
  const setState = (state: 'idle' | 'streaming' | 'ranked', label: string) => {
    list.dataset.state = state;
    list.setAttribute('aria-busy', String(state === 'streaming'));
    list.setAttribute('aria-label', label);
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    abort?.abort();
    abort = new AbortController();
    const body = generateRequest();
    const prompt = String(body.prompt);
    const rows = new Map<number, CandidateRow>();
    const row = (i: number) => {
      let r = rows.get(i);
      if (!r) {
        r = candidateRow(i, prompt);
        rows.set(i, r);
        list.append(r.li);
      }
      return r;
    };
    list.replaceChildren();
    setState('streaming', 'Candidates as they are written');
    status.textContent = `Writing ${String(body.n)} candidates…`;
    stop.disabled = false;
    postEvents(
      '/v1/generate/stream',
      body,
      (event, data) => {
        if (event === 'start') {
          // One row per sampled candidate, in sampling order, each growing as its text streams in.
          const { n } = data as GenerationEvents['start'];
          for (let i = 0; i < n; i++) row(i);
        } else if (event === 'token') {
          const { candidate, text } = data as GenerationEvents['token'];
          row(candidate).text.appendData(text);
        } else if (event === 'ranked') {
          // Scored, screened and ranked: the returned ones best first; the rest (blocked, without a
          // keyword, empty) leave the list.
          const { candidates } = data as GenerationEvents['ranked'];
          list.replaceChildren(
            ...candidates.map((c) => {
              const r = row(c.index);
              showRanked(r, c);
              return r.li;
            }),
          );
          setState('ranked', 'Candidates, best first');
          status.textContent = `Ranked ${candidates.length} candidates; scoring finished.`;
        } else if (event === 'done') {
          const { ranking, sampled, blocked } = data as GenerationEvents['done'];
          status.textContent = `${ranking.length} of ${sampled} sampled candidates, best first (${blocked} blocked by policy).`;
        } else if (event === 'error') {
          status.textContent = (data as GenerationEvents['error']).message;
        }
      },
      abort.signal,
    )
      .catch((error: unknown) => {
        status.textContent = abort?.signal.aborted ? 'Stopped.' : describe(error);
        status.className = error instanceof ApiFailure && error.modelAbsent ? 'notice' : '';
      })
      .finally(() => {
        stop.disabled = true;
        if (list.dataset.state === 'streaming') setState('idle', 'Candidates (stopped before ranking)');
      });
  });
}

setupScore();
setupGenerate();
void showModels();
void showLake();
