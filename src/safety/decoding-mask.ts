import { ValidationError } from '../core/index.js';
import { Automaton } from './automaton.js';
import { Canonicalizer, SEP } from './canonical.js';
import type { PolicyPack, Severity } from './pack.js';
import { policyFor, termPatterns, type Policy } from './policy.js';
import { Utf8Stream } from './utf8.js';

/**
 * A token's text piece: a string, its UTF-8 bytes (byte-level BPE pieces may be parts of a character), or
 * null for a special token that adds no text. Like the LM tokenizer's `decode`, a special token ends any
 * unfinished UTF-8 sequence before it (as U+FFFD).
 */
export type VocabPiece = string | Uint8Array | null;

/** Options of `BannedSequenceMask`. */
export interface BannedSequenceMaskOptions {
  /** A compiled policy; else `packs` are compiled; else the shipped default pack. */
  policy?: Policy;
  packs?: readonly PolicyPack[];
  /** Region whose severities decide which rules block. */
  region?: string;
  /** Severities whose terms are masked (default `['block']`: banned terms and rules that block there). */
  levels?: readonly Severity[];
  /** More banned words and phrases, such as a request's own list (same syntax as pack terms). */
  terms?: readonly string[];
  /** Tokens that end the text (end of script): masked when ending now would complete a banned term. */
  endTokenIds?: readonly number[];
}

/** Options of one masking step. */
export interface MaskStepOptions {
  /**
   * How many tokens may still follow the next one before a length limit ends the text (0: the next token is
   * the last). With 0, tokens after which the text could not end cleanly are masked too, so that a length
   * limit never leaves a banned word at the end. Default: no limit known (Infinity).
   */
  remaining?: number;
  /** Shorthand for `remaining: 0`. */
  last?: boolean;
}

interface TrieNode {
  children: Map<number, TrieNode>;
  tokens: number[];
  /** Every token id in this node's subtree, computed on first need. */
  subtree?: number[];
}

const encoder = new TextEncoder();
/** Pseudo-byte of a special token: ends an unfinished UTF-8 sequence. */
const FLUSH = 256;

/**
 * The decoding-time constraint that keeps banned terms out of generated text: from the text generated so
 * far it gives the token ids whose piece would complete a banned term (across any number of token
 * boundaries), so that a sampler sets their logits to -Infinity.
 *
 * It runs the checker's own streaming canonicaliser and an Aho-Corasick automaton of the banned patterns
 * over the bytes of each piece, walking a byte trie of the vocabulary so that shared prefixes are read once.
 * A state is (automaton state, canonicaliser state, UTF-8 decoder state); transitions and each state's
 * banned list are memoised, so after warm-up a step costs a map lookup.
 *
 * Word-bounded terms complete only at the separator after them, so a prefix such as "kil" is never masked
 * early; `endTokenIds` cover the end of the text, which is a separator too. A piece that would leave a
 * banned word with no clean way to go on (right before the length limit, or followed by half a character or
 * an unresolved l33t symbol) is masked as well, so the term never becomes unavoidable and the sampler is
 * never left without a token.
 * @example
 * const mask = new BannedSequenceMask(pieces, { endTokenIds: [tok.endOfScriptId] });
 * const cursor = mask.start();
 * for (;;) { cursor.apply(logits); const id = sample(logits); if (id === eos) break; cursor.advance(id); }
 */
export class BannedSequenceMask {
  /** Number of tokens in the vocabulary. */
  readonly vocabSize: number;
  private readonly automaton: Automaton;
  private readonly root: TrieNode = { children: new Map(), tokens: [] };
  private readonly pieces: readonly (Uint8Array | null)[];
  private readonly endTokenIds: readonly number[];
  /** Null pieces other than the end tokens: they add no text but end an unfinished UTF-8 sequence. */
  private readonly specialIds: number[] = [];
  private readonly states: { ac: number; canon: string; utf8: string }[] = [];
  private readonly stateIds = new Map<string, number>();
  private readonly transitions = new Map<number, number>();
  private readonly endFires = new Map<number, boolean>();
  private readonly bannedCache = new Map<number, readonly number[]>();
  private readonly distances = new Map<number, number>();
  /** Number of distinct banned patterns. */
  readonly patternCount: number;

