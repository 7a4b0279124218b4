// The studio talks to `tkllm serve` over HTTP only; these are the shapes its JSON answers take.

export interface ApiError {
  code: string;
  message: string;
  field?: string;
}

/** A failed call: the server's error body, with the HTTP status. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly error: ApiError,
  ) {
    super(error.message);
  }

  /** The server has no model of this kind trained yet (503 with code MODEL_STATE). */
  get modelAbsent(): boolean {
    return this.status === 503 && this.error.code === 'MODEL_STATE';
  }
}

export interface Distribution {
  count: number;
  mean: number | null;
  p10: number | null;
  p25: number | null;
  p50: number | null;
  p75: number | null;
  p90: number | null;
  p99: number | null;
}

export interface LakeSummary {
  posts: number;
  authors: number;
  snapshots: number;
  postsByPlatform: Record<string, number>;
  posted: { first: string | null; last: string | null };
  observed: { first: string | null; last: string | null };
  plays: Distribution;
  shareRate: Distribution;
  topHashtags: { tag: string; posts: number }[];
  rejects: number;
}

export interface Engagement {
  bins: { from: number; to: number; posts: number }[];
}

export interface Trends {
  bucket: string;
  tags: { tag: string; posts: number; series: { start: string; posts: number }[] }[];
}

export interface DraftScore {
  viralScore: number;
  subscores: { emotion: number; hook: number; replicability: number; share: number; trend: number };
  guidance: string[];
}

/** A generated candidate as `/v1/generate` gives it: subscores keyed E, H, R, S, T. */
export interface Candidate {
  /** 0 is the best. */
  rank: number;
  /** Its place in the sampled batch: the `candidate` of its token events. */
  index: number;
  text: string;
  logProbNorm: number;
  v: number;
  vPenalised: number;
  /** logProbNorm + eta * vPenalised: what the ranking sorts by. */
  score: number;
  subscores: Record<'E' | 'H' | 'R' | 'S' | 'T', number>;
  contributions: Record<'E' | 'H' | 'R' | 'S' | 'T', number>;
  policy: { blocked: boolean; brandSafety: number; reasons: string[] };
  finishReason: string;
}

/** What `/v1/generate/stream` sends, by event name. */
export interface GenerationEvents {
  start: { prompt: string; n: number; seconds: number };
  token: { candidate: number; text: string };
  ranked: { candidates: Candidate[] };
  done: { ranking: number[]; sampled: number; blocked: number; withoutKeyword: number; empty: number };
  error: { code: string; message: string };
}

export interface PolicyCheck {
  blocked: boolean;
  brandSafety: number;
  hits: {
    ruleId: string;
    category: string;
    severity: string;
    span: [number, number];
    text: string;
    why: string;
  }[];
}

export interface Models {
  scorer: { loaded: boolean; version: string | null };
  generator: { loaded: boolean; version: string | null };
}

async function failure(res: Response): Promise<ApiFailure> {
  const body = (await res.json().catch(() => null)) as { error?: ApiError } | null;
  return new ApiFailure(res.status, body?.error ?? { code: `HTTP_${res.status}`, message: res.statusText });
}

/** GETs a JSON resource of the API. */
export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** POSTs JSON and returns the JSON answer. */
export async function postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/**
 * POSTs JSON to a server-sent-events endpoint and calls `onEvent` for each event as it arrives. EventSource
 * only GETs, and generation takes a body, so the stream is read and split here.
 */
export async function postEvents(
  path: string,
  body: unknown,
  onEvent: (event: string, data: unknown) => void,
  signal?: AbortSignal,
): Promise<void> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  if (!res.ok || !res.body) throw await failure(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) onEvent(event, JSON.parse(data.join('\n')));
    }
  }
}
