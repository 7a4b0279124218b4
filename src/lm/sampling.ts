import { Random, ValidationError } from '../core/index.js';
import { Tensor, noGrad } from '../tensor/index.js';
import { GraphDecoder } from './decode-graph.js';
import type { LmModel } from './model.js';
import { SPECIAL_TOKENS } from './tokenizer.js';
import type { Tokenizer } from './tokenizer.js';

/** What a logits processor knows about the position it shapes. */
export interface LogitsContext {
  /** Index of the candidate in the batch. */
  candidate: number;
  /** Generation step (0 for the first new token). */
  step: number;
  /** Tokens generated so far by this candidate (prompt excluded). */
  generated: readonly number[];
  /** The prompt's tokens (`<|style|>` first). */
  prompt: readonly number[];
}

/**
 * Shapes next-token logits in place before sampling: set an entry to -Infinity to ban a token, add to it
 * to bias it. Banned words and reward-augmented decoding plug in here.
 */
export type LogitsProcessor = (logits: Float32Array, context: LogitsContext) => void;

/** Options of `sampleScripts`. */
export interface SampleOptions {
  /** Text the scripts start with (a hook opening, say); empty by default. */
  prompt?: string;
  /** Style row of the creator to write like (0 = generic). */
  style?: number;
  /** Candidates decoded together as one batch (default 1). */
  candidates?: number;
  /** New tokens at most (default: up to the context length). */
  maxNewTokens?: number;
  /** Softmax temperature; 0 decodes greedily (default 1). */
  temperature?: number;
  /** Keep only the k most likely tokens; 0 keeps all (default 0). */
  topK?: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability reaches p (default 1). */
  topP?: number;
  /** CTRL's repetition penalty (> 1 discourages tokens already in the prompt or output; default 1). */
  repetitionPenalty?: number;
  /** Generation of a candidate ends when its text contains one of these (cut before it). */
  stop?: readonly string[];
  /** Seed of the sampler (default 0). */
  seed?: number;
  /** Run on the raw logits of each step, before the penalty, temperature and truncation. */
  logitsProcessors?: readonly LogitsProcessor[];
  signal?: AbortSignal;
}

/** One generated script. */
export interface Candidate {
  /** The generated text (prompt excluded), special tokens removed, cut at a stop sequence. */
  text: string;
  tokens: number[];
  /** log P(token) under the model's own distribution (no temperature, no processors), per token. */
  logProbs: number[];
  finishReason: 'end' | 'stop' | 'length' | 'aborted';
}

/** What `sampleScripts` returns. */
export interface SampleResult {
  prompt: string;
  candidates: Candidate[];
  /** Model steps (one per new token position, the prompt pass included). */
  steps: number;
  /** New tokens of all candidates per second. */
  tokensPerSecond: number;
}

function resolve(options: SampleOptions) {
  const r = {
    candidates: options.candidates ?? 1,
    temperature: options.temperature ?? 1,
    topK: options.topK ?? 0,
    topP: options.topP ?? 1,
    repetitionPenalty: options.repetitionPenalty ?? 1,
  };
  if (!Number.isInteger(r.candidates) || r.candidates <= 0)
    throw new ValidationError(`\`candidates\` must be a positive integer, got ${r.candidates}`);
  if (!(r.temperature >= 0)) throw new ValidationError(`\`temperature\` must be >= 0, got ${r.temperature}`);
  if (!Number.isInteger(r.topK) || r.topK < 0)
    throw new ValidationError(`\`topK\` must be an integer >= 0, got ${r.topK}`);
  if (!(r.topP > 0 && r.topP <= 1)) throw new ValidationError(`\`topP\` must be in (0, 1], got ${r.topP}`);
  if (!(r.repetitionPenalty > 0))
    throw new ValidationError(`\`repetitionPenalty\` must be > 0, got ${r.repetitionPenalty}`);
  return r;
}

/** The text of generated tokens, the hook/body separator written as a line break, other specials dropped. */
export function scriptText(tokenizer: Tokenizer, tokens: readonly number[]): string {
  const parts: number[][] = [[]];
  for (const t of tokens) {
    if (t === tokenizer.bodyId) parts.push([]);
    else parts[parts.length - 1].push(t);
  }
  return parts.map((p) => tokenizer.decode(p, { skipSpecial: true })).join('\n');
}

/** log-sum-exp of a row, in float64: log P(token) is then `row[token] - lse`. */
function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i] - max);
  return max + Math.log(s);
}

/**
 * Scratch buffers reused across the rows of a request: top-k and top-p used to rank the whole
 * vocabulary with a comparator sort for every candidate at every step, most of a step's CPU time.
 */
export interface Scratch {
  ids: Int32Array;
  probs: Float64Array;
}