  constructor(vocab: readonly VocabPiece[], options: BannedSequenceMaskOptions = {}) {
    this.vocabSize = vocab.length;
    const policy = policyFor(options);
    const patternOptions: { region?: string; levels?: readonly Severity[] } = {};
    if (options.region !== undefined) patternOptions.region = options.region;
    if (options.levels !== undefined) patternOptions.levels = options.levels;
    const patterns = new Set(policy.blockingPatterns(patternOptions));
    for (const term of options.terms ?? []) {
      const variants = termPatterns(term);
      if (variants.length === 0)
        throw new ValidationError(`banned term "${term}" has no letters or digits to match`);
      for (const p of variants) patterns.add(p);
    }
    this.patternCount = patterns.size;
    this.automaton = new Automaton([...patterns]);
    this.pieces = vocab.map((piece) => (typeof piece === 'string' ? encoder.encode(piece) : piece));
    this.endTokenIds = options.endTokenIds ?? [];
    for (const id of this.endTokenIds)
      if (!Number.isInteger(id) || id < 0 || id >= vocab.length)
        throw new ValidationError(`\`endTokenIds\` holds ${id}, outside the vocabulary [0, ${vocab.length})`);
    const ends = new Set(this.endTokenIds);
    this.pieces.forEach((bytes, id) => {
      if (bytes === null) {
        if (!ends.has(id)) this.specialIds.push(id);
        return;
      }
      if (bytes.length === 0) return;
      let node = this.root;
      for (const b of bytes) {
        let child = node.children.get(b);
        if (child === undefined) {
          child = { children: new Map(), tokens: [] };
          node.children.set(b, child);
        }
        node = child;
      }
      node.tokens.push(id);
    });
  }

  /** A cursor at the start of a text, after `prefix` (text the candidate will be checked with, if any). */
  start(prefix = ''): MaskCursor {
    // The canonical text opens with a separator, so the automaton starts after one.
    let state = this.intern(this.automaton.step(0, SEP), '0', '');
    for (const b of encoder.encode(prefix)) state = this.step(state, b).next;
    return new MaskCursor(this, state);
  }

  /** Token ids that must not come next after `textSoFar` (recomputed from the start: cursors are cheaper). */
  bannedTokenIds(textSoFar: string, options: MaskStepOptions = {}): readonly number[] {
    return this.start(textSoFar).banned(options);
  }

  /** @internal The state after `bytes` of token `id` from `state`; `fires` if a banned term completed. */
  advanceToken(state: number, id: number): { next: number; fires: boolean } {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
      throw new ValidationError(`token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    const bytes = this.pieces[id];
    let fires = false;
    let next = state;
    if (bytes === null || bytes === undefined) return this.step(state, FLUSH);
    for (const b of bytes) {
      const t = this.step(next, b);
      fires ||= t.fires;
      next = t.next;
    }
    return { next, fires };
  }

  /** @internal Whether ending the text in `state` would complete a banned term. */
  endingFires(state: number): boolean {
    const known = this.endFires.get(state);
    if (known !== undefined) return known;
    const { fires } = this.replay(state, (decoder, push, machine) => {
      decoder.finish(push);
      machine.finish(0);
    });
    this.endFires.set(state, fires);
    return fires;
  }

  /** @internal Banned token ids in `state` when `remaining` tokens may follow the next one, memoised. */
  bannedIn(state: number, remaining: number): readonly number[] {
    const roomToFinish = remaining >= 1;
    const cacheKey = state * 2 + (roomToFinish ? 1 : 0);
    const cached = this.bannedCache.get(cacheKey);
    if (cached !== undefined) return cached;
    const banned: number[] = [];
    const cornered = (next: number) => {
      const d = this.tokensToCleanEnd(next);
      return d > 1 || (d === 1 && !roomToFinish);
    };
    const walk = (node: TrieNode, at: number): void => {
      for (const [byte, child] of node.children) {
        const t = this.step(at, byte);
        if (t.fires) {
          banned.push(...subtreeTokens(child));
          continue;
        }
        if (child.tokens.length > 0 && cornered(t.next)) banned.push(...child.tokens);
        walk(child, t.next);
      }
    };
    walk(this.root, state);
    const flushed = this.step(state, FLUSH);
    if (flushed.fires || cornered(flushed.next)) banned.push(...this.specialIds);
    if (this.endingFires(state)) banned.push(...this.endTokenIds);
    banned.sort((a, b) => a - b);
    const result = Object.freeze(banned);
    this.bannedCache.set(cacheKey, result);
    return result;
  }

  /**
   * How many tokens it takes from `state` to a text that may end without completing a banned term: 0 when it
   * may end now; 1 when a banned word is pending at its end and one token can carry on the word ("bad" ->
   * "badge"); otherwise Infinity. A state holding half a character or unresolved l33t symbols right after a
   * banned word counts as Infinity: finishing it is possible but needs a search over several tokens, and
   * refusing the one token that led there costs the model almost nothing.
   */
  private tokensToCleanEnd(state: number): number {
    const known = this.distances.get(state);
    if (known !== undefined) return known;
    let distance = 0;
    if (this.endingFires(state)) {
      const { canon, utf8 } = this.states[state];
      distance = utf8 === '' && canon.length === 1 && this.canCarryOn(state) ? 1 : Number.POSITIVE_INFINITY;
    }
    this.distances.set(state, distance);
    return distance;
  }

  /** Whether some token from `state` completes nothing and leaves a text that may end. */
  private canCarryOn(state: number): boolean {
    const search = (node: TrieNode, at: number): boolean => {
      for (const [byte, child] of node.children) {
        const t = this.step(at, byte);
        if (t.fires) continue;
        if (child.tokens.length > 0 && !this.endingFires(t.next)) return true;
        if (search(child, t.next)) return true;
      }
      return false;
    };
    return search(this.root, state);
  }

  private intern(ac: number, canon: string, utf8: string): number {
    const key = `${ac}\u0000${utf8}\u0000${canon}`;
    let id = this.stateIds.get(key);
    if (id === undefined) {
      id = this.states.length;
      this.states.push({ ac, canon, utf8 });
      this.stateIds.set(key, id);
    }
    return id;
  }

  // Transitions are packed as (state * 257 + byte) -> (next * 2 + fires); byte 256 is FLUSH.
  private step(state: number, byte: number): { next: number; fires: boolean } {
    const key = state * 257 + byte;
    const packed = this.transitions.get(key);
    if (packed !== undefined) return { next: packed >> 1, fires: (packed & 1) === 1 };
    const run = this.replay(state, (decoder, push) => {
      if (byte === FLUSH) decoder.finish(push);
      else decoder.push(byte, push);
    });
    const next = this.intern(run.ac, run.machine.key(), run.decoder.key());
    this.transitions.set(key, next * 2 + (run.fires ? 1 : 0));
    return { next, fires: run.fires };
  }

  /**
   * Rebuilds `state`'s automaton, canonicaliser and UTF-8 decoder, lets `feed` push input through them, and
   * reports where the automaton ended and whether a banned term completed on the way.
   */
  private replay(
    state: number,
    feed: (decoder: Utf8Stream, push: (cp: number) => void, machine: Canonicalizer) => void,
  ): { ac: number; fires: boolean; machine: Canonicalizer; decoder: Utf8Stream } {
    const { ac, canon, utf8 } = this.states[state];
    let s = ac;
    let fires = false;
    const machine = new Canonicalizer((ch) => {
      s = this.automaton.step(s, ch);
      if (this.automaton.output(s).length > 0) fires = true;
    });
    machine.restore(canon);
    const decoder = new Utf8Stream();
    decoder.restore(utf8);
    feed(decoder, (cp) => machine.push(cp, 0, 0), machine);
    return { ac: s, fires, machine, decoder };
  }
}

function subtreeTokens(node: TrieNode): number[] {
  if (node.subtree !== undefined) return node.subtree;
  const out = [...node.tokens];
  for (const child of node.children.values()) out.push(...subtreeTokens(child));
  node.subtree = out;
  return out;
}

/**
 * A position in one generated text: advance it with each sampled token, ask it which tokens are banned next.
 */
export class MaskCursor {
  /** @internal */
  constructor(
    private readonly mask: BannedSequenceMask,
    private state: number,
  ) {}

  /** Moves past token `id`; a token the mask had banned is refused with a ValidationError. */
  advance(id: number): this {
    const { next, fires } = this.mask.advanceToken(this.state, id);
    if (fires) throw new ValidationError(`token ${id} completes a banned term: it was masked at this step`);
    this.state = next;
    return this;
  }

  /** Token ids that must not come next. */
  banned(options: MaskStepOptions = {}): readonly number[] {
    const remaining = options.last === true ? 0 : (options.remaining ?? Number.POSITIVE_INFINITY);
    if (!(remaining >= 0))
      throw new ValidationError(`\`remaining\` must be a non-negative number of tokens, got ${remaining}`);
    return this.mask.bannedIn(this.state, remaining);
  }