/** The ranking order of the former full sort: higher logit first, lower id first among equals. */
function before(logits: Float32Array, a: number, b: number): boolean {
  return logits[a] > logits[b] || (logits[a] === logits[b] && a < b);
}

/**
 * Partitions `ids[lo, hi)` around the element at `pivotAt`: those ranked before it, then it, then the
 * rest. Returns the pivot's new position.
 */
function partition(ids: Int32Array, logits: Float32Array, lo: number, hi: number, pivotAt: number): number {
  const pivot = ids[pivotAt];
  ids[pivotAt] = ids[hi - 1];
  ids[hi - 1] = pivot;
  let store = lo;
  for (let i = lo; i < hi - 1; i++) {
    const id = ids[i];
    if (before(logits, id, pivot)) {
      ids[i] = ids[store];
      ids[store++] = id;
    }
  }
  ids[hi - 1] = ids[store];
  ids[store] = pivot;
  return store;
}

/** Moves the `k` first-ranked of `ids[0, n)` to the front (unordered among themselves). */
function selectTop(ids: Int32Array, n: number, logits: Float32Array, k: number): void {
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const at = partition(ids, logits, lo, hi, lo + ((hi - lo) >> 1));
    if (at === k || at === k - 1) return;
    if (at > k) hi = at;
    else lo = at + 1;
  }
}

/**
 * Moves the smallest first-ranked set of `ids[0, n)` whose mass (`probs` by id) reaches `target` to
 * the front and returns its size: the nucleus, found by partitioning on mass instead of sorting.
 */
function selectMass(
  ids: Int32Array,
  n: number,
  logits: Float32Array,
  probs: Float64Array,
  target: number,
): number {
  let lo = 0;
  let hi = n;
  let accBefore = 0;
  // Invariant: ids[0, lo) rank before ids[lo, hi), which rank before ids[hi, n); mass of [0, lo) < target.
  while (hi - lo > 1) {
    const at = partition(ids, logits, lo, hi, lo + ((hi - lo) >> 1));
    let massLeft = 0;
    for (let i = lo; i < at; i++) massLeft += probs[ids[i]];
    if (accBefore + massLeft >= target) hi = at;
    else if (accBefore + massLeft + probs[ids[at]] >= target) return at + 1;
    else {
      accBefore += massLeft + probs[ids[at]];
      lo = at + 1;
      if (lo >= hi) return hi;
    }
  }
  return hi;
}

/**
 * Draws a token from processed logits: greedy at temperature 0, else top-k, then top-p, then sample.
 * Exported for its test; the library face does not carry it.
 */
export function pickToken(
  logits: Float32Array,
  temperature: number,
  topK: number,
  topP: number,
  rng: Random,
  scratch: Scratch,
): number {
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  if (topK === 0 && topP >= 1) {
    // Plain sampling needs no ranking: one pass for the normaliser, one to draw.
    let max = -Infinity;
    for (const x of logits) if (x > max) max = x;
    let total = 0;
    for (const x of logits) total += Math.exp((x - max) / temperature);
    let u = rng.next() * total;
    let last = 0;
    for (let i = 0; i < logits.length; i++) {
      if (logits[i] === -Infinity) continue;
      last = i;
      u -= Math.exp((logits[i] - max) / temperature);
      if (u <= 0) return i;
    }
    return last;
  }
  const n = nucleus(logits, temperature, topK, topP, scratch);
  const { ids, probs } = scratch;
  // The kept tokens are drawn in the order selection left them: ranking them would cost a comparator
  // sort of the nucleus (most of the vocabulary for a flat distribution) and changes no probability.
  let total = 0;
  for (let k = 0; k < n; k++) total += probs[ids[k]];
  let u = rng.next() * total;
  for (let k = 0; k < n; k++) {
    u -= probs[ids[k]];
    if (u <= 0) return ids[k];
  }
  return ids[n - 1];
}

/**
 * The tokens top-k then top-p keep, moved to the front of `scratch.ids` (their count returned) with
 * their unnormalised probabilities at temperature in `scratch.probs` (by token id): the set a full
 * ranking of the vocabulary keeps, ties broken toward the lower id.
 */
export function nucleus(
  logits: Float32Array,
  temperature: number,
  topK: number,
  topP: number,
  scratch: Scratch,
): number {
  const { ids, probs } = scratch;
  let n = 0;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > -Infinity) {
      ids[n++] = i;
      if (logits[i] > max) max = logits[i];
    }
  }
  if (topK > 0 && topK < n) {
    selectTop(ids, n, logits, topK);
    n = topK;
  }
  let total = 0;
  for (let k = 0; k < n; k++) {
    const p = Math.exp((logits[ids[k]] - max) / temperature);
    probs[ids[k]] = p;
    total += p;
  }
  return topP < 1 ? selectMass(ids, n, logits, probs, topP * total) : n;
}