  /** Whether the text may end here without completing a banned term. */
  canEnd(): boolean {
    return !this.mask.endingFires(this.state);
  }

  /** Sets the logits of banned tokens to -Infinity, in place. */
  apply(logits: Float32Array | Float64Array | number[], options: MaskStepOptions = {}): void {
    if (logits.length !== this.mask.vocabSize)
      throw new ValidationError(
        `logits have ${logits.length} entries, expected the vocabulary size ${this.mask.vocabSize}`,
      );
    for (const id of this.banned(options)) logits[id] = Number.NEGATIVE_INFINITY;
  }

  /** An independent copy, for beam search or for trying a token without committing to it. */
  clone(): MaskCursor {
    return new MaskCursor(this.mask, this.state);
  }
}

/** What `maskingProcessor` needs to know about the step it shapes (a subset of the sampler's context). */
export interface MaskingContext {
  /** Index of the candidate in the batch. */
  candidate: number;
  /** Generation step, 0 for the first new token. */
  step: number;
  /** Tokens generated so far by this candidate (prompt excluded). */
  generated: readonly number[];
}

/** Options of `maskingProcessor`. */
export interface MaskingProcessorOptions {
  /** The sampler's token limit (after any cap by the context length): it sets each step's `remaining`. */
  maxNewTokens?: number;
  /** Text each candidate will be checked with before its generated text (default none). */
  prefix?: string;
}

/**
 * A logits processor for a batched sampler: keeps one cursor per candidate, advances it by the tokens
 * generated since the last call and sets the banned tokens' logits to -Infinity. A call at step 0 starts
 * the candidate afresh, so one processor serves successive generations.
 * @example
 * sampleScripts(model, tok, { maxNewTokens: 60, logitsProcessors: [maskingProcessor(mask, { maxNewTokens: 60 })] });
 */
export function maskingProcessor(
  mask: BannedSequenceMask,
  options: MaskingProcessorOptions = {},
): (logits: Float32Array, context: MaskingContext) => void {
  const cursors = new Map<number, { cursor: MaskCursor; consumed: number }>();
  return (logits, context) => {
    let entry = cursors.get(context.candidate);
    if (entry === undefined || context.step === 0 || context.generated.length < entry.consumed) {
      entry = { cursor: mask.start(options.prefix), consumed: 0 };
      cursors.set(context.candidate, entry);
    }
    for (; entry.consumed < context.generated.length; entry.consumed++)
      entry.cursor.advance(context.generated[entry.consumed]);
    const remaining =
      options.maxNewTokens === undefined
        ? Number.POSITIVE_INFINITY
        : Math.max(0, options.maxNewTokens - 1 - context.step);
    entry.cursor.apply(logits, { remaining });
  };
}

/**
 * GPT-2 byte-level BPE token strings (bytes written as printable characters) to byte pieces. Special tokens
 * must be named: in a Set they become null pieces (no text); in a Map each gets the text that stands for it
 * in the checked script (`'\n'` for a section marker the script shows as a line break) or null. Tokens that
 * are not byte-level strings become null too.
 * @example
 * byteLevelPieces(tok.tokens, new Map([['<|endofscript|>', null], ['<|style|>', null], ['<|body|>', '\n']]));
 */
export function byteLevelPieces(
  tokens: readonly string[],
  special: ReadonlySet<string> | ReadonlyMap<string, string | null> = new Set(),
): VocabPiece[] {
  const toByte = byteAlphabet();
  return tokens.map((token) => {
    if (special.has(token)) {
      const text = special instanceof Map ? (special as ReadonlyMap<string, string | null>).get(token) : null;
      return typeof text === 'string' ? encoder.encode(text) : null;
    }
    const bytes: number[] = [];
    for (const ch of token) {
      const b = toByte.get(ch);
      if (b === undefined) return null;
      bytes.push(b);
    }
    return Uint8Array.from(bytes);
  });
}

// GPT-2's bytes_to_unicode (openai/gpt-2 encoder.py): printable bytes stand for themselves, the others for
// code points from 256 up, in byte order.
function byteAlphabet(): Map<string, number> {
  const map = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    map.set(String.fromCharCode(printable ? b : 256 + extra++), b);
  }
  return map;
}