/**
 * Generates `candidates` scripts in one batch with the key/value cache: one model pass over the
 * prompt, then one step per new token for the whole batch. Each step runs the logits processors, the
 * repetition penalty, temperature, top-k and top-p, then samples with the seeded generator; a
 * candidate ends at `<|endofscript|>`, at a stop sequence, at `maxNewTokens` or when aborted.
 * @example
 * const { candidates } = sampleScripts(model, tokenizer, { prompt: 'POV:', candidates: 8, topP: 0.9 });
 */
export function sampleScripts(
  model: LmModel,
  tokenizer: Tokenizer,
  options: SampleOptions = {},
): SampleResult {
  const { candidates: n, temperature, topK, topP, repetitionPenalty } = resolve(options);
  const prompt = options.prompt ?? '';
  const promptIds = tokenizer.encode(`${SPECIAL_TOKENS.style}${prompt}`);
  const room = model.config.contextLength - promptIds.length;
  if (room <= 0)
    throw new ValidationError(
      `the prompt takes ${promptIds.length} tokens, the model's context is ${model.config.contextLength}`,
    );
  const maxNew = Math.min(options.maxNewTokens ?? room, room);
  if (!Number.isInteger(maxNew) || maxNew <= 0)
    throw new ValidationError(`\`maxNewTokens\` must be a positive integer, got ${options.maxNewTokens}`);
  const stops = options.stop ?? [];
  const rng = new Random(options.seed ?? 0);
  const styles = new Tensor(new Int32Array(n).fill(options.style ?? 0), [n], 'int32');
  const vocab = model.config.vocabSize;
  const out = Array.from({ length: n }, (): Candidate => ({
    text: '',
    tokens: [],
    logProbs: [],
    finishReason: 'length',
  }));
  const done = new Array<boolean>(n).fill(false);
  const scratch: Scratch = { ids: new Int32Array(vocab), probs: new Float64Array(vocab) };
  const started = performance.now();
  let steps = 0;
  const wasTraining = model.training;
  model.eval();
  noGrad(() => {
    const decoder = new GraphDecoder(model, n);
    const first = new Int32Array(n * promptIds.length);
    for (let i = 0; i < n; i++) first.set(promptIds, i * promptIds.length);
    const prompted = decoder.prefill(new Tensor(first, [n, promptIds.length], 'int32'), styles);
    let logits = prompted.data;
    let t = prompted.shape[1];
    steps++;
    for (let step = 0; step < maxNew; step++) {
      const next = new Int32Array(n).fill(tokenizer.endOfScriptId);
      for (let i = 0; i < n; i++) {
        if (done[i]) continue;
        const c = out[i];
        if (options.signal?.aborted === true) {
          done[i] = true;
          c.finishReason = 'aborted';
          continue;
        }
        const offset = (i * t + t - 1) * vocab;
        const raw = logits.slice(offset, offset + vocab);
        const lse = logSumExp(raw);
        const context: LogitsContext = { candidate: i, step, generated: c.tokens, prompt: promptIds };
        for (const processor of options.logitsProcessors ?? []) processor(raw, context);
        if (repetitionPenalty !== 1) {
          for (const id of new Set([...promptIds, ...c.tokens]))
            raw[id] = raw[id] > 0 ? raw[id] / repetitionPenalty : raw[id] * repetitionPenalty;
        }
        const token = pickToken(raw, temperature, topK, topP, rng, scratch);
        next[i] = token;
        if (token === tokenizer.endOfScriptId) {
          done[i] = true;
          c.finishReason = 'end';
          c.text = scriptText(tokenizer, c.tokens);
          continue;
        }
        c.tokens.push(token);
        c.logProbs.push(logits[offset + token] - lse);
        if (stops.length > 0) {
          const text = scriptText(tokenizer, c.tokens);
          const at = Math.min(...stops.map((s) => text.indexOf(s)).filter((k) => k >= 0));
          if (Number.isFinite(at)) {
            done[i] = true;
            c.finishReason = 'stop';
            c.text = text.slice(0, at);
          }
        }
      }
      if (done.every(Boolean) || step === maxNew - 1) break;
      logits = decoder.step(next);
      t = 1;
      steps++;
    }
  });
  model.train(wasTraining);
  let generated = 0;
  for (let i = 0; i < n; i++) {
    const c = out[i];
    if (c.finishReason === 'length' || c.finishReason === 'aborted') c.text = scriptText(tokenizer, c.tokens);
    generated += c.tokens.length;
  }
  const seconds = (performance.now() - started) / 1000;
  return { prompt, candidates: out, steps, tokensPerSecond: generated / Math.max(seconds, 1e-9) };
}
